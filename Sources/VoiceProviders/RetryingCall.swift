import FoundationEssentials
import Logging
import Synchronization
import VoiceCore

/// What a provider makes of a successful response.
enum ResponseVerdict: Equatable {
    /// Stream the body to ``StreamConsumer/consume(_:)``.
    case stream
    /// Refuse it (for example a non-audio content type): the body is read as an error message,
    /// and the attempt fails with this reason.
    case reject(String)
}

/// The provider-specific half of a call: it parses a successful response and turns error bodies
/// into messages. Called by ``RetryingCall`` one method at a time (never concurrently).
protocol StreamConsumer: AnyObject {
    /// A new attempt starts: drop whatever the previous attempt left half-parsed.
    func beginAttempt()
    /// A 2xx response arrived.
    func accept(_ head: ResponseHead) -> ResponseVerdict
    /// The next piece of an accepted body. A failure stops the attempt.
    func consume(_ bytes: UnsafeRawBufferPointer) -> AttemptFailure?
    /// The accepted response ended. A failure (for example a stream cut short) fails the attempt.
    func end() -> AttemptFailure?
    /// Whether any output reached the caller (after that, a retry would repeat it).
    var outputDelivered: Bool { get }
    /// The server's message in an error body (JSON or text), for the error and the log.
    func errorDetail(_ body: [UInt8]) -> String
    /// The consumer has all it will take (a reply cut at its token cap): the transfer stops and
    /// the call ends as if the response had ended, through ``end()``.
    var isComplete: Bool { get }
}

extension StreamConsumer {
    var isComplete: Bool { false }
}

/// How a call ended, with what the wire saw.
struct CallSummary: Sendable {
    /// The HTTP status of each attempt (0: no response).
    var statuses: [Int]
    var firstByteMs: Int64?
    var latencyMs: Int64
}

/// One provider call over HTTP: attempts on the ``CurlLoop``, the ``RetryPolicy`` between them,
/// a first-byte timeout on the injected clock, and cancellation that stops at once.
///
/// `onEnd` is called once, with nil on success or the failure that ended the call; never after
/// ``cancel()``.
final class RetryingCall: @unchecked Sendable {
    // @unchecked: mutable state is behind `state`'s mutex; `consumer` is used only under
    // `consumerLock` (a timed-out attempt's last callback may still run on the loop's thread
    // while the next attempt starts on a timer's). Lock order: consumerLock, then state.

    struct Settings: Sendable {
        var policy: RetryPolicy
        var firstByteTimeout: Duration
        /// The most of an error body kept for its message.
        var maxErrorBody = 64 * 1024
        /// Seconds since 1970, for `Retry-After` dates.
        var wallClock: @Sendable () -> Double = { Date().timeIntervalSince1970 }
    }

    private enum Mode {
        case waiting
        case streaming
        case collectingError(status: Int, retryAfter: Duration?, rejection: String?)
    }

    private struct State {
        var attempt = 0
        var transfer: CurlTransfer?
        var timer: Task<Void, Never>?
        var mode = Mode.waiting
        var gotFirstByte = false
        var errorBody: [UInt8] = []
        var abort: AttemptFailure?
        /// The consumer had all it wanted and the transfer was stopped on purpose.
        var completedEarly = false
        var failures: [AttemptFailure] = []
        var statuses: [Int] = []
        var firstByteAt: VoiceInstant?
        var finished = false
    }

    private let request: StreamingRequest
    private let consumer: any StreamConsumer
    private let loop: CurlLoop
    private let clock: any VoiceClock
    private let settings: Settings
    private let logger: Logger
    private let onEnd: @Sendable (AttemptFailure?, CallSummary) -> Void
    private let state = Mutex(State())
    private let consumerLock = Mutex(())
    private let startedAt: VoiceInstant
    private let cancelled = Atomic<Bool>(false)

    init(request: StreamingRequest, consumer: any StreamConsumer, loop: CurlLoop, clock: any VoiceClock,
         settings: Settings, logger: Logger, onEnd: @escaping @Sendable (AttemptFailure?, CallSummary) -> Void) {
        self.request = request
        self.consumer = consumer
        self.loop = loop
        self.clock = clock
        self.settings = settings
        self.logger = logger
        self.onEnd = onEnd
        startedAt = clock.now
    }

    /// Whether ``cancel()`` was called.
    var isCancelled: Bool { cancelled.load(ordering: .acquiring) }

    /// Starts the first attempt. Returns at once.
    func start() { startAttempt() }

