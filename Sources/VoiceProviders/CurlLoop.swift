import CCurl
import FoundationEssentials
import Logging
import ServiceLifecycle
import Synchronization
import VoiceCore
import VoiceSupport

/// An HTTP request for the ``CurlLoop``. Its header lines may hold secrets: it is never logged
/// and deliberately has no description.
struct StreamingRequest: Sendable {
    var url: String
    var method: String = "POST"
    /// Header lines (`Name: value`).
    var headers: [String]
    var body: [UInt8]
    var connectTimeout: Duration = .seconds(5)
    /// Once the body has begun, the transfer fails when no byte arrives for this long (before
    /// that, the caller's first-byte timeout applies).
    var stallTimeout: Duration = .seconds(10)
    /// The longest the whole transfer may take.
    var totalTimeout: Duration = .seconds(120)
}

/// The status line and header fields of a response.
public struct ResponseHead: Equatable, Sendable {
    public var status: Int
    /// Header fields in order, names lower-cased.
    public var headers: [(name: String, value: String)]

    public init(status: Int, headers: [(name: String, value: String)]) {
        self.status = status
        self.headers = headers
    }

    /// The first value of a header field (case-insensitive name).
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.name == wanted }?.value
    }

    /// The media type of `Content-Type`, lower-cased, without parameters (`text/event-stream`).
    public var mediaType: String? {
        header("content-type").map { $0.split(separator: ";", maxSplits: 1).first.map(String.init) ?? $0 }
            .map { $0.trimmingWhitespaces().lowercased() }
    }

    public static func == (lhs: ResponseHead, rhs: ResponseHead) -> Bool {
        lhs.status == rhs.status && lhs.headers.elementsEqual(rhs.headers) { $0.name == $1.name && $0.value == $1.value }
    }
}

/// How a transfer ended, when it was not cancelled.
enum TransferOutcome: Equatable, Sendable {
    /// The whole response arrived.
    case completed
    /// libcurl gave up: connection refused or reset, closed mid-stream, timed out, TLS failure, or
    /// a handler asked to stop (`CURLE_WRITE_ERROR`).
    case failed(code: Int, message: String)

    /// Whether a libcurl code means the peer's certificate was refused (or could not be checked).
    static func isCertificateFailure(_ code: Int) -> Bool {
        [CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH,
         CURLE_SSL_INVALIDCERTSTATUS].contains { Int($0.rawValue) == code }
    }
}

/// One HTTP transfer on a ``CurlLoop``: the easy handle, its header list and the callbacks.
///
/// Callbacks run on the loop's thread, one at a time and in order: `onResponse` once when the
/// final header block has arrived, `onBody` for each piece of the body, then `onComplete` once,
/// unless ``CurlLoop/cancel(_:)`` was called, after which nothing more is called.
final class CurlTransfer: @unchecked Sendable {
    // @unchecked: `cancelled` is atomic; everything else is set up before the transfer is handed
    // to the loop and then touched only by the loop's thread.

    struct Handlers {
        /// The response's status and headers. Return false to stop the transfer.
        var onResponse: (ResponseHead) -> Bool
        /// A piece of the body. Return false to stop the transfer.
        var onBody: (UnsafeRawBufferPointer) -> Bool
        var onComplete: (TransferOutcome) -> Void
    }

    let easy: CurlEasy
    private let headerList: CurlHeaderList
    private let handlers: Handlers
    private let cancelled = Atomic<Bool>(false)
    private var status = 0
    private var headers: [(name: String, value: String)] = []
    private var responseDelivered = false
    private let stallTimeout: Duration
    /// When the last body byte arrived (nil before the first one).
    private var lastActivity: ContinuousClock.Instant?

    var isCancelled: Bool { cancelled.load(ordering: .acquiring) }

    /// Builds the transfer. Fails for an URL that ``Endpoint`` refuses, or a libcurl error.
    init(_ request: StreamingRequest, handlers: Handlers) throws(ProviderSetupError) {
        _ = try Endpoint(request.url, allowQuery: true)
        self.handlers = handlers
        stallTimeout = request.stallTimeout
        do {
            easy = try CurlEasy()
            // An empty `Expect:` stops libcurl from waiting for "100 Continue" on larger bodies.
            headerList = try CurlHeaderList(request.headers + ["Expect:"])
            try configure(request)
        } catch {
            throw .curl(error)
        }
    }

