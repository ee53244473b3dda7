import Dispatch
import FoundationEssentials
import Logging
import ServiceLifecycle
import Synchronization
import VoiceCore
import VoiceSupport

/// Settings of the on-device store's writer.
public struct TelemetryWriterConfiguration: Sendable, Equatable {
    /// The SQLite file (its `-wal` and `-shm` files sit beside it).
    public var databasePath: String
    /// Events the queue holds before it drops telemetry samples (turns and sessions are never dropped).
    public var queueCapacity: Int = 4096
    /// The size bound of the rows, in bytes (default 64 MiB).
    public var sizeLimitBytes: Int64 = 64 << 20
    /// What a commit survives; see docs/telemetry.md for the measurement behind the default.
    public var durability: TelemetryDurability = .full
    /// Turns, LLM calls, sessions and debounce changes of failed writes kept for the next attempt;
    /// past this many the oldest are lost (and each is logged).
    public var retryCapacity: Int = 4096
    /// The wait before retrying a failed write; it doubles after each failure, up to `maxRetryInterval`.
    public var retryInterval: Duration = .seconds(1)
    public var maxRetryInterval: Duration = .seconds(30)

    public init(databasePath: String) { self.databasePath = databasePath }
}

/// What the sink was told, queued for the writer thread.
enum TelemetryEvent: Sendable {
    case sessionStarted(String, VoiceInstant)
    case sessionEnded(String, VoiceInstant)
    case turn(TurnRecord, sessionID: String)
    case snapshot(TelemetrySnapshot, VoiceInstant)
    case debounce(Duration, sessionID: String?, VoiceInstant)
    case sample(String, Double, sessionID: String?, VoiceInstant)

    /// Telemetry samples may be dropped when the queue is full; turns, sessions and the debounce may not.
    var isDroppable: Bool {
        switch self {
        case .snapshot, .sample: true
        case .sessionStarted, .sessionEnded, .turn, .debounce: false
        }
    }
}

/// The writer's bounded queue: past `capacity`, droppable events are refused and counted.
struct WriterQueue {
    let capacity: Int
    private(set) var events: [TelemetryEvent] = []
    /// Events dropped since the last drain.
    private(set) var dropped = 0

    init(capacity: Int) { self.capacity = max(1, capacity) }

    /// Adds `event`; false when it was dropped.
    mutating func offer(_ event: TelemetryEvent) -> Bool {
        if event.isDroppable && events.count >= capacity {
            dropped += 1
            return false
        }
        events.append(event)
        return true
    }

    /// Takes everything queued and the drop count.
    mutating func drain() -> (events: [TelemetryEvent], dropped: Int) {
        defer {
            events.removeAll(keepingCapacity: true)
            dropped = 0
        }
        return (events, dropped)
    }
}

/// When the next durability point is due under `synchronous=NORMAL` (times since the writer started).
struct DurabilityTimer: Equatable {
    let interval: Duration
    /// Set by the first commit that is not yet durable.
    private(set) var deadline: Duration?

    init(interval: Duration) { self.interval = interval }

    mutating func committed(at now: Duration) {
        if deadline == nil { deadline = now + interval }
    }

    func isDue(at now: Duration) -> Bool { deadline.map { now >= $0 } ?? false }

    mutating func madeDurable() { deadline = nil }
}

/// The UUIDs of the rows one transaction committed.
public struct TelemetryCommit: Sendable, Equatable {
    public var sessions: [String] = []
    public var turns: [String] = []
    public var llmCalls: [String] = []
    public var samples: [String] = []

    public var count: Int { sessions.count + turns.count + llmCalls.count + samples.count }
}

/// Counters of the writer, for status displays and logs.
public struct TelemetryWriterStatistics: Sendable, Equatable {
    /// Rows committed since start.
    public var committedRows = 0
    /// Telemetry samples refused because the queue was full.
    public var droppedSamples = 0
    /// Rows already uploaded that the size bound removed.
    public var evictedSyncedRows = 0
    /// Samples never uploaded that the size bound removed.
    public var evictedUnsyncedSamples = 0
    /// Transactions that failed (their turns, calls and sessions are kept and retried).
    public var failedWrites = 0
    /// Writes attempted again with events of an earlier failed write.
    public var retriedWrites = 0
    /// Events kept for a retry right now.
    public var pendingRetry = 0
    /// Turns, sessions and debounce changes lost: the retry queue overflowed, or the store still
    /// failed at shutdown. Each loss is logged with its cause.
    public var lostEvents = 0

