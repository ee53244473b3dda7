// The echo benchmark (scripts/bench-echo.sh): the capture path (room → capture processor → echo
// gate) on espeak-ng speech, as agent and as user, over echo gains and user SNRs. Prints the
// table of docs/audio.md. Faster than real time: the audio's time is counted in samples; the only
// clocks read are the thread's CPU time (the cost) and the wall time of the whole run.
import Foundation
import Glibc
import VoiceCore
import VoiceEspeak
import VoiceLinux

let arguments = CommandLine.arguments.dropFirst()
func option(_ name: String, _ fallback: Double) -> Double {
    guard let index = arguments.firstIndex(of: name), arguments.index(after: index) < arguments.endIndex,
          let value = Double(arguments[arguments.index(after: index)]) else { return fallback }
    return value
}
if arguments.contains("--help") || arguments.contains("-h") {
    print("usage: voiced-echo-bench [--minutes M] [--trials N] [--delay-ms D] [--variants]")
    print("  --variants    only the variants (canceller and detector settings), not the table")
    print("  --minutes M   minutes of agent playback with nobody else in the room, per cell (default 10)")
    print("  --trials N    user interruptions per cell for the detection delay (default 30)")
    print("  --delay-ms D  the echo path's delay (default 60)")
    exit(0)
}
let minutes = option("--minutes", 10)
let trials = Int(option("--trials", 30))
let pathDelay = Duration.milliseconds(Int64(option("--delay-ms", 60)))
let frameSize = 320
let rate = Double(PlaybackChunk.sampleRate)

func cpuSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// Scales `samples` so that their loud part (frames above −50 dBFS) has this RMS in dBFS.
func normalize(_ samples: [Int16], to dBFS: Double) -> [Int16] {
    var energy = 0.0
    var count = 0
    for start in stride(from: 0, to: samples.count - frameSize, by: frameSize) {
        let rms = AudioMath.rms(Array(samples[start..<start + frameSize]))
        if AudioMath.dBFS(rms: rms) > -50 { energy += rms * rms; count += 1 }
    }
    let rms = (energy / Double(max(1, count))).squareRoot()
    let gain = AudioMath.amplitude(decibels: dBFS) * 32768 / max(1, rms)
    return samples.map { AudioMath.clampToInt16(Double($0) * gain) }
}

// The voices: espeak-ng for both, another voice and speed for the user.
let agentText = """
The Eiffel Tower was finished in 1889 for the World's Fair in Paris. It is three hundred and thirty metres tall. \
For forty one years it was the tallest structure in the world. Millions of people visit it every year. \
Tomorrow will be sunny with a light breeze from the west, and the evening will be cool. \
Your table for four is booked for Tuesday at seven, and I have added it to your calendar. \
Here is a recipe for a simple tomato soup: soften an onion in olive oil, add the tomatoes and a little stock, \
simmer for twenty minutes, and blend until smooth.
"""
let userTexts = ["Stop, that's enough.", "Wait, what about Tuesday?", "Hey, turn it down please.", "No, I meant the other one.",
                 "Actually, cancel that.", "Tell me something else."]
let level = -20.0  // dBFS: the agent as played, and the user at the microphone
let agent = normalize(try await EspeakEngine.shared.synthesizeAll(agentText, voice: "en-us", wordsPerMinute: 175), to: level)
func synthesizeUsers() async throws -> [(samples: [Int16], onset: Int)] {
    var users: [(samples: [Int16], onset: Int)] = []
    for text in userTexts {
        let samples = normalize(try await EspeakEngine.shared.synthesizeAll(text, voice: "en-us+f3", wordsPerMinute: 165), to: level)
        let peak = samples.map { abs(Int($0)) }.max() ?? 0
        users.append((samples, samples.firstIndex { abs(Int($0)) > peak / 10 } ?? 0))
    }
    return users
}
let users = try await synthesizeUsers()

/// The capture path under test.
/// The daemon's detector settings (`audio.vad_threshold_db` = −40 by default).
func daemonVAD() -> VoiceActivitySettings {
    var settings = VoiceActivitySettings()
    settings.minimumLevel = -40
    return settings
}

struct Variant {
    var name: String
    var filter: Duration
    var residual: Bool
    var settings = daemonVAD()
    var denoise = false
}

struct Cell {
    var falseBargeIns = 0
    var echoUtterances = 0     // what the canceller left, loud and long enough to be transcribed
    var falseTurns = 0         // those the echo gate let through
    var delays: [Double] = []  // ms
    var missed = 0
    var minutes = 0.0
    var cpuPlaying = 0.0       // CPU seconds per second of audio, while the speaker plays
    var cpuIdle = 0.0          // ... while it does not
}

