import FoundationEssentials
import Logging
import Synchronization
import VoiceCore

/// Settings of the OpenAI-compatible chat-completions client.
///
/// Works with OpenAI (`https://api.openai.com/v1`) and local OpenAI-compatible servers: llama.cpp's
/// `llama-server` (`http://127.0.0.1:8080/v1`) or Ollama (`http://127.0.0.1:11434/v1`), which
/// need no key. The system prompt comes with each request (``TurnSettings/systemPrompt``).
public struct OpenAIChatConfiguration: Sendable {
    /// The API's base URL; requests go to `{baseURL}/chat/completions`.
    public var baseURL = "https://api.openai.com/v1"
    public var model = "gpt-4o-mini"
    /// Sent as `Authorization: Bearer`; none for a local server that needs no key.
    public var apiKey: Secret?
    /// `max_tokens` (`nil`: the server's default).
    public var maxTokens: Int? = 300
    public var temperature: Double? = 0.7
    /// No byte of the answer within this long → one retry.
    public var firstByteTimeout: Duration = .seconds(5)
    /// No byte at all for this long in the middle of an answer → the call fails.
    public var stallTimeout: Duration = .seconds(10)
    public var connectTimeout: Duration = .seconds(5)
    public var policy = RetryPolicy.chat

    public init(baseURL: String = "https://api.openai.com/v1", model: String = "gpt-4o-mini", apiKey: Secret? = nil) {
        self.baseURL = baseURL
        self.model = model
        self.apiKey = apiKey
    }
}

/// A streaming ``LanguageModel`` over the OpenAI chat-completions API (HTTP + server-sent events,
/// on libcurl).
///
/// Tokens reach the controller as they arrive. `cancel` aborts the transfer at once (the libcurl
/// transfer callback returns abort and the loop drops the handle). Retries follow
/// ``RetryPolicy/chat``; a call that fails after its first token is not retried. Every call is
/// recorded: see ``records`` and ``recorder``.
public final class OpenAIChat: LanguageModel, @unchecked Sendable {
    // @unchecked: `calls` is behind its mutex, `log` is thread-safe; the rest is immutable.

    private let configuration: OpenAIChatConfiguration
    /// The part that may change while the daemon runs; each request reads it when it starts.
    private let live: LiveSettingsBox<LiveSettings>
    private let endpoint: Endpoint
    private let loop: CurlLoop
    private let clock: any VoiceClock
    private let logger: Logger
    private let calls = Mutex<[Int: (call: RetryingCall, turn: Int)]>([:])
    private let log: ProviderCallLog
    private let invalid = Counter()

    /// Called with the record of every call as it ends (from any thread).
    public var recorder: (@Sendable (ProviderCallRecord) -> Void)?

    /// Checks the configuration; throws ``ProviderSetupError`` for a refused URL (plain http to a
    /// host that is not loopback) or an out-of-range setting.
    public init(configuration: OpenAIChatConfiguration, loop: CurlLoop = .shared, clock: any VoiceClock = SystemVoiceClock(),
                logger: Logger = Logger(label: "voiced.llm")) throws(ProviderSetupError) {
        endpoint = try Endpoint(configuration.baseURL)
        guard endpoint.scheme == "http" || endpoint.scheme == "https" else { throw .unsupportedScheme(endpoint.scheme) }
        live = try LiveSettingsBox(LiveSettings(model: configuration.model, maxTokens: configuration.maxTokens,
                                                temperature: configuration.temperature))
        self.configuration = configuration
        self.loop = loop
        self.clock = clock
        var logger = logger
        logger[metadataKey: "provider"] = "openai-chat"
        self.logger = logger
        log = ProviderCallLog(logger: logger, message: "LLM call ended", idKey: "call")
    }

    /// What may change while the daemon runs: the model, `max_tokens` and the temperature.
    public struct LiveSettings: Equatable, Sendable, CheckedSettings {
        public var model: String
        /// `max_tokens` (`nil`: the server's default).
        public var maxTokens: Int?
        public var temperature: Double?

        public init(model: String, maxTokens: Int?, temperature: Double?) {
            self.model = model
            self.maxTokens = maxTokens
            self.temperature = temperature
        }

        func check() throws(ProviderSetupError) {
            if let maxTokens, maxTokens <= 0 { throw .invalidSetting(name: "max_tokens", reason: "must be positive, got \(maxTokens)") }
            if let temperature, !(0...2).contains(temperature) {
                throw .invalidSetting(name: "temperature", reason: "must be within 0...2, got \(temperature)")
            }
            guard !model.isEmpty else { throw .invalidSetting(name: "model", reason: "is empty") }
        }
    }

    /// The live settings in force: the next call uses them.
    public var settings: LiveSettings { live.current }

    /// Changes the model, `max_tokens` and the temperature from the next call on (a call in
    /// flight keeps what it started with). Throws, and keeps the old settings, when one is out of range.
    public func update(_ settings: LiveSettings) throws(ProviderSetupError) { try live.update(settings) }

