#!/usr/bin/env bash
# The daemon's footprint on a small speaker (docs/benchmarks.md, "Footprint"): the release
# `voiced` against `voiced-fakecloud` on loopback, with the paced WAV microphone playing silence,
# measured from /proc by scripts/footprint-probe.py:
#   idle          always_listening = false: not listening, nothing sent to speech-to-text
#   streaming     always_listening = true: silence streamed to the fake Deepgram
#   idle-noaec, streaming-noaec   the same with audio.echo_cancellation = false (the canceller's share)
#   demo          the README's three-turn conversation (voiced-demo), followed to the end: peak memory
# For each it prints CPU-s per minute, VmRSS, Pss (each shared page divided among the processes
# mapping it), private memory, threads, wakeups/s (context switches of all threads), the shared
# libraries mapped, then the per-thread split, the largest mappings, the binary's resident pages by
# Swift module / C library / ELF section and the shared libraries by the dependency that brings them
# (footprint-probe.py pages: run as root, it reads /proc/PID/pagemap), and the binary's size (as
# built, and stripped as the package ships it).
#
#   scripts/bench-footprint.sh [--window S] [--runs N] [--no-build] [--bin DIR] [--peers] [--only LIST]
#     --window S     seconds per measurement window (default 60), after a 5 s warm-up
#     --runs N       windows per scenario; the median is printed (default 1)
#     --no-build     use the release binaries already built
#     --bin DIR      measure the voiced and voiced-fakecloud in DIR (e.g. a copy of another build)
#     --only LIST    comma-separated scenarios (idle,streaming,idle-noaec,streaming-noaec,demo)
#     --peers        also wyoming-satellite 1.x from PyPI (in a venv under $VOICED_PEERS_VENV,
#                    default ~/.cache/voiced-bench/wyoming), idle and streaming to a loopback server,
#                    with the same paced silent microphone (20 ms frames of zeros)
# Takes about (4 windows + 1 min demo) x runs, plus the build: 6 min with the defaults and a warm build.
set -euo pipefail
cd "$(dirname "$0")/.."

window=60
runs=1
build=1
bin=""
peers=0
only="idle,streaming,idle-noaec,streaming-noaec,demo"
while [ $# -gt 0 ]; do
  case "$1" in
    --window) window="$2"; shift ;;
    --runs) runs="$2"; shift ;;
    --no-build) build=0 ;;
    --bin) bin="$2"; build=0; shift ;;
    --peers) peers=1 ;;
    --only) only="$2"; shift ;;
    *) echo "bench-footprint: unknown option $1 (see the comment at the top of $0)" >&2; exit 64 ;;
  esac
  shift
done

missing=""
for tool in python3 strip; do command -v "$tool" >/dev/null 2>&1 || missing+=" $tool"; done
[ -z "$missing" ] || { echo "bench-footprint: missing:$missing (run scripts/setup.sh as root)" >&2; exit 1; }

release=(-c release --static-swift-stdlib --scratch-path "${VOICED_RELEASE_SCRATCH:-.build-release}")
if [ "$build" = 1 ]; then
  echo "bench-footprint: building the release voiced and voiced-fakecloud (and the debug voiced-demo)"
  swift build "${release[@]}" --product voiced
  swift build "${release[@]}" --product voiced-fakecloud
fi
[ -n "$bin" ] || bin=$(swift build "${release[@]}" --show-bin-path)
bin=$(cd "$bin" && pwd)
for b in voiced voiced-fakecloud; do
  [ -x "$bin/$b" ] || { echo "bench-footprint: $bin/$b is not built (run without --no-build)" >&2; exit 1; }
done
if [[ ",$only," == *,demo,* ]]; then
  [ "$build" = 0 ] || swift build --product voiced-demo >/dev/null
  demo_bin=$(swift build --show-bin-path)/voiced-demo
  [ -x "$demo_bin" ] || { echo "bench-footprint: $demo_bin is not built (swift build --product voiced-demo)" >&2; exit 1; }
fi

dir=$(mktemp -d /tmp/voiced-footprint.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
probe=scripts/footprint-probe.py
echo "bench-footprint: $(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), window ${window}s x $runs, binaries in $bin"

# One second of silence at 16 kHz: the WAV backend plays silence after the file until stopped.
python3 - "$dir/silence.wav" <<'EOF'
import struct, sys
n = 16000 * 2
with open(sys.argv[1], "wb") as f:
    f.write(b"RIFF" + struct.pack("<I", 36 + n) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16)
            + b"data" + struct.pack("<I", n) + bytes(n))
EOF
echo '{}' >"$dir/fakecloud.json"
"$bin/voiced-fakecloud" --script "$dir/fakecloud.json" --port 0 --port-file "$dir/port" >"$dir/fakecloud.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.1; done
port=$(cat "$dir/port")

