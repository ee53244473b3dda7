import Dispatch
import Logging
import ServiceLifecycle
import Synchronization
import VoiceCore

/// Exponential backoff with jitter: 1 s, 2 s, 4 s ... up to the cap, each stretched by up to
/// `jitter` of itself so that a fleet coming back online does not reconnect in step.
public struct Backoff: Equatable, Sendable {
    public var initial: Duration = .seconds(1)
    public var maximum: Duration = .seconds(300)
    /// The largest fraction added to a delay (0.2: up to 20 % longer), never past `maximum`.
    public var jitter: Double = 0.2

    public init() {}

    /// The delay after `failures` consecutive failures (1 for the first), with `random` in 0..<1.
    public func delay(afterFailures failures: Int, random: Double) -> Duration {
        guard failures > 0 else { return .zero }
        var delay = initial
        for _ in 1..<failures {
            delay *= 2
            if delay >= maximum { break }
        }
        delay = min(delay, maximum)
        let stretched = delay + delay * (max(0, jitter) * min(max(random, 0), 1))
        return min(stretched, maximum)
    }
}

/// When to upload, as a pure value: fed the pending row count and the time, it answers
/// "upload now" or "wait until"; told of each upload's outcome, it backs off or resets.
struct SyncSchedule: Equatable {
    enum Decision: Equatable {
        case upload
        case wait(until: VoiceInstant)
    }

    var minBatch: Int
    var flushInterval: Duration
    var pollInterval: Duration
    var backoff: Backoff
    private(set) var failures = 0
    private(set) var retryAt: VoiceInstant?
    private(set) var lastUpload: VoiceInstant

    init(minBatch: Int, flushInterval: Duration, pollInterval: Duration, backoff: Backoff, now: VoiceInstant) {
        self.minBatch = max(1, minBatch)
        self.flushInterval = flushInterval
        self.pollInterval = pollInterval
        self.backoff = backoff
        // Whatever is pending at start (a restart, a backfill) goes up at once.
        self.lastUpload = VoiceInstant(sinceOrigin: now.sinceOrigin - flushInterval)
    }

    /// Whether the last attempt failed and the schedule is backing off.
    var isBackingOff: Bool { retryAt != nil }

    func decide(pending: Int, now: VoiceInstant) -> Decision {
        if let retryAt, now < retryAt { return .wait(until: retryAt) }
        if pending >= minBatch { return .upload }
        let flushAt = lastUpload + flushInterval
        if pending > 0 && (now >= flushAt || retryAt != nil) { return .upload }
        return .wait(until: pending > 0 ? min(flushAt, now + pollInterval) : now + pollInterval)
    }

    /// Records a successful upload. When more rows were waiting (`more`: a backfill) the rest
    /// goes up at once instead of waiting for the flush interval.
    mutating func uploaded(now: VoiceInstant, more: Bool = false) {
        failures = 0
        retryAt = nil
        lastUpload = more ? VoiceInstant(sinceOrigin: now.sinceOrigin - flushInterval) : now
    }

    /// Records a failure; returns the delay before the next attempt.
    @discardableResult
    mutating func failed(now: VoiceInstant, random: Double) -> Duration {
        failures += 1
        let delay = backoff.delay(afterFailures: failures, random: random)
        retryAt = now + delay
        return delay
    }
}

/// Settings of the upstream sync.
public struct TelemetrySyncConfiguration: Sendable, Equatable {
    /// The store's SQLite file (the writer's).
    public var databasePath: String
    /// Upload as soon as this many rows are pending...
    public var minBatch = 500
    /// ...or whatever is pending, this long after the last upload.
    public var flushInterval: Duration = .seconds(5)
    /// How often to look for new rows.
    public var pollInterval: Duration = .seconds(1)
    /// The most rows in one upstream transaction.
    public var maxBatch = 5000
    /// Offline: 1 s doubling up to 5 min, with jitter.
    public var backoff = Backoff()

    public init(databasePath: String) { self.databasePath = databasePath }
}

/// Counters of the sync, for status displays and logs.
public struct TelemetrySyncStatistics: Sendable, Equatable {
    public var uploadedRows = 0
    public var uploadedBatches = 0
    public var failedAttempts = 0
    /// The last failure's message (nil once an upload succeeds again).
    public var lastError: String?
}

/// The upload service: reads unsynced rows from the store in sequence order, uploads them in
/// batches, and moves the store's `synced_seq` only after the upstream transaction committed.
///
/// A crash between the upstream commit and the local mark re-uploads that batch on restart,
/// which the upstream ignores (rows are keyed by device and row id). Blocking work (SQLite and
/// libpq) runs on a private serial queue, off the Swift concurrency pool.
public final class TelemetrySync: Service, @unchecked Sendable {
    // @unchecked: `store` and `upstream` are used only on `worker` (a serial queue); `stats`
    // is behind a mutex; the rest is immutable.

    public let configuration: TelemetrySyncConfiguration
    private let store: TelemetryStore
    private let upstream: any TelemetryUpstream
    private let clock: any VoiceClock
    private let logger: Logger
    private let random: @Sendable () -> Double
    private let worker = DispatchQueue(label: "voiced.telemetry.sync")
    private let stats = Mutex(TelemetrySyncStatistics())
    private let failureObserver = Mutex<(@Sendable (String) -> Void)?>(nil)

