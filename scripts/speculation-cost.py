#!/usr/bin/env python3
"""The cost of speculation (docs/benchmarks.md, "The speculation default"), run by scripts/bench-speculation.sh.

Runs `voiced simulate` (virtual clock: the figures are exact, not timed) on a ten-turn conversation
with the pauses people make, once per mode, and prints per turn: the mean speech end -> first
audio, LLM calls, the extra calls, wasted output tokens (streamed, then cancelled), wasted input
tokens (the prompt of every cancelled call, estimated at 4 characters a token), wasted
text-to-speech characters, and dollars at the prices below. Then the correction window: the
longest pause after a final at which a correction ("Actually, make it Tuesday.") still cancels
the answer before any of its audio plays.
Usage: speculation-cost.py VOICED_BINARY
"""
import json, statistics, subprocess, sys, tempfile, os

VOICED = sys.argv[1]
# Public list prices: gpt-4o-mini (the [llm] default model) $0.15 / $0.60 per million input /
# output tokens (OpenAI, platform.openai.com/docs/pricing, unchanged since the model's launch on
# 2024-07-18); ElevenLabs Flash/Turbo (the [tts] default model eleven_flash_v2_5) $0.05 per 1,000
# characters (elevenlabs.io/pricing/api, as reported in June 2026).
IN_PER_M, OUT_PER_M, TTS_PER_K = 0.15, 0.60, 0.05
SYSTEM = "You are a helpful voice assistant on a smart speaker. Answer briefly, in plain spoken sentences."
MODES = {  # name: (speculation, preemptive_tts)
    "at_commit": ("at_commit", False),
    "after_debounce (default)": ("after_debounce", False),
    "at_final": ("at_final", False),
    "at_final + preemptive_tts": ("at_final", True),
}
# Plain questions (A), a pause inside the sentence shorter than the debounce (C, 300 ms), a
# pause after the debounce but before the commit (B, 550 ms), a correction 750 ms after the final (D).
TURNS = [
    ("A", "What's the weather like today?"), ("C", ["Set a timer", "for twelve minutes."]),
    ("A", "How long do I boil an egg?"), ("B", ["Remind me to call", "my mother tomorrow at six."]),
    ("A", "What is the capital of Australia?"), ("D", ["Book a table for four on Monday.", "Actually, make it Tuesday."]),
    ("C", ["Play something", "relaxing."]), ("A", "Who wrote The Old Man and the Sea?"),
    ("B", ["What's a good name", "for a grey cat?"]), ("A", "Thanks, that's all."),
]
REPLY = "It's sunny and twenty two degrees. A light breeze comes in this afternoon."


def simulate(doc):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(doc, f)
    try:
        out = subprocess.run([VOICED, "simulate", f.name, "--json"], capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(f.name)
    return json.loads(out)


def settings(mode):
    speculation, preemptive = MODES[mode]
    return {"debounce_ms": 400, "commit_hold_ms": 200, "adaptive_debounce": False,
            "speculation": speculation, "preemptive_tts": preemptive}


def conversation(mode):
    events = []
    for i, (kind, text) in enumerate(TURNS):
        t = i * 20000
        events += [{"at_ms": t, "type": "button"}, {"at_ms": t + 100, "type": "speech_start"}]
        if kind == "A":
            events += [{"at_ms": t + 1500, "type": "final", "text": text}, {"at_ms": t + 1500, "type": "speech_end"}]
        else:
            gap = {"C": 300, "B": 550, "D": 750}[kind]
            events += [{"at_ms": t + 1200, "type": "final", "text": text[0]}, {"at_ms": t + 1200, "type": "speech_end"},
                       {"at_ms": t + 1200 + gap, "type": "speech_start"},
                       {"at_ms": t + 2200 + gap, "type": "final", "text": text[1]},
                       {"at_ms": t + 2200 + gap, "type": "speech_end"}]
    return {"settings": settings(mode), "llm": {"ttft_ms": 400, "ms_per_token": 30, "replies": [REPLY]},
            "tts": {"ttfb_ms": 150, "audio_ms_per_char": 60}, "events": events}


def correction_window(mode):
    def audio_before_correction(gap):
        doc = {"settings": settings(mode),
               "llm": {"ttft_ms": 400, "ms_per_token": 30, "replies": ["Booked for Monday at seven.", "Done. Tuesday it is."]},
               "tts": {"ttfb_ms": 150, "audio_ms_per_char": 60},
               "events": [{"at_ms": 0, "type": "button"}, {"at_ms": 100, "type": "speech_start"},
                          {"at_ms": 1200, "type": "final", "text": "Book a table for four on Monday."},
                          {"at_ms": 1200, "type": "speech_end"}, {"at_ms": 1200 + gap, "type": "speech_start"},
                          {"at_ms": 2200 + gap, "type": "final", "text": "Actually, make it Tuesday."},
                          {"at_ms": 2200 + gap, "type": "speech_end"}]}
        starts = [e["t_ms"] for e in simulate(doc)["timeline"] if e["event"] == "audio_start"]
        return bool(starts) and min(starts) < 1200 + gap
    return max(g for g in range(300, 1500, 50) if not audio_before_correction(g))


print("| mode | speech end → first audio | LLM calls / turn | extra calls / turn | wasted output tokens / turn"
      " | wasted input tokens / turn (est.) | wasted TTS characters / turn | wasted $ per 1,000 turns | a correction stays silent up to |")
print("|---|---|---|---|---|---|---|---|---|")
for mode in MODES:
    report = simulate(conversation(mode))
    turns = report["turns"]
    n = len(TURNS)  # turns the user meant (a barge-in can split one into two records)
    calls = sum(len(t["llm_calls"]) for t in turns)
    wasted_out = sum(c["tokens"] for t in turns for c in t["llm_calls"] if c["status"] != "completed")
    wasted_in, history = 0.0, []
    for t in turns:
        prompt = len(SYSTEM) + sum(len(u) + len(a) for u, a in history[-8:]) + len(t["user_text"])
        wasted_in += prompt / 4 * sum(1 for c in t["llm_calls"] if c["status"] != "completed")
        history.append((t["user_text"], t["spoken_text"]))
    synthesised = sum(len(e["text"].replace(" ", "")) for e in report["timeline"] if e["event"] == "tts_start")
    spoken = sum(len(t["spoken_text"].replace(" ", "")) for t in turns)
    wasted_tts = synthesised - spoken
    latency = statistics.mean(t["speech_end_to_first_audio_ms"] for t in turns)
    dollars = (wasted_in * IN_PER_M / 1e6 + wasted_out * OUT_PER_M / 1e6 + wasted_tts * TTS_PER_K / 1e3) / n * 1000
    print(f"| {mode} | {latency:.0f} ms | {calls / n:.1f} | {(calls - n) / n:.1f} | {wasted_out / n:.1f} | {wasted_in / n:.0f}"
          f" | {wasted_tts / n:.1f} | ${dollars:.2f} | {correction_window(mode)} ms |")
    if report["violations"]:
        print(f"    {mode}: VIOLATIONS {report['violations']}")
