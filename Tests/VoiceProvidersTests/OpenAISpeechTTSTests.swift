import Foundation
import Logging
import Testing
@testable import VoiceCore
import VoiceDSP
import VoiceFakeCloud
@testable import VoiceProviders
import VoiceTesting

/// The OpenAI-compatible speech client against the fake cloud's `/v1/audio/speech`: real espeak-ng
/// speech sent as 24 kHz PCM, converted to 16 kHz as it streams, and every fault.
@Suite struct OpenAISpeechTTSTests {
    let sentence = "Hello there."

    func client(_ cloud: FakeCloud, key: String? = "sk-speech-test", clock: any VoiceClock = SystemVoiceClock(),
                configure: (inout OpenAISpeechConfiguration) -> Void = { _ in }) throws -> OpenAISpeechTTS {
        var configuration = OpenAISpeechConfiguration(baseURL: cloud.chatBaseURL, model: "tts-1", voice: "nova",
                                                      apiKey: key.flatMap(Secret.init))
        if !(clock is ManualClock) {
            configuration.firstByteTimeout = .seconds(30)
            configuration.stallTimeout = .seconds(30)
        }
        configure(&configuration)
        return try OpenAISpeechTTS(configuration: configuration, clock: clock)
    }

    func run(_ tts: OpenAISpeechTTS, _ request: TTSRequest = speechRequest(text: "Hello there.")) async -> [TTSEvent] {
        let events = Recorder<TTSEvent>()
        tts.start(request) { events.append($0) }
        await events.wait { $0.contains(where: \.isTerminal) }
        return events.events
    }

    /// What the client must play for `text`: the fake's 16 kHz speech, sent at 24 kHz, brought back to 16 kHz.
    func expected(_ cloud: FakeCloud, _ text: String) async throws -> [Int16] {
        let sent = try SpeexResampler.convert(try await cloud.speech(for: text), from: 16_000, to: 24_000)
        return try SpeexResampler.convert(sent, from: 24_000, to: 16_000)
    }