/// A stand-in for speech-to-text on what leaves the capture path: 10 ms frames at RMS ≥ 500
/// (the fake cloud's threshold), 100 ms to start, a final 300 ms after the last loud frame.
struct Transcriber {
    var loud = 0
    var inSpeech = false
    var start = 0
    var lastLoud = 0
    /// Feeds one 20 ms frame ending at `position` (samples); returns the audio span of a final.
    mutating func feed(_ frame: [Int16], endingAt position: Int) -> (start: Int, end: Int)? {
        var result: (Int, Int)?
        for half in 0..<2 {
            let end = position - frameSize + (half + 1) * frameSize / 2
            let isLoud = AudioMath.rms(Array(frame[half * frameSize / 2..<(half + 1) * frameSize / 2])) >= 500
            if isLoud {
                loud += 1
                lastLoud = end
                if !inSpeech && loud >= 10 { inSpeech = true; start = end - 10 * frameSize / 2 }
            } else {
                loud = 0
                if inSpeech && end - lastLoud >= Int(0.3 * rate) { inSpeech = false; result = (start, lastLoud) }
            }
        }
        return result
    }
}

func instant(_ samples: Int) -> VoiceInstant { VoiceInstant(sinceOrigin: PlaybackChunk.duration(ofSamples: samples)) }

/// Runs `seconds` of audio through the room and the capture path. `played(i)` is the agent's
/// frame i (nil: the speaker is silent); `user(i)` the user's. Returns the events by frame.
func run(_ variant: Variant, gain: Double, snr: Double?, frames: Int, seed: UInt64,
         played: (Int) -> [Int16]?, user: (Int) -> [Int16]?, cell: inout Cell, erle: UnsafeMutablePointer<(Double, Double)>? = nil,
         onEvent: (Int, SpeechEvent) -> Void) {
    let noise = snr.map { AudioMath.amplitude(decibels: level - $0) * 32768 } ?? 0
    var room = Room(path: EchoPath(delay: pathDelay, gain: gain), noiseLevel: noise, seed: seed)
    let reference = PlaybackReference()
    let canceller = SpeexEchoCanceller(frameSize: frameSize, filterLength: variant.filter, suppressResidualEcho: variant.residual,
                                       denoise: variant.denoise)
    let processor = CaptureProcessor(settings: variant.settings, reference: reference, echoCanceller: canceller,
                                     tail: variant.filter + .milliseconds(100))
    var gate = EchoGate()
    let ring = AudioRingBuffer(capacity: 10 * PlaybackChunk.sampleRate)
    var drained = [Int16](repeating: 0, count: frameSize)
    var transcriber = Transcriber()
    let silence = [Int16](repeating: 0, count: frameSize)
    var playingCPU = 0.0, playingFrames = 0, idleCPU = 0.0, idleFrames = 0
    for index in 0..<frames {
        let agentFrame = played(index)
        if let agentFrame { reference.played(agentFrame) }
        var frame = room.hear(played: agentFrame ?? silence, user: user(index) ?? silence)
        let raw = AudioMath.rms(frame)
        // The whole capture path as the daemon runs it per frame: the processor, the echo gate's
        // record, the ring write (and the speech-to-text side's read, which runs elsewhere).
        let end = (index + 1) * frameSize
        let before = cpuSeconds()
        let event = frame.withUnsafeMutableBufferPointer { processor.process(inPlace: $0) }
        gate.frame(endingAt: instant(end), duration: .milliseconds(20), echoRisk: processor.lastFrameInPlayback,
                   userSpeech: processor.isSpeaking)
        _ = frame.withUnsafeBufferPointer { ring.write($0) }
        let cost = cpuSeconds() - before
        _ = drained.withUnsafeMutableBufferPointer { ring.read(into: $0) }
        if processor.lastFrameCancelled { playingCPU += cost; playingFrames += 1 } else { idleCPU += cost; idleFrames += 1 }
        if let event { onEvent(index, event) }
        if let erle, index * frameSize > Int(5 * rate) {
            erle.pointee.0 += raw * raw
            erle.pointee.1 += AudioMath.rms(frame) * AudioMath.rms(frame)
        }
        if let span = transcriber.feed(frame, endingAt: end) {
            let final = SpeechEvent.final(text: "echo", confidence: 0.9, start: Double(span.start) / rate, end: Double(span.end) / rate)
            onEvent(index, final)
            // The final arrives 300 ms after the last loud sound, as an endpointing recogniser's.
            if gate.admits(final, arrivedAt: instant(end)) { onEvent(index, .partial("admitted")) }
        }
    }
    cell.cpuPlaying = playingCPU / max(1e-9, Double(playingFrames) * 0.02)
    cell.cpuIdle = idleCPU / max(1e-9, Double(idleFrames) * 0.02)
}

