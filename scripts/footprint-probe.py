#!/usr/bin/env python3
"""Samples one process from /proc for scripts/bench-footprint.sh and prints one JSON line.

  footprint-probe.py window PID SECONDS [--warmup S]   a fixed window after a warm-up
  footprint-probe.py follow PID                          until the process exits (the demo)
  footprint-probe.py breakdown PID                       memory per mapping, threads by name
  footprint-probe.py pages PID BINARY                    the binary's resident pages by component and
                                                         section, and the shared libraries (needs root)

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
import bisect
import json
import os
import re
import struct
import subprocess
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
    """Rss, Pss and private memory per mapped file (anonymous memory as [anon]), largest first."""
    per = {}
    name = None
    for line in read(f"/proc/{pid}/smaps").splitlines():
        first = line.split(None, 5)
        if len(first) >= 5 and "-" in first[0] and not first[0].endswith(":"):
            name = first[5] if len(first) == 6 else "[anon]"
            if name.startswith("[anon") or name == "":
                name = "[anon]"
            per.setdefault(name, [0, 0, 0])
        elif line.startswith("Rss:"):
            per[name][0] += kb(line.split(":", 1)[1])
        elif line.startswith(("Private_Clean:", "Private_Dirty:")):
            per[name][1] += kb(line.split(":", 1)[1])
        elif line.startswith("Pss:"):
            per[name][2] += kb(line.split(":", 1)[1])
    rows = sorted(per.items(), key=lambda kv: -kv[1][0])
    return {"mappings": [{"file": n, "rss_kb": v[0], "private_kb": v[1], "pss_kb": v[2]}
                         for n, v in rows if v[0] > 0]}


# --- pages: where the binary's resident memory goes, by component and by ELF section ---------------

PAGE = os.sysconf("SC_PAGE_SIZE")


def run(*cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, errors="replace").stdout


def elf_segments(binary):
    """LOAD program headers (readelf -lW) as (offset, vaddr, filesz, memsz, flags)."""
    out = []
    for line in run("readelf", "-lW", binary).splitlines():
        f = line.split()
        if f and f[0] == "LOAD":
            out.append((int(f[1], 16), int(f[2], 16), int(f[4], 16), int(f[5], 16), "".join(f[6:-1])))
    return out


SECTION = re.compile(r"^\s*\[\s*\d+\]\s+(\S+)\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+[0-9a-f]+"
                     r"\s+([A-Za-z]*)\s+\d+\s+\d+\s+\d+\s*$")


def elf_sections(binary):
    """Allocated sections (readelf -SW) as (vaddr, end, name), by address; .tbss and .tdata are
    left out: they are the template of each thread's TLS block, not memory at their address."""
    out = []
    for line in run("readelf", "-SW", binary).splitlines():
        m = SECTION.match(line)
        if m and "A" in m.group(6) and "T" not in m.group(6) and int(m.group(5), 16) > 0:
            addr = int(m.group(3), 16)
            out.append((addr, addr + int(m.group(5), 16), m.group(1)))
    return sorted(out)


def elf_symbols(binary):
    """Defined symbols with a size (nm --defined-only -S -n) as (vaddr, size, name), by address."""
    out = []
    for line in run("nm", "--defined-only", "-S", "-n", binary).splitlines():
        f = line.split(" ", 3)
        if len(f) == 4 and len(f[1]) >= 8 and len(f[2]) == 1 and f[2] not in "aAUw":
            size = int(f[1], 16)
            if size:
                out.append((int(f[0], 16), size, f[3]))
    return out


# Symbols whose name does not say which module's code they are: what Swift emits into whichever
# module uses it (generic specializations, merged functions, outlined copies, lazy witness-table and
# metadata accessors and caches, partial-apply forwarders, type-reference strings), compiler helpers
# and local C/C++ symbols. They take the component of the nearest preceding symbol that does say,
# because the linker keeps each object file's contribution to a section together.
SWIFT_ANYWHERE = re.compile(r"(Tg5|TG5|Tf\d|Tm$|WO[a-z]|Wl$|WL$|MD$|ML$|Ma$|TA|TR|Tr|TQ\d|TY\d|Tu)(\.\d+)?$"
                            r"|Tg5|TG5")