    /// Stops the call at once: the transfer is aborted and no more callbacks run (bar one that
    /// is already running on the loop's thread).
    func cancel() {
        cancelled.store(true, ordering: .releasing)
        let (transfer, timer) = state.withLock { state -> (CurlTransfer?, Task<Void, Never>?) in
            state.finished = true
            defer {
                state.transfer = nil
                state.timer = nil
            }
            return (state.transfer, state.timer)
        }
        timer?.cancel()
        if let transfer { loop.cancel(transfer) }
    }

    /// What the call has seen so far, for the record of a cancelled call.
    func summary() -> CallSummary {
        let now = clock.now
        return state.withLock { state in
            CallSummary(statuses: state.statuses, firstByteMs: state.firstByteAt.map { ($0 - startedAt).wholeMilliseconds },
                        latencyMs: (now - startedAt).wholeMilliseconds)
        }
    }

    private func startAttempt() {
        guard !isCancelled else { return }
        let number = consumerLock.withLock { _ in
            consumer.beginAttempt()
            return state.withLock { state -> Int in
                state.attempt += 1
                state.mode = .waiting
                state.gotFirstByte = false
                state.errorBody = []
                state.abort = nil
                return state.attempt
            }
        }
        let transfer: CurlTransfer
        do {
            transfer = try CurlTransfer(request, handlers: .init(
                onResponse: { [self] head in response(head, attempt: number) },
                onBody: { [self] bytes in body(bytes, attempt: number) },
                onComplete: { [self] outcome in complete(outcome, attempt: number) }))
        } catch {
            state.withLock { $0.statuses.append(0) }
            fail(.setup(error.description), attempt: number)
            return
        }
        let deadline = clock.now + settings.firstByteTimeout
        let timer = Task { [self, clock] in
            do {
                try await clock.sleep(until: deadline)
            } catch {
                return  // cancelled: the first byte came, or the call ended
            }
            firstByteDeadlinePassed(attempt: number)
        }
        let go = state.withLock { state -> Bool in
            guard !state.finished, state.attempt == number else { return false }
            state.transfer = transfer
            state.timer = timer
            return true
        }
        guard go else {
            timer.cancel()
            return
        }
        loop.start(transfer)
    }

    private func isCurrent(_ attempt: Int, _ state: State) -> Bool { !state.finished && state.attempt == attempt }

    private func response(_ head: ResponseHead, attempt: Int) -> Bool {
        let verdict: ResponseVerdict? = consumerLock.withLock { _ in
            guard state.withLock({ isCurrent(attempt, $0) }) else { return nil }
            return (200...299).contains(head.status) ? consumer.accept(head) : .reject("")
        }
        guard let verdict else { return false }
        let retryAfter = head.header("retry-after").flatMap { RetryAfter.parse($0, now: settings.wallClock()) }
        return state.withLock { state in
            guard isCurrent(attempt, state) else { return false }
            state.statuses.append(head.status)
            switch verdict {
            case .stream:
                state.mode = .streaming
            case .reject(let reason):
                state.mode = .collectingError(status: head.status, retryAfter: retryAfter,
                                              rejection: (200...299).contains(head.status) ? reason : nil)
                // An error response counts as an answer: no first-byte timeout for it.
                state.gotFirstByte = true
                state.timer?.cancel()
            }
            return true
        }
    }

    private func body(_ bytes: UnsafeRawBufferPointer, attempt: Int) -> Bool {
        enum Next { case stop, keep, consume }
        let now = clock.now
        let next = state.withLock { state -> Next in
            guard isCurrent(attempt, state) else { return .stop }
            if !state.gotFirstByte {
                state.gotFirstByte = true
                state.timer?.cancel()
            }
            if case .collectingError = state.mode {
                let room = max(0, settings.maxErrorBody - state.errorBody.count)
                state.errorBody.append(contentsOf: bytes.prefix(room))
                // Enough of an error message: stop rather than wait for the rest.
                return state.errorBody.count >= settings.maxErrorBody ? .stop : .keep
            }
            if state.firstByteAt == nil { state.firstByteAt = now }
            return .consume
        }
        switch next {
        case .stop: return false
        case .keep: return true
        case .consume: break
        }
        enum Consumed { case stale, consumed, complete, failed(AttemptFailure) }
        let outcome = consumerLock.withLock { _ -> Consumed in
            guard state.withLock({ isCurrent(attempt, $0) }) else { return .stale }
            if let failure = consumer.consume(bytes) { return .failed(failure) }
            return consumer.isComplete ? .complete : .consumed
        }
        switch outcome {
        case .stale:
            return false
        case .failed(let failure):
            state.withLock { $0.abort = failure }
            return false
        case .complete:
            state.withLock { $0.completedEarly = true }
            return false
        case .consumed:
            return !isCancelled
        }
    }

