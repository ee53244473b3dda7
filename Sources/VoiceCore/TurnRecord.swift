/// How a turn ended.
public enum TurnStatus: String, Equatable, Sendable, Codable {
    case completed
    case interrupted
    case llmFailed = "llm_failed"
    case ttsFailed = "tts_failed"
    /// Cut short by shutdown, a fatal error or going offline (``TurnRecord/cause`` says which).
    case aborted
}

/// One LLM call of a turn.
public struct LLMCallRecord: Equatable, Sendable, Codable {
    public enum Status: String, Equatable, Sendable, Codable { case running, completed, canceled, failed }
    public var call: Int
    public var status: Status
    /// `new_speech`, `correction_marker`, `barge_in`, `shutdown`, `offline`, `fatal_error`, or the
    /// failure message. A call whose reply was discarded is `canceled` with its reason even when it
    /// had finished streaming.
    public var reason: String?
    /// Completion tokens (from the usage report, or counted as they arrived).
    public var tokens: Int
    public var promptTokens: Int?
    public var startedAt: VoiceInstant
    public var endedAt: VoiceInstant?
    public var firstTokenAt: VoiceInstant?

    public init(call: Int, status: Status, reason: String?, tokens: Int, promptTokens: Int?,
                startedAt: VoiceInstant, endedAt: VoiceInstant?, firstTokenAt: VoiceInstant?) {
        self.call = call
        self.status = status
        self.reason = reason
        self.tokens = tokens
        self.promptTokens = promptTokens
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.firstTokenAt = firstTokenAt
    }

    /// Start to end of the call, in milliseconds.
    public var latencyMs: Int64? { endedAt.map { ($0 - startedAt).wholeMilliseconds } }
}

/// The latencies of a turn, in milliseconds after the user's speech ended.
public struct TurnLatencies: Equatable, Sendable, Codable {
    public var speechEndToLLMStartMs: Int64?
    public var speechEndToFirstTokenMs: Int64?
    public var speechEndToFirstSentenceMs: Int64?
    public var speechEndToTTSFirstByteMs: Int64?
    public var speechEndToFirstAudioMs: Int64?

    public init(speechEndToLLMStartMs: Int64? = nil, speechEndToFirstTokenMs: Int64? = nil,
                speechEndToFirstSentenceMs: Int64? = nil, speechEndToTTSFirstByteMs: Int64? = nil,
                speechEndToFirstAudioMs: Int64? = nil) {
        self.speechEndToLLMStartMs = speechEndToLLMStartMs
        self.speechEndToFirstTokenMs = speechEndToFirstTokenMs
        self.speechEndToFirstSentenceMs = speechEndToFirstSentenceMs
        self.speechEndToTTSFirstByteMs = speechEndToTTSFirstByteMs
        self.speechEndToFirstAudioMs = speechEndToFirstAudioMs
    }
}

/// Everything about one turn, for the store, the timeline and status displays.
public struct TurnRecord: Equatable, Sendable, Codable {
    public var turn: Int
    public var userText: String
    /// What was actually played; for an interrupted turn, up to the interruption.
    public var spokenText: String
    public var states: [TransitionEvent]
    public var startedAt: VoiceInstant
    public var endedAt: VoiceInstant?
    public var interrupted: Bool
    public var status: TurnStatus
    public var llmCalls: [LLMCallRecord]
    public var latencies: TurnLatencies
    /// The debounce in force when the turn committed.
    public var debounceMs: Int64
    /// Why the turn ended: the cause of its last transition (`playback_finished`, `barge_in`,
    /// `llm_failed`, `offline`, `shutdown`, ...).
    public var cause: TransitionCause?

    public init(turn: Int, userText: String, spokenText: String, states: [TransitionEvent], startedAt: VoiceInstant,
                endedAt: VoiceInstant?, interrupted: Bool, status: TurnStatus, llmCalls: [LLMCallRecord],
                latencies: TurnLatencies, debounceMs: Int64, cause: TransitionCause? = nil) {
        self.cause = cause
        self.turn = turn
        self.userText = userText
        self.spokenText = spokenText
        self.states = states
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.interrupted = interrupted
        self.status = status
        self.llmCalls = llmCalls
        self.latencies = latencies
        self.debounceMs = debounceMs
    }
}

/// The conversation so far, bounded by turns and by characters (oldest dropped first).
public struct ConversationHistory: Equatable, Sendable {
    public private(set) var messages: [ChatMessage] = []
    /// Lowering a bound trims at once: the next request is within it (a live setting).
    public var maxTurns: Int { didSet { trim() } }
    public var maxCharacters: Int { didSet { trim() } }

    public init(maxTurns: Int = 8, maxCharacters: Int = 4000) {
        self.maxTurns = maxTurns
        self.maxCharacters = maxCharacters
    }

    /// Adds a user turn and what was spoken in reply (nothing is added for an empty exchange).
    public mutating func append(user: String, assistant: String) {
        guard !user.isEmpty else { return }
        messages.append(ChatMessage(role: .user, content: user))
        if !assistant.isEmpty { messages.append(ChatMessage(role: .assistant, content: assistant)) }
        trim()
    }

    public mutating func clear() { messages.removeAll() }

    private var turnCount: Int { messages.filter { $0.role == .user }.count }
    private var characterCount: Int { messages.reduce(0) { $0 + $1.content.count } }

    private mutating func trim() {
        while !messages.isEmpty, turnCount > max(0, maxTurns) || characterCount > max(0, maxCharacters) {
            // Drop the oldest exchange: its user message and the reply that follows it.
            messages.removeFirst()
            while let first = messages.first, first.role != .user { messages.removeFirst() }
        }
    }
}
