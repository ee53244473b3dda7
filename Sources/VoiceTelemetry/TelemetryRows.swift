import VoiceCore

/// Wall-clock times are whole milliseconds since the Unix epoch, in UTC.
public typealias UnixMillis = Int64

/// How a session stands: `open` while the daemon runs, `ended` after a clean stop, `crashed`
/// when the next start found it still open (a crash, a kill, a power cut).
public enum SessionStatus: String, Equatable, Sendable, CaseIterable {
    case open, ended, crashed
}

/// A session row: one run of the daemon's conversation.
public struct SessionRow: Equatable, Sendable {
    /// The row's UUID (lowercase text).
    public var id: String
    /// The local sequence number: global across the four tables, bumped when the row changes.
    public var seq: Int64 = 0
    /// The daemon's own name for the session (``TelemetryTracker/sessionID``).
    public var label: String
    public var startedAt: UnixMillis
    public var endedAt: UnixMillis?
    public var totalTurns: Int
    /// A ``SessionStatus`` raw value.
    public var status: String

    public init(id: String, seq: Int64 = 0, label: String, startedAt: UnixMillis, endedAt: UnixMillis? = nil, totalTurns: Int = 0,
                status: String = SessionStatus.open.rawValue) {
        self.status = status
        self.id = id
        self.seq = seq
        self.label = label
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.totalTurns = totalTurns
    }
}

/// A turn row.
public struct TurnRow: Equatable, Sendable {
    public var id: String
    public var seq: Int64 = 0
    public var sessionID: String
    /// The controller's turn number within the session.
    public var turnNumber: Int
    public var userText: String
    /// The agent's answer as it was spoken (up to an interruption).
    public var spokenText: String
    /// The state history, as a JSON array of `{"at", "from", "to", "cause"}` (times in Unix ms).
    public var statesJSON: String
    public var startedAt: UnixMillis
    public var completedAt: UnixMillis?
    public var interrupted: Bool
    public var status: String
    /// Speech end to first audio, in milliseconds.
    public var latencyMs: Int64?
    public var debounceMs: Int64
    /// Every latency of ``TurnLatencies`` that is known, as a JSON object.
    public var latenciesJSON: String
}

/// An LLM call row.
public struct LLMCallRow: Equatable, Sendable {
    public var id: String
    public var seq: Int64 = 0
    public var turnID: String
    public var callNumber: Int
    /// `completed`, `canceled`, `failed` (or `running` if the turn ended first).
    public var status: String
    public var reason: String?
    public var tokens: Int
    public var promptTokens: Int?
    public var latencyMs: Int64?
    public var firstTokenMs: Int64?
    public var createdAt: UnixMillis
}

/// A telemetry sample row: one figure at one time.
public struct SampleRow: Equatable, Sendable {
    public var id: String
    public var seq: Int64 = 0
    public var sessionID: String?
    public var name: String
    public var value: Double
    public var recordedAt: UnixMillis

    public init(id: String, seq: Int64 = 0, sessionID: String?, name: String, value: Double, recordedAt: UnixMillis) {
        self.id = id
        self.seq = seq
        self.sessionID = sessionID
        self.name = name
        self.value = value
        self.recordedAt = recordedAt
    }
}

/// Unsynced rows of every table, in sequence order, with the highest sequence number they cover.
public struct SyncBatch: Equatable, Sendable {
    public var sessions: [SessionRow] = []
    public var turns: [TurnRow] = []
    public var llmCalls: [LLMCallRow] = []
    public var samples: [SampleRow] = []
    /// Every row with a sequence number up to this one is in the batch (or in an earlier one).
    public var throughSeq: Int64
    /// Whether more rows were already waiting beyond the batch when it was read (a backfill).
    public var hasMore = false

    public var count: Int { sessions.count + turns.count + llmCalls.count + samples.count }
    public var isEmpty: Bool { count == 0 }
}

/// Turns the daemon's values (instants on its monotonic clock) into rows with wall-clock times.
struct RowBuilder {
    /// Wall-clock time of the daemon clock's origin, in Unix milliseconds.
    var originMillis: UnixMillis
    var makeID: () -> String

