import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import Synchronization
import VoiceCore
import VoiceEspeak

/// What the fake cloud saw of one request (STT: one connection), for tests to check.
///
/// It holds the request's headers, keys included: it exists only in the test process and is
/// never logged.
public struct FakeRequestRecord: Sendable {
    public enum Outcome: String, Sendable, Equatable {
        /// Still being answered.
        case running
        /// Answered to the end.
        case completed
        /// The client went away before the answer ended (a cancelled transfer).
        case aborted
        /// A fault ended it as scripted.
        case faulted
        /// Refused (bad key, bad request, or a scripted status).
        case refused
    }

    public var service: FakeCloudScript.Service
    /// 1-based, per service.
    public var number: Int
    public var path: String
    public var query: [String: String]
    /// Header fields, names lower-cased.
    public var headers: [String: String]
    /// The request body (LLM, TTS).
    public var body: String
    public var status: Int
    public var outcome: Outcome
    /// Units sent: tokens (LLM), audio chunks (TTS), messages (STT).
    public var sent: Int
    /// STT: audio bytes received.
    public var audioBytes: Int
    /// STT: the `type` of each text message received, in order.
    public var controlMessages: [String]
}

/// Why the fake cloud could not start.
public enum FakeCloudError: Error, Equatable, Sendable, CustomStringConvertible {
    case notLoopback(String)
    case startFailed(String)

    public var description: String {
        switch self {
        case .notLoopback(let host): "the fake cloud listens on loopback only (127.0.0.1 or ::1), not '\(host)'"
        case .startFailed(let reason): "the fake cloud could not start: \(reason)"
        }
    }
}

/// The loopback fake cloud: Deepgram live STT (WebSocket `/v1/listen`), OpenAI-compatible chat
/// completions (`POST /v1/chat/completions`, SSE) and ElevenLabs streaming TTS
/// (`POST /v1/text-to-speech/{voice}/stream`, real espeak-ng speech as `pcm_16000`), driven by a
/// ``FakeCloudScript``, failures included. Tests, the demo and `voiced-fakecloud` run it.
public final class FakeCloud: Sendable {
    public let script: FakeCloudScript
    let state: FakeCloudState
    private let logger: Logger
    private let running = Mutex<(task: Task<Void, any Error>?, port: Int?)>((nil, nil))

    public init(script: FakeCloudScript = FakeCloudScript(), logger: Logger = Logger(label: "voiced.fakecloud")) {
        self.script = script
        self.logger = logger
        state = FakeCloudState(script: script, logger: logger)
    }

    /// The port it listens on, once started.
    public var port: Int? { running.withLock { $0.port } }

    /// `http://127.0.0.1:<port>`: the ElevenLabs base URL.
    public var baseURL: String { "http://127.0.0.1:\(port ?? 0)" }
    /// `http://127.0.0.1:<port>/v1`: the chat-completions base URL.
    public var chatBaseURL: String { baseURL + "/v1" }
    /// `ws://127.0.0.1:<port>/v1/listen`: the Deepgram live URL.
    public var listenURL: String { "ws://127.0.0.1:\(port ?? 0)/v1/listen" }

    /// The speech it sends for `text` (espeak-ng at 16 kHz, cached), for tests to compare with.
    public func speech(for text: String) async throws -> [Int16] { try await state.speech(for: text) }

    /// What it saw of `service`'s requests, in order.
    public func records(_ service: FakeCloudScript.Service) -> [FakeRequestRecord] { state.records(service) }

