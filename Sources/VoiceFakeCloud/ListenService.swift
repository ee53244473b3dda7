import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import NIOCore
import Synchronization
import VoiceCore

/// The fake Deepgram live service: a WebSocket at `/v1/listen` taking Deepgram's query
/// parameters and `Authorization: Token <key>`, hearing linear16 audio with an
/// ``UtteranceDetector`` and answering with Deepgram's messages: `SpeechStarted`, interim and
/// final `Results` carrying the scripted transcript of the Nth utterance, `UtteranceEnd`, and
/// `Metadata` on `CloseStream`. `KeepAlive` keeps the connection open; `Finalize` ends the
/// utterance in progress at once.
struct ListenService: Sendable {
    let state: FakeCloudState

    /// Upgrades the request, or refuses it (the HTTP route below then answers with the status).
    func shouldUpgrade(_ request: HTTPRequest, channel: any Channel) async throws
        -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> {
        guard let uri = URLComponents(string: request.path ?? "/"), uri.path == "/v1/listen" else { return .dontUpgrade }
        var query: [String: String] = [:]
        for item in uri.queryItems ?? [] { query[item.name] = item.value ?? "" }
        let headers = request.headerFields.lowercasedDictionary
        let number = state.begin(.stt, path: uri.path, query: query, headers: headers, body: "")
        let script = state.script

        let authorization = headers["authorization"] ?? ""
        let key = authorization.hasPrefix("Token ") ? String(authorization.dropFirst(6)).trimmingCharacters(in: .whitespaces) : ""
        if key.isEmpty || (script.keys.deepgram.map { $0 != key } ?? false) {
            return refuse(number, 401, err: "INVALID_AUTH", "Invalid credentials.")
        }
        if let encoding = query["encoding"], encoding != "linear16" {
            return refuse(number, 400, err: "UNSUPPORTED_ENCODING", "This fake understands encoding=linear16 only.")
        }
        let faults = script.faults(for: .stt, number: number)
        if let status = faults.first(where: { $0.kind == .status }) {
            state.pushRejection(status: status.status, body: status.body ?? Self.errorBody("SCRIPTED_FAULT", "Scripted failure."))
            state.update(.stt, number) {
                $0.status = status.status
                $0.outcome = .faulted
            }
            return .dontUpgrade
        }
        state.update(.stt, number) { $0.status = 101 }
        let session = ListenSession(state: state, number: number, query: query, faults: faults, channel: channel)
        var responseHeaders = HTTPFields()
        if let name = HTTPField.Name("dg-request-id") { responseHeaders[name] = session.requestID }
        return .upgrade(responseHeaders) { inbound, outbound, _ in
            try await session.run(inbound: inbound, outbound: outbound)
        }
    }

    /// A plain HTTP request to `/v1/listen` (a refused upgrade, or no upgrade asked for).
    func registerFallback(on router: Router<BasicRequestContext>) {
        router.get("/v1/listen") { [state] request, _ -> Response in
            if let rejection = state.popRejection() {
                return plainResponse(status: rejection.status, contentType: "application/json", body: rejection.body)
            }
            return plainResponse(status: 400, contentType: "application/json",
                                 body: Self.errorBody("BAD_REQUEST", "Expected a WebSocket upgrade."))
        }
    }

    private func refuse(_ number: Int, _ status: Int, err: String, _ message: String) -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> {
        state.pushRejection(status: status, body: Self.errorBody(err, message))
        state.update(.stt, number) {
            $0.status = status
            $0.outcome = .refused
        }
        return .dontUpgrade
    }

    static func errorBody(_ code: String, _ message: String) -> String {
        "{\"err_code\":\"\(code)\",\"err_msg\":\"\(message)\",\"request_id\":\"\(UUID().uuidString.lowercased())\"}"
    }
}

/// One live connection.
final class ListenSession: Sendable {
    let requestID = UUID().uuidString.lowercased()
    private let modelUUID = "1ed36bac-f71c-4f3f-a31f-02fd6525c489"
    private let state: FakeCloudState
    private let number: Int
    private let faults: [FakeCloudScript.Fault]
    private let channel: any Channel
    private let interim: Bool
    private let vadEvents: Bool
    private let punctuate: Bool
    private let model: String
    private let detector: Mutex<UtteranceDetector>
    private let lastActivity = Mutex(ContinuousClock.now)
    private let audioHash = Mutex<UInt64>(0xcbf2_9ce4_8422_2325)

