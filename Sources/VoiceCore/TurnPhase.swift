/// Everything the controller knows about the turn under way.
///
/// A copy-on-write value: its fields live in one shared box, so the turn moves in and out of
/// ``TurnPhase`` for the price of one reference (the controller handles thousands of events a
/// second on a Pi, most of them audio chunks).
@dynamicMemberLookup
struct Turn {
    /// The LLM call whose reply is the answer.
    struct Call {
        var id: Int
        var chunker = SentenceChunker()
        var text = ""
        var tokens = 0
        var done = false
        var failure: String?
    }

    struct Fields {
        /// The turn's number: given with the user's first words (a wake that hears nothing spends none).
        var id: Int?
        var startedAt: VoiceInstant
        /// The turn's transitions, from its wake.
        var states: [TransitionEvent] = []
        var calls: [LLMCallRecord] = []
        var call: Call?
        /// The transcript when the speculation began: correction markers count only in newer words.
        var baseline = ""
        /// A call cancelled by the start of speech, before any words: the words that follow
        /// decide whether it was a correction.
        var pendingReason: (call: Int, baseline: String)?
        var lastSpeechStartAt: VoiceInstant?
        var lastFinalAt: VoiceInstant?
        var speechEndAt: VoiceInstant?
        var answer = AnswerPipeline()
        var llmFailure: String?
        /// Speech woke the speaker (always listening), not the button.
        var wokeBySpeech = false
        var committedDebounceMs: Int64 = 0
        var latencies = TurnLatencies()
    }

    private final class Storage {
        var fields: Fields
        init(_ fields: Fields) { self.fields = fields }
    }

    private var storage: Storage

    init(startedAt: VoiceInstant) { storage = Storage(Fields(startedAt: startedAt)) }

    subscript<T>(dynamicMember path: WritableKeyPath<Fields, T>) -> T {
        get { storage.fields[keyPath: path] }
        _modify {
            if !isKnownUniquelyReferenced(&storage) { storage = Storage(storage.fields) }
            yield &storage.fields[keyPath: path]
        }
    }

    /// When the user stopped talking: the first speech end after the last speech start, else the last final.
    var speechEnd: VoiceInstant? {
        if let end = storage.fields.speechEndAt, end >= (storage.fields.lastSpeechStartAt ?? .zero) { return end }
        return storage.fields.lastFinalAt
    }

    /// Milliseconds from the end of the user's speech to `time`.
    func msAfterSpeechEnd(_ time: VoiceInstant?) -> Int64? {
        guard let start = speechEnd, let time else { return nil }
        return (time - start).wholeMilliseconds
    }

    /// Changes the record of call `id`, if the turn made it.
    mutating func updateRecord(of id: Int, _ change: (inout LLMCallRecord) -> Void) {
        guard let index = storage.fields.calls.firstIndex(where: { $0.call == id }) else { return }
        change(&self.calls[index])
    }
}

/// The controller's state with its turn: IDLE has none, every other state has exactly one, so
/// a turn cannot be half-built and no state can lack its turn.
enum TurnPhase {
    case idle
    case listening(Turn)
    case speculative(Turn)
    case committed(Turn)
    case speaking(Turn)

    /// `turn` in `state` (nil: IDLE, or no turn for a state that needs one).
    init?(_ state: TurnState, _ turn: Turn?) {
        switch (state, turn) {
        case (.idle, _): self = .idle
        case (.listening, let turn?): self = .listening(turn)
        case (.speculative, let turn?): self = .speculative(turn)
        case (.committed, let turn?): self = .committed(turn)
        case (.speaking, let turn?): self = .speaking(turn)
        default: return nil
        }
    }

    var state: TurnState {
        switch self {
        case .idle: .idle
        case .listening: .listening
        case .speculative: .speculative
        case .committed: .committed
        case .speaking: .speaking
        }
    }

    var turn: Turn? {
        switch self {
        case .idle: nil
        case .listening(let turn), .speculative(let turn), .committed(let turn), .speaking(let turn): turn
        }
    }

    /// The answer may be heard: COMMITTED or SPEAKING.
    var isAudible: Bool {
        switch self {
        case .committed, .speaking: true
        default: false
        }
    }

    /// Runs `body` on the turn in place; nil in IDLE. (The phase is IDLE while `body` runs, so
    /// the turn is not copied.)
    mutating func modifyTurn<R>(_ body: (inout Turn) -> R) -> R? {
        switch self {
        case .idle:
            return nil
        case .listening(var turn):
            self = .idle
            defer { self = .listening(turn) }
            return body(&turn)
        case .speculative(var turn):
            self = .idle
            defer { self = .speculative(turn) }
            return body(&turn)
        case .committed(var turn):
            self = .idle
            defer { self = .committed(turn) }
            return body(&turn)
        case .speaking(var turn):
            self = .idle
            defer { self = .speaking(turn) }
            return body(&turn)
        }
    }

    /// Takes the turn out, leaving IDLE.
    mutating func take() -> Turn? {
        defer { self = .idle }
        return turn
    }
}