    /// Starts listening on `host` (loopback only) and `port` (0: any free one); returns the port.
    @discardableResult
    public func start(host: String = "127.0.0.1", port: Int = 0) async throws(FakeCloudError) -> Int {
        guard ["127.0.0.1", "::1", "localhost"].contains(host) else { throw .notLoopback(host) }
        let (portStream, portContinuation) = AsyncStream<Int?>.makeStream()
        let router = Router()
        ChatService(state: state).register(on: router)
        SpeechService(state: state).register(on: router)
        ListenService(state: state).registerFallback(on: router)
        let listen = ListenService(state: state)
        // Hummingbird logs the cancellation that stops the server as an error; keep its own
        // lines for a verbose run only.
        var serverLogger = logger
        if logger.logLevel > .debug { serverLogger.logLevel = .critical }
        let app = Application(
            router: router,
            server: .http1WebSocketUpgrade(
                configuration: .init(ws: .init(maxFrameSize: 1 << 16, autoPing: .disabled, closeTimeout: .seconds(2)))
            ) { request, channel, logger in
                try await listen.shouldUpgrade(request, channel: channel)
            },
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port)
                portContinuation.finish()
            },
            logger: serverLogger
        )
        let task = Task {
            defer { portContinuation.finish() }
            try await app.run()
        }
        var iterator = portStream.makeAsyncIterator()
        guard let bound = await iterator.next() ?? nil else {
            task.cancel()
            do {
                try await task.value
            } catch {
                throw .startFailed("\(error)")
            }
            throw .startFailed("the server stopped before listening")
        }
        running.withLock { $0 = (task, bound) }
        logger.notice("fake cloud listening", metadata: ["host": "\(host)", "port": "\(bound)"])
        return bound
    }

    /// Stops listening and closes every connection.
    public func stop() async {
        guard let task = running.withLock({ $0.task }) else { return }
        task.cancel()
        _ = try? await task.value
        running.withLock { $0 = (nil, nil) }
    }

    /// Starts, reports the port, and serves until the task is cancelled (for the executable).
    public func run(host: String = "127.0.0.1", port: Int = 0, onListening: @Sendable (Int) -> Void) async throws {
        let bound = try await start(host: host, port: port)
        onListening(bound)
        guard let task = running.withLock({ $0.task }) else { return }
        try await withTaskCancellationHandler {
            try await task.value
        } onCancel: {
            task.cancel()
        }
    }
}

/// The fake cloud's shared state: counters, records, the utterance cursor and a speech cache.
final class FakeCloudState: Sendable {
    let script: FakeCloudScript
    let logger: Logger
    private let store = Mutex(Store())

    private struct Store {
        var records: [FakeRequestRecord] = []
        var counts: [FakeCloudScript.Service: Int] = [:]
        var nextUtterance = 0
        var speech: [String: [Int16]] = [:]
        var pendingRejections: [(status: Int, body: String)] = []
    }

    init(script: FakeCloudScript, logger: Logger) {
        self.script = script
        self.logger = logger
    }

    /// Registers a new request; returns its number (1-based, per service).
    func begin(_ service: FakeCloudScript.Service, path: String, query: [String: String], headers: [String: String],
               body: String) -> Int {
        // Path and body only: the headers hold the keys.
        logger.info("request", metadata: ["service": "\(service)", "path": "\(path)", "body": "\(body)"])
        let number = store.withLock { store in
            let number = store.counts[service, default: 0] + 1
            store.counts[service] = number
            store.records.append(FakeRequestRecord(
                service: service, number: number, path: path, query: query, headers: headers, body: body, status: 0,
                outcome: .running, sent: 0, audioBytes: 0, controlMessages: []))
            return number
        }
        // One line per request a fault is armed on (it strikes unless the client leaves first), so a long run (scripts/soak.sh) can count what it injected.
        for fault in script.faults(for: service, number: number) {
            logger.info("fault armed", metadata: ["service": "\(service.rawValue)", "number": "\(number)", "kind": "\(fault.kind.rawValue)"])
        }
        return number
    }

    func update(_ service: FakeCloudScript.Service, _ number: Int, _ change: (inout FakeRequestRecord) -> Void) {
        store.withLock { store in
            guard let index = store.records.firstIndex(where: { $0.service == service && $0.number == number }) else { return }
            change(&store.records[index])
        }
    }

    func records(_ service: FakeCloudScript.Service) -> [FakeRequestRecord] {
        store.withLock { $0.records.filter { $0.service == service } }
    }

