#!/usr/bin/env bash
# The README's main command: sets everything up and runs the main job, a three-turn
# conversation through the real daemon with no microphone, no GPIO and no API keys:
#   voiced-fakecloud on loopback (Deepgram, OpenAI and ElevenLabs protocols),
#   the user's speech made with espeak-ng and captured through the paced WAV backend,
#   a plain question, a correction ("... actually, make it Tuesday"), and a button barge-in.
# It prints the timeline and writes the agent's audio to demo-output/agent.wav.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
bin=$(swift build --show-bin-path)
"$bin/voiced" --version
echo
"$bin/voiced-demo" --out demo-output "$@"
