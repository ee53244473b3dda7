import Foundation
import Logging
import Testing
@testable import VoiceCore
import VoiceEspeak
import VoiceFakeCloud
@testable import VoiceProviders
import VoiceTesting

/// The ElevenLabs client against the fake cloud: real espeak-ng speech as pcm_16000, and every fault.
@Suite struct ElevenLabsTTSTests {
    let sentence = "Hello there."

    func client(_ cloud: FakeCloud, key: String? = "xi-test-key", clock: any VoiceClock = SystemVoiceClock(),
                configure: (inout ElevenLabsConfiguration) -> Void = { _ in }) throws -> ElevenLabsTTS {
        var configuration = ElevenLabsConfiguration(baseURL: cloud.baseURL, voiceID: "voice_1-A", apiKey: key.flatMap(Secret.init))
        // Generous on the system clock, so a loaded CI machine does not trip them; the timeout
        // tests use a manual clock or say what they need.
        if !(clock is ManualClock) {
            configuration.firstByteTimeout = .seconds(30)
            configuration.stallTimeout = .seconds(30)
        }
        configure(&configuration)
        return try ElevenLabsTTS(configuration: configuration, clock: clock)
    }

    func run(_ tts: ElevenLabsTTS, _ request: TTSRequest = speechRequest()) async -> [TTSEvent] {
        let events = Recorder<TTSEvent>()
        tts.start(request) { events.append($0) }
        await events.wait { $0.contains(where: \.isTerminal) }
        return events.events
    }


    @Test func streamsRealSpeechAsPCM() async throws {
        let cloud = try await startCloud(instantScript())
        defer { Task { await cloud.stop() } }
        let tts = try client(cloud)
        let events = await run(tts)
        #expect(events.last == .finished)
        let pcm = events.flatMap(\.samples)
        #expect(pcm == (try await cloud.speech(for: sentence)))
        #expect(pcm.count > 8000, "at least half a second of speech")
        let sent = try #require(cloud.records(.tts).first)
        #expect(sent.path == "/v1/text-to-speech/voice_1-A/stream" && sent.query["output_format"] == "pcm_16000")
        #expect(sent.headers["xi-api-key"] == "xi-test-key")
        #expect(sent.body.contains("\"model_id\":\"eleven_flash_v2_5\"") && sent.body.contains("\"text\":\"Hello there.\""))
        let record = try #require(tts.records.last)
        #expect(record.outcome == .completed && record.samples == pcm.count && record.statuses == [200])
    }

    @Test func oddByteCountsAcrossChunksStillMakeWholeSamples() async throws {
        // Three bytes per write: every other write ends in the middle of a sample.
        let cloud = try await startCloud(instantScript(faults: [fault(.tts, .slowTrickle) {
            $0.bytesPerWrite = 3
            $0.intervalMs = 0
        }]))
        defer { Task { await cloud.stop() } }
        let events = await run(try client(cloud), speechRequest(text: "Hi."))
        #expect(events.last == .finished)
        #expect(events.flatMap(\.samples) == (try await cloud.speech(for: "Hi.")))
    }

    @Test func audioArrivesInPiecesBeforeTheEnd() async throws {
        var script = instantScript()
        script.tts.speed = 20
        let cloud = try await startCloud(script)
        defer { Task { await cloud.stop() } }
        let events = await run(try client(cloud), speechRequest(text: "This sentence is long enough to need several chunks of audio."))
        #expect(events.last == .finished)
        #expect(events.filter { !$0.samples.isEmpty }.count > 5)
    }

    @Test func cancelStopsTheTransferAtOnce() async throws {
        var script = instantScript()
        script.tts.speed = 1  // real time: a long sentence takes seconds to send
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
        let ended = events.events.contains { $0.isTerminal }
        #expect(!ended)
        #expect(tts.records.last?.outcome == .cancelled)
    }