    /// The counters as `voicectl status` shows them, in order.
    public var statusFields: [(String, Int)] {
        [("committed_rows", committedRows), ("failed_writes", failedWrites), ("retried_writes", retriedWrites),
         ("pending_retry", pendingRetry), ("lost_events", lostEvents), ("dropped_samples", droppedSamples)]
    }
}

/// Events of failed writes, kept for the next attempt, oldest first; samples are not kept.
struct RetryQueue {
    let capacity: Int
    private(set) var events: [TelemetryEvent] = []

    init(capacity: Int) { self.capacity = max(1, capacity) }

    var isEmpty: Bool { events.isEmpty }

    /// Keeps the events that may not be dropped (in order, after those already kept); returns the
    /// samples given up and the oldest kept events pushed out by the bound.
    mutating func keep(_ failed: [TelemetryEvent]) -> (droppedSamples: Int, lost: [TelemetryEvent]) {
        let kept = failed.filter { !$0.isDroppable }
        events += kept
        let overflow = max(0, events.count - capacity)
        let lost = Array(events.prefix(overflow))
        events.removeFirst(overflow)
        return (failed.count - kept.count, lost)
    }

    /// Takes everything kept (for an attempt).
    mutating func take() -> [TelemetryEvent] {
        defer { events = [] }
        return events
    }
}

/// The writer service of the on-device store, and the daemon's ``TelemetrySink``.
///
/// The sink methods only append to a bounded queue under a lock and wake the writer: they never
/// touch SQLite, so the turn engine and the audio threads never wait on the disk. A dedicated
/// thread (not the Swift concurrency pool: an fsync may take tens of milliseconds on an SD card)
/// writes everything queued in one transaction, then enforces the size bound. `run()` starts that
/// thread and, on graceful shutdown or cancellation, writes what is left before returning.
public final class TelemetryWriter: TelemetrySink, Service, @unchecked Sendable {
    // @unchecked: `inbox`, `stats` and `finish` are behind mutexes; `store`, `builder`,
    // `openSessions` and `durability` are used only by the writer thread (the store is opened in
    // init, before the thread exists, and the thread starts once).

    private struct Inbox {
        var queue: WriterQueue
        var stopping = false
        var started = false
    }

    private struct Finish {
        var done = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    public let configuration: TelemetryWriterConfiguration
    /// The adaptive debounce recorded before the last shutdown (nil on a fresh store).
    public let persistedDebounce: Duration?

    private let inbox: Mutex<Inbox>
    private let stats = Mutex(TelemetryWriterStatistics())
    private let finish = Mutex(Finish())
    private let wake = DispatchSemaphore(value: 0)
    private let store: TelemetryStore
    private let builder: RowBuilder
    private let logger: Logger
    private let onCommit: (@Sendable (TelemetryCommit) -> Void)?
    private var openSessions: [String: SessionRow] = [:]
    private var durability: DurabilityTimer?
    private var retry: RetryQueue
    /// When the next retry is due (writer thread, times since it started), and the wait after it.
    private var retryDeadline: Duration?
    private var retryDelay: Duration
    /// Sees each write attempt's outcome on the writer thread (tests wait on it).
    var attemptObserver: (@Sendable (_ succeeded: Bool) -> Void)?

