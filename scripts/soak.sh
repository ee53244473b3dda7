#!/usr/bin/env bash
# The soak test (docs/reliability.md, "Soak"): the release daemon in a long conversation with
# faults mixed in, watched for leaks.
#
#   scripts/soak.sh MINUTES        e.g. scripts/soak.sh 60 (not part of CI; scripts/soak.sh 1 is a smoke run)
#
# It builds the release `voiced` and `voiced-fakecloud`, makes a capture WAV of espeak-ng
# utterances one every SOAK_PERIOD seconds (14), and runs `voiced` (WAV capture and playback,
# always_listening) against the fake cloud, whose script fails LLM and TTS requests
# periodically and cuts every speech-to-text connection after a few hundred messages. Every
# SOAK_INTERVAL seconds (10) it samples the daemon's RSS, open file descriptors and threads
# (/proc/PID/status, /proc/PID/fd) and the SQLite store's size (main file + WAL) and turn count.
#
# It fails (exit 1) when:
#   - the daemon exits, or no turn was recorded in the last quarter of the run (a wedge);
#   - RSS, file descriptors or threads grow beyond the noise: over the samples after the
#     warm-up (a quarter of the run, at most 5 minutes), the least-squares slope times the
#     fitted span exceeds max(3 x the residual standard deviation, a floor: 4 MiB of RSS,
#     3 descriptors, 3 threads);
#   - the store outgrows its bound (max_size_mib, set to SOAK_DB_MIB = 8 here) by more than the
#     WAL's checkpoint size (4 MiB). The store grows with the turns it records by design, so its
#     slope is printed, not judged.
# Environment: SOAK_DIR (work directory, default a new one under /tmp), SOAK_NO_BUILD=1 (use the
# binaries already built), SOAK_PERIOD, SOAK_INTERVAL, SOAK_DB_MIB.
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=${1:-}
case "$minutes" in
  '' | *[!0-9]* | 0) echo "usage: scripts/soak.sh MINUTES (a whole number, at least 1)" >&2; exit 64 ;;
esac
period=${SOAK_PERIOD:-14}
interval=${SOAK_INTERVAL:-10}
db_mib=${SOAK_DB_MIB:-8}
duration=$((minutes * 60))
dir=${SOAK_DIR:-$(mktemp -d /tmp/voiced-soak.XXXXXX)}
mkdir -p "$dir/state"
echo "soak: $minutes min, an utterance every $period s, a sample every $interval s, files in $dir"

# 1. The release binaries: the same build as the package's (scripts/package.sh), in the same
# scratch folder when VOICED_RELEASE_SCRATCH names one, so the test command builds them once.
release=(-c release --static-swift-stdlib --scratch-path "${VOICED_RELEASE_SCRATCH:-.build-release}")
if [ "${SOAK_NO_BUILD:-0}" != 1 ]; then
  echo "soak: building the release voiced and voiced-fakecloud"
  swift build "${release[@]}" --product voiced
  swift build "${release[@]}" --product voiced-fakecloud
fi
bin=$(swift build "${release[@]}" --show-bin-path)
for b in voiced voiced-fakecloud; do
  [ -x "$bin/$b" ] || { echo "soak: $bin/$b is not built (run without SOAK_NO_BUILD)" >&2; exit 1; }
done

# 2. The user's side: espeak-ng utterances, one every $period s, for the whole run and a minute more.
texts=("What's the weather like today?" "Should I take an umbrella?" "Tell me a short joke."
       "What time is it in Tokyo?" "How far away is the moon?" "Thanks, that's all.")
rate=22050  # espeak-ng's rate; the daemon converts to 16 kHz
slot_bytes=$((period * rate * 2))
le32() { printf "\\x$(printf %02x $(($1 & 255)))\\x$(printf %02x $((($1 >> 8) & 255)))\\x$(printf %02x $((($1 >> 16) & 255)))\\x$(printf %02x $((($1 >> 24) & 255)))"; }
for i in "${!texts[@]}"; do
  espeak-ng -v en-us -s 165 -w "$dir/u$i.wav" "${texts[$i]}"
  pcm=$(($(stat -c %s "$dir/u$i.wav") - 44))  # espeak-ng writes the 44-byte canonical header
  [ "$pcm" -lt "$slot_bytes" ] || { echo "soak: utterance $i is longer than SOAK_PERIOD" >&2; exit 1; }
  { tail -c +45 "$dir/u$i.wav"; head -c $((slot_bytes - pcm)) /dev/zero; } > "$dir/slot$i.pcm"
done
slots=$(((duration + 60) / period + 1))
data_bytes=$((slots * slot_bytes + rate * 2))
{
  printf 'RIFF'; le32 $((36 + data_bytes)); printf 'WAVEfmt '; le32 16
  printf '\x01\x00\x01\x00'; le32 $rate; le32 $((rate * 2)); printf '\x02\x00\x10\x00'
  printf 'data'; le32 $data_bytes
  head -c $((rate * 2)) /dev/zero  # the first words come after one second
  for ((s = 0; s < slots; s++)); do cat "$dir/slot$((s % ${#texts[@]})).pcm"; done
} > "$dir/user.wav"
rm -f "$dir"/slot*.pcm

