#!/usr/bin/env bash
# The echo benchmark (docs/audio.md): the capture path (speexdsp echo canceller, voice activity
# detector, echo gate) in the room harness, with espeak-ng speech as the agent and as the user.
# Prints the table over echo gain x user SNR, then the variants the design was chosen from.
#   scripts/bench-echo.sh                        10 min of playback per cell (about 2 min on 2 busy cores)
#   scripts/bench-echo.sh --minutes 2 --trials 20  quicker
#   scripts/bench-echo.sh --delay-ms 100         a longer echo path
set -euo pipefail
cd "$(dirname "$0")/.."

swift build -c release --product voiced-echo-bench >&2
echo "command: scripts/bench-echo.sh $*"
echo "machine: $(nproc) cores, $(uname -srm); date $(date -u +%Y-%m-%dT%H:%MZ)"
"$(swift build -c release --show-bin-path)/voiced-echo-bench" "$@"
