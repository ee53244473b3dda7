import Testing
import VoiceFakeCloud

/// The fake Deepgram's ears: energy-based detection on synthetic audio, with exact times.
@Suite struct UtteranceDetectorTests {
    /// A 440 Hz tone of `ms` milliseconds (loud), or silence.
    func tone(_ ms: Int, amplitude: Double = 4000) -> [Int16] {
        (0..<(ms * 16)).map { Int16(amplitude * sin(2 * Double.pi * 440 * Double($0) / 16_000)) }
    }
    func silence(_ ms: Int) -> [Int16] { Array(repeating: 0, count: ms * 16) }

    func detector(endpointing: Int? = 300, utteranceEnd: Int? = 1000) -> UtteranceDetector {
        var settings = UtteranceDetector.Settings()
        settings.endpointing = endpointing.map { .milliseconds($0) }
        settings.utteranceEnd = utteranceEnd.map { .milliseconds($0) }
        return UtteranceDetector(settings: settings)
    }

    @Test func speechStartsEndsAndTheUtteranceEnds() {
        var detector = detector()
        var events = detector.feed(silence(500))
        #expect(events.isEmpty)
        events = detector.feed(tone(1000))
        #expect(events.first == .speechStarted(at: 0.5))
        #expect(events.dropFirst().allSatisfy { if case .interim(0.5, _) = $0 { true } else { false } })
        #expect(events.count == 1 + 3, "an interim every 300 ms of speech")
        events = detector.feed(silence(1500))
        #expect(events == [.final(start: 0.5, duration: 1.0, speechFinal: true, fromFinalize: false), .utteranceEnd(lastWordEnd: 1.5)])
    }

    @Test func shortNoiseIsNotSpeech() {
        var detector = detector()
        #expect(detector.feed(tone(50) + silence(500)).isEmpty)
    }

    @Test func aPauseShorterThanEndpointingKeepsOneUtterance() {
        var detector = detector()
        let events = detector.feed(tone(400) + silence(200) + tone(400) + silence(400))
        let finals = events.filter { if case .final = $0 { true } else { false } }
        #expect(finals == [.final(start: 0, duration: 1.0, speechFinal: true, fromFinalize: false)])
    }

    @Test func speechBeforeTheUtteranceEndCancelsIt() {
        var detector = detector()
        let events = detector.feed(tone(400) + silence(500) + tone(400) + silence(1200))
        #expect(events.filter { if case .utteranceEnd = $0 { true } else { false } } == [.utteranceEnd(lastWordEnd: 1.3)])
    }

    @Test func finalizeFlushesAtOnce() {
        var detector = detector()
        _ = detector.feed(tone(600))
        #expect(detector.finalize() == [.final(start: 0, duration: 0.6, speechFinal: false, fromFinalize: true)])
        #expect(detector.finalize().isEmpty)
    }

    @Test func framesSplitAnywhereGiveTheSameEvents() {
        let audio = silence(300) + tone(700) + silence(1200)
        var whole = detector()
        let expected = whole.feed(audio)
        for size in [1, 7, 159, 160, 161, 320, 999] {
            var split = detector()
            var events: [UtteranceDetector.Event] = []
            for start in stride(from: 0, to: audio.count, by: size) {
                events += split.feed(audio[start..<min(start + size, audio.count)])
            }
            #expect(events == expected, "split every \(size) samples")
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