LOCAL = re.compile(r"^(l_|l__swift5|__unnamed_|block_|__block_|_block_|objectdestroy|_ZL|_ZZL|_ZN12_GLOBAL__N_|"
                   r"__swift_|_ZNSt|_ZNKSt|_ZSt|_ZTVSt|_ZTISt|_ZTSSt|_ZN9__gnu_cxx|\.L|OUTLINED_FUNCTION|"
                   r"symbolic |get_witness_table |get_type_metadata |associated conformance |default |generic |"
                   r"flat |keypath|globalinit|_GLOBAL__sub_I)")
ICU_C = re.compile(r"^swift_(u[a-z0-9]*_|U[A-Z]\w*?_|T_CString|res_|locale_|uniset_|udict_|_CompoundTextData)")


def swift_module(name, known):
    """The module of a Swift symbol ($s...): the first context, or the module of an extension."""
    s = name[2:]
    if s.startswith("s"):
        mod, rest = "Swift", s[1:]
    elif s.startswith("Sc"):
        mod, rest = "_Concurrency", s[3:]
    elif s.startswith(("So", "SC")):
        mod, rest = "(imported C types)", s[2:]
    elif s.startswith("S"):
        mod, rest = "Swift", s[2:]
    else:
        m = re.match(r"\d+", s)
        n = int(m.group(0)) if m else 0
        mod, rest = (s[m.end():m.end() + n], s[m.end() + n:]) if m else ("", "")
        if mod not in known:  # a thunk named after a generic parameter or associated type
            return "Swift (thunks)"
    # An extension of the type in another module: <context> <len><Module> E (or a generic signature).
    pos = 0
    for _ in range(3):
        m = re.match(r"\d+", rest[pos:])
        if not m:
            break
        n = int(m.group(0))
        ident = rest[pos + m.end():pos + m.end() + n]
        pos += m.end() + n
        if ident in known and ident != mod:
            return ident
        if pos < len(rest) and rest[pos] in "VCOPNaE":
            pos += 1
    return mod


def classify(name, known):
    """(component, ambiguous): ambiguous names take their neighbour's component (see above)."""
    if name.startswith("$s"):
        mod = swift_module(name, known)
        return mod, bool(SWIFT_ANYWHERE.search(name)) or mod in ("(imported C types)", "Swift (thunks)")
    if re.match(r"icudt\d+_dat$", name):
        return "ICU data (icudt)", False
    if "icu_7" in name or ICU_C.match(name) or (re.search(r"_7\d$", name) and not name.startswith("__unnamed")):
        return "ICU", False
    if re.match(r"_Z\w*?(4bssl|5mldsa|5mlkem)", name) or "BoringSSL" in name or "boringssl" in name:
        return "BoringSSL", False
    if name.startswith(("c_nio_", "CNIO", "llparse", "llhttp")):
        return "NIO C (llhttp, shims)", False
    if re.match(r"_Z\w*?(5swift|7__swift)", name) or name.startswith(("swift_", "_swift_")):
        return "Swift runtime (C++)", False
    if re.match(r"^_*(dispatch|libdispatch|os_|voucher|firehose)", name):
        return "libdispatch", False
    if name.startswith(("_Block_", "_NSConcrete")):
        return "BlocksRuntime", False
    if re.match(r"^_{0,3}k?CF[A-Z_]", name):
        return "CoreFoundation", False
    return "C/C++ other", True