    /// The transcript of the utterance in progress (`take`: and move on to the next).
    func utterance(take: Bool) -> String {
        store.withLock { store in
            let list = script.stt.utterances
            guard !list.isEmpty else { return "" }
            let text = list[min(store.nextUtterance, list.count - 1)]
            if take { store.nextUtterance += 1 }
            return text
        }
    }

    func pushRejection(status: Int, body: String) {
        store.withLock { $0.pendingRejections.append((status, body)) }
    }

    func popRejection() -> (status: Int, body: String)? {
        store.withLock { $0.pendingRejections.isEmpty ? nil : $0.pendingRejections.removeFirst() }
    }

    /// `text` spoken by espeak-ng at 16 kHz (cached: the same sentence always sounds the same,
    /// although espeak-ng itself varies a little from one synthesis to the next).
    func speech(for text: String) async throws -> [Int16] {
        var all: [Int16] = []
        for try await piece in speechStream(for: text) { all += piece }
        return all
    }

    /// `text` spoken by espeak-ng, in pieces as it is synthesised (or at once from the cache).
    func speechStream(for text: String) -> AsyncThrowingStream<[Int16], any Error> {
        let (stream, continuation) = AsyncThrowingStream<[Int16], any Error>.makeStream()
        if let cached = store.withLock({ $0.speech[text] }) {
            continuation.yield(cached)
            continuation.finish()
            return stream
        }
        let collected = Mutex<[Int16]>([])
        let cancel = EspeakEngine.shared.synthesize(
            text, voice: script.tts.voice, wordsPerMinute: script.tts.wordsPerMinute,
            onChunk: { piece in
                collected.withLock { $0 += piece }
                continuation.yield(piece)
            },
            completion: { [self] result in
                switch result {
                case .success(true):
                    let pcm = collected.withLock { $0 }
                    store.withLock { $0.speech[text] = $0.speech[text] ?? pcm }
                    continuation.finish()
                case .success(false):
                    continuation.finish(throwing: CancellationError())
                case .failure(let error):
                    continuation.finish(throwing: error)
                }
            })
        continuation.onTermination = { _ in cancel() }
        return stream
    }
}

// MARK: - Helpers shared by the services

extension HTTPFields {
    /// The fields as a dictionary with lower-cased names (the last value wins).
    var lowercasedDictionary: [String: String] {
        var result: [String: String] = [:]
        for field in self { result[field.name.canonicalName] = field.value }
        return result
    }
}

/// Sleeps for `milliseconds` (nothing for zero or less).
func pause(milliseconds: Int) async throws {
    guard milliseconds > 0 else { return }
    try await Task.sleep(for: .milliseconds(milliseconds))
}

/// A response with a body written at once.
func plainResponse(status: Int, contentType: String, body: String, extra: [(String, String)] = []) -> Response {
    var headers = HTTPFields()
    if !contentType.isEmpty { headers[.contentType] = contentType }  // "": no Content-Type at all
    for (name, value) in extra {
        if let field = HTTPField.Name(name) { headers[field] = value }
    }
    return Response(status: HTTPResponse.Status(code: status), headers: headers,
                    body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
}

/// Writes `bytes`, all at once or, for a `slow_trickle` fault, in small pieces.
struct TrickleWriter {
    var trickle: FakeCloudScript.Fault?

    func write(_ bytes: ByteBuffer, to writer: inout any ResponseBodyWriter) async throws {
        guard let trickle else {
            try await writer.write(bytes)
            return
        }
        var rest = bytes
        while rest.readableBytes > 0 {
            guard let piece = rest.readSlice(length: min(trickle.bytesPerWrite, rest.readableBytes)) else { break }
            try await writer.write(piece)
            try await pause(milliseconds: trickle.intervalMs)
        }
    }
}

/// A thrown error that cuts the connection (the response cannot end properly).
struct ScriptedDisconnect: Error {}