    /// The last 100 call records, oldest first.
    public var records: [ProviderCallRecord] { log.records }

    /// Stream events whose JSON did not parse (skipped, logged at warning).
    public var invalidEvents: Int { invalid.value }

    public func start(_ request: LLMRequest, onEvent: @escaping @Sendable (LLMEvent) -> Void) {
        let body: [UInt8]
        do {
            body = try requestBody(request.messages)
        } catch {
            onEvent(.failed("cannot encode the chat request: \(error)"))
            return
        }
        var headers = ["Content-Type: application/json", "Accept: text/event-stream"]
        if let key = configuration.apiKey { headers.append("Authorization: Bearer \(key.reveal())") }
        let http = StreamingRequest(url: endpoint.appending(path: "/chat/completions"), headers: headers, body: body,
                                    connectTimeout: configuration.connectTimeout, stallTimeout: configuration.stallTimeout)
        let stream = ChatStream(onEvent: onEvent, logger: logger, invalid: invalid, apiKey: configuration.apiKey,
                                maxTokens: configuration.maxTokens)
        let callID = request.call
        let turn = request.turn
        let call = RetryingCall(
            request: http, consumer: stream, loop: loop, clock: clock,
            settings: .init(policy: configuration.policy, firstByteTimeout: configuration.firstByteTimeout),
            logger: logger.with("call", "\(callID)")
        ) { [weak self] failure, summary in
            guard let self else { return }
            calls.withLock { _ = $0.removeValue(forKey: callID) }
            let message = failure.map { describe($0, attempts: summary.statuses.count) }
            record(ProviderCallRecord(
                service: .llm, id: callID, turn: turn, outcome: failure == nil ? .completed : .failed,
                statuses: summary.statuses, promptTokens: stream.promptTokens,
                completionTokens: stream.completionTokens ?? (stream.tokensSeen > 0 ? stream.tokensSeen : nil),
                samples: nil, firstByteMs: summary.firstByteMs, latencyMs: summary.latencyMs, error: message))
            if let message {
                onEvent(.failed(message))
            } else {
                if let prompt = stream.promptTokens, let completion = stream.completionTokens {
                    onEvent(.usage(promptTokens: prompt, completionTokens: completion))
                }
                onEvent(.finished)
            }
        }
        stream.call = call
        calls.withLock { $0[callID] = (call, turn) }
        call.start()
    }

    public func cancel(call id: Int) {
        guard let (call, turn) = calls.withLock({ $0.removeValue(forKey: id) }) else { return }
        call.cancel()
        record(.cancelled(.llm, id: id, turn: turn, summary: call.summary()))
    }

    private func record(_ record: ProviderCallRecord) {
        log.add(record, detail: ("tokens", record.completionTokens.map(String.init) ?? "-"), observer: recorder)
    }

    /// The failure as the controller and the log see it: actionable, and never holding the key.
    func describe(_ failure: AttemptFailure, attempts: Int) -> String {
        if failure.isRateLimit { return "the LLM server is rate limiting (HTTP 429) after \(attempts) tries" }
        return FailureWording(service: "the LLM server at \(endpoint.host)", request: "LLM call", host: endpoint.host,
                              credential: .openAI, apiKey: configuration.apiKey).describe(failure, attempts: attempts)
    }

    private struct Body: Encodable {
        struct StreamOptions: Encodable { var include_usage = true }
        var model: String
        var messages: [ChatMessage]
        var stream = true
        var stream_options = StreamOptions()
        var max_tokens: Int?
        var temperature: Double?
    }

    func requestBody(_ messages: [ChatMessage]) throws -> [UInt8] {
        let settings = self.settings
        let body = Body(model: settings.model, messages: messages, max_tokens: settings.maxTokens, temperature: settings.temperature)
        return Array(try JSONEncoder().encode(body))
    }
}

/// The parsing half of one chat call: SSE events in, tokens out.
private final class ChatStream: StreamConsumer, @unchecked Sendable {
    // @unchecked: used by one thread at a time (see ``StreamConsumer``); the token counts are read
    // by `onEnd`, which runs after the last `consume` on the same thread.

    private struct Chunk: Decodable {
        struct Choice: Decodable {
            struct Delta: Decodable { var content: String? }
            var delta: Delta?
            var finish_reason: String?
        }
        struct Usage: Decodable {
            var prompt_tokens: Int?
            var completion_tokens: Int?
        }
        struct APIError: Decodable { var message: String? }
        var choices: [Choice]?
        var usage: Usage?
        var error: APIError?
    }

    private let onEvent: @Sendable (LLMEvent) -> Void
    private let logger: Logger
    private let invalid: Counter
    private let apiKey: Secret?
    weak var call: RetryingCall?
    private var parser = SSEParser()
    private var done = false
    private var finishReason: String?
    private(set) var outputDelivered = false
    private(set) var promptTokens: Int?
    private(set) var completionTokens: Int?
    /// Tokens passed on in this attempt.
    private(set) var tokensSeen = 0
    /// The cap sent as `max_tokens`, enforced here too: llama.cpp and Ollama can ignore it.
    private let maxTokens: Int
    /// The reply reached `maxTokens` and was cut there.
    private(set) var capped = false
    var isComplete: Bool { capped }