def spans_of(sections, symbols):
    """Non-overlapping (start, end, component, section) spans covering every allocated section:
    symbols (an alias or a symbol inside another counts once), and the bytes between them labelled
    with the section's name in brackets, except in .text, where the bytes after a symbol (code whose
    symbol the linker dropped, mostly among the Swift specializations) count with that symbol."""
    starts = [s[0] for s in sections]
    # The modules: each has a module descriptor, $s<len><Module>MXM.
    known = {"Swift", "_Concurrency", "Foundation"}
    for _, _, name in symbols:
        m = re.match(r"\$s(\d+)(\w+)MXM$", name)
        if m and len(m.group(2)) == int(m.group(1)):
            known.add(m.group(2))
    by_section = {}
    last, last_sec = None, None
    for addr, size, name in symbols:
        i = bisect.bisect_right(starts, addr) - 1
        if i < 0 or addr >= sections[i][1]:
            continue  # thread-local offsets, absolute symbols
        if name.startswith("GCC_except_table"):
            comp, ambiguous = None, False
        else:
            comp, ambiguous = classify(name, known)
        if i != last_sec:
            last, last_sec = None, i
        if ambiguous and last:
            comp = last
        elif comp and not ambiguous:
            last = comp
        by_section.setdefault(i, []).append((addr, min(addr + size, sections[i][1]), comp))
    spans = []
    for i, (start, end, sec) in enumerate(sections):
        cursor, previous = start, None
        for s, e, comp in by_section.get(i, []):
            s = max(s, cursor)
            if e <= s:
                continue
            if s > cursor:
                spans.append((cursor, s, previous if sec == ".text" and previous else f"[{sec}]", sec))
            spans.append((s, e, comp or f"[{sec}]", sec))
            cursor, previous = e, comp
        if cursor < end:
            spans.append((cursor, end, previous if sec == ".text" and previous else f"[{sec}]", sec))
    return spans


def binary_mappings(pid, binary):
    """The lines of /proc/PID/maps that map BINARY (same device and inode) as
    (start, end, perms, offset), and every mapping as (start, end, perms, path)."""
    st = os.stat(binary)
    dev = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}"
    mine, everything = [], []
    for line in read(f"/proc/{pid}/maps").splitlines():
        f = line.split(None, 5)
        start, end = (int(x, 16) for x in f[0].split("-"))
        everything.append((start, end, f[1], f[5] if len(f) == 6 else ""))
        if f[3] == dev and int(f[4]) == st.st_ino:
            mine.append((start, end, f[1], int(f[2], 16)))
    return mine, everything


