import CSQLite

/// How hard a commit tries to survive a power cut (a killed process loses nothing either way:
/// a committed transaction is in the WAL file, which the kernel keeps).
public enum TelemetryDurability: Equatable, Sendable {
    /// `synchronous=FULL`: the WAL is fsynced at every commit; nothing committed is ever lost.
    case full
    /// `synchronous=NORMAL`, with a durability point (one fsynced commit) at most `interval`
    /// after any commit: a power cut loses at most the last `interval` of writes.
    case normal(durabilityInterval: Duration)
}

/// What the size bound removed in one pass.
public struct EvictionReport: Equatable, Sendable {
    /// Rows already uploaded (any table), oldest first.
    public var syncedRows = 0
    /// Telemetry samples not yet uploaded: lost for the fleet.
    public var unsyncedSamples = 0
    /// Whether the store is still over its bound (only unsynced turns, calls and sessions are left).
    public var stillOverLimit = false

    public var isEmpty: Bool { syncedRows == 0 && unsyncedSamples == 0 }
}

/// The on-device SQLite store of sessions, turns, LLM calls and telemetry samples.
///
/// One instance per connection and per thread: the writer service owns one, the sync service
/// another (WAL mode lets the sync read while the writer writes). Every row carries a UUID and a
/// local sequence number taken from one counter for all four tables, so "everything up to
/// sequence N is uploaded" is one number (`synced_seq` in `meta`).
public final class TelemetryStore {
    let db: SQLiteDatabase
    /// The schema version this code writes (`PRAGMA user_version`).
    public static let schemaVersion: Int64 = 2

    private var nextSeq: Int64 = 1
    private let insertSession: SQLiteStatement
    private let insertTurn: SQLiteStatement
    private let insertCall: SQLiteStatement
    private let insertSample: SQLiteStatement
    private let setMetaStatement: SQLiteStatement

