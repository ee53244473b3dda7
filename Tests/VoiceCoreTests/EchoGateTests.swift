import Testing
import VoiceCore

@Suite struct EchoGateTests {
    static let frame = Duration.milliseconds(20)

    /// Feeds `seconds` of 20 ms frames from `start`, with the given echo risk and user speech.
    static func feed(_ gate: inout EchoGate, from start: Duration, seconds: Double, echo: Bool, speech: Bool) {
        var t = start
        let end = start + .milliseconds(Int64(seconds * 1000))
        while t < end {
            t += frame
            gate.frame(endingAt: VoiceInstant(sinceOrigin: t), duration: frame, echoRisk: echo, userSpeech: speech)
        }
    }

    static func at(_ seconds: Double) -> VoiceInstant { VoiceInstant(sinceOrigin: .milliseconds(Int64(seconds * 1000))) }

    @Test func aTranscriptAwayFromPlaybackIsAdmitted() {
        var gate = EchoGate(latency: .milliseconds(500))
        Self.feed(&gate, from: .zero, seconds: 2, echo: true, speech: false)
        Self.feed(&gate, from: .seconds(2), seconds: 8, echo: false, speech: false)
        #expect(gate.admits(.final(text: "hello", confidence: 1, start: 0, end: 1), arrivedAt: Self.at(9)))
        #expect(gate.admits(.partial("hel"), arrivedAt: Self.at(9)))
    }

    @Test func echoWithoutTheDetectorsWitnessIsDiscarded() {
        var gate = EchoGate(latency: .milliseconds(500))
        Self.feed(&gate, from: .zero, seconds: 3, echo: true, speech: false)
        Self.feed(&gate, from: .seconds(3), seconds: 3, echo: false, speech: false)
        // A final about the answer's last second, arriving 0.8 s after playback and its tail ended.
        #expect(!gate.admits(.final(text: "the tower", confidence: 1, start: 4, end: 5), arrivedAt: Self.at(3.8)))
        #expect(!gate.admits(.speechStarted, arrivedAt: Self.at(3.2)))
        #expect(!gate.admits(.partial("the"), arrivedAt: Self.at(2)))
        #expect(gate.admits(.speechEnded, arrivedAt: Self.at(2)), "speech-ended starts nothing and always passes")
    }

    @Test func theUsersSpeechOverPlaybackIsAdmitted() {
        var gate = EchoGate(latency: .milliseconds(500))
        Self.feed(&gate, from: .zero, seconds: 2, echo: true, speech: false)
        Self.feed(&gate, from: .seconds(2), seconds: 1, echo: true, speech: true)   // a barge-in
        Self.feed(&gate, from: .seconds(3), seconds: 2, echo: false, speech: true)
        #expect(gate.admits(.final(text: "stop", confidence: 1, start: 10, end: 11.5), arrivedAt: Self.at(5)))
    }

    @Test func theWindowReachesBackByTheFinalsDurationAndTheLatency() {
        var gate = EchoGate(latency: .milliseconds(500))
        Self.feed(&gate, from: .zero, seconds: 1, echo: true, speech: false)
        Self.feed(&gate, from: .seconds(1), seconds: 9, echo: false, speech: false)
        // 2 s of audio arriving at 3.4 s: the window starts at 0.9 s, inside the echo.
        #expect(!gate.admits(.final(text: "x", confidence: 1, start: 0, end: 2), arrivedAt: Self.at(3.4)))
        // Arriving at 3.6 s the window starts at 1.1 s: after the echo.
        #expect(gate.admits(.final(text: "x", confidence: 1, start: 0, end: 2), arrivedAt: Self.at(3.6)))
    }

    @Test func spansAreMergedAndForgottenAfterTheMemory() {
        var gate = EchoGate(latency: .milliseconds(500), memory: .seconds(5))
        Self.feed(&gate, from: .zero, seconds: 1, echo: true, speech: false)
        #expect(gate.echo.count == 1)
        Self.feed(&gate, from: .seconds(2), seconds: 1, echo: true, speech: false)
        #expect(gate.echo.count == 2)
        Self.feed(&gate, from: .seconds(3), seconds: 10, echo: false, speech: false)
        #expect(gate.echo.isEmpty)
    }
}
