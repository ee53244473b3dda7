#!/usr/bin/env bash
# The cost and the safety of the speculation modes (docs/benchmarks.md, "The speculation default"):
# `voiced simulate` on a ten-turn conversation per mode, on the virtual clock, so the figures are
# exact and the build may be debug. Takes about 30 s after the build.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v python3 >/dev/null 2>&1 || { echo "bench-speculation: python3 is missing (apt-get install python3)" >&2; exit 1; }
swift build --product voiced >/dev/null
python3 scripts/speculation-cost.py "$(swift build --show-bin-path)/voiced"