    @Test func jsonErrorBodyIsNeverPlayed() async throws {
        let cloud = try await startCloud(instantScript(faults: [fault(.tts, .invalidJSON, requests: nil)]))
        defer { Task { await cloud.stop() } }
        let events = await run(try client(cloud))
        #expect(events.flatMap(\.samples).isEmpty)
        #expect(events.last?.failure?.contains("quota") == true)
        #expect(cloud.records(.tts).count == 1, "a broken answer is not retried: the fallback speaks")
    }

    @Test func nonAudioContentTypeIsNeverPlayed() async throws {
        let cloud = try await startCloud(instantScript(faults: [fault(.tts, .wrongContentType, requests: nil)]))
        defer { Task { await cloud.stop() } }
        let events = await run(try client(cloud))
        #expect(events.flatMap(\.samples).isEmpty)
        #expect(events.last?.failure?.contains("text/html") == true)
    }

    /// A 200 carrying an HTML page, with `application/octet-stream` or with no Content-Type at
    /// all, was played as PCM. Neither reaches playback now, and the reason names what came.
    @Test(arguments: ["application/octet-stream", ""])
    func aTextBodyIsNeverPlayedWhateverItsContentType(contentType: String) async throws {
        let cloud = try await startCloud(instantScript(faults: [fault(.tts, .wrongContentType, requests: nil) { $0.contentType = contentType }]))
        defer { Task { await cloud.stop() } }
        let events = await run(try client(cloud))
        #expect(events.flatMap(\.samples).isEmpty, "not one sample of the page is played")
        let failure = events.last?.failure ?? ""
        if contentType.isEmpty {
            #expect(failure.contains("no Content-Type"), "\(failure)")
        } else {
            #expect(failure.contains("text instead of audio") && failure.contains("<html>"), "\(failure)")
        }
    }

    @Test func bodiesAreSniffedForTextAndExcerptsAreEscaped() {
        var speech: [UInt8] = []
        for i in 0..<200 {
            let sample = Int16(3000 * sin(Double(i) / 5))
            speech += [UInt8(truncatingIfNeeded: sample), UInt8(truncatingIfNeeded: sample >> 8)]
        }
        #expect(!PCMStream.looksLikeText(speech))
        #expect(!PCMStream.looksLikeText([UInt8](repeating: 0, count: 256)), "silence is audio")
        #expect(PCMStream.looksLikeText(Array("Service temporarily unavailable, please retry later.".utf8)))
        #expect(PCMStream.looksLikeText(Array("  <!doctype html>".utf8)))
        #expect(PCMStream.escapedExcerpt([0x41, 0x00, 0x07, 0x0A, 0x22]) == "\"A\\x00\\x07\\n\\\"\"")
        #expect(PCMStream.escapedExcerpt([UInt8](repeating: 0x41, count: 100)).hasSuffix("…\""))
    }

    @Test func serverErrorIsRetriedOnce() async throws {
        let cloud = try await startCloud(instantScript(faults: [fault(.tts, .status, requests: [1]) { $0.status = 502 }]))
        defer { Task { await cloud.stop() } }
        let tts = try client(cloud)
        let events = await run(tts)
        #expect(events.last == .finished)
        #expect(tts.records.last?.statuses == [502, 200])
    }

    @Test func secondServerErrorFailsSoTheFallbackSpeaks() async throws {
        let cloud = try await startCloud(instantScript(faults: [fault(.tts, .status, requests: nil) { $0.status = 500 }]))
        defer { Task { await cloud.stop() } }
        let events = await run(try client(cloud))
        #expect(events.last?.failure?.contains("HTTP 500") == true)
        #expect(cloud.records(.tts).count == 2)
    }

    @Test func networkErrorIsRetriedOnce() async throws {
        let cloud = try await startCloud(instantScript(faults: [fault(.tts, .closeMidStream, requests: [1]) { $0.after = 0 }]))
        defer { Task { await cloud.stop() } }
        let events = await run(try client(cloud))
        #expect(events.last == .finished)
        #expect(cloud.records(.tts).count == 2)
    }

