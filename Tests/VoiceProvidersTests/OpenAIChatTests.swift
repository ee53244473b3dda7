import Foundation
import Logging
import Synchronization
import Testing
@testable import VoiceCore
import VoiceFakeCloud
import VoiceProviders
import VoiceTesting

/// The chat client against the fake cloud: normal operation, every fault mode and the retry rules.
@Suite struct OpenAIChatTests {
    let reply = "Hello there. How can I help?"

    func client(_ cloud: FakeCloud, key: String? = nil, clock: any VoiceClock = SystemVoiceClock(), log: Recorder<String>? = nil,
                configure: (inout OpenAIChatConfiguration) -> Void = { _ in }) throws -> OpenAIChat {
        var configuration = OpenAIChatConfiguration(baseURL: cloud.chatBaseURL, model: "test-model", apiKey: key.flatMap(Secret.init))
        // Generous on the system clock, so a loaded CI machine does not trip them; the timeout
        // tests use a manual clock and say what they need.
        if !(clock is ManualClock) { configuration.firstByteTimeout = .seconds(30) }
        configure(&configuration)
        let logger = log.map { lines in Logger(label: "test.llm") { _ in CapturingLogHandler(lines: lines) } } ?? Logger(label: "voiced.llm")
        return try OpenAIChat(configuration: configuration, clock: clock, logger: logger)
    }

    /// Runs one call to its end; returns its events.
    func run(_ chat: OpenAIChat, _ request: LLMRequest = chatRequest()) async -> [LLMEvent] {
        let events = Recorder<LLMEvent>()
        chat.start(request) { events.append($0) }
        await events.wait { $0.contains(where: \.isTerminal) }
        return events.events
    }

    @Test func streamsTheScriptedReplyWithUsage() async throws {
        let cloud = try await startCloud(instantScript(replies: [reply]))
        defer { Task { await cloud.stop() } }
        let chat = try client(cloud)
        let events = await run(chat)
        #expect(events.compactMap(\.token).joined() == reply)
        #expect(events.suffix(2) == [.usage(promptTokens: 3, completionTokens: 6), .finished])
        let record = try #require(chat.records.last)
        #expect(record.outcome == .completed && record.statuses == [200] && record.completionTokens == 6 && record.promptTokens == 3)
        let sent = try #require(cloud.records(.llm).first)
        #expect(sent.path == "/v1/chat/completions")
        #expect(sent.body.contains("\"stream\":true") && sent.body.contains("\"include_usage\":true"))
        #expect(sent.body.contains("\"model\":\"test-model\"") && sent.body.contains("\"max_tokens\":300"))
        #expect(sent.headers["authorization"] == nil, "no key configured: no Authorization header")
    }

    @Test func controlAndBidiCharactersNeverReachTheVoice() async throws {
        let cloud = try await startCloud(instantScript(replies: ["Ring\u{7} the \u{202E}bell\u{0}."]))
        defer { Task { await cloud.stop() } }
        let events = await run(try client(cloud))
        #expect(events.compactMap(\.token).joined() == "Ring the bell.")
    }

    /// llama.cpp and Ollama can ignore `max_tokens`: the client cuts the reply there itself,
    /// stops the transfer and ends the call as finished.
    @Test func maxTokensIsEnforcedWhenTheServerIgnoresIt() async throws {
        let long = Array(repeating: "and then some more words", count: 40).joined(separator: " ") + "."
        var script = FakeCloudScript.instant
        script.llm.replies = [long]
        script.llm.tokenIntervalMs = 5  // the transfer is still going when the cap is reached
        let cloud = try await startCloud(script)
        defer { Task { await cloud.stop() } }
        let chat = try client(cloud) { $0.maxTokens = 16 }
        let events = await run(chat)
        #expect(events.compactMap(\.token).count == 16)
        #expect(events.last == .finished)
        #expect(chat.records.last?.outcome == .completed)
        #expect(cloud.records(.llm).first?.body.contains("\"max_tokens\":16") == true)
        let record = try #require(await waitForRecord(cloud))
        #expect(record.outcome == .aborted, "the transfer was stopped, not read to its end")
    }

