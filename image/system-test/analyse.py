#!/usr/bin/env python3
"""The system test's host-side checks on what the VM recorded (standard library only).

  analyse.py GUEST_OUT_DIR EXPECTED_DIR

Check 2 (audio): the answers captured from the loopback card are speech of the expected length
(from espeak-ng at the fake cloud's rate, made on the host), the corrected turn speaks the final
answer alone, and after the button's release edge the playback falls silent and stays silent;
the edge-to-silence time is printed as a figure. Check 3: the LED lines, sampled every 20 ms,
show each state's colour (journal transitions give the states and their times).
Prints "CHECK N PASS|FAIL reason" and "FIGURE name value" lines.
"""
import array
import bisect
import json
import math
import os
import sys
import wave

RATE = 16000
FRAME = 320  # 20 ms
LOUD_RMS = 300.0


def frames_rms(samples, frame=FRAME):
    out = []
    for i in range(0, len(samples) - frame + 1, frame):
        chunk = samples[i:i + frame]
        out.append(math.sqrt(sum(s * s for s in chunk) / frame))
    return out


def wav_loud_seconds(path):
    with wave.open(path) as w:
        rate = w.getframerate()
        data = array.array("h", w.readframes(w.getnframes()))
    frame = rate // 50
    return sum(1 for r in frames_rms(data, frame) if r > LOUD_RMS) * 0.02


def read_events(path):
    events = {}
    for line in open(path):
        parts = line.split()
        if len(parts) >= 2:
            events.setdefault(" ".join(parts[1:3]), float(parts[0]))
    return events