    init(state: FakeCloudState, number: Int, query: [String: String], faults: [FakeCloudScript.Fault], channel: any Channel) {
        self.state = state
        self.number = number
        self.faults = faults
        self.channel = channel
        interim = query["interim_results"] == "true"
        vadEvents = query["vad_events"] == "true"
        punctuate = query["punctuate"] != "false"
        model = query["model"] ?? "nova-3"
        var settings = UtteranceDetector.Settings()
        settings.sampleRate = query["sample_rate"].flatMap(Int.init) ?? 16_000
        settings.thresholdRMS = state.script.stt.thresholdRMS
        settings.minSpeech = .milliseconds(state.script.stt.minSpeechMs)
        settings.interimInterval = .milliseconds(state.script.stt.interimIntervalMs)
        switch query["endpointing"] {
        case "false": settings.endpointing = nil
        case let value?: settings.endpointing = Int(value).map { .milliseconds($0) } ?? .milliseconds(10)
        case nil: settings.endpointing = .milliseconds(10)
        }
        settings.utteranceEnd = query["utterance_end_ms"].flatMap(Int.init).map { .milliseconds($0) }
        detector = Mutex(UtteranceDetector(settings: settings))
    }

    private enum Outgoing: Sendable {
        case text(String)
        case close(code: Int, reason: String)
    }

    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        let (messages, sink) = AsyncStream<(Outgoing, ContinuousClock.Instant)>.makeStream()
        let latency = state.script.stt.latencyMs
        let watchdog = Task { [self] in await watchIdle(sink) }
        defer { watchdog.cancel() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { [self] in try await send(messages, to: outbound) }
            do {
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    lastActivity.withLock { $0 = .now }
                    let due = ContinuousClock.now + .milliseconds(latency)
                    let (replies, closing) = handle(message)
                    for reply in replies { sink.yield((reply, due)) }
                    if closing { break }
                }
            } catch {
                state.update(.stt, number) { $0.outcome = .aborted }
            }
            sink.finish()
            try await group.waitForAll()
        }
    }

    /// What a message from the client makes the service say.
    private func handle(_ message: WebSocketMessage) -> (replies: [Outgoing], closing: Bool) {
        switch message {
        case .binary(var buffer):
            let count = buffer.readableBytes
            var samples: [Int16] = []
            samples.reserveCapacity(count / 2)
            while let sample = buffer.readInteger(endianness: .little, as: Int16.self) { samples.append(sample) }
            hash(samples)
            state.update(.stt, number) { $0.audioBytes += count }
            return (detector.withLock { $0.feed(samples) }.compactMap(render), false)
        case .text(let text):
            struct Control: Decodable { var type: String }
            guard let control = try? JSONDecoder().decode(Control.self, from: Data(text.utf8)) else {
                state.update(.stt, number) { $0.controlMessages.append("<invalid>") }
                return ([], false)
            }
            state.update(.stt, number) { $0.controlMessages.append(control.type) }
            switch control.type {
            case "Finalize":
                return (detector.withLock { $0.finalize() }.compactMap(render), false)
            case "CloseStream":
                var out = detector.withLock { $0.finalize() }.compactMap(render)
                out.append(.text(metadata()))
                out.append(.close(code: 1000, reason: ""))
                return (out, true)
            default:
                return ([], false)  // KeepAlive, and anything else, only keeps the connection open
            }
        }
    }

    private func render(_ event: UtteranceDetector.Event) -> Outgoing? {
        switch event {
        case .speechStarted(let at):
            guard vadEvents else { return nil }
            return .text(json(SpeechStarted(timestamp: at)))
        case .interim(let start, let duration):
            guard interim else { return nil }
            let words = state.utterance(take: false).split(separator: " ").map(String.init)
            guard !words.isEmpty else { return nil }
            // Reveal about one word per 300 ms of speech, never the whole utterance before the final.
            let shown = max(1, min(words.count - 1, Int(duration / 0.3)))
            return .text(results(words: Array(words.prefix(max(1, shown))), start: start, duration: duration, isFinal: false,
                                 speechFinal: false, fromFinalize: false))
        case .final(let start, let duration, let speechFinal, let fromFinalize):
            let words = state.utterance(take: true).split(separator: " ").map(String.init)
            return .text(results(words: words, start: start, duration: duration, isFinal: true, speechFinal: speechFinal,
                                 fromFinalize: fromFinalize))
        case .utteranceEnd(let lastWordEnd):
            return .text(json(UtteranceEnd(last_word_end: lastWordEnd)))
        }
    }

    /// Sends each message when due, applying the connection's faults.
    private func send(_ messages: AsyncStream<(Outgoing, ContinuousClock.Instant)>, to outbound: WebSocketOutboundWriter) async throws {
        var sent = 0
        let trickle = faults.first { $0.kind == .slowTrickle }
        for await (message, due) in messages {
            try await Task.sleep(until: due, clock: .continuous)
            if let trickle { try await pause(milliseconds: trickle.intervalMs) }
            for fault in faults where fault.after == sent {
                switch fault.kind {
                case .closeMidStream:
                    state.update(.stt, number) { $0.outcome = .faulted }
                    if let code = fault.closeCode {
                        try await outbound.close(.init(codeNumber: code), reason: "scripted close")
                    } else {
                        _ = try? await channel.close()
                    }
                    return
                case .stall:
                    try await pause(milliseconds: fault.stallMs)
                case .invalidJSON:
                    try await outbound.write(.text("{\"type\": \"Results\", \"channel\": {\"alternatives\": [{\"transcript\": "))
                case .oversized:
                    let padding = String(repeating: "x", count: fault.bytes)
                    try await outbound.writeTextMessage("{\"type\":\"Results\",\"padding\":\"\(padding)\"}")
                case .wrongContentType:
                    try await outbound.write(.binary(ByteBuffer(string: "{\"type\":\"Results\"}")))
                default:
                    break
                }
            }
            switch message {
            case .text(let text):
                try await outbound.write(.text(text))
                sent += 1
                state.update(.stt, number) { $0.sent = sent }
            case .close(let code, let reason):
                state.update(.stt, number) { if $0.outcome == .running { $0.outcome = .completed } }
                try await outbound.close(.init(codeNumber: code), reason: reason.isEmpty ? nil : reason)
                return
            }
        }
        state.update(.stt, number) { if $0.outcome == .running { $0.outcome = .completed } }
    }

    /// Closes the connection the way Deepgram does after 10 s with neither audio nor a message.
    private func watchIdle(_ sink: AsyncStream<(Outgoing, ContinuousClock.Instant)>.Continuation) async {
        let limit = Duration.milliseconds(state.script.stt.idleTimeoutMs)
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: .milliseconds(100))
            } catch {
                return
            }
            if ContinuousClock.now - lastActivity.withLock({ $0 }) > limit {
                sink.yield((.close(code: 1011, reason: "Deepgram did not receive audio data or a text message within the timeout window. See https://dpgr.am/net0001"), .now))
                sink.finish()
                return
            }
        }
    }

    private func hash(_ samples: [Int16]) {
        audioHash.withLock { hash in
            for sample in samples {
                hash = (hash ^ UInt64(UInt16(bitPattern: sample))) &* 0x100_0000_01b3
            }
        }
    }

    // MARK: - Deepgram's message shapes

    private struct SpeechStarted: Encodable {
        var type = "SpeechStarted"
        var channel = [0]
        var timestamp: Double
    }

    private struct UtteranceEnd: Encodable {
        var type = "UtteranceEnd"
        var channel = [0, 1]
        var last_word_end: Double
    }

    private struct Word: Encodable {
        var word: String
        var start: Double
        var end: Double
        var confidence: Double
        var punctuated_word: String
    }

    private struct Alternative: Encodable {
        var transcript: String
        var confidence: Double
        var words: [Word]
    }

    private struct ModelInfo: Encodable {
        var name: String
        var version: String
        var arch: String
    }

    private struct Results: Encodable {
        struct Channel: Encodable { var alternatives: [Alternative] }
        struct Metadata: Encodable {
            var request_id: String
            var model_info: ModelInfo
            var model_uuid: String
        }
        var type = "Results"
        var channel_index = [0, 1]
        var duration: Double
        var start: Double
        var is_final: Bool
        var speech_final: Bool
        var channel: Channel
        var metadata: Metadata
        var from_finalize: Bool
    }

    private struct MetadataMessage: Encodable {
        var type = "Metadata"
        var transaction_key = "deprecated"
        var request_id: String
        var sha256: String
        var created: String
        var duration: Double
        var channels = 1
        var models: [String]
        var model_info: [String: ModelInfo]
    }

    private var modelInfo: ModelInfo { ModelInfo(name: "general-\(model)", version: "2025-01-01.0", arch: model) }

    private func results(words: [String], start: Double, duration: Double, isFinal: Bool, speechFinal: Bool, fromFinalize: Bool) -> String {
        let confidence = state.script.stt.confidence
        let step = words.isEmpty ? 0 : duration / Double(words.count)
        let list = words.enumerated().map { index, word in
            let spoken = punctuate ? word : plain(word)
            return Word(word: plain(word), start: round3(start + step * Double(index)), end: round3(start + step * Double(index + 1)),
                        confidence: confidence, punctuated_word: spoken)
        }
        let transcript = list.map(\.punctuated_word).joined(separator: " ")
        return json(Results(
            duration: round3(duration), start: round3(start), is_final: isFinal, speech_final: speechFinal,
            channel: .init(alternatives: [Alternative(transcript: transcript, confidence: confidence, words: list)]),
            metadata: .init(request_id: requestID, model_info: modelInfo, model_uuid: modelUUID), from_finalize: fromFinalize))
    }

    private func metadata() -> String {
        let seconds = detector.withLock { $0.audioSeconds }
        let digest = audioHash.withLock { $0 }
        // Not a real SHA-256 (the fake has no hash library): a stable digest of the audio, in its shape.
        let sha = String(repeating: String(format: "%016llx", digest), count: 4)
        let created = ISO8601DateFormatter().string(from: Date())
        return json(MetadataMessage(request_id: requestID, sha256: sha, created: created, duration: round3(seconds),
                                    models: [modelUUID], model_info: [modelUUID: modelInfo]))
    }

    private func plain(_ word: String) -> String {
        word.lowercased().filter { $0.isLetter || $0.isNumber || $0 == "'" }
    }

    private func round3(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }

    private func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