# 3. The fake cloud's script: the transcripts in the same order, replies of two or three
#    sentences, and periodic faults (request numbers per service, counted from 1).
nums() {  # nums MODULUS REMAINDER: the request numbers up to a generous bound, comma-separated
  local out="" n
  for ((n = $2; n <= duration * 2 + 100; n += $1)); do out+="${out:+,}$n"; done
  printf '%s' "$out"
}
utterances="" replies=""
for ((s = 0; s < slots; s++)); do
  t=${texts[$((s % ${#texts[@]}))]}
  utterances+="${utterances:+, }\"$t\""
done
answers=("It's sunny and twenty two degrees. A light breeze comes in this afternoon."
         "No umbrella needed today. The chance of rain stays below ten percent."
         "Why did the robot cross the road? Because it was programmed to. Sorry, that was a bad one."
         "It is early morning in Tokyo. The sun rises there in about an hour."
         "The moon is about three hundred and eighty thousand kilometres away. Light takes a second and a bit."
         "You're welcome. Have a lovely day!")
for ((s = 0; s < slots * 3; s++)); do replies+="${replies:+, }\"${answers[$((s % ${#answers[@]}))]}\""; done
cat > "$dir/fakecloud.json" <<EOF
{
  "stt": { "utterances": [$utterances], "latency_ms": 100, "interim_interval_ms": 300 },
  "llm": { "replies": [$replies], "first_token_delay_ms": 350, "token_interval_ms": 40 },
  "tts": { "first_byte_delay_ms": 200, "speed": 4.0 },
  "faults": [
    { "service": "llm", "requests": [$(nums 10 3)], "kind": "status", "status": 500 },
    { "service": "llm", "requests": [$(nums 20 7)], "kind": "status", "status": 429, "retry_after": 1 },
    { "service": "llm", "requests": [$(nums 20 17)], "kind": "close_mid_stream", "after": 3 },
    { "service": "llm", "requests": [$(nums 40 11)], "kind": "invalid_json", "after": 2 },
    { "service": "llm", "requests": [$(nums 40 31)], "kind": "stall", "after": 4, "stall_ms": 20000 },
    { "service": "tts", "requests": [$(nums 10 1)], "kind": "close_mid_stream", "after": 2 },
    { "service": "tts", "requests": [$(nums 20 9)], "kind": "status", "status": 503 },
    { "service": "tts", "requests": [$(nums 40 19)], "kind": "wrong_content_type" },
    { "service": "stt", "kind": "close_mid_stream", "after": 300 }
  ]
}
EOF

# 4. The fake cloud and the daemon.
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
rm -f "$dir/fakecloud.port"
"$bin/voiced-fakecloud" --script "$dir/fakecloud.json" --port 0 --port-file "$dir/fakecloud.port" \
  --log-level info > "$dir/fakecloud.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do [ -s "$dir/fakecloud.port" ] && break; sleep 0.1; done
port=$(cat "$dir/fakecloud.port" 2>/dev/null || true)
[ -n "$port" ] || { echo "soak: voiced-fakecloud did not start; see $dir/fakecloud.log" >&2; exit 1; }
cat > "$dir/voiced.toml" <<EOF
# scripts/soak.sh: WAV backends, the fake cloud on loopback.
[turn]
always_listening = true
[audio]
capture_backend = "wav"
capture_wav = "$dir/user.wav"
playback_backend = "wav"
playback_wav = "$dir/agent.wav"
earcons = false
[gpio]
backend = "console_no_stdin"
[stt]
base_url = "ws://127.0.0.1:$port/v1/listen"
[llm]
base_url = "http://127.0.0.1:$port/v1"
[tts]
base_url = "http://127.0.0.1:$port"
[telemetry]
database = "$dir/voiced.sqlite"
max_size_mib = $db_mib
[control]
socket = "$dir/control.sock"
state_directory = "$dir/state"
[log]
level = "info"
EOF
DEEPGRAM_API_KEY=soak OPENAI_API_KEY=soak ELEVENLABS_API_KEY=soak \
  "$bin/voiced" run --config "$dir/voiced.toml" > "$dir/voiced.log" 2>&1 &
daemon=$!
pids+=($daemon)
echo "soak: fake cloud on 127.0.0.1:$port, voiced pid $daemon (log: $dir/voiced.log)"

# 5. Samples: seconds, RSS (KiB), descriptors, threads, store bytes (main + WAL), turns.
turns() { sqlite3 -readonly "$dir/voiced.sqlite" "SELECT count(*) FROM turns" 2>/dev/null || echo 0; }
samples="$dir/samples.tsv"
printf 't_s\trss_kib\tfds\tthreads\tdb_bytes\tturns\n' | tee "$samples"
start=$(date +%s)
failed=""
while :; do
  now=$(($(date +%s) - start))
  if ! kill -0 "$daemon" 2>/dev/null; then failed="voiced exited after $now s (see $dir/voiced.log)"; break; fi
  rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$daemon/status")
  threads=$(awk '/^Threads:/ { print $2 }' "/proc/$daemon/status")
  fds=$(find "/proc/$daemon/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
  db=$(( $(stat -c %s "$dir/voiced.sqlite" 2>/dev/null || echo 0) + $(stat -c %s "$dir/voiced.sqlite-wal" 2>/dev/null || echo 0) ))
  printf '%d\t%d\t%d\t%d\t%d\t%d\n' "$now" "$rss" "$fds" "$threads" "$db" "$(turns)" | tee -a "$samples"
  [ "$now" -lt "$duration" ] || break
  sleep $((interval - ($(date +%s) - start) % interval))
done

# 6. The figures: turns and faults, then a least-squares slope per metric after the warm-up.
#    The first speech request fails (the tts fault on request 1): the fallback voice, which voiced
#    loads on first use (libespeak-ng and its libraries, about 4.5 MB of RSS and one thread),
#    then loads during the warm-up, and a one-time step is not mistaken for a leak.
echo
echo "soak: turns by status:"
sqlite3 -readonly "$dir/voiced.sqlite" "SELECT '  ' || status || ': ' || count(*) FROM turns GROUP BY status" 2>/dev/null || true
echo "soak: LLM calls by status:"
sqlite3 -readonly "$dir/voiced.sqlite" "SELECT '  ' || status || coalesce(' (' || reason || ')', '') || ': ' || count(*) FROM llm_calls GROUP BY status, reason" 2>/dev/null || true
echo "soak: requests a fault was armed on (the fake cloud's log; a fault strikes unless the client left first):"
grep 'fault armed' "$dir/fakecloud.log" | awk '{ s = ""; k = ""; for (i = 1; i <= NF; i++) { if ($i ~ /^service=/) s = substr($i, 9); if ($i ~ /^kind=/) k = substr($i, 6) } print s " " k }' \
  | sort | uniq -c | sed 's/^ */  /' || true
echo "  total: $(grep -c 'fault armed' "$dir/fakecloud.log" || true)"
if [ -z "$failed" ]; then
  last_turn_check=$(awk -v q=$((duration * 3 / 4)) 'NR > 1 && $1 <= q { before = $6 } NR > 1 { last = $6 } END { print (last > before) ? "ok" : "none" }' "$samples")
  [ "$last_turn_check" = ok ] || failed="no turn was recorded in the last quarter of the run (wedged?)"
fi
warmup=$((duration / 4 < 300 ? duration / 4 : 300))
echo
echo "soak: slopes over t >= $warmup s (least squares; growth = slope x fitted span; noise = 3 x residual std):"
verdict=$(awk -v warmup="$warmup" -v dbmax=$(((db_mib + 4) * 1048576)) '
  NR == 1 { next }
  { if ($5 > dbpeak) dbpeak = $5 }
  $1 >= warmup { n++; t[n] = $1; for (k = 2; k <= 5; k++) v[k, n] = $k }
  END {
    name[2] = "rss_kib";  floor[2] = 4096
    name[3] = "fds";      floor[3] = 3
    name[4] = "threads";  floor[4] = 3
    name[5] = "db_bytes"; floor[5] = -1
    bad = ""
    if (n < 3) { print "  too few samples after the warm-up to fit a line"; print "VERDICT ok"; exit }
    span = t[n] - t[1]
    for (k = 2; k <= 5; k++) {
      st = 0; sv = 0
      for (i = 1; i <= n; i++) { st += t[i]; sv += v[k, i] }
      mt = st / n; mv = sv / n; stt = 0; stv = 0
      for (i = 1; i <= n; i++) { stt += (t[i] - mt) ^ 2; stv += (t[i] - mt) * (v[k, i] - mv) }
      slope = stt > 0 ? stv / stt : 0
      ss = 0
      for (i = 1; i <= n; i++) { r = v[k, i] - (mv + slope * (t[i] - mt)); ss += r * r }
      sd = sqrt(ss / (n > 2 ? n - 2 : 1))
      growth = slope * span
      limit = 3 * sd; if (floor[k] > limit) limit = floor[k]
      judged = floor[k] >= 0
      over = judged && growth > limit
      printf "  %-8s slope %+12.1f /hour  growth %+12.1f over %d s  noise %10.1f  limit %10.1f  %s\n", \
        name[k], slope * 3600, growth, span, 3 * sd, judged ? limit : dbmax, \
        judged ? (over ? "GROWING" : "flat") : (dbpeak > dbmax ? "OVER THE BOUND" : "within the bound (grows with the turns by design)")
      if (over) bad = bad " " name[k]
    }
    if (dbpeak > dbmax) bad = bad " db_bytes(bound)"
    print "VERDICT " (bad == "" ? "ok" : "growing:" bad)
  }' "$samples")
echo "$verdict" | grep -v '^VERDICT'
v=$(echo "$verdict" | sed -n 's/^VERDICT //p')
[ "$v" = ok ] || failed="${failed:+$failed; }$v"
echo "soak: $(tail -1 "$samples" | cut -f6) turns in $minutes min"
if [ -n "$failed" ]; then
  echo "soak: FAILED: $failed" >&2
  exit 1
fi
echo "soak: OK"