    @Test func streamsTwentyFourKilohertzSpeechAtThePlaybackRate() async throws {
        let cloud = try await startCloud(instantScript())
        defer { Task { await cloud.stop() } }
        let tts = try client(cloud)
        let events = await run(tts)
        #expect(events.last == .finished)
        let pcm = events.flatMap(\.samples)
        let speech = try await cloud.speech(for: sentence)
        #expect(abs(pcm.count - speech.count) <= 2, "as long as the speech: \(pcm.count) vs \(speech.count)")
        #expect(pcm == (try await expected(cloud, sentence)), "converted across chunk boundaries as if whole")
        let sent = try #require(cloud.records(.tts).first)
        #expect(sent.path == "/v1/audio/speech")
        #expect(sent.headers["authorization"] == "Bearer sk-speech-test")
        #expect(sent.body.contains("\"response_format\":\"pcm\"") && sent.body.contains("\"input\":\"Hello there.\"")
                && sent.body.contains("\"voice\":\"nova\"") && sent.body.contains("\"model\":\"tts-1\""))
        #expect(!sent.body.contains("speed"), "no speed unless one is set")
        let record = try #require(tts.records.last)
        #expect(record.outcome == .completed && record.samples == pcm.count && record.statuses == [200])
    }

    @Test func oddByteCountsAcrossChunksStillMakeTheSameAudio() async throws {
        let cloud = try await startCloud(instantScript(faults: [fault(.tts, .slowTrickle) {
            $0.bytesPerWrite = 3
            $0.intervalMs = 0
        }]))
        defer { Task { await cloud.stop() } }
        let events = await run(try client(cloud), speechRequest(text: "Hi."))
        #expect(events.last == .finished)
        #expect(events.flatMap(\.samples) == (try await expected(cloud, "Hi.")))
    }

    @Test func speedAndLiveSettingsGoIntoTheNextRequest() async throws {
        let cloud = try await startCloud(instantScript())
        defer { Task { await cloud.stop() } }
        let tts = try client(cloud) { $0.speed = 1.25 }
        #expect(await run(tts).last == .finished)
        try tts.update(.init(model: "gpt-4o-mini-tts", voice: "af_heart", speed: nil))
        #expect(await run(tts).last == .finished)
        let bodies = cloud.records(.tts).map(\.body)
        #expect(bodies.count == 2)
        #expect(bodies.first?.contains("\"speed\":1.25") == true)
        #expect(bodies.last?.contains("\"voice\":\"af_heart\"") == true && bodies.last?.contains("speed") == false)
        #expect(throws: ProviderSetupError.self) { try tts.update(.init(model: "tts-1", voice: "nova", speed: 9)) }
        #expect(tts.settings.voice == "af_heart", "a refused update keeps the old settings")
    }

    @Test func cancelStopsTheTransferAtOnce() async throws {
        var script = instantScript()
        script.tts.speed = 1
        let cloud = try await startCloud(script)
        defer { Task { await cloud.stop() } }
        let tts = try client(cloud)
        let events = Recorder<TTSEvent>()
        tts.start(speechRequest(id: 9, text: "This is a rather long sentence that would take several seconds to speak aloud.")) {
            events.append($0)
        }
        #expect(await events.wait { $0.contains { !$0.samples.isEmpty } })
        tts.cancel(request: 9)
        let countAtCancel = events.events.count
        #expect(await eventually { cloud.records(.tts).first?.outcome == .aborted })
        try await Task.sleep(for: .milliseconds(150))
        #expect(events.events.count <= countAtCancel + 1)
        #expect(!events.events.contains { $0.isTerminal }, "a cancelled request says nothing more, not even its tail")
        #expect(tts.records.last?.outcome == .cancelled)
    }

    @Test func jsonErrorBodyIsNeverPlayedAndItsMessageIsQuoted() async throws {
        let cloud = try await startCloud(instantScript(faults: [fault(.tts, .invalidJSON, requests: nil)]))
        defer { Task { await cloud.stop() } }
        let events = await run(try client(cloud))
        #expect(events.flatMap(\.samples).isEmpty)
        let failure = events.last?.failure ?? ""
        #expect(failure.contains("insufficient_quota: This request exceeds your quota."), "\(failure)")
        #expect(cloud.records(.tts).count == 1)
    }

    @Test func nonAudioContentTypeIsNeverPlayed() async throws {
        let cloud = try await startCloud(instantScript(faults: [fault(.tts, .wrongContentType, requests: nil)]))
        defer { Task { await cloud.stop() } }
        let events = await run(try client(cloud))
        #expect(events.flatMap(\.samples).isEmpty)
        #expect(events.last?.failure?.contains("text/html") == true)
    }

    @Test func serverErrorIsRetriedOnceThenTheFallbackSpeaks() async throws {
        let once = try await startCloud(instantScript(faults: [fault(.tts, .status, requests: [1]) { $0.status = 503 }]))
        defer { Task { await once.stop() } }
        let tts = try client(once)
        #expect(await run(tts).last == .finished)
        #expect(tts.records.last?.statuses == [503, 200])

        let always = try await startCloud(instantScript(faults: [fault(.tts, .status, requests: nil) { $0.status = 500 }]))
        defer { Task { await always.stop() } }
        let events = await run(try client(always))
        let failure = events.last?.failure ?? ""
        #expect(failure.contains("HTTP 500") && failure.contains("server_error"), "\(failure)")
        #expect(always.records(.tts).count == 2)
    }

    @Test func closeAfterAudioFailsWithoutReplayingIt() async throws {
        let cloud = try await startCloud(instantScript(faults: [fault(.tts, .closeMidStream, requests: nil) { $0.after = 2 }]))
        defer { Task { await cloud.stop() } }
        let events = await run(try client(cloud), speechRequest(text: "A sentence long enough for three chunks."))
        #expect(events.last?.failure != nil)
        let played = events.flatMap(\.samples).count
        // Two 100 ms chunks at 24 kHz, less the few samples the resampler still holds: never a replay.
        #expect((3000...3200).contains(played), "\(played) samples")
        #expect(cloud.records(.tts).count == 1)
    }

    @Test func noFirstByteInTimeIsRetriedOnce() async throws {
        let cloud = try await startCloud(instantScript(faults: [fault(.tts, .stall, requests: [1]) { $0.stallMs = 30_000 }]))
        defer { Task { await cloud.stop() } }
        let clock = ManualClock()
        let tts = try client(cloud, clock: clock)
        let events = Recorder<TTSEvent>()
        tts.start(speechRequest(text: sentence)) { events.append($0) }
        #expect(await eventually { cloud.records(.tts).count == 1 })
        #expect(await eventually {
            clock.advance(to: .milliseconds(5000))
            return cloud.records(.tts).count == 2
        })
        #expect(await events.wait { $0.contains(where: \.isTerminal) })
        #expect(events.events.last == .finished)
    }

    @Test func aWrongOrMissingKeySaysWhereTheKeyGoesWithoutShowingIt() async throws {
        var script = instantScript()
        script.keys.openaiSpeech = "sk-right"
        let cloud = try await startCloud(script)
        defer { Task { await cloud.stop() } }
        let wrong = try #require(await run(try client(cloud, key: "sk-wrong-secret-42")).last?.failure)
        #expect(wrong.contains("refused the API key") && wrong.contains("OPENAI_SPEECH_API_KEY")
                && wrong.contains("openai_speech_api_key"), "\(wrong)")
        #expect(!wrong.contains("sk-wrong-secret-42"))
        let missing = try #require(await run(try client(cloud, key: nil)).last?.failure)
        #expect(missing.contains("requires an API key") && missing.contains("none is set"), "\(missing)")
        #expect(cloud.records(.tts).count == 2, "a refused key is not retried")
    }

    @Test func aLocalServerNeedsNoKey() async throws {
        let cloud = try await startCloud(instantScript())
        defer { Task { await cloud.stop() } }
        let events = await run(try client(cloud, key: nil))
        #expect(events.last == .finished)
        #expect(cloud.records(.tts).first?.headers["authorization"] == nil)
    }

    @Test func refusesBadSettingsAndPlainHTTPToARemoteHost() {
        #expect(throws: ProviderSetupError.insecureScheme(scheme: "http", host: "api.openai.com")) {
            try OpenAISpeechTTS(configuration: OpenAISpeechConfiguration(baseURL: "http://api.openai.com/v1"))
        }
        #expect(throws: ProviderSetupError.invalidSetting(name: "speed", reason: "5.0 is out of range 0.25…4.0")) {
            try OpenAISpeechTTS(configuration: OpenAISpeechConfiguration(speed: 5))
        }
        #expect(throws: ProviderSetupError.self) { try OpenAISpeechTTS(configuration: OpenAISpeechConfiguration(voice: "")) }
        var odd = OpenAISpeechConfiguration()
        odd.sampleRate = 0
        #expect(throws: ProviderSetupError.self) { try OpenAISpeechTTS(configuration: odd) }
    }
}