    @Test func closeAfterAudioFailsWithoutReplayingIt() async throws {
        let cloud = try await startCloud(instantScript(faults: [fault(.tts, .closeMidStream, requests: nil) { $0.after = 2 }]))
        defer { Task { await cloud.stop() } }
        let events = await run(try client(cloud, configure: { _ in }), speechRequest(text: "A sentence long enough for three chunks."))
        #expect(events.last?.failure != nil)
        #expect(events.flatMap(\.samples).count == 2 * 1600, "two 100 ms chunks, played once")
        #expect(cloud.records(.tts).count == 1)
    }

    @Test func noFirstByteInTimeIsRetriedOnce() async throws {
        let cloud = try await startCloud(instantScript(faults: [fault(.tts, .stall, requests: [1]) { $0.stallMs = 30_000 }]))
        defer { Task { await cloud.stop() } }
        let clock = ManualClock()
        let tts = try client(cloud, clock: clock)
        let events = Recorder<TTSEvent>()
        tts.start(speechRequest()) { events.append($0) }
        #expect(await eventually { cloud.records(.tts).count == 1 })
        #expect(await eventually {
            clock.advance(to: .milliseconds(5000))
            return cloud.records(.tts).count == 2
        })
        #expect(await events.wait { $0.contains(where: \.isTerminal) })
        #expect(events.events.last == .finished)
    }

    @Test func stallInTheMiddleFailsWithoutReplayingAudio() async throws {
        let cloud = try await startCloud(instantScript(faults: [fault(.tts, .stall, requests: nil) {
            $0.after = 1
            $0.stallMs = 30_000
        }]))
        defer { Task { await cloud.stop() } }
        let events = await run(try client(cloud) { $0.stallTimeout = .seconds(1) }, speechRequest(text: "A sentence long enough for two chunks."))
        #expect(events.flatMap(\.samples).count == 1600, "the one chunk sent, once")
        #expect(events.last?.failure?.contains("no data for 1000 ms") == true)
        #expect(cloud.records(.tts).count == 1)
    }

    @Test func rateLimitIsNotWaitedFor() async throws {
        let cloud = try await startCloud(instantScript(faults: [fault(.tts, .status, requests: nil) {
            $0.status = 429
            $0.retryAfter = "1"
        }]))
        defer { Task { await cloud.stop() } }
        let events = await run(try client(cloud))
        #expect(events.last?.failure?.contains("429") == true)
        #expect(cloud.records(.tts).count == 1)
    }

    @Test func unauthorizedSaysToCheckTheKeyWithoutShowingIt() async throws {
        var script = instantScript()
        script.keys.elevenlabs = "xi-right"
        let cloud = try await startCloud(script)
        defer { Task { await cloud.stop() } }
        let events = await run(try client(cloud, key: "xi-wrong-secret-99"))
        let failure = try #require(events.last?.failure)
        #expect(failure.contains("check the API key") && failure.contains("ELEVENLABS_API_KEY"))
        #expect(!failure.contains("xi-wrong-secret-99"))
        #expect(cloud.records(.tts).count == 1)
    }

    @Test func refusesABadVoiceIDAndPlainHTTPToARemoteHost() {
        #expect(throws: ProviderSetupError.self) {
            try ElevenLabsTTS(configuration: ElevenLabsConfiguration(voiceID: "../admin"))
        }
        #expect(throws: ProviderSetupError.insecureScheme(scheme: "http", host: "api.elevenlabs.io")) {
            try ElevenLabsTTS(configuration: ElevenLabsConfiguration(baseURL: "http://api.elevenlabs.io", voiceID: "abc"))
        }
    }
}

func speechRequest(id: Int = 1, text: String) -> TTSRequest {
    TTSRequest(id: id, turn: 1, segment: 0, text: text, voice: .primary, call: 1)
}
