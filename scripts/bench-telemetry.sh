#!/usr/bin/env bash
# The telemetry benchmark: a busy day of one device (2,000 turns, 8,000 LLM calls, 100,000
# telemetry samples) written through the writer service into SQLite, then synced to a
# throwaway PostgreSQL on loopback (scripts/with-postgres.sh) as a provisioned device over
# TLS. Prints rows per second for both, and the cost of a commit under synchronous=FULL and
# NORMAL. Builds in release mode. Figures: docs/benchmarks.md.
#   scripts/bench-telemetry.sh [--turns N] [--samples N] [--batch N]
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--inner" ]; then
  shift
  db="bench_$$"
  admin="${VOICED_TEST_POSTGRES_URL/\/postgres\?//$db?}"
  psql "$VOICED_TEST_POSTGRES_URL" -X -q -c "CREATE DATABASE $db"
  scripts/db-migrate.sh "$admin" >/dev/null
  provisioned="$(scripts/db-provision-device.sh "$admin" bench_device "bench")"
  password="$(printf '%s\n' "$provisioned" | sed -n 's/^password=//p')"
  device_url="postgresql://bench_device:$password@${admin#*@}"
  dir="$(mktemp -d /tmp/voiced-telemetry-bench.XXXXXX)"
  trap 'rm -rf "$dir"' EXIT
  "$BENCH_TOOL" bench --db-dir "$dir" --postgres-url "$device_url" "$@"
  echo "upstream rows:   $(psql "$admin" -X -tA -c "SELECT (SELECT count(*) FROM voiced.turns) || ' turns, ' ||
    (SELECT count(*) FROM voiced.llm_calls) || ' LLM calls, ' || (SELECT count(*) FROM voiced.telemetry) || ' samples'")"
  exit 0
fi

echo "bench-telemetry: building voiced-telemetry-tool (release)"
swift build -c release --product voiced-telemetry-tool 2>&1 | grep -E "error|warning: |Compiling voiced|Build complete" || true
BENCH_TOOL="$(swift build -c release --show-bin-path)/voiced-telemetry-tool"
export BENCH_TOOL
[ -x "$BENCH_TOOL" ] || { echo "bench-telemetry: build failed" >&2; exit 1; }
echo "bench-telemetry: $(nproc) cores, $(uname -m), SQLite $(pkg-config --modversion sqlite3), file system of /tmp: $(df -T /tmp | awk 'NR==2 {print $2}')"
exec scripts/with-postgres.sh "$0" --inner "$@"