    private func configure(_ request: StreamingRequest) throws(CurlError) {
        try easy.set(CURLOPT_URL, request.url, "CURLOPT_URL")
        try easy.set(CURLOPT_CUSTOMREQUEST, request.method, "CURLOPT_CUSTOMREQUEST")
        if request.method == "POST" { try easy.set(body: request.body) }
        try easy.set(headers: headerList)
        // Security: only HTTP(S), no redirects (a redirect could lead off loopback in plain text),
        // and certificate verification always on, whatever the environment says.
        try easy.set(CURLOPT_PROTOCOLS_STR, "http,https", "CURLOPT_PROTOCOLS_STR")
        try easy.set(CURLOPT_FOLLOWLOCATION, 0, "CURLOPT_FOLLOWLOCATION")
        try easy.set(CURLOPT_SSL_VERIFYPEER, 1, "CURLOPT_SSL_VERIFYPEER")
        try easy.set(CURLOPT_SSL_VERIFYHOST, 2, "CURLOPT_SSL_VERIFYHOST")
        // Loopback never goes through a proxy configured in the environment.
        try easy.set(CURLOPT_NOPROXY, "localhost,127.0.0.1,::1", "CURLOPT_NOPROXY")
        try easy.set(CURLOPT_NOSIGNAL, 1, "CURLOPT_NOSIGNAL")
        try easy.set(CURLOPT_TCP_NODELAY, 1, "CURLOPT_TCP_NODELAY")
        try easy.set(CURLOPT_CONNECTTIMEOUT_MS, Int(request.connectTimeout.wholeMilliseconds), "CURLOPT_CONNECTTIMEOUT_MS")
        try easy.set(CURLOPT_TIMEOUT_MS, Int(request.totalTimeout.wholeMilliseconds), "CURLOPT_TIMEOUT_MS")

        let me = Unmanaged.passUnretained(self).toOpaque()
        try easy.set(write: curlWriteBody, for: CURLOPT_WRITEFUNCTION, "CURLOPT_WRITEFUNCTION")
        try easy.set(CURLOPT_WRITEDATA, pointer: me, "CURLOPT_WRITEDATA")
        try easy.set(write: curlWriteHeader, for: CURLOPT_HEADERFUNCTION, "CURLOPT_HEADERFUNCTION")
        try easy.set(CURLOPT_HEADERDATA, pointer: me, "CURLOPT_HEADERDATA")
        // The transfer callback aborts a cancelled transfer even while nothing arrives.
        try easy.set(transferInfo: curlTransferInfo)
        try easy.set(CURLOPT_XFERINFODATA, pointer: me, "CURLOPT_XFERINFODATA")
        try easy.set(CURLOPT_NOPROGRESS, 0, "CURLOPT_NOPROGRESS")
    }

    /// Marks the transfer cancelled; its callbacks stop at once. Returns false if it already was.
    func markCancelled() -> Bool {
        !cancelled.exchange(true, ordering: .acquiringAndReleasing)
    }

    // Called by the loop's thread only.

    fileprivate func header(_ line: UnsafeRawBufferPointer) -> Bool {
        guard !isCancelled else { return false }
        let text = String(decoding: line, as: UTF8.self).trimmingNewlines()
        if text.hasPrefix("HTTP/") {
            // A new status line (after "100 Continue" or an informational response) starts over.
            let parts = text.split(separator: " ", maxSplits: 2)
            status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
            headers = []
        } else if text.isEmpty {
            if status >= 200, !responseDelivered {
                responseDelivered = true
                return handlers.onResponse(ResponseHead(status: status, headers: headers))
            }
        } else if let colon = text.firstIndex(of: ":") {
            let name = text[..<colon].trimmingWhitespaces().lowercased()
            let value = text[text.index(after: colon)...].trimmingWhitespaces()
            headers.append((name, value))
        }
        return true
    }

    fileprivate func body(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !isCancelled else { return false }
        lastActivity = .now
        return handlers.onBody(bytes)
    }