    /// Tells `observer` of the first failed upload of each outage (for `voicectl watch`).
    public func onUploadFailure(_ observer: @escaping @Sendable (String) -> Void) {
        failureObserver.withLock { $0 = observer }
    }

    /// `clock` times the batching and the backoff; `random` (0..<1) draws the jitter.
    public init(configuration: TelemetrySyncConfiguration, upstream: any TelemetryUpstream, clock: any VoiceClock,
                logger: Logger = Logger(label: "voiced.telemetry.sync"),
                random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }) throws {
        self.configuration = configuration
        self.store = try TelemetryStore(path: configuration.databasePath)
        self.upstream = upstream
        self.clock = clock
        self.logger = logger
        self.random = random
    }

    /// A sync to the Postgres described by `postgres`.
    public convenience init(configuration: TelemetrySyncConfiguration, postgres: PostgresUpstreamConfiguration,
                            clock: any VoiceClock, logger: Logger = Logger(label: "voiced.telemetry.sync")) throws {
        try self.init(configuration: configuration, upstream: PostgresUpstream(configuration: postgres), clock: clock,
                      logger: logger)
    }

    public var statistics: TelemetrySyncStatistics { stats.withLock { $0 } }

    /// Uploads batches until a graceful shutdown or cancellation; then, if the server was
    /// reachable, uploads what is left once more before returning.
    public func run() async throws {
        let schedule = await cancelWhenGracefulShutdown { [self] in await loop() }
        if !schedule.isBackingOff {
            do {
                _ = try await drain()
            } catch {
                logger.warning("telemetry sync: final upload failed; rows stay queued", metadata: ["error": "\(error)"])
            }
        }
        await onWorker { [self] in upstream.disconnect() }
    }

    private func loop() async -> SyncSchedule {
        var schedule = SyncSchedule(
            minBatch: configuration.minBatch, flushInterval: configuration.flushInterval,
            pollInterval: configuration.pollInterval, backoff: configuration.backoff, now: clock.now)
        while !Task.isCancelled {
            let decision: SyncSchedule.Decision
            do {
                let pending = try await onWorker { [self] in try store.pendingCount() }
                decision = schedule.decide(pending: pending, now: clock.now)
            } catch {
                logger.error("telemetry sync: cannot read the store", metadata: ["error": "\(error)"])
                decision = .wait(until: clock.now + schedule.failed(now: clock.now, random: random()))
            }
            switch decision {
            case .upload:
                do {
                    let upload = try await onWorker { [self] in try uploadBatchNow() }
                    if schedule.isBackingOff { logger.notice("telemetry sync: upstream reachable again") }
                    schedule.uploaded(now: clock.now, more: upload.hasMore)
                } catch {
                    let delay = schedule.failed(now: clock.now, random: random())
                    // One warning per outage, then debug: an offline speaker would fill the journal.
                    let level: Logger.Level = schedule.failures == 1 ? .warning : .debug
                    logger.log(level: level, "telemetry sync: upload failed; backing off", metadata: [
                        "error": "\(error)", "retry_in_ms": "\(delay.wholeMilliseconds)",
                        "failures": "\(schedule.failures)",
                    ])
                    if schedule.failures == 1, let observer = failureObserver.withLock({ $0 }) {
                        observer("telemetry sync: upload failed (\(error)); retrying in \(delay.wholeMilliseconds) ms")
                    }
                }
            case .wait(let deadline):
                if Task.isCancelled { return schedule }
                do { try await clock.sleep(until: deadline) } catch { return schedule }
            }
        }
        return schedule
    }

    /// Uploads one batch (up to ``TelemetrySyncConfiguration/maxBatch`` rows); returns its size, 0 when nothing was pending.
    @discardableResult
    public func uploadBatch() async throws -> Int {
        try await onWorker { [self] in try uploadBatchNow().rows }
    }

    /// Uploads until nothing is pending; returns the rows uploaded.
    @discardableResult
    public func drain() async throws -> Int {
        var total = 0
        while true {
            let count = try await uploadBatch()
            if count == 0 { return total }
            total += count
        }
    }

    /// Rows waiting for upload.
    public func pendingCount() async throws -> Int { try await onWorker { [self] in try store.pendingCount() } }

    private func uploadBatchNow() throws -> (rows: Int, hasMore: Bool) {
        let batch = try store.nextBatch(limit: configuration.maxBatch)
        guard !batch.isEmpty else { return (0, false) }
        do {
            try upstream.upload(batch)
        } catch {
            stats.withLock {
                $0.failedAttempts += 1
                $0.lastError = "\(error)"
            }
            throw error
        }
        // Only now is the batch committed upstream.
        try store.markSynced(through: batch.throughSeq)
        stats.withLock {
            $0.uploadedRows += batch.count
            $0.uploadedBatches += 1
            $0.lastError = nil
        }
        logger.debug("telemetry sync: batch uploaded", metadata: [
            "rows": "\(batch.count)", "through_seq": "\(batch.throughSeq)",
        ])
        return (batch.count, batch.hasMore)
    }

    private func onWorker<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            worker.async { continuation.resume(with: Result { try body() }) }
        }
    }

    private func onWorker(_ body: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { continuation in
            worker.async {
                body()
                continuation.resume()
            }
        }
    }
}
