import Testing
import VoiceCore
import VoiceLinux

@Suite struct SpeexEchoCancellerTests {
    static let playback = Signals.speech(seconds: 8, seed: 7, amplitude: 12_000)

    @Test(arguments: [(640, 0.8), (1280, 1.0), (1920, 0.5)])
    func aDelayedEchoIsCancelledOnceTheFilterConverged(delay: Int, gain: Double) throws {
        let echo = Signals.echo(of: Self.playback, delay: delay, gain: gain, reflection: (delay + 500, gain * 0.3))
        let canceller = try #require(SpeexEchoCanceller(suppressResidualEcho: false))
        let micFrames = Signals.frames(echo)
        let referenceFrames = Signals.frames(Self.playback)
        var before = 0.0
        var after = 0.0
        var output = [Int16](repeating: 0, count: canceller.frameSize)
        for index in micFrames.indices {
            micFrames[index].withUnsafeBufferPointer { mic in
                referenceFrames[index].withUnsafeBufferPointer { reference in
                    output.withUnsafeMutableBufferPointer { canceller.process(microphone: mic, reference: reference, output: $0) }
                }
            }
            if index >= 200 {  // after 4 s
                before += AudioMath.rms(micFrames[index]) * AudioMath.rms(micFrames[index])
                after += AudioMath.rms(output) * AudioMath.rms(output)
            }
        }
        let cancelled = 10 * AudioMath.log10(before / after)
        #expect(cancelled > 20, "only \(cancelled) dB of echo removed")
    }

    /// The echo as loud as the reference (a speaker next to the mic) and the user no louder.
    static let echo = Signals.echo(of: playback, delay: 1280, gain: 1.0, reflection: (1780, 0.3))
    static let user = [Int16](repeating: 0, count: 5 * 16_000) + Signals.speech(seconds: 2, seed: 3, amplitude: 12_000)
    static let room = Signals.speech(seconds: 8, seed: 99, amplitude: 30)

    @Test func playbackAloneDoesNotBargeInThroughTheCanceller() {
        let events = VoiceActivityDetectorTests.run(mic: Signals.mix(Self.echo, Self.room), playback: Self.playback,
                                                    canceller: SpeexEchoCanceller())
        #expect(events.isEmpty, "the speaker's own voice barged in at frames \(events.map(\.frame))")
    }

    @Test func aUserNoLouderThanTheEchoBargesInOnlyWithTheCanceller() {
        let mic = Signals.mix(Signals.mix(Self.echo, Self.room), Self.user)
        let withCanceller = VoiceActivityDetectorTests.run(mic: mic, playback: Self.playback, canceller: SpeexEchoCanceller())
        let started = withCanceller.first { $0.event == .speechStarted }?.frame
        #expect(started.map { $0 >= 250 && $0 < 250 + 25 } == true, "barge-in at \(String(describing: started)), expected soon after frame 250")
        let thresholdOnly = VoiceActivityDetectorTests.run(mic: mic, playback: Self.playback)
        #expect(!thresholdOnly.contains { $0.event == .speechStarted })
    }
}