    func waitForRecord(_ cloud: FakeCloud) async -> FakeRequestRecord? {
        for _ in 0..<200 {
            if let record = cloud.records(.llm).first, record.outcome != .running { return record }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return cloud.records(.llm).first
    }

    @Test func sendsTheKeyAsBearer() async throws {
        var script = instantScript()
        script.keys.openai = "sk-test-right"
        let cloud = try await startCloud(script)
        defer { Task { await cloud.stop() } }
        let events = await run(try client(cloud, key: "sk-test-right"))
        #expect(events.last == .finished)
        #expect(cloud.records(.llm).first?.headers["authorization"] == "Bearer sk-test-right")
    }

    @Test func tokensReachTheCallerWhileTheServerIsStillSending() async throws {
        var script = instantScript(replies: ["one two three four five six seven eight"])
        script.llm.tokenIntervalMs = 150
        let cloud = try await startCloud(script)
        defer { Task { await cloud.stop() } }
        let chat = try client(cloud)
        let sentAtFirstToken = Mutex<Int?>(nil)
        let events = Recorder<LLMEvent>()
        chat.start(chatRequest()) { event in
            if event.token != nil { sentAtFirstToken.withLock { $0 = $0 ?? cloud.records(.llm).first?.sent } }
            events.append(event)
        }
        await events.wait { $0.contains(where: \.isTerminal) }
        #expect(events.events.last == .finished)
        let sent = try #require(sentAtFirstToken.withLock { $0 })
        #expect(sent < 8, "the first token arrived when the server had sent \(sent) of 8")
    }

    @Test func cancelStopsTheTransferBeforeASlowServerFinishes() async throws {
        var script = instantScript(replies: [Array(repeating: "word", count: 40).joined(separator: " ")])
        script.llm.tokenIntervalMs = 50
        let cloud = try await startCloud(script)
        defer { Task { await cloud.stop() } }
        let chat = try client(cloud)
        let events = Recorder<LLMEvent>()
        chat.start(chatRequest(call: 7)) { events.append($0) }
        #expect(await events.wait { $0.compactMap(\.token).count >= 2 })
        chat.cancel(call: 7)
        let countAtCancel = events.events.count
        #expect(await eventually { cloud.records(.llm).first?.outcome == .aborted })
        let server = try #require(cloud.records(.llm).first)
        #expect(server.sent < 40, "the server stopped after \(server.sent) of 40 tokens")
        try await Task.sleep(for: .milliseconds(150))
        #expect(events.events.count <= countAtCancel + 1, "at most one event already on its way")
        let ended = events.events.contains { $0.isTerminal }
        #expect(!ended, "a cancelled call reports nothing more")
        #expect(chat.records.last?.outcome == .cancelled)
    }

    @Test func rateLimitWaitsForRetryAfterThenSucceeds() async throws {
        let cloud = try await startCloud(instantScript(faults: [fault(.llm, .status, requests: [1]) {
            $0.status = 429
            $0.retryAfter = "2"
        }]))
        defer { Task { await cloud.stop() } }
        let clock = ManualClock()
        let log = Recorder<String>()
        let chat = try client(cloud, clock: clock, log: log)
        let events = Recorder<LLMEvent>()
        chat.start(chatRequest()) { events.append($0) }
        // The client decides to wait (at virtual time 0), then waits on its clock.
        #expect(await log.wait { $0.contains { $0.contains("retrying") && $0.contains("wait_ms=2000") } })
        clock.advance(to: .milliseconds(1999))
        try await Task.sleep(for: .milliseconds(200))
        #expect(cloud.records(.llm).count == 1, "not before Retry-After has passed")
        clock.advance(to: .milliseconds(2000))
        #expect(await events.wait { $0.contains(where: \.isTerminal) })
        #expect(events.events.last == .finished)
        #expect(events.events.compactMap(\.token).joined() == reply)
        #expect(chat.records.last?.statuses == [429, 200])
    }

    @Test func rateLimitGivesUpAfterThreeTries() async throws {
        let cloud = try await startCloud(instantScript(faults: [fault(.llm, .status, requests: nil) {
            $0.status = 429
            $0.retryAfter = "1"
        }]))
        defer { Task { await cloud.stop() } }
        let clock = ManualClock()
        let log = Recorder<String>()
        let chat = try client(cloud, clock: clock, log: log)
        let events = Recorder<LLMEvent>()
        chat.start(chatRequest()) { events.append($0) }
        for retry in 1...2 {
            #expect(await log.wait { $0.filter { $0.contains("retrying") }.count == retry })
            clock.advance(to: .milliseconds(Int64(retry) * 1000))
        }
        #expect(await events.wait { $0.contains(where: \.isTerminal) })
        let failure = try #require(events.events.last?.failure)
        #expect(failure.contains("429") && failure.contains("3 tries"))
        #expect(cloud.records(.llm).count == 3)
        #expect(chat.records.last?.statuses == [429, 429, 429])
    }

    @Test func rateLimitLongerThanTheWindowFailsAtOnce() async throws {
        let cloud = try await startCloud(instantScript(faults: [fault(.llm, .status, requests: nil) {
            $0.status = 429
            $0.retryAfter = "30"
        }]))
        defer { Task { await cloud.stop() } }
        let events = await run(try client(cloud, clock: ManualClock()))
        #expect(events.last?.failure?.contains("429") == true)
        #expect(cloud.records(.llm).count == 1)
    }

    @Test func serverErrorIsRetriedOnce() async throws {
        let cloud = try await startCloud(instantScript(faults: [fault(.llm, .status, requests: [1]) { $0.status = 500 }]))
        defer { Task { await cloud.stop() } }
        let chat = try client(cloud)
        let events = await run(chat)
        #expect(events.last == .finished)
        #expect(events.compactMap(\.token).joined() == reply)
        #expect(chat.records.last?.statuses == [500, 200])
    }

    @Test func secondServerErrorFailsTheCall() async throws {
        let cloud = try await startCloud(instantScript(faults: [fault(.llm, .status, requests: [1, 2]) { $0.status = 503 }]))
        defer { Task { await cloud.stop() } }
        let chat = try client(cloud)
        let events = await run(chat)
        #expect(events.last?.failure?.contains("HTTP 503") == true)
        #expect(cloud.records(.llm).count == 2)
    }

    @Test func noFirstByteInTimeIsRetriedOnce() async throws {
        let cloud = try await startCloud(instantScript(faults: [fault(.llm, .stall, requests: [1]) { $0.stallMs = 30_000 }]))
        defer { Task { await cloud.stop() } }
        let clock = ManualClock()
        let chat = try client(cloud, clock: clock)
        let events = Recorder<LLMEvent>()
        chat.start(chatRequest()) { events.append($0) }
        #expect(await eventually { cloud.records(.llm).count == 1 })
        #expect(await eventually {
            clock.advance(to: .milliseconds(5000))
            return cloud.records(.llm).count == 2
        })
        await events.wait { $0.contains(where: \.isTerminal) }
        #expect(events.events.last == .finished)
        #expect(chat.records.last?.statuses == [0, 200])
    }

    @Test func stallInTheMiddleFailsWithoutRepeatingTokens() async throws {
        let cloud = try await startCloud(instantScript(faults: [fault(.llm, .stall, requests: nil) {
            $0.after = 2
            $0.stallMs = 30_000
        }]))
        defer { Task { await cloud.stop() } }
        let chat = try client(cloud) { $0.stallTimeout = .seconds(1) }
        let events = await run(chat)
        #expect(events.compactMap(\.token) == ["Hello ", "there. "])
        #expect(events.last?.failure != nil)
        #expect(cloud.records(.llm).count == 1, "tokens were delivered: no retry")
    }

    @Test func unauthorizedSaysToCheckTheKeyWithoutShowingIt() async throws {
        var script = instantScript()
        script.keys.openai = "sk-the-right-one"
        let cloud = try await startCloud(script)
        defer { Task { await cloud.stop() } }
        let chat = try client(cloud, key: "sk-wrong-secret-4711")
        let events = await run(chat)
        let failure = try #require(events.last?.failure)
        #expect(failure.contains("check the API key"))
        #expect(failure.contains("OPENAI_API_KEY"))
        #expect(!failure.contains("sk-wrong-secret-4711"))
        #expect(cloud.records(.llm).count == 1, "401 is not retried")
        #expect(chat.records.last?.error?.contains("sk-wrong") == false)
    }

    @Test func missingKeySaysNoneIsSet() async throws {
        var script = instantScript()
        script.keys.openai = "sk-required"
        let cloud = try await startCloud(script)
        defer { Task { await cloud.stop() } }
        let failure = try #require(await run(try client(cloud)).last?.failure)
        #expect(failure.contains("none is set"))
    }

    @Test func forbiddenIsNotRetried() async throws {
        let cloud = try await startCloud(instantScript(faults: [fault(.llm, .status) { $0.status = 403 }]))
        defer { Task { await cloud.stop() } }
        let failure = try #require(await run(try client(cloud, key: "sk-x")).last?.failure)
        #expect(failure.contains("HTTP 403") && failure.contains("check the API key"))
        #expect(cloud.records(.llm).count == 1)
    }

    @Test func closeMidStreamAfterTokensFailsTheCall() async throws {
        let cloud = try await startCloud(instantScript(faults: [fault(.llm, .closeMidStream, requests: nil) { $0.after = 2 }]))
        defer { Task { await cloud.stop() } }
        let events = await run(try client(cloud))
        #expect(events.compactMap(\.token) == ["Hello ", "there. "])
        #expect(events.last?.failure != nil)
        #expect(cloud.records(.llm).count == 1)
    }

    @Test func closeBeforeAnyTokenIsRetriedOnce() async throws {
        let cloud = try await startCloud(instantScript(faults: [fault(.llm, .closeMidStream, requests: [1]) { $0.after = 0 }]))
        defer { Task { await cloud.stop() } }
        let events = await run(try client(cloud))
        #expect(events.last == .finished)
        #expect(events.compactMap(\.token).joined() == reply)
        #expect(cloud.records(.llm).count == 2)
    }

    @Test func invalidJSONEventIsSkippedAndCounted() async throws {
        let cloud = try await startCloud(instantScript(faults: [fault(.llm, .invalidJSON) { $0.after = 1 }]))
        defer { Task { await cloud.stop() } }
        let chat = try client(cloud)
        let events = await run(chat)
        #expect(events.last == .finished)
        #expect(events.compactMap(\.token).joined() == reply)
        #expect(chat.invalidEvents == 1)
    }

    @Test func oversizedEventFailsTheCall() async throws {
        let cloud = try await startCloud(instantScript(faults: [fault(.llm, .oversized, requests: nil) { $0.after = 1 }]))
        defer { Task { await cloud.stop() } }
        let events = await run(try client(cloud))
        #expect(events.compactMap(\.token) == ["Hello "])
        #expect(events.last?.failure?.contains("larger than") == true)
    }

    @Test func wrongContentTypeIsAnError() async throws {
        let cloud = try await startCloud(instantScript(faults: [fault(.llm, .wrongContentType, requests: nil)]))
        defer { Task { await cloud.stop() } }
        let events = await run(try client(cloud))
        #expect(events.count == 1)
        #expect(events.last?.failure?.contains("text/html") == true)
        #expect(cloud.records(.llm).count == 1)
    }

    @Test func slowTrickleDeliversEveryTokenIntact() async throws {
        let text = "Grüße aus Zürich — it's 22 °C. Enjoy!"
        let cloud = try await startCloud(instantScript(faults: [fault(.llm, .slowTrickle) {
            $0.bytesPerWrite = 5
            $0.intervalMs = 1
        }], replies: [text]))
        defer { Task { await cloud.stop() } }
        let events = await run(try client(cloud))
        #expect(events.last == .finished)
        #expect(events.compactMap(\.token).joined() == text)
    }

    @Test func connectionRefusedIsRetriedOnceThenFails() async throws {
        let cloud = try await startCloud(instantScript())
        let base = cloud.chatBaseURL
        await cloud.stop()
        let chat = try OpenAIChat(configuration: OpenAIChatConfiguration(baseURL: base))
        let events = await run(chat)
        let failure = try #require(events.last?.failure)
        #expect(failure.contains("2 tries"))
        #expect(chat.records.last?.statuses == [0, 0])
    }

    @Test func plainHTTPToARemoteHostIsRefused() {
        #expect(throws: ProviderSetupError.insecureScheme(scheme: "http", host: "api.example.com")) {
            try OpenAIChat(configuration: OpenAIChatConfiguration(baseURL: "http://api.example.com/v1"))
        }
        #expect(throws: Never.self) { try OpenAIChat(configuration: OpenAIChatConfiguration(baseURL: "https://api.example.com/v1")) }
        #expect(throws: Never.self) { try OpenAIChat(configuration: OpenAIChatConfiguration(baseURL: "http://127.0.0.1:8080/v1")) }
    }
}