def pagemap(pid, start, end):
    """The pagemap entries of [start, end): bit 63 present, 62 swapped, 61 file page (or shared
    anonymous); a present private file mapping's page without bit 61 is an anonymous copy-on-write
    copy (written to, e.g. by the dynamic linker's relocations)."""
    n = (end - start) // PAGE
    with open(f"/proc/{pid}/pagemap", "rb") as f:
        f.seek(start // PAGE * 8)
        data = f.read(n * 8)
    return struct.unpack(f"<{len(data) // 8}Q", data)


def binary_pages(pid, binary):
    segments, sections = elf_segments(binary), elf_sections(binary)
    mine, everything = binary_mappings(pid, binary)
    if not mine:
        sys.exit(f"footprint-probe: {binary} is not mapped by process {pid}")
    start, _, _, offset = min(mine)
    seg = next(s for s in segments if s[0] // PAGE * PAGE <= offset < s[0] + max(s[2], 1))
    bias = start - (offset + seg[1] - seg[0])
    spans = spans_of(sections, elf_symbols(binary))
    span_starts = [s[0] for s in spans]
    comp = {}  # name -> [resident bytes, anonymous bytes, size]
    sec = {}   # name -> [resident, anonymous, file, size]
    for s, e, c, sname in spans:
        comp.setdefault(c, [0, 0, 0])[2] += e - s
        sec.setdefault(sname, [0, 0, 0, 0])[3] += e - s
    maps = []
    totals = {"present": 0, "anon": 0, "file": 0, "swapped": 0}
    for off, vaddr, filesz, memsz, flags in segments:
        lo = (bias + vaddr) // PAGE * PAGE
        hi = (bias + vaddr + memsz + PAGE - 1) // PAGE * PAGE
        for m_start, m_end, perms, path in everything:
            a, b = max(lo, m_start), min(hi, m_end)
            if a >= b:
                continue
            row = {"start": hex(m_start), "perms": perms, "file": path or "[anon: .bss past the file]",
                   "size_kb": (b - a) // 1024, "resident_kb": 0, "anon_kb": 0, "file_kb": 0, "swapped_kb": 0}
            for k, entry in enumerate(pagemap(pid, a, b)):
                if entry >> 62 & 1:
                    row["swapped_kb"] += PAGE // 1024
                if not entry >> 63 & 1:
                    continue
                anon = not entry >> 61 & 1
                row["resident_kb"] += PAGE // 1024
                row["anon_kb" if anon else "file_kb"] += PAGE // 1024
                p = a + k * PAGE - bias  # the page's address in the ELF file's terms
                i = max(bisect.bisect_right(span_starts, p) - 1, 0)
                covered = 0
                while i < len(spans) and spans[i][0] < p + PAGE:
                    s, e, c, sname = spans[i]
                    overlap = min(e, p + PAGE) - max(s, p)
                    if overlap > 0:
                        covered += overlap
                        comp[c][0] += overlap
                        comp[c][1] += overlap if anon else 0
                        row_sec = sec[sname]
                        row_sec[0] += overlap
                        row_sec[1 if anon else 2] += overlap
                    i += 1
                if covered < PAGE:
                    rest = comp.setdefault("[ELF headers, padding between sections]", [0, 0, 0])
                    rest[0] += PAGE - covered
                    rest[1] += PAGE - covered if anon else 0
            for k in totals:
                totals[k] += row[f"{k}_kb" if k != "present" else "resident_kb"]
            maps.append(row)
    kbr = lambda v: round(v / 1024, 1)
    components = [{"name": c, "resident_kb": kbr(v[0]), "anon_kb": kbr(v[1]), "size_kb": kbr(v[2])}
                  for c, v in comp.items() if v[0] or v[2] >= 64 * 1024]
    sections_out = [{"name": n, "resident_kb": kbr(v[0]), "anon_kb": kbr(v[1]), "file_kb": kbr(v[2]),
                     "size_kb": kbr(v[3])} for n, v in sec.items()]
    return {
        "binary": binary, "load_bias": hex(bias),
        "resident_kb": totals["present"], "anon_kb": totals["anon"], "file_kb": totals["file"],
        "swapped_kb": totals["swapped"],
        "split": "a page shared by several components is split by the bytes each covers",
        "mappings": maps,
        "components": sorted(components, key=lambda r: (-r["resident_kb"], -r["size_kb"])),
        "sections": sorted(sections_out, key=lambda r: (-r["resident_kb"], -r["size_kb"])),
    }


# The libraries every C or C++ program loads: not attributed to a dependency.
RUNTIME = {"libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1", "libpthread.so.0", "libdl.so.2",
           "librt.so.1", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "ld-linux-armhf.so.3", "linux-vdso.so.1"}


def needed(path):
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", run("readelf", "-dW", path))


def libraries(pid, binary):
    """Each shared library mapped (Rss, Pss, private from smaps) and the binary's direct dependency
    that brings it, from the NEEDED entries (readelf -d) followed from each direct dependency, with
    the paths resolved by ldd."""
    path_of = {}
    for line in run("ldd", binary).splitlines():
        f = line.split()
        if "=>" in f and len(f) > f.index("=>") + 1 and f[f.index("=>") + 1].startswith("/"):
            path_of[f[0]] = os.path.realpath(f[f.index("=>") + 1])
        elif f and f[0].startswith("/"):
            path_of[os.path.basename(f[0])] = os.path.realpath(f[0])
    soname_of = {p: s for s, p in path_of.items()}
    direct = needed(binary)
    brought_by = {}  # soname -> the direct dependencies whose NEEDED chains reach it
    for d in direct:
        seen, todo = set(), [d]
        while todo:
            lib = todo.pop()
            if lib in seen:
                continue
            seen.add(lib)
            brought_by.setdefault(lib, set()).add(d)
            if lib in path_of:
                todo += needed(path_of[lib])
    def group_of(soname):
        if soname in RUNTIME:
            return "C/C++ runtime"
        if soname in direct:
            return soname
        if soname in brought_by:
            by = sorted(brought_by[soname] - RUNTIME)
            return " + ".join(by) if by else "C/C++ runtime"
        return None

    mapped = [r for r in breakdown(pid)["mappings"] if ".so" in os.path.basename(r["file"])]
    # Libraries outside the NEEDED chains were dlopen'ed: plugins (by their directory, e.g. sasl2/
    # by libsasl2) and name-service modules (libnss_* by libc), and what those need in turn.
    loader = {}
    for r in mapped:
        soname = soname_of.get(os.path.realpath(r["file"]), os.path.basename(r["file"]))
        if group_of(soname) is None:
            if os.path.basename(r["file"]).startswith("libnss_"):
                loader[soname] = "C/C++ runtime (NSS modules dlopen'ed by libc)"
            else:
                plugin_dir = os.path.basename(os.path.dirname(os.path.realpath(r["file"])))
                owner = next((s for s in brought_by if s.startswith(f"lib{plugin_dir}.")), None)
                if owner:
                    loader[soname] = f"{group_of(owner)} (plugins in {plugin_dir}/ dlopen'ed by {owner})"
                else:
                    continue
            for dep in needed(r["file"]):
                if group_of(dep) is None:
                    loader.setdefault(dep, loader[soname])
    rows, groups = [], {}
    for r in mapped:
        soname = soname_of.get(os.path.realpath(r["file"]), os.path.basename(r["file"]))
        group = group_of(soname) or loader.get(soname) or "dlopen'ed, by an unknown library"
        rows.append({"soname": soname, "file": r["file"], "rss_kb": r["rss_kb"], "pss_kb": r["pss_kb"],
                     "private_kb": r["private_kb"], "group": group})
        g = groups.setdefault(group, {"group": group, "libs": [], "rss_kb": 0, "pss_kb": 0, "private_kb": 0})
        g["libs"].append(soname)
        for k in ("rss_kb", "pss_kb", "private_kb"):
            g[k] += r[k]
    return {"direct": direct, "libraries": rows, "groups": sorted(groups.values(), key=lambda g: -g["rss_kb"])}


def pages(pid, binary):
    binary = os.path.realpath(binary)
    out = binary_pages(pid, binary)
    libs = libraries(pid, binary)
    out["libraries"], out["library_groups"] = libs["libraries"], libs["groups"]
    # VmRSS by kind: the binary (from pagemap), the libraries, the rest of the anonymous memory.
    rss = kb(status(pid)["VmRSS"])
    bss_tail = sum(m["resident_kb"] for m in out["mappings"] if m["file"].startswith("[anon"))
    anon = {"[heap]": 0, "[stack]": 0, "[anon]": 0}
    for r in breakdown(pid)["mappings"]:
        if r["file"] in anon:
            anon[r["file"]] += r["rss_kb"]
    lib_kb = sum(r["rss_kb"] for r in libs["libraries"])
    split = {"binary": out["resident_kb"], "shared libraries": lib_kb, "[heap] (malloc)": anon["[heap]"],
             "other anonymous (thread stacks, malloc arenas, mmap'd buffers)": anon["[anon]"] - bss_tail,
             "[stack]": anon["[stack]"]}
    split["other files"] = rss - sum(split.values())
    out["vmrss_kb"], out["vmrss_split_kb"] = rss, split
    return out


def main():
    mode, pid = sys.argv[1], int(sys.argv[2])
    if mode == "window":
        warmup = float(sys.argv[sys.argv.index("--warmup") + 1]) if "--warmup" in sys.argv else 5.0
        print(json.dumps(window(pid, float(sys.argv[3]), warmup)))
    elif mode == "follow":
        print(json.dumps(follow(pid)))
    elif mode == "breakdown":
        print(json.dumps(breakdown(pid)))
    elif mode == "pages":
        print(json.dumps(pages(pid, sys.argv[3])))
    else:
        sys.exit(f"footprint-probe: unknown mode {mode} (window, follow, breakdown, pages)")


if __name__ == "__main__":
    main()