    func wall(_ instant: VoiceInstant) -> UnixMillis { originMillis + instant.milliseconds }

    func turn(_ record: TurnRecord, sessionID: String) -> (TurnRow, [LLMCallRow]) {
        let turnID = makeID()
        var states = JSONText.arrayStart
        for (index, event) in record.states.enumerated() {
            if index > 0 { states += "," }
            states += "{\"at\":\(wall(event.time)),\"from\":\(JSONText.string(event.from.rawValue))"
            states += ",\"to\":\(JSONText.string(event.to.rawValue)),\"cause\":\(JSONText.string(event.cause.rawValue))}"
        }
        states += "]"
        let l = record.latencies
        let latencyFields: [(String, Int64?)] = [
            ("speech_end_to_llm_start_ms", l.speechEndToLLMStartMs),
            ("speech_end_to_first_token_ms", l.speechEndToFirstTokenMs),
            ("speech_end_to_first_sentence_ms", l.speechEndToFirstSentenceMs),
            ("speech_end_to_tts_first_byte_ms", l.speechEndToTTSFirstByteMs),
            ("speech_end_to_first_audio_ms", l.speechEndToFirstAudioMs),
        ]
        let latencies = "{" + latencyFields.compactMap { key, value in value.map { "\"\(key)\":\($0)" } }
            .joined(separator: ",") + "}"
        let row = TurnRow(
            id: turnID, sessionID: sessionID, turnNumber: record.turn, userText: record.userText,
            spokenText: record.spokenText, statesJSON: states, startedAt: wall(record.startedAt),
            completedAt: record.endedAt.map(wall), interrupted: record.interrupted, status: record.status.rawValue,
            latencyMs: l.speechEndToFirstAudioMs, debounceMs: record.debounceMs, latenciesJSON: latencies)
        let calls = record.llmCalls.map { call in
            LLMCallRow(
                id: makeID(), turnID: turnID, callNumber: call.call, status: call.status.rawValue, reason: call.reason,
                tokens: call.tokens, promptTokens: call.promptTokens, latencyMs: call.latencyMs,
                firstTokenMs: call.firstTokenAt.map { ($0 - call.startedAt).wholeMilliseconds },
                createdAt: wall(call.startedAt))
        }
        return (row, calls)
    }

    /// One sample per figure of the snapshot (figures not yet known are left out).
    func samples(_ snapshot: TelemetrySnapshot, sessionID: String?, at instant: VoiceInstant) -> [SampleRow] {
        let figures: [(String, Double?)] = [
            ("turns.cancellations", Double(snapshot.cancellations)),
            ("turns.completed", Double(snapshot.completedTurns)),
            ("turns.cancellation_rate", snapshot.cancellationRate),
            ("turns.latency_ms.mean", snapshot.averageTurnLatencyMs),
            ("llm.tokens_wasted", Double(snapshot.tokensWasted)),
            ("debounce_ms.mean", snapshot.averageDebounceMs),
            ("turns.cancellation_rate.rolling", snapshot.rolling.cancellationRate),
            ("turns.latency_ms.rolling", snapshot.rolling.averageTurnLatencyMs),
            ("debounce_ms.rolling", snapshot.rolling.averageDebounceMs),
        ]
        let at = wall(instant)
        return figures.compactMap { name, value in
            value.map { SampleRow(id: makeID(), sessionID: sessionID, name: name, value: $0, recordedAt: at) }
        }
    }
}

/// Just enough JSON writing for our own rows (the encoder would go through `Encodable` and
/// `Data` for every row; this is the hot path of the sync).
enum JSONText {
    static let arrayStart = "["

    /// `value` as a JSON string literal that PostgreSQL's text can hold (NUL becomes U+FFFD).
    static func string(_ value: String) -> String { Escaping.escaped(value, as: .postgresJSON) }

    static func string(_ value: String?) -> String { value.map { string($0) } ?? "null" }
    static func number(_ value: Int64?) -> String { value.map { String($0) } ?? "null" }
    static func number(_ value: Int?) -> String { value.map { String($0) } ?? "null" }

    /// A double as JSON (non-finite values have no JSON form and become null).
    static func number(_ value: Double) -> String { value.isFinite ? String(value) : "null" }
}