    func complete(_ result: CURLcode) {
        guard !isCancelled else { return }
        if result == CURLE_OK {
            if !responseDelivered, let code = try? easy.responseCode(), code >= 200 {
                responseDelivered = true
                guard handlers.onResponse(ResponseHead(status: code, headers: headers)) else {
                    handlers.onComplete(.failed(code: Int(CURLE_WRITE_ERROR.rawValue), message: "stopped by the client"))
                    return
                }
            }
            handlers.onComplete(.completed)
        } else {
            handlers.onComplete(.failed(code: Int(result.rawValue), message: String(cString: curl_easy_strerror(result))))
        }
    }

    /// Whether the body began and then nothing arrived for the stall timeout.
    func isStalled(at now: ContinuousClock.Instant) -> Bool {
        guard let lastActivity else { return false }
        return now - lastActivity > stallTimeout
    }

    /// Ends a stalled transfer (already detached from the loop).
    func failStalled() {
        guard !isCancelled else { return }
        handlers.onComplete(.failed(code: Int(CURLE_OPERATION_TIMEDOUT.rawValue),
                                    message: "no data for \(stallTimeout.wholeMilliseconds) ms"))
    }

    func fail(_ error: CurlError) {
        guard !isCancelled else { return }
        handlers.onComplete(.failed(code: -1, message: error.description))
    }
}

private func curlWriteBody(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?) -> Int {
    guard let context else { return 0 }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    return transfer.body(UnsafeRawBufferPointer(start: data, count: length)) ? length : 0
}

private func curlWriteHeader(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?) -> Int {
    guard let context else { return 0 }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    return transfer.header(UnsafeRawBufferPointer(start: data, count: length)) ? length : 0
}

private func curlTransferInfo(_ context: UnsafeMutableRawPointer?, _: curl_off_t, _: curl_off_t, _: curl_off_t, _: curl_off_t) -> Int32 {
    guard let context else { return 1 }
    // Non-zero aborts the transfer with CURLE_ABORTED_BY_CALLBACK.
    return Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue().isCancelled ? 1 : 0
}

/// Runs HTTP transfers with one `curl_multi` handle on one dedicated thread, so callers never
/// block: ``start(_:)`` and ``cancel(_:)`` return at once, from any thread.
///
/// One loop serves every provider, so connections (and TLS sessions) to the same host are reused
/// across calls. The thread starts with the first transfer and ends when the loop is released.
public final class CurlLoop: Sendable {
    /// The loop the providers use unless given another.
    public static let shared = CurlLoop(logger: Logger(label: "voiced.curl"))

    private let core: CurlLoopCore

    public init(logger: Logger = Logger(label: "voiced.curl")) {
        core = CurlLoopCore(logger: logger)
    }

    deinit { core.stop() }

    /// Stops the loop: transfers under way and later ones fail with `CurlError.stopped`.
    public func shutdown() { core.stop() }

    /// Queues a transfer; it starts on the loop's thread.
    func start(_ transfer: CurlTransfer) { core.enqueue(add: transfer) }

    /// Stops a transfer at once: no callback of it runs after this returns, bar one already running.
    func cancel(_ transfer: CurlTransfer) {
        guard transfer.markCancelled() else { return }
        core.enqueue(cancel: transfer)
    }
}

/// The loop's state and thread body, kept apart from ``CurlLoop`` so that the thread (which holds
/// the core) does not keep the loop itself alive.
private final class CurlLoopCore: @unchecked Sendable {
    // @unchecked: `pending` is behind its mutex; `active` is touched only by the loop's thread;
    // `multi` is created once on the loop's thread and then only woken from others.

    private struct Pending {
        var adds: [CurlTransfer] = []
        var cancels: [CurlTransfer] = []
        var stopping = false
        var threadStarted = false
        var multi: CurlMulti?
        /// Set when the loop could not start: every transfer fails with it.
        var broken: CurlError?
    }

    private let pending = Mutex(Pending())
    private var active: [UnsafeMutableRawPointer: CurlTransfer] = [:]
    private let logger: Logger

    init(logger: Logger) { self.logger = logger }