    static let insertSessionSQL = ("""
        INSERT INTO sessions (seq, id, label, started_at, ended_at, total_turns, status) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, ended_at = excluded.ended_at, total_turns = excluded.total_turns,
                                       status = excluded.status
        """)
    static let insertTurnSQL = ("""
        INSERT INTO turns (seq, id, session_id, turn_number, user_text, spoken_text, states, started_at, completed_at,
                           interrupted, status, latency_ms, debounce_ms, latencies)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """)
    static let insertCallSQL = ("""
        INSERT INTO llm_calls (seq, id, turn_id, call_number, status, reason, tokens, prompt_tokens, latency_ms,
                               first_token_ms, created_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """)
    static let insertSampleSQL = (
        "INSERT INTO telemetry (seq, id, session_id, name, value, recorded_at) VALUES (?, ?, ?, ?, ?, ?)")
    static let setMetaSQL = (
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")

    /// Opens the store at `path`, creating or migrating its schema, in WAL mode.
    public init(path: String, durability: TelemetryDurability = .full) throws {
        db = try SQLiteDatabase(path: path)
        // The writer and the sync share the file: wait for the other's short transactions.
        try db.setBusyTimeout(milliseconds: 10_000)
        // Only a new, empty file takes auto_vacuum (before WAL mode writes its first page);
        // INCREMENTAL lets the size bound hand freed pages back to the file system.
        if try db.scalarInt("PRAGMA user_version") == 0 { try db.execute("PRAGMA auto_vacuum = INCREMENTAL") }
        try db.execute("PRAGMA journal_mode = WAL")
        // The WAL is checkpointed every ~4 MiB; this truncates it back afterwards, so the
        // size bound (which counts the main file) is not undone by a large idle WAL.
        try db.execute("PRAGMA journal_size_limit = \(8 << 20)")
        try db.execute("PRAGMA synchronous = \(durability == .full ? "FULL" : "NORMAL")")
        try Self.migrate(db)
        insertSession = try db.prepare(Self.insertSessionSQL)
        insertTurn = try db.prepare(Self.insertTurnSQL)
        insertCall = try db.prepare(Self.insertCallSQL)
        insertSample = try db.prepare(Self.insertSampleSQL)
        setMetaStatement = try db.prepare(Self.setMetaSQL)
        nextSeq = try loadNextSeq()
    }

    enum Synchronous: String { case full = "FULL", normal = "NORMAL" }

    /// Changes `synchronous` for the following commits (outside a transaction).
    func setSynchronous(_ mode: Synchronous) throws { try db.execute("PRAGMA synchronous = \(mode.rawValue)") }

    // MARK: - Schema

    /// The migrations, in order: migration `i` takes `user_version` from `i` to `i + 1`.
    static let migrations: [String] = [
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
        CREATE TABLE sessions (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            label TEXT NOT NULL,
            started_at INTEGER NOT NULL,
            ended_at INTEGER,
            total_turns INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE turns (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL,
            session_id TEXT NOT NULL,
            turn_number INTEGER NOT NULL,
            user_text TEXT NOT NULL,
            spoken_text TEXT NOT NULL,
            states TEXT NOT NULL,
            started_at INTEGER NOT NULL,
            completed_at INTEGER,
            interrupted INTEGER NOT NULL,
            status TEXT NOT NULL,
            latency_ms INTEGER,
            debounce_ms INTEGER NOT NULL,
            latencies TEXT NOT NULL
        );
        CREATE TABLE llm_calls (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL,
            turn_id TEXT NOT NULL,
            call_number INTEGER NOT NULL,
            status TEXT NOT NULL,
            reason TEXT,
            tokens INTEGER NOT NULL,
            prompt_tokens INTEGER,
            latency_ms INTEGER,
            first_token_ms INTEGER,
            created_at INTEGER NOT NULL
        );
        CREATE TABLE telemetry (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL,
            session_id TEXT,
            name TEXT NOT NULL,
            value REAL NOT NULL,
            recorded_at INTEGER NOT NULL
        );
        INSERT INTO meta (key, value) VALUES ('next_seq', 1), ('synced_seq', 0);
        """,
        // 2: how each session ended (open / ended / crashed).
        """
        ALTER TABLE sessions ADD COLUMN status TEXT NOT NULL DEFAULT 'open';
        UPDATE sessions SET status = 'ended' WHERE ended_at IS NOT NULL;
        """,
    ]

    private static func migrate(_ db: SQLiteDatabase) throws {
        func userVersion() throws -> Int64 { try db.scalarInt("PRAGMA user_version") ?? 0 }
        try db.transaction {
            // Read inside the write transaction: a second connection migrating at the same time waits here.
            let version = try userVersion()
            guard version <= Int64(Self.migrations.count) else {
                throw TelemetryStoreError.newerSchema(found: version, known: Int64(Self.migrations.count))
            }
            for index in Int(version)..<Self.migrations.count {
                try db.execute(Self.migrations[index])
                try db.execute("PRAGMA user_version = \(index + 1)")
            }
        }
    }

    /// The schema version of the file (`PRAGMA user_version`).
    public func userVersion() throws -> Int64 { try db.scalarInt("PRAGMA user_version") ?? 0 }

    private func loadNextSeq() throws -> Int64 {
        // The counter in meta survives eviction of every row; the max over tables guards a lost meta row.
        var next = max(try meta("next_seq") ?? 1, (try meta("synced_seq") ?? 0) + 1)
        for table in Self.tables {
            next = max(next, (try db.scalarInt("SELECT max(seq) FROM \(table)") ?? 0) + 1)
        }
        return next
    }

    static let tables = ["sessions", "turns", "llm_calls", "telemetry"]

    // MARK: - Meta

    func meta(_ key: String) throws -> Int64? {
        try db.scalarInt("SELECT value FROM meta WHERE key = ?", [.text(key)])
    }

    func setMeta(_ key: String, _ value: Int64) throws {
        try setMetaStatement.run([.text(key), .integer(value)])
    }

    /// The adaptive debounce last recorded, in milliseconds (kept across restarts).
    public func persistedDebounceMs() throws -> Int64? { try meta("debounce_ms") }

    /// Every row with a sequence number up to this one has been uploaded.
    public func syncedSeq() throws -> Int64 { try meta("synced_seq") ?? 0 }

    /// A counter kept in `meta` (drops, evictions), 0 when never set.
    public func counter(_ name: String) throws -> Int64 { try meta(name) ?? 0 }

    // MARK: - Writing (the writer's connection)

    /// Runs `body` in one write transaction; the sequence counter is saved with it.
    @discardableResult
    public func write<T>(_ body: (TelemetryStore) throws -> T) throws -> T {
        let start = nextSeq
        do {
            return try db.transaction {
                let value = try body(self)
                if nextSeq != start { try setMeta("next_seq", nextSeq) }
                return value
            }
        } catch {
            nextSeq = start
            throw error
        }
    }

    private func takeSeq() -> Int64 {
        defer { nextSeq += 1 }
        return nextSeq
    }

    /// Inserts or updates a session (an update takes a new sequence number, so it is uploaded again).
    @discardableResult
    public func upsert(_ session: SessionRow) throws -> Int64 {
        let statement = insertSession
        let seq = takeSeq()
        try statement.run([
            .integer(seq), .text(session.id), .text(session.label), .integer(session.startedAt),
            SQLiteValue(session.endedAt), .integer(Int64(session.totalTurns)), .text(session.status),
        ])
        return seq
    }

    /// Closes every session still open, as `status`, at the last moment the store saw it alive
    /// (its latest turn or sample, else its start). Each takes a new sequence number, so the end is
    /// uploaded too. Call before opening a new session: the writer does at start.
    @discardableResult
    public func closeOpenSessions(status: SessionStatus) throws -> [SessionRow] {
        try write { store in
            let open = try store.db.prepare("""
                SELECT s.id, s.label, s.started_at, s.total_turns,
                       max(s.started_at,
                           coalesce((SELECT max(coalesce(t.completed_at, t.started_at)) FROM turns t WHERE t.session_id = s.id), 0),
                           coalesce((SELECT max(x.recorded_at) FROM telemetry x WHERE x.session_id = s.id), 0))
                FROM sessions s WHERE s.ended_at IS NULL ORDER BY s.seq
                """)
            try open.bind([])
            var rows: [SessionRow] = []
            while try open.step() {
                rows.append(SessionRow(id: open.text(0), label: open.text(1), startedAt: open.int64(2),
                                       endedAt: open.int64(4), totalTurns: Int(open.int64(3)), status: status.rawValue))
            }
            for row in rows { try store.upsert(row) }
            return rows
        }
    }

    @discardableResult
    public func insert(_ turn: TurnRow) throws -> Int64 {
        let statement = insertTurn
        let seq = takeSeq()
        try statement.run([
            .integer(seq), .text(turn.id), .text(turn.sessionID), .integer(Int64(turn.turnNumber)),
            .text(turn.userText), .text(turn.spokenText), .text(turn.statesJSON), .integer(turn.startedAt),
            SQLiteValue(turn.completedAt), .integer(turn.interrupted ? 1 : 0), .text(turn.status),
            SQLiteValue(turn.latencyMs), .integer(turn.debounceMs), .text(turn.latenciesJSON),
        ])
        return seq
    }

    @discardableResult
    public func insert(_ call: LLMCallRow) throws -> Int64 {
        let statement = insertCall
        let seq = takeSeq()
        try statement.run([
            .integer(seq), .text(call.id), .text(call.turnID), .integer(Int64(call.callNumber)), .text(call.status),
            SQLiteValue(call.reason), .integer(Int64(call.tokens)), SQLiteValue(call.promptTokens.map(Int64.init)),
            SQLiteValue(call.latencyMs), SQLiteValue(call.firstTokenMs), .integer(call.createdAt),
        ])
        return seq
    }

    /// Inserts a sample (non-finite values have no SQL form and are refused).
    @discardableResult
    public func insert(_ sample: SampleRow) throws -> Int64 {
        guard sample.value.isFinite else { throw TelemetryStoreError.nonFiniteValue(sample.name) }
        let statement = insertSample
        let seq = takeSeq()
        try statement.run([
            .integer(seq), .text(sample.id), SQLiteValue(sample.sessionID), .text(sample.name),
            .real(sample.value), .integer(sample.recordedAt),
        ])
        return seq
    }

    /// Keeps the adaptive debounce for the next start.
    public func setPersistedDebounce(milliseconds: Int64) throws { try setMeta("debounce_ms", milliseconds) }

    /// Adds to a counter kept in `meta`.
    public func addToCounter(_ name: String, _ amount: Int64) throws {
        guard amount != 0 else { return }
        try setMeta(name, try counter(name) + amount)
    }

    /// A durability point under `synchronous=NORMAL`: one small commit made with FULL, which
    /// fsyncs the WAL and with it every commit before.
    public func durabilityPoint(wallMillis: UnixMillis) throws {
        try setSynchronous(.full)
        defer { try? setSynchronous(.normal) }
        try db.transaction { try setMeta("durable_at", wallMillis) }
    }

    // MARK: - Size bound

    /// Bytes the rows take: pages in use (the file less its free pages) times the page size.
    public func usedBytes() throws -> Int64 {
        let pageSize = try db.scalarInt("PRAGMA page_size") ?? 4096
        let pages = try db.scalarInt("PRAGMA page_count") ?? 0
        let free = try db.scalarInt("PRAGMA freelist_count") ?? 0
        return (pages - free) * pageSize
    }

    /// Brings the store under `limit` bytes (down to `target`): first rows already uploaded,
    /// oldest first, whatever their table; then telemetry samples not yet uploaded, oldest first.
    /// Turns, LLM calls and sessions not yet uploaded are never removed.
    public func enforceSizeLimit(_ limit: Int64, target: Int64? = nil, chunk: Int = 500) throws -> EvictionReport {
        var report = EvictionReport()
        guard try usedBytes() > limit else { return report }
        let goal = target ?? limit - limit / 10
        let synced = try syncedSeq()
        // Phase 1: uploaded rows, oldest first across tables, in chunks up to a sequence cutoff.
        while try usedBytes() > goal {
            let union = Self.tables.map { "SELECT seq FROM \($0) WHERE seq <= ?1" }.joined(separator: " UNION ALL ")
            let cutoffStatement = try db.prepare("SELECT seq FROM (\(union)) ORDER BY seq LIMIT 1 OFFSET ?2")
            try cutoffStatement.bind([.integer(synced), .integer(Int64(chunk - 1))])
            let cutoff = try cutoffStatement.step() ? cutoffStatement.int64(0) : synced
            var removed = 0
            try db.transaction {
                for table in Self.tables {
                    try db.prepare("DELETE FROM \(table) WHERE seq <= ?").run([.integer(min(cutoff, synced))])
                    removed += db.changes
                }
            }
            report.syncedRows += removed
            try db.execute("PRAGMA incremental_vacuum")
            if removed == 0 { break }
        }
        // Phase 2: telemetry samples not uploaded yet, oldest first.
        while try usedBytes() > goal {
            var removed = 0
            try db.transaction {
                try db.prepare("DELETE FROM telemetry WHERE seq IN (SELECT seq FROM telemetry WHERE seq > ? ORDER BY seq LIMIT ?)")
                    .run([.integer(synced), .integer(Int64(chunk))])
                removed = db.changes
            }
            report.unsyncedSamples += removed
            try db.execute("PRAGMA incremental_vacuum")
            if removed == 0 { break }
        }
        report.stillOverLimit = try usedBytes() > limit
        if !report.isEmpty {
            try db.transaction {
                try addToCounter("evicted_synced_rows", Int64(report.syncedRows))
                try addToCounter("evicted_unsynced_samples", Int64(report.unsyncedSamples))
            }
        }
        return report
    }

    // MARK: - Reading (the sync's connection)

    /// How many rows wait for upload.
    public func pendingCount() throws -> Int {
        let sum = Self.tables.map { "(SELECT count(*) FROM \($0) WHERE seq > ?1)" }.joined(separator: " + ")
        return Int(try db.scalarInt("SELECT \(sum)", [.integer(try syncedSeq())]) ?? 0)
    }

    /// The oldest unsynced rows, at most `limit` in all, in one consistent read.
    ///
    /// Each sequence number belongs to one row at most, so the range `(first - 1, first - 1 + limit]`
    /// from the oldest unsynced row holds at most `limit` rows: every table is read over exactly
    /// that range, and nothing read is thrown away. (Gaps left by rewritten sessions only make a
    /// batch a little smaller.)
    public func nextBatch(limit: Int) throws -> SyncBatch {
        try db.transaction(immediate: false) {
            let after = try syncedSeq()
            var batch = SyncBatch(throughSeq: after)
            var first: Int64?
            for table in Self.tables {
                if let seq = try db.scalarInt("SELECT min(seq) FROM \(table) WHERE seq > ?", [.integer(after)]) {
                    first = min(first ?? seq, seq)
                }
            }
            guard let first else { return batch }
            let cut = first - 1 + Int64(max(1, limit))
            let range: [SQLiteValue] = [.integer(after), .integer(cut)]
            var last = after

            let sessions = try db.prepare("""
                SELECT seq, id, label, started_at, ended_at, total_turns, status FROM sessions WHERE seq > ? AND seq <= ? ORDER BY seq
                """)
            try sessions.bind(range)
            while try sessions.step() {
                batch.sessions.append(SessionRow(
                    id: sessions.text(1), seq: sessions.int64(0), label: sessions.text(2), startedAt: sessions.int64(3),
                    endedAt: sessions.optionalInt64(4), totalTurns: Int(sessions.int64(5)), status: sessions.text(6)))
                last = max(last, sessions.int64(0))
            }
            let turns = try db.prepare("""
                SELECT seq, id, session_id, turn_number, user_text, spoken_text, states, started_at, completed_at,
                       interrupted, status, latency_ms, debounce_ms, latencies
                FROM turns WHERE seq > ? AND seq <= ? ORDER BY seq
                """)
            try turns.bind(range)
            while try turns.step() {
                batch.turns.append(TurnRow(
                    id: turns.text(1), seq: turns.int64(0), sessionID: turns.text(2), turnNumber: Int(turns.int64(3)),
                    userText: turns.text(4), spokenText: turns.text(5), statesJSON: turns.text(6),
                    startedAt: turns.int64(7), completedAt: turns.optionalInt64(8), interrupted: turns.int64(9) != 0,
                    status: turns.text(10), latencyMs: turns.optionalInt64(11), debounceMs: turns.int64(12),
                    latenciesJSON: turns.text(13)))
                last = max(last, turns.int64(0))
            }
            let calls = try db.prepare("""
                SELECT seq, id, turn_id, call_number, status, reason, tokens, prompt_tokens, latency_ms, first_token_ms,
                       created_at
                FROM llm_calls WHERE seq > ? AND seq <= ? ORDER BY seq
                """)
            try calls.bind(range)
            while try calls.step() {
                batch.llmCalls.append(LLMCallRow(
                    id: calls.text(1), seq: calls.int64(0), turnID: calls.text(2), callNumber: Int(calls.int64(3)),
                    status: calls.text(4), reason: calls.optionalText(5), tokens: Int(calls.int64(6)),
                    promptTokens: calls.optionalInt64(7).map { Int($0) }, latencyMs: calls.optionalInt64(8),
                    firstTokenMs: calls.optionalInt64(9), createdAt: calls.int64(10)))
                last = max(last, calls.int64(0))
            }
            let samples = try db.prepare("""
                SELECT seq, id, session_id, name, value, recorded_at FROM telemetry WHERE seq > ? AND seq <= ? ORDER BY seq
                """)
            try samples.bind(range)
            while try samples.step() {
                batch.samples.append(SampleRow(
                    id: samples.text(1), seq: samples.int64(0), sessionID: samples.optionalText(2),
                    name: samples.text(3), value: samples.double(4), recordedAt: samples.int64(5)))
                last = max(last, samples.int64(0))
            }
            // Rows committed later take higher sequence numbers than any read here.
            batch.throughSeq = last
            for table in Self.tables where !batch.hasMore {
                batch.hasMore = try db.scalarInt("SELECT 1 FROM \(table) WHERE seq > ? LIMIT 1", [.integer(cut)]) != nil
            }
            return batch
        }
    }

    /// Records that every row up to `seq` is upstream. Call only after the upstream commit.
    /// Never moves backwards (a stale batch from before a restart cannot undo progress).
    public func markSynced(through seq: Int64) throws {
        try db.transaction {
            if seq > (try syncedSeq()) { try setMeta("synced_seq", seq) }
        }
    }

    /// Every row's UUID per table (tests and the crash checker).
    public func allIDs(_ table: String) throws -> [String] {
        guard Self.tables.contains(table) else { throw TelemetryStoreError.unknownTable(table) }
        let statement = try db.prepare("SELECT id FROM \(table) ORDER BY seq")
        try statement.bind([])
        var ids: [String] = []
        while try statement.step() { ids.append(statement.text(0)) }
        return ids
    }

    /// Rows per table.
    public func count(_ table: String) throws -> Int {
        guard Self.tables.contains(table) else { throw TelemetryStoreError.unknownTable(table) }
        return Int(try db.scalarInt("SELECT count(*) FROM \(table)") ?? 0)
    }
}

/// Errors of the store beyond SQLite's own.
public enum TelemetryStoreError: Error, Equatable {
    /// The file was written by a newer voiced: refuse rather than guess.
    case newerSchema(found: Int64, known: Int64)
    case unknownTable(String)
    case nonFiniteValue(String)
}
