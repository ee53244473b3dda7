#!/usr/bin/env bash
# Runs the release benchmarks (docs/benchmarks.md). Arguments select benchmarks by name:
#   scripts/bench.sh            every benchmark
#   scripts/bench.sh ring       only the ring buffer
set -euo pipefail
cd "$(dirname "$0")/.."

swift run -c release voiced-bench "$@"