median() { python3 -c 'import json,sys,statistics
rows=[json.loads(l) for l in sys.stdin if l.strip()]
out={}
for k in rows[0]:
    if isinstance(rows[0][k],(int,float)): out[k]=statistics.median(r[k] for r in rows)
    else: out[k]=rows[len(rows)//2][k]
print(json.dumps(out))'; }

show() { # show NAME JSON
  python3 - "$1" "$2" <<'EOF'
import json, sys
name, r = sys.argv[1], json.loads(sys.argv[2])
rss = r.get("rss_mb", r.get("peak_rss_mb"))
label = "peak VmRSS" if "peak_rss_mb" in r else "VmRSS"
pss = r.get("pss_mb", r.get("peak_pss_mb"))
pss = f"  {'peak ' if 'peak_pss_mb' in r else ''}Pss {pss:6.1f} MB" if pss is not None else ""
print(f"{name:18} {r['cpu_s_per_min']:7.2f} CPU-s/min  {label} {rss:6.1f} MB{pss}  private {r['private_mb']:5.1f} MB"
      f"  threads {r['threads']:3}  wakeups {r['wakeups_per_s']:6.1f}/s  libs {r['libs']:3}  ({r['seconds']} s)")
for comm, t in r.get("per_thread", {}).items():
    print(f"    thread {comm:16} x{t['n']}  {t['cpu_s_per_min']:6.2f} CPU-s/min  {t['wakeups_per_s']:6.1f} wakeups/s")
EOF
}

run_daemon() { # run_daemon NAME ALWAYS_LISTENING AEC: prints the median figures
  local name=$1 listening=$2 aec=$3 out="$dir/$1" results="" i
  for ((i = 1; i <= runs; i++)); do
    rm -rf "$out"; mkdir -p "$out/state"
    cat >"$out/voiced.toml" <<EOF
[turn]
always_listening = $listening
[audio]
capture_backend = "wav"
capture_wav = "$dir/silence.wav"
playback_backend = "wav"
playback_wav = "$out/agent.wav"
echo_cancellation = $aec
[gpio]
backend = "console_no_stdin"
[stt]
base_url = "ws://127.0.0.1:$port/v1/listen"
[llm]
base_url = "http://127.0.0.1:$port/v1"
[tts]
base_url = "http://127.0.0.1:$port"
[telemetry]
database = "$out/voiced.sqlite"
[control]
socket = "$out/control.sock"
state_directory = "$out/state"
EOF
    DEEPGRAM_API_KEY=k OPENAI_API_KEY=k ELEVENLABS_API_KEY=k "$bin/voiced" run --config "$out/voiced.toml" >"$out/log" 2>&1 &
    local pid=$!
    for _ in $(seq 100); do [ -S "$out/control.sock" ] && break; sleep 0.1; done
    results+=$(python3 "$probe" window "$pid" "$window" --warmup 5)$'\n'
    if [ "$i" = "$runs" ]; then
      python3 "$probe" breakdown "$pid" >"$dir/breakdown-$name.json"
      python3 "$probe" pages "$pid" "$bin/voiced" >"$dir/pages-$name.json" ||
        echo "bench-footprint: note: footprint-probe.py pages failed (it reads /proc/$pid/pagemap: root only)" >&2
    fi
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
  show "$name" "$(printf %s "$results" | median)"
}

IFS=, read -ra scenarios <<<"$only"
for s in "${scenarios[@]}"; do
  case "$s" in
    idle) run_daemon idle false true ;;
    streaming) run_daemon streaming true true ;;
    idle-noaec) run_daemon idle-noaec false false ;;
    streaming-noaec) run_daemon streaming-noaec true false ;;
    demo)
      demo_results=""
      for ((i = 1; i <= runs; i++)); do
        "$demo_bin" --out "$dir/demo" --bin "$bin" >"$dir/demo.log" 2>&1 &
        demo=$!
        vpid=""
        for _ in $(seq 300); do vpid=$(pgrep -P "$demo" -x voiced || true); [ -n "$vpid" ] && break; sleep 0.05; done
        [ -n "$vpid" ] || { echo "bench-footprint: the demo did not start voiced; see $dir/demo.log" >&2; exit 1; }
        demo_results+=$(python3 "$probe" follow "$vpid")$'\n'
        # The figures stand either way; a failed check (e.g. a late interrupt on a loaded machine) is reported.
        wait "$demo" || { echo "bench-footprint: note: the demo's checks failed:" >&2; grep -A5 'demo: FAILED' "$dir/demo.log" >&2 || tail -5 "$dir/demo.log" >&2; }
      done
      show demo "$(printf %s "$demo_results" | median)" ;;
    *) echo "bench-footprint: unknown scenario $s" >&2; exit 64 ;;
  esac
done

