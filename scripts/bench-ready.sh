#!/usr/bin/env bash
# Time from exec to READY=1 of the release voiced (docs/benchmarks.md, "Footprint"): a stand-in
# NOTIFY_SOCKET receives the daemon's sd_notify datagrams; WAV capture and playback, console LEDs,
# the fake cloud on loopback. Prints the median and the range of N starts (default 10).
#   scripts/bench-ready.sh [--bin DIR] [N]      (DIR: voiced and voiced-fakecloud; default: the release build)
# Takes about N x 2 s after the build.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=""
if [ "${1:-}" = --bin ]; then bin=$2; shift 2; fi
runs=${1:-10}
command -v python3 >/dev/null 2>&1 || { echo "bench-ready: python3 is missing" >&2; exit 1; }
if [ -z "$bin" ]; then
  release=(-c release --static-swift-stdlib --scratch-path "${VOICED_RELEASE_SCRATCH:-.build-release}")
  swift build "${release[@]}" --product voiced >/dev/null
  swift build "${release[@]}" --product voiced-fakecloud >/dev/null
  bin=$(swift build "${release[@]}" --show-bin-path)
fi
python3 - "$bin" "$runs" <<'EOF_PY'
import os, socket, statistics, struct, subprocess, sys, tempfile, time
bin_dir, runs = sys.argv[1], int(sys.argv[2])
work = tempfile.mkdtemp(prefix="voiced-ready.")
n = 16000 * 2
with open(f"{work}/silence.wav", "wb") as f:
    f.write(b"RIFF" + struct.pack("<I", 36 + n) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16)
            + b"data" + struct.pack("<I", n) + bytes(n))
open(f"{work}/fc.json", "w").write("{}")
cloud = subprocess.Popen([f"{bin_dir}/voiced-fakecloud", "--script", f"{work}/fc.json", "--port", "0", "--port-file", f"{work}/port"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for _ in range(100):
    if os.path.exists(f"{work}/port") and open(f"{work}/port").read().strip(): break
    time.sleep(0.1)
port = open(f"{work}/port").read().strip()
times = []
try:
    for i in range(runs):
        d = f"{work}/run{i}"
        os.makedirs(f"{d}/state")
        open(f"{d}/voiced.toml", "w").write(f"""[audio]
capture_backend = "wav"
capture_wav = "{work}/silence.wav"
playback_backend = "wav"
playback_wav = "{d}/agent.wav"
[gpio]
backend = "console_no_stdin"
[stt]
base_url = "ws://127.0.0.1:{port}/v1/listen"
[llm]
base_url = "http://127.0.0.1:{port}/v1"
[tts]
base_url = "http://127.0.0.1:{port}"
[telemetry]
database = "{d}/voiced.sqlite"
[control]
socket = "{d}/control.sock"
state_directory = "{d}/state"
""")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        listener.bind(f"{d}/notify")
        listener.settimeout(10)
        env = dict(os.environ, NOTIFY_SOCKET=f"{d}/notify", DEEPGRAM_API_KEY="k", OPENAI_API_KEY="k", ELEVENLABS_API_KEY="k")
        start = time.monotonic()
        daemon = subprocess.Popen([f"{bin_dir}/voiced", "run", "--config", f"{d}/voiced.toml"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while True:
                message = listener.recv(4096).decode()
                if "READY=1" in message.split("\n"):
                    times.append((time.monotonic() - start) * 1000)
                    break
        finally:
            daemon.terminate(); daemon.wait(); listener.close()
finally:
    cloud.terminate(); cloud.wait()
print(f"READY=1 after exec: median {statistics.median(times):.1f} ms (range {min(times):.1f}-{max(times):.1f} ms, {len(times)} starts)")
EOF_PY