    func enqueue(add transfer: CurlTransfer) {
        let (startThread, multi, broken) = pending.withLock { state -> (Bool, CurlMulti?, CurlError?) in
            if let broken = state.broken { return (false, nil, broken) }
            state.adds.append(transfer)
            let start = !state.threadStarted
            state.threadStarted = true
            return (start, state.multi, nil)
        }
        if let broken {
            transfer.fail(broken)
            return
        }
        if startThread {
            do {
                try NamedThread.detach(name: "voiced-curl") { [self] in run() }
            } catch {
                logger.error("cannot start the HTTP loop", metadata: ["error": "\(error)"])
                failAllPending(.threadStart(error.description))
                return
            }
        }
        multi?.wakeup()
    }

    func enqueue(cancel transfer: CurlTransfer) {
        let multi = pending.withLock { state -> CurlMulti? in
            state.cancels.append(transfer)
            return state.multi
        }
        multi?.wakeup()
    }

    func stop() {
        let (multi, adds) = pending.withLock { state -> (CurlMulti?, [CurlTransfer]) in
            state.stopping = true
            // Later transfers fail at once instead of waiting for a thread that has ended.
            if state.broken == nil { state.broken = .stopped }
            defer { state.adds = [] }
            return (state.multi, state.adds)  // never handed to libcurl: failed here
        }
        for transfer in adds { transfer.fail(.stopped) }
        multi?.wakeup()
    }

    private func run() {
        let multi: CurlMulti
        do {
            multi = try CurlMulti()
        } catch {
            logger.error("cannot start the HTTP loop", metadata: ["error": "\(error)"])
            failAllPending(error)
            return
        }
        pending.withLock { $0.multi = multi }
        while true {
            let (adds, cancels, stopping) = pending.withLock { state in
                defer {
                    state.adds = []
                    state.cancels = []
                }
                return (state.adds, state.cancels, state.stopping)
            }
            for transfer in cancels {
                if let removed = active.removeValue(forKey: transfer.easy.handle) { detach(removed, from: multi, reusable: false) }
            }
            if stopping {
                for transfer in active.values {
                    detach(transfer, from: multi)
                    transfer.fail(.stopped)
                }
                for transfer in adds { transfer.fail(.stopped) }
                active = [:]
                return
            }
            for transfer in adds where !transfer.isCancelled {
                do {
                    try multi.add(transfer.easy)
                    active[transfer.easy.handle] = transfer
                } catch {
                    transfer.fail(error)
                }
            }
            do {
                try multi.perform()
            } catch {
                logger.error("HTTP loop failed; failing its transfers", metadata: ["error": "\(error)"])
                for transfer in active.values {
                    detach(transfer, from: multi)
                    transfer.fail(error)
                }
                active = [:]
            }
            while let done = multi.nextDone() {
                guard let transfer = active.removeValue(forKey: done.easy) else { continue }
                detach(transfer, from: multi)
                transfer.complete(done.result)
            }
            let now = ContinuousClock.now
            for (key, transfer) in active where transfer.isStalled(at: now) {
                active.removeValue(forKey: key)
                detach(transfer, from: multi, reusable: false)
                transfer.failStalled()
            }
            do {
                // Woken at once by start, cancel and stop; the timeout bounds libcurl's own timers
                // and the stall check.
                try multi.poll(timeoutMilliseconds: active.isEmpty ? 10_000 : 250)
            } catch {
                logger.warning("curl_multi_poll failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Takes a transfer off the multi handle. A transfer stopped half-way must not leave its
    /// connection for the next one: the server may still be answering it.
    private func detach(_ transfer: CurlTransfer, from multi: CurlMulti, reusable: Bool = true) {
        do {
            if !reusable { try transfer.easy.set(CURLOPT_FORBID_REUSE, 1, "CURLOPT_FORBID_REUSE") }
            try multi.remove(transfer.easy)
        } catch {
            logger.warning("cannot detach a transfer", metadata: ["error": "\(error)"])
        }
    }

    private func failAllPending(_ error: CurlError) {
        let adds = pending.withLock { state in
            defer { state.adds = [] }
            state.broken = error
            return state.adds
        }
        for transfer in adds { transfer.fail(error) }
    }
}

/// The shared loop as a service of the daemon's group: it runs until the group shuts down, after
/// the providers that use it have stopped (it is started before them), then ends its thread.
extension CurlLoop: Service {
    public func run() async throws {
        try? await gracefulShutdown()
        shutdown()
    }
}
