import Testing
import VoiceCore

@Suite struct VoiceActivityDetectorTests {
    /// Runs `mic` through a barge-in detector whose reference is `playback`, frame by frame as
    /// the playback and capture threads would; returns the events with their frame index.
    static func run(mic: [Int16], playback: [Int16], settings: VoiceActivitySettings = VoiceActivitySettings(),
                    canceller: (any EchoCanceller)? = nil) -> [(frame: Int, event: SpeechEvent)] {
        let reference = PlaybackReference()
        let detector = CaptureProcessor(settings: settings, reference: reference, echoCanceller: canceller)
        let micFrames = Signals.frames(mic)
        let playbackFrames = Signals.frames(playback)
        var events: [(Int, SpeechEvent)] = []
        for (index, frame) in micFrames.enumerated() {
            if index < playbackFrames.count { reference.played(playbackFrames[index]) }
            if let event = detector.process(frame) { events.append((index, event)) }
        }
        return events
    }

    static let noise = Signals.speech(seconds: 6, seed: 99, amplitude: 30)  // a quiet room

    @Test func silenceIsNotSpeech() {
        var detector = VoiceActivityDetector()
        for frame in Signals.frames(Self.noise) { #expect(detector.process(frame, playbackLevel: 0) == nil) }
        #expect(!detector.isSpeaking)
    }

    @Test func speechStartsAfterTheMinimumDurationAndEndsAfterTheHangover() {
        let speech = Signals.speech(seconds: 1, seed: 1)
        let mic = Signals.mix(Self.noise, [Int16](repeating: 0, count: 16_000) + speech)
        let events = Self.run(mic: mic, playback: [])
        #expect(events.map(\.event) == [.speechStarted, .speechEnded])
        let started = events[0].frame
        #expect(started >= 50 + 3 && started < 50 + 20)  // 80 ms of speech at least, then soon
        #expect(events[1].frame >= 100 + 10 && events[1].frame < 100 + 25)  // 400 ms of hangover after the last syllable
    }

    @Test func aClickIsShorterThanSpeech() {
        var detector = VoiceActivityDetector()
        for _ in 0..<20 { _ = detector.process([Int16](repeating: 0, count: 320), playbackLevel: 0) }
        for _ in 0..<3 { #expect(detector.process([Int16](repeating: 20_000, count: 320), playbackLevel: 0) == nil) }
        for _ in 0..<20 { #expect(detector.process([Int16](repeating: 0, count: 320), playbackLevel: 0) == nil) }
    }

    @Test(arguments: [0.3, 0.5, 1.0])
    func playbackAloneDoesNotBargeIn(gain: Double) {
        let playback = Signals.speech(seconds: 6, seed: 7, amplitude: 12_000)
        let echo = Signals.echo(of: playback, delay: 640, gain: gain, reflection: (1200, gain * 0.3))
        let events = Self.run(mic: Signals.mix(echo, Self.noise), playback: playback)
        #expect(events.isEmpty, "the speaker's own voice barged in at frames \(events.map(\.frame))")
    }

    @Test func speechOverPlaybackBargesIn() {
        let playback = Signals.speech(seconds: 6, seed: 7, amplitude: 12_000)
        let echo = Signals.echo(of: playback, delay: 640, gain: 0.5, reflection: (1200, 0.15))
        // Without echo cancellation the user must be clearly louder than the echo (here by 12 dB).
        let user = [Int16](repeating: 0, count: 3 * 16_000) + Signals.speech(seconds: 2, seed: 3, amplitude: 24_000)
        let events = Self.run(mic: Signals.mix(Signals.mix(echo, Self.noise), user), playback: playback)
        let started = events.first { $0.event == .speechStarted }?.frame
        #expect(started.map { $0 >= 150 && $0 < 150 + 25 } == true, "barge-in at \(String(describing: started)), expected soon after frame 150")
    }

    @Test func aLoudEchoPathNeedsItsCouplingConfigured() {
        let playback = Signals.speech(seconds: 4, seed: 7, amplitude: 8000)
        let echo = Signals.echo(of: playback, delay: 640, gain: 2.5)  // +8 dB: louder than the reference
        var settings = VoiceActivitySettings()
        settings.echoCoupling = 9
        #expect(Self.run(mic: echo, playback: playback, settings: settings).isEmpty)
    }

    @Test func theCouplingIsLearnedAndDecays() {
        var detector = VoiceActivityDetector()
        // The echo follows the playback (a constant level would be taken for the noise floor).
        for i in 0..<150 {
            let playback = i % 10 < 5 ? 4000.0 : 400
            _ = detector.process(level: playback / 4, duration: .milliseconds(20), playbackLevel: playback)
        }
        #expect(abs(AudioMath.decibels(amplitude: detector.lastAnalysis.echoCoupling) - AudioMath.decibels(amplitude: 0.25)) < 1)
        // After the speaker falls silent nothing is learned; the threshold is back to the noise floor.
        for _ in 0..<20 { _ = detector.process(level: 10, duration: .milliseconds(20), playbackLevel: 0) }
        #expect(detector.lastAnalysis.expectedEcho == 0)
    }

    @Test func disabledDetectorNeverReportsSpeech() {
        var settings = VoiceActivitySettings()
        settings.enabled = false
        let speech = Signals.speech(seconds: 1, seed: 1)
        #expect(Self.run(mic: speech, playback: [], settings: settings).isEmpty)
    }

    @Test func theReferenceSkipsWhatTheConsumerCannotCatchUp() {
        let reference = PlaybackReference(maximumLag: .milliseconds(100))
        reference.played([Int16](repeating: 1, count: 3200))
        reference.played([Int16](repeating: 2, count: 1600))
        var frame = [Int16](repeating: 9, count: 320)
        let count = frame.withUnsafeMutableBufferPointer { reference.next(into: $0) }
        #expect(count == 320 && frame.allSatisfy { $0 == 2 })  // only the last 100 ms are kept
        for _ in 0..<4 { frame.withUnsafeMutableBufferPointer { _ = reference.next(into: $0) } }
        let last = frame.withUnsafeMutableBufferPointer { reference.next(into: $0) }
        #expect(last == 0 && frame.allSatisfy { $0 == 0 })  // silence once nothing plays
    }
}