# Memory per mapping: the idle scenario (or the first one measured), its last window.
first="$dir/breakdown-idle.json"
[ -f "$first" ] || first=$(ls "$dir"/breakdown-*.json 2>/dev/null | head -1 || true)
if [ -n "$first" ]; then
  echo "largest mappings ($(basename "$first" .json | sed 's/breakdown-//')): Rss / private, kB"
  python3 - "$first" <<'EOF'
import json, os, sys
rows = json.load(open(sys.argv[1]))["mappings"]
for r in rows[:12]:
    print(f"    {r['rss_kb']:7} {r['private_kb']:7}  {r['file']}")
rest = rows[12:]
print(f"    {sum(r['rss_kb'] for r in rest):7} {sum(r['private_kb'] for r in rest):7}  {len(rest)} more mappings")
EOF
fi
pages="${first/breakdown-/pages-}"
if [ -n "$first" ] && [ -s "$pages" ]; then
  python3 - "$pages" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
split = ", ".join(f"{k} {v / 1024:.1f}" for k, v in r["vmrss_split_kb"].items())
print(f"VmRSS {r['vmrss_kb'] / 1024:.1f} MB: {split} (MB)")
print(f"binary's resident pages: {r['resident_kb']} kB ({r['file_kb']} kB page cache, {r['anon_kb']} kB anonymous:"
      f" relocated or written); by component, kB resident / anonymous / size in the binary"
      f" ([name]: bytes of that section no symbol covers; a page is split by bytes)")
comps = r["components"]
for c in comps[:15]:
    print(f"    {c['resident_kb']:7.0f} {c['anon_kb']:6.0f} {c['size_kb']:8.0f}  {c['name']}")
rest = comps[15:]
print(f"    {sum(c['resident_kb'] for c in rest):7.0f} {sum(c['anon_kb'] for c in rest):6.0f}"
      f" {sum(c['size_kb'] for c in rest):8.0f}  {len(rest)} more components")
print("    by section:", ", ".join(f"{s['name']} {s['resident_kb']:.0f}" for s in r["sections"][:10]), "kB")
print("shared libraries by the dependency that brings them: Rss / Pss / private, kB")
for g in r["library_groups"]:
    print(f"    {g['rss_kb']:6} {g['pss_kb']:6} {g['private_kb']:6}  {g['group']}: {', '.join(g['libs'])}")
EOF
fi

cp "$bin/voiced" "$dir/voiced.stripped"
strip --strip-unneeded "$dir/voiced.stripped"
echo "binary: voiced $(stat -c %s "$bin/voiced") bytes as built, $(stat -c %s "$dir/voiced.stripped") stripped;" \
  "linked dynamically: $(ldd "$bin/voiced" | grep -c '=>') libraries, Swift runtime $(ldd "$bin/voiced" | grep -q libswiftCore && echo dynamic || echo static)"

if [ "$peers" = 1 ]; then
  venv=${VOICED_PEERS_VENV:-$HOME/.cache/voiced-bench/wyoming}
  if [ ! -x "$venv/bin/wyoming-satellite" ]; then
    echo "bench-footprint: installing wyoming-satellite from PyPI into $venv"
    python3 -m venv "$venv" || { echo "bench-footprint: python3 -m venv failed (Debian: apt-get install python3-venv)" >&2; exit 1; }
    "$venv/bin/pip" install -q wyoming-satellite
  fi
  echo "peer: wyoming-satellite $("$venv/bin/pip" show wyoming-satellite | sed -n 's/^Version: //p')"
  cat >"$dir/pace.py" <<'EOF'
import sys, time
frame, out, t = bytes(640), sys.stdout.buffer, time.monotonic()
while True:
    out.write(frame); out.flush(); t += 0.02
    time.sleep(max(0, t - time.monotonic()))
EOF
  cat >"$dir/server.py" <<'EOF'
import asyncio, sys
from wyoming.client import AsyncTcpClient
from wyoming.satellite import RunSatellite
async def main():
    async with AsyncTcpClient("127.0.0.1", int(sys.argv[1])) as client:
        await client.write_event(RunSatellite().event())
        while await client.read_event() is not None:
            pass
asyncio.run(main())
EOF
  for mode in idle streaming; do
    sport=$((20000 + RANDOM % 20000))
    "$venv/bin/python" -m wyoming_satellite --name bench --uri "tcp://127.0.0.1:$sport" --no-zeroconf \
      --mic-command "python3 $dir/pace.py" --snd-command "dd of=/dev/null status=none" >"$dir/wyoming-$mode.log" 2>&1 &
    spid=$!
    pids+=($spid)
    sleep 2
    if [ "$mode" = streaming ]; then "$venv/bin/python" "$dir/server.py" "$sport" & pids+=($!); fi
    show "wyoming-$mode" "$(python3 "$probe" window "$spid" "$window" --warmup 5)"
    kill "$spid"; wait "$spid" 2>/dev/null || true
  done
fi
