#!/usr/bin/env python3
"""Samples one process from /proc for scripts/bench-footprint.sh and prints one JSON line.

  footprint-probe.py window PID SECONDS [--warmup S]   a fixed window after a warm-up
  footprint-probe.py follow PID                          until the process exits (the demo)
  footprint-probe.py breakdown PID                       memory per mapping, threads by name

Figures:
  cpu_s_per_min  utime+stime of all threads (/proc/PID/stat) over the window, per minute of wall time
  wakeups_per_s  voluntary + nonvoluntary context switches summed over /proc/PID/task/*/status
  rss_mb         VmRSS at the end of the window (follow: its maximum, VmHWM)
  private_mb     Private_Clean + Private_Dirty (/proc/PID/smaps_rollup)
  pss_mb         Pss (/proc/PID/smaps_rollup): each shared page divided by the processes mapping it,
                 the fairer figure for shared libraries (follow: its maximum, peak_pss_mb)
  threads        Threads: (follow: the maximum seen)
  libs           distinct shared objects mapped (*.so*)
"""
import json
import os
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def read(path):
    with open(path) as f:
        return f.read()


def cpu_ticks(pid):
    fields = read(f"/proc/{pid}/stat").rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of the line)


def switches(pid):
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            for line in read(f"/proc/{pid}/task/{tid}/status").splitlines():
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass  # a thread that ended meanwhile
    return total


def status(pid):
    values = {}
    for line in read(f"/proc/{pid}/status").splitlines():
        key, _, value = line.partition(":")
        values[key] = value.strip()
    return values


def kb(value):
    return int(value.split()[0])


def rollup_kb(pid):
    """(Private_Clean + Private_Dirty, Pss) from /proc/PID/smaps_rollup, kB."""
    private = pss = 0
    for line in read(f"/proc/{pid}/smaps_rollup").splitlines():
        if line.startswith(("Private_Clean:", "Private_Dirty:")):
            private += kb(line.split(":", 1)[1])
        elif line.startswith("Pss:"):
            pss = kb(line.split(":", 1)[1])
    return private, pss


def libs(pid):
    names = set()
    for line in read(f"/proc/{pid}/maps").splitlines():
        parts = line.split(None, 5)
        if len(parts) == 6 and ".so" in os.path.basename(parts[5]):
            names.add(parts[5])
    return len(names)


def snapshot(pid):
    s = status(pid)
    private, pss = rollup_kb(pid)
    return {
        "t": time.monotonic(), "cpu": cpu_ticks(pid), "switches": switches(pid),
        "rss_kb": kb(s["VmRSS"]), "hwm_kb": kb(s["VmHWM"]), "threads": int(s["Threads"]),
        "private_kb": private, "pss_kb": pss, "libs": libs(pid),
    }


def figures(a, b, rss_kb, threads, pss_kb):
    wall = b["t"] - a["t"]
    return {
        "seconds": round(wall, 1),
        "cpu_s_per_min": round((b["cpu"] - a["cpu"]) / TICK / wall * 60, 3),
        "wakeups_per_s": round((b["switches"] - a["switches"]) / wall, 1),
        "rss_mb": round(rss_kb / 1024, 1),
        "pss_mb": round(pss_kb / 1024, 1),
        "private_mb": round(b["private_kb"] / 1024, 1),
        "threads": threads,
        "libs": b["libs"],
    }


def per_thread(pid):
    """(cpu ticks, context switches) per thread id, with its name."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            comm = read(f"/proc/{pid}/task/{tid}/comm").strip()
            t = read(f"/proc/{pid}/task/{tid}/stat").rsplit(")", 1)[1].split()
            sw = sum(int(l.split()[1]) for l in read(f"/proc/{pid}/task/{tid}/status").splitlines()
                     if l.startswith(("voluntary_ctxt", "nonvoluntary_ctxt")))
            out[tid] = (comm, int(t[11]) + int(t[12]), sw)
        except FileNotFoundError:
            pass
    return out


def window(pid, seconds, warmup):
    time.sleep(warmup)
    a, ta = snapshot(pid), per_thread(pid)
    time.sleep(seconds)
    b, tb = snapshot(pid), per_thread(pid)
    out = figures(a, b, b["rss_kb"], b["threads"], b["pss_kb"])
    wall = b["t"] - a["t"]
    by_name = {}
    for tid, (comm, cpu, sw) in tb.items():
        _, cpu0, sw0 = ta.get(tid, (comm, 0, 0))
        row = by_name.setdefault(comm, [0, 0.0, 0.0])
        row[0] += 1
        row[1] += (cpu - cpu0) / TICK / wall * 60
        row[2] += (sw - sw0) / wall
    out["per_thread"] = {k: {"n": v[0], "cpu_s_per_min": round(v[1], 3), "wakeups_per_s": round(v[2], 1)}
                         for k, v in sorted(by_name.items(), key=lambda kv: -kv[1][2])}
    return out


def follow(pid):
    first = last = snapshot(pid)
    max_threads, max_pss = first["threads"], first["pss_kb"]
    while True:
        time.sleep(0.2)
        try:
            last = snapshot(pid)
        except (FileNotFoundError, ProcessLookupError, KeyError, IndexError):
            break
        max_threads = max(max_threads, last["threads"])
        max_pss = max(max_pss, last["pss_kb"])
    out = figures(first, last, last["hwm_kb"], max_threads, max_pss)
    out["peak_rss_mb"] = out.pop("rss_mb")
    out["peak_pss_mb"] = out.pop("pss_mb")
    return out


def breakdown(pid):
    """Rss and private memory per mapped file (anonymous memory as [anon]), largest first."""
    per = {}
    name = None
    for line in read(f"/proc/{pid}/smaps").splitlines():
        first = line.split(None, 5)
        if len(first) >= 5 and "-" in first[0] and not first[0].endswith(":"):
            name = first[5] if len(first) == 6 else "[anon]"
            if name.startswith("[anon") or name == "":
                name = "[anon]"
            per.setdefault(name, [0, 0])
        elif line.startswith("Rss:"):
            per[name][0] += kb(line.split(":", 1)[1])
        elif line.startswith(("Private_Clean:", "Private_Dirty:")):
            per[name][1] += kb(line.split(":", 1)[1])
    rows = sorted(per.items(), key=lambda kv: -kv[1][0])
    return {"mappings": [{"file": n, "rss_kb": v[0], "private_kb": v[1]} for n, v in rows if v[0] > 0]}


def main():
    mode, pid = sys.argv[1], int(sys.argv[2])
    if mode == "window":
        warmup = float(sys.argv[sys.argv.index("--warmup") + 1]) if "--warmup" in sys.argv else 5.0
        print(json.dumps(window(pid, float(sys.argv[3]), warmup)))
    elif mode == "follow":
        print(json.dumps(follow(pid)))
    elif mode == "breakdown":
        print(json.dumps(breakdown(pid)))
    else:
        sys.exit(f"footprint-probe: unknown mode {mode} (window, follow, breakdown)")


if __name__ == "__main__":
    main()