def main():
    guest, expected = sys.argv[1], sys.argv[2]
    results = []

    def result(n, ok, reason):
        results.append(f"CHECK {n} {'PASS' if ok else 'FAIL'} {reason}")

    def figure(name, value):
        results.append(f"FIGURE {name} {value}")

    try:
        events = read_events(os.path.join(guest, "events.log"))
        raw = open(os.path.join(guest, "answer.raw"), "rb").read()
        samples = array.array("h")
        samples.frombytes(raw[: len(raw) // 2 * 2])
        anchors = [tuple(map(float, l.split())) for l in open(os.path.join(guest, "anchors.log")) if len(l.split()) == 2]
    except OSError as e:
        result(2, False, f"no recording from the VM ({e})")
        result(3, False, "no LED samples from the VM")
        print("\n".join(results))
        return
    # Anchors tie a sample index to the time it had been captured by (guest.sh, every 100 ms);
    # between two anchors samples are 1/16000 s apart. Overruns lose samples between anchors,
    # not the anchors' accuracy (a period, 50 ms).
    anchors.sort()
    rms = frames_rms(samples)
    loud = [r > LOUD_RMS for r in rms]

    def index(t):
        """The 20 ms frame captured at time t."""
        if not anchors:
            return 0
        k = bisect.bisect_right([a[0] for a in anchors], t) - 1
        if k < 0:
            n = anchors[0][1] - (anchors[0][0] - t) * RATE
        else:
            n = anchors[k][1] + (t - anchors[k][0]) * RATE
            if k + 1 < len(anchors):
                n = min(n, anchors[k + 1][1])
        return max(0, min(len(loud), int(n // FRAME)))

    def time_of(frame):
        """When the 20 ms frame was captured."""
        sample = frame * FRAME
        k = bisect.bisect_left([a[1] for a in anchors], sample)
        k = min(k, len(anchors) - 1)
        return anchors[k][0] - (anchors[k][1] - sample) / RATE

    def loud_seconds(a, b):
        return sum(loud[index(a):index(b)]) * 0.02

    e = {name: wav_loud_seconds(os.path.join(expected, f"reply{name}.wav")) for name in ("1", "2", "3")}
    why = []
    need = ["turn1 play", "turn1 done", "turn2 played", "turn2 done", "turn3 release", "turn3 done"]
    missing = [n for n in need if n not in events]
    if missing:
        why.append(f"the VM logged no {', '.join(missing)}")
    else:
        l1 = loud_seconds(events["turn1 play"], events["turn1 done"] + 0.5)
        if not 0.6 * e["1"] <= l1 <= 1.5 * e["1"]:
            why.append(f"answer 1 has {l1:.1f} s of speech, expected about {e['1']:.1f} s")
        l2 = loud_seconds(events["turn2 played"], events["turn2 done"] + 0.5)
        if not 0.6 * e["3"] <= l2 <= 1.3 * e["3"]:
            why.append(f"the corrected answer has {l2:.1f} s of speech, expected {e['3']:.1f} s for the final answer alone "
                       f"(with the cancelled one: {e['2'] + e['3']:.1f} s)")
        rel = events["turn3 release"]
        before = loud_seconds(rel - 1.5, rel)
        if before < 0.3:
            why.append(f"answer 3 was not playing before the button ({before:.2f} s of speech in the 1.5 s before)")
        # Silence: the first moment after the edge from which 500 ms are quiet.
        k = index(rel)
        quiet_run = int(0.5 / 0.02)
        silent_at = None
        while k + quiet_run <= len(loud):
            if not any(loud[k:k + quiet_run]):
                silent_at = time_of(k)
                # Nothing captured for a while (the cable stopped): the sound ended with the
                # last frame before the gap.
                if k > 0 and time_of(k) - time_of(k - 1) > 0.04:
                    silent_at = time_of(k - 1) + 0.02
                break
            k += 1
        if silent_at is None:
            why.append("the playback never fell silent after the button")
        else:
            edge_ms = (silent_at - rel) * 1000
            figure("edge_to_silence_ms", f"{edge_ms:.0f}")
            if "turn3 press" in events:
                figure("press_to_silence_ms", f"{(silent_at - events['turn3 press']) * 1000:.0f}")
            after = loud_seconds(silent_at, events["turn3 done"] + 1.0)
            if edge_ms > 1000:
                why.append(f"silence came {edge_ms:.0f} ms after the release edge (more than 1 s)")
            if after > 0.1:
                why.append(f"{after:.1f} s of the interrupted answer played after the silence")
    if why:
        result(2, False, "; ".join(why))
    else:
        result(2, True, f"answers captured from the loopback card: {l1:.1f} s (expected {e['1']:.1f}), "
                        f"corrected {l2:.1f} s (final answer alone {e['3']:.1f}), silent {edge_ms:.0f} ms after the release edge")

    # 3. LEDs: each state's colour, from the samples between its transition and the next.
    colours = {
        "idle": {(0, 0, 0)},
        "listening": {(0, 0, 1)},
        "speculative": {(1, 1, 0), (0, 0, 0)},
        "committed": {(0, 1, 0)},
        "speaking": {(1, 0, 1), (0, 0, 0)},
    }
    try:
        leds = []
        for line in open(os.path.join(guest, "leds.log")):
            p = line.split()
            if len(p) == 4:
                leds.append((float(p[0]), (int(p[1]), int(p[2]), int(p[3]))))
        transitions = []
        for line in open(os.path.join(guest, "journal-conversation.json")):
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if "STATE" in entry and str(entry.get("MESSAGE", "")).startswith("transition"):
                transitions.append((int(entry["__REALTIME_TIMESTAMP"]) / 1e6, entry["STATE"]))
    except OSError as err:
        result(3, False, f"missing LED samples or journal ({err})")
        print("\n".join(results))
        return
    transitions.sort()
    seen = {}
    for i, (t, state) in enumerate(transitions):
        end = transitions[i + 1][0] if i + 1 < len(transitions) else (leds[-1][0] if leds else t)
        window = [c for (ts, c) in leds if t + 0.15 <= ts < end]
        if state in colours and window:
            ok = sum(1 for c in window if c in colours[state])
            good, total = seen.get(state, (0, 0))
            seen[state] = (good + ok, total + len(window))
    why = []
    summary = []
    for state in ("listening", "speculative", "committed", "speaking", "idle"):
        if state not in seen:
            continue
        good, total = seen[state]
        summary.append(f"{state} {100 * good // total}% of {total}")
        if total >= 5 and good < 0.8 * total:
            why.append(f"{state}: only {good} of {total} samples show its colour")
    for state in ("listening", "speaking"):
        if seen.get(state, (0, 0))[1] < 5:
            why.append(f"no LED samples while {state}")
    if not transitions:
        why.append("no state transitions in the journal (log level debug?)")
    result(3, not why, "; ".join(why) if why else "LED colours follow the states: " + ", ".join(summary))
    print("\n".join(results))


if __name__ == "__main__":
    main()
