#!/usr/bin/env bash
# The README's main command: sets everything up and runs the main job.
# Until the end-to-end demo exists (the daemon issue), the main job is `voiced --version`
# (which shows the linked system libraries) followed by the turn-controller simulator on the
# shipped example scenarios (a conversation on a virtual clock with scripted providers).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
bin=$(swift build --show-bin-path)
"$bin/voiced" --version
for scenario in examples/scenarios/*.json; do
  echo
  echo "=== voiced simulate $scenario"
  "$bin/voiced" simulate "$scenario"
done
