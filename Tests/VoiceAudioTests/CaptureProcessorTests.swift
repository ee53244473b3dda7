import Testing
import VoiceCore
import VoiceLinux

/// Counts its calls and writes a marker, so a test sees when it ran and what left the processor.
final class CountingCanceller: EchoCanceller {
    let frameSize = 320
    var calls = 0
    func process(microphone: UnsafeBufferPointer<Int16>, reference: UnsafeBufferPointer<Int16>,
                 output: UnsafeMutableBufferPointer<Int16>) {
        calls += 1
        for i in output.indices { output[i] = 7 }
    }
    func reset() {}
}

@Suite struct CaptureProcessorTests {
    static let tone = Signals.tone(440, seconds: 1)

    /// 1 s of silence, 1 s of playback, 1 s of silence; returns, per frame, whether the canceller
    /// ran on it and the first sample that left.
    static func run(_ processor: CaptureProcessor, reference: PlaybackReference, canceller: CountingCanceller) -> [(ran: Bool, first: Int16)] {
        let mic = [Int16](repeating: 100, count: 320)
        var result: [(Bool, Int16)] = []
        for index in 0..<150 {
            if index >= 50 && index < 100 { reference.played(Array(Self.tone[(index - 50) * 320..<(index - 49) * 320])) }
            let before = canceller.calls
            var frame = mic
            _ = frame.withUnsafeMutableBufferPointer { processor.process(inPlace: $0) }
            result.append((canceller.calls > before, frame[0]))
        }
        return result
    }

    @Test func theCancellerRunsOnlyWhilePlaybackPlaysAndForItsTail() {
        let reference = PlaybackReference()
        let canceller = CountingCanceller()
        let processor = CaptureProcessor(reference: reference, echoCanceller: canceller, tail: .milliseconds(300))
        let frames = Self.run(processor, reference: reference, canceller: canceller)
        let ran = frames.indices.filter { frames[$0].ran }
        #expect(ran.first == 50)
        #expect(ran.last == 99 + 15, "the tail is 300 ms: 15 frames after the last played one")
        #expect(ran.count == 50 + 15)
        #expect(processor.cancelledFrames == 65 && processor.passedFrames == 85)
    }

    @Test func theCancelledFrameIsWhatLeavesAndTheRawFramePassesOtherwise() {
        let reference = PlaybackReference()
        let canceller = CountingCanceller()
        let frames = Self.run(CaptureProcessor(reference: reference, echoCanceller: canceller), reference: reference, canceller: canceller)
        #expect(frames[10].first == 100)
        #expect(frames[60].first == 7)
        #expect(frames[140].first == 100)
    }

    @Test func withoutCancellingTheCancellerNeverRunsButThePlaybackIsStillKnown() {
        let reference = PlaybackReference()
        let canceller = CountingCanceller()
        let processor = CaptureProcessor(reference: reference, echoCanceller: canceller, cancelsEcho: false)
        var inPlayback = 0
        let mic = [Int16](repeating: 100, count: 320)
        for index in 0..<150 {
            if index >= 50 && index < 100 { reference.played(Array(Self.tone[(index - 50) * 320..<(index - 49) * 320])) }
            var frame = mic
            _ = frame.withUnsafeMutableBufferPointer { processor.process(inPlace: $0) }
            #expect(frame == mic)
            if processor.lastFrameInPlayback { inPlayback += 1 }
        }
        #expect(canceller.calls == 0)
        #expect(inPlayback == 65)
    }

    /// The room harness hears what the canceller's reference gave, frame for frame, even when
    /// the playback wrote between the two reads (a partial frame), so the echo path it models
    /// does not jump with the threads' timing.
    @Test func theMirrorGetsTheFramesTheConsumerTook() {
        let mirror = PlaybackReference()
        let reference = PlaybackReference(mirror: mirror)
        var taken: [[Int16]] = []
        var heard: [[Int16]] = []
        var frame = [Int16](repeating: 0, count: 320)
        reference.played((0..<160).map { Int16($0 + 1) })            // half a frame so far
        frame.withUnsafeMutableBufferPointer { _ = reference.next(into: $0) }
        taken.append(frame)
        reference.played((0..<480).map { Int16(1000 + $0) })          // the playback catches up
        for _ in 0..<2 {
            frame.withUnsafeMutableBufferPointer { _ = mirror.next(into: $0) }
            heard.append(frame)
            frame.withUnsafeMutableBufferPointer { _ = reference.next(into: $0) }
            taken.append(frame)
        }
        #expect(heard == Array(taken.prefix(2)))
        #expect(taken[0][159] == 160 && taken[0][160] == 0)
    }

    /// The room at −10 dB (echo 10 dB below what is played), speex: the agent talks for 20 s and
    /// nobody else does. Nothing barges in, and what leaves for speech-to-text is far quieter.
    @Test func theRoomsEchoIsCancelledBeforeTheRingAndDoesNotBargeIn() {
        let playback = Signals.speech(seconds: 20, seed: 7, amplitude: 8000)
        var room = Room(path: EchoPath(delay: .milliseconds(40), gain: -10), noiseLevel: 10, seed: 2)
        let reference = PlaybackReference()
        let processor = CaptureProcessor(reference: reference, echoCanceller: SpeexEchoCanceller())
        var events: [SpeechEvent] = []
        var before = 0.0
        var after = 0.0
        for (index, played) in Signals.frames(playback).enumerated() {
            reference.played(played)
            var frame = room.hear(played: played, user: [])
            let raw = AudioMath.rms(frame)
            if let event = frame.withUnsafeMutableBufferPointer({ processor.process(inPlace: $0) }) { events.append(event) }
            if index >= 250 {  // after 5 s
                before += raw * raw
                after += AudioMath.rms(frame) * AudioMath.rms(frame)
            }
        }
        #expect(events.isEmpty)
        let enhancement = 10 * AudioMath.log10(before / after)
        #expect(enhancement > 15, "only \(enhancement) dB of echo removed")
    }
}