    init(onEvent: @escaping @Sendable (LLMEvent) -> Void, logger: Logger, invalid: Counter, apiKey: Secret?, maxTokens: Int?) {
        self.maxTokens = maxTokens.map { max(1, $0) } ?? .max
        self.onEvent = onEvent
        self.logger = logger
        self.invalid = invalid
        self.apiKey = apiKey
    }

    func beginAttempt() {
        parser = SSEParser()
        done = false
        capped = false
        finishReason = nil
        tokensSeen = 0
        promptTokens = nil
        completionTokens = nil
    }

    func accept(_ head: ResponseHead) -> ResponseVerdict {
        guard head.mediaType == "text/event-stream" else {
            return .reject("expected text/event-stream, got \(head.mediaType ?? "no content type")")
        }
        return .stream
    }

    func consume(_ bytes: UnsafeRawBufferPointer) -> AttemptFailure? {
        let events: [SSEEvent]
        do {
            events = try parser.feed(bytes)
        } catch {
            return .invalidResponse(error.description)
        }
        for event in events {
            if call?.isCancelled == true { return nil }
            if event.data == "[DONE]" {
                done = true
                continue
            }
            guard let chunk = try? JSONDecoder().decode(Chunk.self, from: Data(event.data.utf8)) else {
                invalid.increment()
                logger.warning("skipping a stream event that is not valid JSON", metadata: ["bytes": "\(event.data.utf8.count)"])
                continue
            }
            if let error = chunk.error {
                let message = error.message.map { apiKey?.redact($0) ?? $0 } ?? "unknown error"
                return .invalidResponse("the server reported an error mid-stream: \(message)")
            }
            if let usage = chunk.usage {
                promptTokens = usage.prompt_tokens ?? promptTokens
                completionTokens = usage.completion_tokens ?? completionTokens
            }
            guard let choice = chunk.choices?.first else { continue }  // choices empty or null: the usage chunk
            if let reason = choice.finish_reason { finishReason = reason }
            if let raw = choice.delta?.content, !raw.isEmpty {
                outputDelivered = true
                tokensSeen += 1
                let content = ExternalText.clean(raw)
                if !content.isEmpty { onEvent(.token(content)) }
                if tokensSeen >= maxTokens {
                    capped = true
                    logger.notice("the reply reached max_tokens and is cut there (the server did not stop it)",
                                  metadata: ["max_tokens": "\(maxTokens)"])
                    return nil
                }
            }
        }
        return nil
    }

    func end() -> AttemptFailure? {
        guard done || finishReason != nil || capped else {
            return .network("the stream ended before [DONE]")
        }
        if completionTokens == nil, tokensSeen > 0 { completionTokens = tokensSeen }
        return nil
    }

    func errorDetail(_ body: [UInt8]) -> String {
        struct ErrorBody: Decodable {
            struct Detail: Decodable { var message: String? }
            var error: Detail?
        }
        let text: String
        if let parsed = try? JSONDecoder().decode(ErrorBody.self, from: Data(body)), let message = parsed.error?.message {
            text = message
        } else {
            text = String(decoding: body.prefix(300), as: UTF8.self).trimmingWhitespacesAndNewlines()
        }
        return apiKey?.redact(text) ?? text
    }
}

/// A thread-safe count.
final class Counter: Sendable {
    private let count = Atomic<Int>(0)
    var value: Int { count.load(ordering: .relaxed) }
    func increment() { count.add(1, ordering: .relaxed) }
}

extension Logger {
    /// A copy with one more metadata value.
    func with(_ key: String, _ value: String) -> Logger {
        var copy = self
        copy[metadataKey: key] = .string(value)
        return copy
    }
}

extension OpenAIChat: LanguageModelProvider {
    public func apply(_ config: VoicedConfig) throws(ProviderSetupError) {
        try update(.init(model: config.llm.model, maxTokens: config.llm.maxTokens, temperature: config.llm.temperature))
    }
}

extension ProviderEntry where Input == Void, Made == any LanguageModelProvider {
    /// An OpenAI-compatible chat-completions API (OpenAI, llama.cpp, Ollama…): `[llm] provider = "openai"`.
    static var openAIChat: Self {
        Self(name: "openai") { context, _ in
            let llm = context.config.llm
            var chat = OpenAIChatConfiguration(baseURL: llm.baseURL, model: llm.model, apiKey: try context.key(.openAI))
            chat.maxTokens = llm.maxTokens
            chat.temperature = llm.temperature
            return try OpenAIChat(configuration: chat, clock: context.clock, logger: context.logger("voiced.llm"))
        }
    }
}