func agentFrame(_ index: Int) -> [Int16] {
    let start = (index * frameSize) % (agent.count - frameSize)
    return Array(agent[start..<start + frameSize])
}

/// One cell: `minutes` of the agent alone, then `trials` interruptions over the agent.
func measure(_ variant: Variant, gain: Double, snr: Double, minutes: Double) -> (Cell, erle: Double) {
    var cell = Cell()
    cell.minutes = minutes
    var energy = (0.0, 0.0)
    let frames = Int(minutes * 60 * 50)
    var counts = (bargeIns: 0, utterances: 0, turns: 0)
    // Answers of 8 s with 2 s of silence between them: the canceller starts and stops, and the
    // tail ends, 6 times a minute. Rates are per minute of playback (8 s in 10).
    cell.minutes = minutes * 0.8
    run(variant, gain: gain, snr: snr, frames: frames, seed: 11, played: { $0 % 500 < 400 ? agentFrame($0) : nil },
        user: { _ in nil }, cell: &cell,
        onEvent: { _, event in
            switch event {
            case .speechStarted: counts.bargeIns += 1
            case .final: counts.utterances += 1
            case .partial: counts.turns += 1
            default: break
            }
        })
    cell.falseBargeIns = counts.bargeIns
    cell.echoUtterances = counts.utterances
    cell.falseTurns = counts.turns
    // The ERLE on echo alone (no noise), over 60 s after 5 s of convergence.
    var erleCell = Cell()
    withUnsafeMutablePointer(to: &energy) { pointer in
        run(variant, gain: gain, snr: nil, frames: 65 * 50, seed: 12, played: { agentFrame($0) }, user: { _ in nil },
            cell: &erleCell, erle: pointer, onEvent: { _, _ in })
    }
    // Interruptions: every 4 s from 6 s on, a user phrase over the agent; the playback goes on
    // (the delay is measured to the detector's event, which is when the daemon drops playback).
    var onsets: [(frame: Int, sample: Int, clip: Int)] = []
    for k in 0..<trials { onsets.append((300 + k * 200, 0, k % users.count)) }
    var detected = [Int?](repeating: nil, count: trials)
    var trialCell = Cell()
    run(variant, gain: gain, snr: snr, frames: 300 + trials * 200 + 100, seed: 13, played: { agentFrame($0) },
        user: { index in
            for onset in onsets where index >= onset.frame {
                let clip = users[onset.clip].samples
                let offset = (index - onset.frame) * frameSize
                if offset + frameSize <= clip.count { return Array(clip[offset..<offset + frameSize]) }
            }
            return nil
        }, cell: &trialCell,
        onEvent: { index, event in
            guard event == .speechStarted else { return }
            if let k = onsets.lastIndex(where: { index >= $0.frame }), detected[k] == nil,
               index < onsets[k].frame + 75 {
                let onset = onsets[k].frame * frameSize + users[onsets[k].clip].onset
                detected[k] = (index + 1) * frameSize - onset
            }
        })
    cell.delays = detected.compactMap { $0 }.map { Double($0) / rate * 1000 }.sorted()
    cell.missed = detected.filter { $0 == nil }.count
    cell.cpuPlaying = (cell.cpuPlaying + erleCell.cpuPlaying) / 2
    cell.cpuIdle = trialCell.cpuIdle > 0 ? trialCell.cpuIdle : cell.cpuIdle
    return (cell, 10 * AudioMath.log10(energy.0 / max(1, energy.1)))
}

func percentile(_ sorted: [Double], _ p: Double) -> String {
    guard !sorted.isEmpty else { return "-" }
    return String(format: "%.0f", sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p + 0.5))])
}
func pad(_ text: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }

#if DEBUG
print("warning: a debug build; the CPU figures are only meaningful with -c release")
#endif
print("agent: espeak-ng en-us 175 wpm, \(String(format: "%.1f", Double(agent.count) / rate)) s looped; user: en-us+f3 (a female variant) 165 wpm, \(users.count) phrases; both at \(level) dBFS")
print("room: echo delay \(pathDelay.wholeMilliseconds) ms + reflections 4/11/23 ms, low-pass 3.5 kHz; white noise at the user's level − SNR")
print("per cell: \(minutes) min of agent alone, 8 s answers with 2 s pauses (false barge-ins, echo transcripts), \(trials) interruptions (delay), 65 s echo-only (ERLE)")
print("")