    private func complete(_ outcome: TransferOutcome, attempt: Int) {
        let (mode, abort, errorBody, completedEarly) = state.withLock { state -> (Mode?, AttemptFailure?, [UInt8], Bool) in
            guard isCurrent(attempt, state) else { return (nil, nil, [], false) }
            state.transfer = nil
            state.timer?.cancel()
            state.timer = nil
            if state.statuses.count < attempt { state.statuses.append(0) }
            return (state.mode, state.abort, state.errorBody, state.completedEarly)
        }
        guard let mode else { return }
        if let abort {
            fail(abort, attempt: attempt)
            return
        }
        if completedEarly {
            if let failure = consumerLock.withLock({ _ in consumer.end() }) { fail(failure, attempt: attempt) } else { finish(nil) }
            return
        }
        switch (mode, outcome) {
        case (.collectingError(let status, let retryAfter, let rejection), _):
            let detail = consumerLock.withLock { _ in consumer.errorDetail(errorBody) }
            if let rejection {
                fail(.invalidResponse(detail.isEmpty ? rejection : "\(rejection): \(detail)"), attempt: attempt)
            } else {
                fail(.status(code: status, retryAfter: retryAfter, detail: detail), attempt: attempt)
            }
        case (_, .failed(let code, let message)) where TransferOutcome.isCertificateFailure(code):
            // Not retried: the same certificate would be refused again.
            fail(.setup("TLS certificate verification failed (\(message)): the server's certificate is not trusted; "
                        + "check the base URL, the system clock and the ca-certificates package"), attempt: attempt)
        case (_, .failed(_, let message)):
            fail(.network(message), attempt: attempt)
        case (.waiting, .completed):
            fail(.network("the response ended without a status"), attempt: attempt)
        case (.streaming, .completed):
            if let failure = consumerLock.withLock({ _ in consumer.end() }) {
                fail(failure, attempt: attempt)
            } else {
                finish(nil)
            }
        }
    }

    private func firstByteDeadlinePassed(attempt: Int) {
        let transfer = state.withLock { state -> CurlTransfer?? in
            guard isCurrent(attempt, state), !state.gotFirstByte else { return nil }
            defer {
                state.transfer = nil
                state.timer = nil
                if state.statuses.count < attempt { state.statuses.append(0) }
            }
            return .some(state.transfer)
        }
        guard let transfer else { return }
        if let transfer { loop.cancel(transfer) }
        fail(.firstByteTimeout(settings.firstByteTimeout), attempt: attempt)
    }

    /// The attempt failed: try again if the policy says so, else end the call.
    private func fail(_ failure: AttemptFailure, attempt: Int) {
        let elapsed = clock.now - startedAt
        let delivered = consumerLock.withLock { _ in consumer.outputDelivered }
        let decision = state.withLock { state -> RetryDecision? in
            guard isCurrent(attempt, state) else { return nil }
            state.failures.append(failure)
            return settings.policy.decide(failures: state.failures, elapsed: elapsed, outputDelivered: delivered)
        }
        switch decision {
        case nil:
            return
        case .giveUp:
            finish(failure)
        case .retry(let wait):
            logger.warning("retrying", metadata: [
                "attempt": "\(attempt)", "wait_ms": "\(wait.wholeMilliseconds)", "reason": "\(failure)",
            ])
            if wait <= .zero {
                startAttempt()
            } else {
                let due = clock.now + wait
                let timer = Task { [self, clock] in
                    do {
                        try await clock.sleep(until: due)
                    } catch {
                        return
                    }
                    startAttempt()
                }
                state.withLock { $0.timer = timer }
            }
        }
    }

    private func finish(_ failure: AttemptFailure?) {
        let now = clock.now
        let summary = state.withLock { state -> CallSummary? in
            guard !state.finished else { return nil }
            state.finished = true
            state.timer?.cancel()
            state.timer = nil
            return CallSummary(statuses: state.statuses,
                               firstByteMs: state.firstByteAt.map { ($0 - startedAt).wholeMilliseconds },
                               latencyMs: (now - startedAt).wholeMilliseconds)
        }
        guard let summary, !isCancelled else { return }
        onEnd(failure, summary)
    }
}
