import Foundation
import Testing
import VoiceCore
import VoiceEspeak

/// The real daemon in the room harness (`audio.room`): what it plays comes back into its WAV
/// microphone through an echo path, with the user's espeak-ng speech and noise. Real time.
@Suite(.serialized) struct EchoTests {
    static func speech(_ text: String) async throws -> [Int16] {
        try await EspeakEngine.shared.synthesizeAll(text, voice: "en-us+f3", wordsPerMinute: 165)
    }

    /// The harness's WAV backends (its microphone file, its agent.wav), in the room.
    static func roomAudio(echoGainDB: Double, bargeIn: String = "voice", echoCancellation: Bool = true, directory: String) -> String {
        """
        capture_backend = "wav"
        capture_wav = "\(directory)/silence.wav"
        playback_backend = "wav"
        playback_wav = "\(directory)/agent.wav"
        volume = 100
        earcons = false
        barge_in = "\(bargeIn)"
        room = true
        room_echo_gain_db = \(echoGainDB)
        room_delay_ms = 60
        room_noise_dbfs = -60.0
        echo_cancellation = \(echoCancellation)
        """
    }

    static func script(utterances: [String], replies: [String]) -> String {
        let quoted = { (texts: [String]) in texts.map { "\"\($0)\"" }.joined(separator: ", ") }
        return """
        {"stt": {"utterances": [\(quoted(utterances))], "latency_ms": 50},
         "llm": {"replies": [\(quoted(replies))], "first_token_delay_ms": 300, "token_interval_ms": 30},
         "tts": {"first_byte_delay_ms": 120, "speed": 4}}
        """
    }

    static let longAnswer = "The Eiffel Tower was finished in 1889 for the World's Fair in Paris. It is three hundred and thirty metres tall. For forty one years it was the tallest structure in the world. Millions of people visit it every year, and at night it sparkles for five minutes every hour."

    /// The speaker talks for about 15 s at an echo as loud as what it plays, with the microphone
    /// always streaming to speech-to-text, and nobody else in the room: no turn starts.
    @Test func aLoudEchoWithNobodyTalkingStartsNoTurn() throws {
        let d = try DaemonHarness(turnConfig: "always_listening = true",
                                  fakeCloudScript: Self.script(utterances: ["Nobody said this."], replies: ["No."]))
        d.audioConfig = Self.roomAudio(echoGainDB: 0, directory: d.directory)
        d.stopDaemon()
        try d.startDaemon()
        let watch = Watcher(socket: d.socket)
        defer { watch.stop() }
        try watch.start()
        #expect(try d.voicectl(["say", Self.longAnswer]).status == 0)
        // The answer plays (the playback file grows), then 3 s more for a late transcript.
        #expect(eventually(seconds: 15) { d.played.count > 16_000 * 3 }, "nothing was played: \(d.log)")
        var last = -1
        _ = eventually(seconds: 40) {
            let now = d.played.count
            defer { last = now }
            return now == last
        }
        usleep(3_000_000)
        let states = watch.events(from: 0).filter { $0["type"] as? String == "state" }.compactMap { $0["to"] as? String }
        #expect(!states.contains("listening"), "the speaker's own voice started a turn: \(states)")
        #expect(!watch.events(from: 0).contains { $0["type"] as? String == "final" }, "a final reached the turn loop")
        #expect(d.played.count > 16_000 * 8, "the answer was cut short: \(d.played.count) samples")
    }