let chosen = Variant(name: "speex MDF 200 ms, no preprocessor (the daemon's)", filter: .milliseconds(200), residual: false)
let onlyVariants = arguments.contains("--variants")
print("capture path: \(chosen.name); detector: minimum speech \(chosen.settings.minimumSpeech.wholeMilliseconds) ms, hangover \(chosen.settings.hangover.wholeMilliseconds) ms, echo margin \(chosen.settings.echoMargin) dB")
print("echo dB | SNR dB | false barge-ins/min | echo transcripts/min | false turns/min | delay p50 ms | p90 ms | missed | ERLE dB | CPU playing | CPU idle")
let started = Date()
for gain in onlyVariants ? [] : [-30.0, -20.0, -10.0, 0.0] {
    for snr in [40.0, 20.0, 10.0, 5.0] {
        let (cell, erle) = measure(chosen, gain: gain, snr: snr, minutes: minutes)
        print([pad(String(format: "%.0f", gain), 7), pad(String(format: "%.0f", snr), 6),
               pad(String(format: "%.2f", Double(cell.falseBargeIns) / cell.minutes), 19),
               pad(String(format: "%.2f", Double(cell.echoUtterances) / cell.minutes), 20),
               pad(String(format: "%.2f", Double(cell.falseTurns) / cell.minutes), 15),
               pad(percentile(cell.delays, 0.5), 12), pad(percentile(cell.delays, 0.9), 6),
               pad("\(cell.missed)/\(trials)", 6), pad(String(format: "%.1f", erle), 7),
               pad(String(format: "%.2f%%", cell.cpuPlaying * 100), 11), pad(String(format: "%.3f%%", cell.cpuIdle * 100), 8)].joined(separator: " | "))
    }
}
func vad(_ change: (inout VoiceActivitySettings) -> Void) -> VoiceActivitySettings {
    var settings = daemonVAD()
    change(&settings)
    return settings
}
print("")
print("variants at echo −10 and 0 dB, SNR 10 dB (\(min(minutes, 2)) min alone each; each line changes one thing from the first):")
print("variant                                              | echo dB | false barge-ins/min | false turns/min | delay p50 ms | p90 ms | missed | ERLE dB | CPU playing")
for variant in [chosen,
                Variant(name: "+ preprocessor residual suppression", filter: .milliseconds(200), residual: true),
                Variant(name: "+ preprocessor residual suppression + denoiser", filter: .milliseconds(200), residual: true, denoise: true),
                Variant(name: "filter 100 ms", filter: .milliseconds(100), residual: false),
                Variant(name: "filter 300 ms", filter: .milliseconds(300), residual: false),
                Variant(name: "VAD noise margin 12 dB (before)", filter: .milliseconds(200), residual: false, settings: vad { $0.noiseMargin = 12 }),
                Variant(name: "VAD noise margin 6 dB", filter: .milliseconds(200), residual: false, settings: vad { $0.noiseMargin = 6 }),
                Variant(name: "VAD minimum speech 60 ms", filter: .milliseconds(200), residual: false, settings: vad { $0.minimumSpeech = .milliseconds(60) }),
                Variant(name: "VAD minimum speech 100 ms (before)", filter: .milliseconds(200), residual: false, settings: vad { $0.minimumSpeech = .milliseconds(100) }),
                Variant(name: "VAD echo margin 3 dB", filter: .milliseconds(200), residual: false, settings: vad { $0.echoMargin = 3 }),
                Variant(name: "VAD echo margin 10 dB", filter: .milliseconds(200), residual: false, settings: vad { $0.echoMargin = 10 }),
                Variant(name: "VAD hangover 200 ms", filter: .milliseconds(200), residual: false, settings: vad { $0.hangover = .milliseconds(200) })] {
    for gain in [-10.0, 0.0] {
        let (cell, erle) = measure(variant, gain: gain, snr: 10, minutes: min(minutes, 2))
        print([variant.name.padding(toLength: 52, withPad: " ", startingAt: 0), pad(String(format: "%.0f", gain), 7),
               pad(String(format: "%.2f", Double(cell.falseBargeIns) / cell.minutes), 19),
               pad(String(format: "%.2f", Double(cell.falseTurns) / cell.minutes), 15),
               pad(percentile(cell.delays, 0.5), 12), pad(percentile(cell.delays, 0.9), 6), pad("\(cell.missed)/\(trials)", 6),
               pad(String(format: "%.1f", erle), 7), pad(String(format: "%.2f%%", cell.cpuPlaying * 100), 11)].joined(separator: " | "))
    }
}
print("")
print(String(format: "took %.0f s", Date().timeIntervalSince(started)))