    /// Opens (or creates) the store. `origin` is the wall-clock time of the daemon clock's
    /// origin: a row's time is `origin + instant.sinceOrigin`. `onCommit` runs on the writer
    /// thread after each commit returns (the crash test prints what it is given).
    public init(configuration: TelemetryWriterConfiguration, origin: Date, logger: Logger = Logger(label: "voiced.telemetry"),
                onCommit: (@Sendable (TelemetryCommit) -> Void)? = nil) throws {
        self.configuration = configuration
        self.logger = logger
        self.onCommit = onCommit
        self.store = try TelemetryStore(path: configuration.databasePath, durability: configuration.durability)
        self.persistedDebounce = try store.persistedDebounceMs().map { .milliseconds($0) }
        self.inbox = Mutex(Inbox(queue: WriterQueue(capacity: configuration.queueCapacity)))
        self.builder = RowBuilder(
            originMillis: Int64((origin.timeIntervalSince1970 * 1000).rounded()),
            makeID: { UUID().uuidString.lowercased() })
        if case .normal(let interval) = configuration.durability { durability = DurabilityTimer(interval: interval) }
        retry = RetryQueue(capacity: configuration.retryCapacity)
        retryDelay = configuration.retryInterval
        // Sessions a previous run left open (a crash, a power cut) are closed now, before this run
        // opens its own: at the last moment the store saw them alive, as `crashed`.
        for closed in try store.closeOpenSessions(status: .crashed) {
            logger.warning("the previous session did not end cleanly; recorded as crashed", metadata: [
                "session": "\(closed.label)", "turns": "\(closed.totalTurns)",
            ])
        }
    }

    /// The counters so far.
    public var statistics: TelemetryWriterStatistics { stats.withLock { $0 } }

    // MARK: - TelemetrySink

    public func sessionStarted(_ sessionID: String, at instant: VoiceInstant) { offer(.sessionStarted(sessionID, instant)) }
    public func sessionEnded(_ sessionID: String, at instant: VoiceInstant) { offer(.sessionEnded(sessionID, instant)) }
    public func turnFinished(_ record: TurnRecord, sessionID: String) { offer(.turn(record, sessionID: sessionID)) }
    public func snapshot(_ snapshot: TelemetrySnapshot, at instant: VoiceInstant) { offer(.snapshot(snapshot, instant)) }

    public func debounceChanged(to value: Duration, sessionID: String?, at instant: VoiceInstant) {
        offer(.debounce(value, sessionID: sessionID, instant))
    }

    public func sample(_ name: String, value: Double, sessionID: String?, at instant: VoiceInstant) {
        offer(.sample(name, value, sessionID: sessionID, instant))
    }

    private func offer(_ event: TelemetryEvent) {
        let accepted = inbox.withLock { $0.queue.offer(event) }
        if accepted { wake.signal() }
    }

    // MARK: - Service

    /// Starts the writer thread, waits for graceful shutdown (or cancellation), then writes what
    /// is queued and returns.
    public func run() async throws {
        start()
        try? await gracefulShutdown()
        await stop()
    }

    /// Starts the writer thread (once; `run()` calls it).
    public func start() {
        let first = inbox.withLock { inbox -> Bool in
            defer { inbox.started = true }
            return !inbox.started
        }
        guard first else { return }
        do {
            // The OS thread's name (`top -H`): at most 15 bytes.
            try NamedThread.detach(name: "voiced-sqlite") { [self] in threadMain() }
        } catch {
            logger.error("the telemetry writer thread cannot start; nothing is recorded", metadata: ["error": "\(error)"])
            finished()
        }
    }