    /// The user asks, and interrupts the long answer by voice (echo −10 dB): the playback stops
    /// soon after the interruption starts, and its words are the next turn.
    @Test func theUsersVoiceInterruptsTheAnswerAndIsTheNextTurn() async throws {
        let question = try await Self.speech("Tell me about the Eiffel Tower.")
        let interruption = try await Self.speech("Stop, what time is it?")
        let questionAt = 1.0, interruptionAt = 1.0 + Double(question.count) / 16_000 + 6
        var mic = [Int16](repeating: 0, count: Int(interruptionAt * 16_000)) + interruption + [Int16](repeating: 0, count: 16_000 * 20)
        for (i, sample) in question.enumerated() { mic[Int(questionAt * 16_000) + i] = sample }
        let onset = Double(interruption.firstIndex { abs(Int($0)) > 1000 } ?? 0) / 16_000
        let d = try DaemonHarness(capture: mic,
                                  fakeCloudScript: Self.script(utterances: ["Tell me about the Eiffel Tower.", "Stop, what time is it?"],
                                                               replies: [Self.longAnswer, "It is seven."]))
        d.audioConfig = Self.roomAudio(echoGainDB: -10, directory: d.directory)
        d.turnConfig = "always_listening = true"
        d.stopDaemon()
        try d.startDaemon()
        let watch = Watcher(socket: d.socket)
        defer { watch.stop() }
        try watch.start()
        let turns = { watch.events(from: 0).filter { $0["type"] as? String == "turn" } }
        #expect(eventually(seconds: 40) { turns().count >= 2 }, "two turns did not finish: \(d.log)")
        let finished = turns()
        #expect(finished.first?["status"] as? String == "interrupted")
        let texts = finished.map { ($0["user_text"] as? String) ?? "-" }
        #expect(texts.dropFirst().first == "Stop, what time is it?", "the interruption was not the next turn: \(texts)")
        // The drop: SPEAKING left for LISTENING, on the daemon's clock (the capture's timeline
        // starts with the daemon, within a few tens of ms).
        let leftSpeaking = watch.events(from: 0).first { $0["from"] as? String == "speaking" }
        let drop = leftSpeaking?["t_ms"] as? Int
        let delay = drop.map { Double($0) / 1000 - interruptionAt - onset }
        #expect(delay.map { $0 > 0 && $0 < 0.5 } == true, "playback stopped \(String(describing: delay)) s after the user began")
        print("voice barge-in through the room harness: playback stopped \(String(describing: delay)) s after the user's onset")
    }

    /// After an answer the daemon listens for a follow-up; the answer's own tail (echo 0 dB) must
    /// not become one, with the canceller and, through the echo gate alone, without it.
    @Test(arguments: [true, false])
    func theFollowUpWindowDoesNotPickUpTheAnswersTail(echoCancellation: Bool) async throws {
        let question = try await Self.speech("What's the weather like today?")
        // The question 0.8 s into the capture: the wake below comes first (the harness listens
        // for 1 s after a wake).
        let mic = [Int16](repeating: 0, count: 12_800) + question + [Int16](repeating: 0, count: 16_000 * 40)
        let d = try DaemonHarness(capture: mic,
                                  fakeCloudScript: Self.script(utterances: ["What's the weather like today?", "Nobody said this."],
                                                               replies: ["It's sunny and twenty two degrees, with a light breeze this afternoon and a cool evening."]))
        d.audioConfig = Self.roomAudio(echoGainDB: 0, echoCancellation: echoCancellation, directory: d.directory)
        d.turnConfig = "follow_up_ms = 6000"
        d.stopDaemon()
        try d.startDaemon()
        // The question is heard only after the button's wake (always_listening is off).
        #expect(try d.voicectl(["wake"]).status == 0)
        let watch = Watcher(socket: d.socket)
        defer { watch.stop() }
        try watch.start()
        let turns = { watch.events(from: 0).filter { $0["type"] as? String == "turn" } }
        #expect(eventually(seconds: 30) { turns().count >= 1 }, "the first turn did not finish: \(d.log)")
        usleep(8_000_000)  // the follow-up window and more
        #expect(turns().count == 1, "the answer's tail became a turn: \(turns().map { ($0["user_text"] as? String) ?? "-" })")
        #expect(!watch.events(from: 0).contains { ($0["text"] as? String) == "Nobody said this." })
    }
}