    /// Writes everything queued (starting the thread if `start()` was never called), stops the
    /// writer thread and waits for it.
    public func stop() async {
        inbox.withLock { $0.stopping = true }
        start()
        wake.signal()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = finish.withLock { state -> Bool in
                if state.done { return true }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    // MARK: - The writer thread

    private func threadMain() {
        let clock = ContinuousClock()
        let start = clock.now
        while true {
            if let deadline = [durability?.deadline, retryDeadline].compactMap({ $0 }).min() {
                let remaining = deadline - (clock.now - start)
                let nanoseconds = max(0, remaining.components.seconds * 1_000_000_000 + remaining.components.attoseconds / 1_000_000_000)
                _ = wake.wait(timeout: .now() + .nanoseconds(Int(min(nanoseconds, Int64(Int.max)))))
            } else {
                wake.wait()
            }
            let (events, dropped, stopping) = inbox.withLock { inbox in
                let drained = inbox.queue.drain()
                return (drained.events, drained.dropped, inbox.stopping)
            }
            let retryDue = retryDeadline.map { clock.now - start >= $0 } ?? false
            if !events.isEmpty || dropped > 0 || retryDue || (stopping && !retry.isEmpty) {
                // Kept events first: they are older, and a session must be written before its turns.
                let retrying = !retry.isEmpty
                let batch = retry.take() + events
                if retrying { stats.withLock { $0.retriedWrites += 1 } }
                if write(batch, dropped: dropped) {
                    durability?.committed(at: clock.now - start)
                    retryDeadline = nil
                    retryDelay = configuration.retryInterval
                } else if stopping {
                    lose(retry.take(), cause: "the store still fails at shutdown")
                } else {
                    retryDeadline = clock.now - start + retryDelay
                    retryDelay = min(retryDelay * 2, configuration.maxRetryInterval)
                }
                stats.withLock { $0.pendingRetry = retry.events.count }
            }
            if let timer = durability, timer.isDue(at: clock.now - start) || (stopping && timer.deadline != nil) {
                makeDurable()
            }
            if stopping, inbox.withLock({ $0.queue.events.isEmpty && $0.queue.dropped == 0 }) { break }
        }
        finished()
    }

    /// Releases everyone waiting in ``stop()``: the writer thread has ended (or never started).
    private func finished() {
        let waiters = finish.withLock { state in
            state.done = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    private static func wallNow() -> UnixMillis { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

    private func makeDurable() {
        do {
            try store.durabilityPoint(wallMillis: Self.wallNow())
            durability?.madeDurable()
        } catch {
            logger.error("telemetry durability point failed", metadata: ["error": "\(error)"])
        }
    }

    /// Writes `events` in one transaction; false when it failed (what may not be dropped is then kept in `retry`).
    @discardableResult
    private func write(_ events: [TelemetryEvent], dropped: Int) -> Bool {
        var commit = TelemetryCommit()
        let sessionsBefore = openSessions
        do {
            try store.write { store in
                for event in events { try apply(event, to: store, commit: &commit) }
                if dropped > 0 {
                    try store.addToCounter("dropped_samples", Int64(dropped))
                    let row = SampleRow(id: builder.makeID(), sessionID: nil, name: "telemetry.dropped_samples",
                                        value: Double(dropped), recordedAt: Self.wallNow())
                    try store.insert(row)
                    commit.samples.append(row.id)
                }
            }
        } catch {
            openSessions = sessionsBefore
            let (samples, lost) = retry.keep(events)
            stats.withLock {
                $0.failedWrites += 1
                $0.droppedSamples += dropped + samples
            }
            logger.warning("telemetry write failed; turns and sessions kept for a retry, samples dropped", metadata: [
                "error": "\(error)", "events": "\(events.count)", "kept": "\(retry.events.count)",
                "dropped_samples": "\(dropped + samples)",
            ])
            lose(lost, cause: "the retry queue is full (\(configuration.retryCapacity) events) and the store fails: \(error)")
            attemptObserver?(false)
            return false
        }
        stats.withLock {
            $0.committedRows += commit.count
            $0.droppedSamples += dropped
        }
        if dropped > 0 {
            logger.warning("telemetry queue full; samples dropped", metadata: ["dropped": "\(dropped)"])
        }
        onCommit?(commit)
        attemptObserver?(true)
        enforceSizeLimit()
        return true
    }

    /// Gives up events that may not be dropped: each loss is counted and logged with its cause.
    private func lose(_ events: [TelemetryEvent], cause: String) {
        guard !events.isEmpty else { return }
        stats.withLock { $0.lostEvents += events.count }
        for event in events {
            var metadata: Logger.Metadata = ["cause": "\(cause)"]
            let what: String
            switch event {
            case .turn(let record, let session):
                what = "turn"
                metadata["session"] = "\(session)"
                metadata["turn"] = "\(record.turn)"
                metadata["llm_calls"] = "\(record.llmCalls.count)"
            case .sessionStarted(let session, _), .sessionEnded(let session, _):
                what = "session"
                metadata["session"] = "\(session)"
            case .debounce(_, let session, _):
                what = "debounce change"
                metadata["session"] = "\(session ?? "-")"
            case .snapshot, .sample:
                what = "sample"
            }
            logger.error("telemetry lost a \(what)", metadata: metadata)
        }
    }

    private func enforceSizeLimit() {
        do {
            let report = try store.enforceSizeLimit(configuration.sizeLimitBytes)
            guard !report.isEmpty || report.stillOverLimit else { return }
            stats.withLock {
                $0.evictedSyncedRows += report.syncedRows
                $0.evictedUnsyncedSamples += report.unsyncedSamples
            }
            let metadata: Logger.Metadata = [
                "synced_rows": "\(report.syncedRows)", "unsynced_samples": "\(report.unsyncedSamples)",
                "limit_bytes": "\(configuration.sizeLimitBytes)",
            ]
            if report.unsyncedSamples > 0 || report.stillOverLimit {
                logger.warning("telemetry store over its size bound; unsynced samples removed", metadata: metadata)
                // Tell the fleet too (this one sample is small enough not to matter to the bound).
                if report.unsyncedSamples > 0 {
                    let row = SampleRow(id: builder.makeID(), sessionID: nil, name: "telemetry.evicted_unsynced_samples",
                                        value: Double(report.unsyncedSamples), recordedAt: Self.wallNow())
                    try store.write { try $0.insert(row) }
                }
            } else {
                logger.info("telemetry store over its size bound; uploaded rows removed", metadata: metadata)
            }
        } catch {
            logger.error("telemetry size bound failed", metadata: ["error": "\(error)"])
        }
    }

    private func session(_ label: String, startingAt instant: VoiceInstant) -> SessionRow {
        if let open = openSessions[label] { return open }
        let row = SessionRow(id: builder.makeID(), label: label, startedAt: builder.wall(instant))
        openSessions[label] = row
        return row
    }

    private func apply(_ event: TelemetryEvent, to store: TelemetryStore, commit: inout TelemetryCommit) throws {
        switch event {
        case .sessionStarted(let label, let instant):
            // A second start of an open label ends the old session first.
            if var old = openSessions.removeValue(forKey: label) {
                old.endedAt = builder.wall(instant)
                old.status = SessionStatus.ended.rawValue
                try store.upsert(old)
            }
            let row = session(label, startingAt: instant)
            try store.upsert(row)
            commit.sessions.append(row.id)
        case .sessionEnded(let label, let instant):
            guard var row = openSessions.removeValue(forKey: label) else { return }
            row.endedAt = builder.wall(instant)
            row.status = SessionStatus.ended.rawValue
            try store.upsert(row)
            commit.sessions.append(row.id)
        case .turn(let record, let label):
            var session = session(label, startingAt: record.startedAt)
            let (turn, calls) = builder.turn(record, sessionID: session.id)
            try store.insert(turn)
            commit.turns.append(turn.id)
            for call in calls {
                try store.insert(call)
                commit.llmCalls.append(call.id)
            }
            // The session row carries the running turn count (a crash leaves it right).
            session.totalTurns += 1
            openSessions[label] = session
            try store.upsert(session)
            commit.sessions.append(session.id)
        case .snapshot(let snapshot, let instant):
            let sessionID = openSessions[snapshot.sessionID]?.id
            for row in builder.samples(snapshot, sessionID: sessionID, at: instant) where row.value.isFinite {
                try store.insert(row)
                commit.samples.append(row.id)
            }
        case .debounce(let value, let label, let instant):
            try store.setPersistedDebounce(milliseconds: value.wholeMilliseconds)
            let row = SampleRow(id: builder.makeID(), sessionID: label.flatMap { openSessions[$0]?.id },
                                name: "debounce_ms", value: Double(value.wholeMilliseconds), recordedAt: builder.wall(instant))
            try store.insert(row)
            commit.samples.append(row.id)
        case .sample(let name, let value, let label, let instant):
            guard value.isFinite else { return }
            let row = SampleRow(id: builder.makeID(), sessionID: label.flatMap { openSessions[$0]?.id },
                                name: name, value: value, recordedAt: builder.wall(instant))
            try store.insert(row)
            commit.samples.append(row.id)
        }
    }
}
