/// The states of a conversational turn.
///
/// See docs/turn-taking.md for the diagram and the timing rules.
public enum TurnState: String, CaseIterable, Codable, Sendable, CustomStringConvertible {
    /// Waiting for a wake (button) or, with `always_listening`, for speech.
    case idle
    /// The user is talking; finals accumulate in the transcript buffer.
    case listening
    /// The debounce elapsed; the LLM call runs but its output is held silent.
    case speculative
    /// The turn is final; speech starts at the first complete sentence.
    case committed
    /// Audio of the answer is playing.
    case speaking

    public var description: String { rawValue }
}

/// Why a transition happened. The raw values are the names used in logs, the timeline and JSON.
public enum TransitionCause: String, Codable, Sendable, CaseIterable, CustomStringConvertible {
    case buttonWake = "button_wake"
    case speechStarted = "speech_started"
    case debounceElapsed = "debounce_elapsed"
    case commitHoldElapsed = "commit_hold_elapsed"
    case newSpeech = "new_speech"
    case correctionMarker = "correction_marker"
    case firstAudio = "first_audio"
    case playbackFinished = "playback_finished"
    case followUpElapsed = "follow_up_elapsed"
    case bargeIn = "barge_in"
    case llmFailed = "llm_failed"
    case nothingToSay = "nothing_to_say"
    case listenTimeout = "listen_timeout"
    /// Speech woke the speaker (always listening) but ended without a word: noise, a cough, an
    /// empty final. Back to IDLE at once; no turn number is spent.
    case nothingHeard = "nothing_heard"
    case muted = "muted"
    case offline = "offline"
    case shutdown = "shutdown"
    case fatalError = "fatal_error"

    public var description: String { rawValue }

    /// Causes that may take any state to IDLE: shutdown, a fatal error, and losing the
    /// speech-to-text service for good (offline), which ends any conversation; and a mute, which
    /// the controller applies only to a turn still listening or holding its answer.
    public var forcesIdle: Bool { self == .shutdown || self == .fatalError || self == .offline || self == .muted }
}

/// The explicit table of allowed transitions.
public enum TurnTransitions {
    /// Allowed targets for each state, besides the forced transitions to IDLE on shutdown or fatal error.
    public static let allowed: [TurnState: Set<TurnState>] = [
        .idle: [.listening],
        .listening: [.speculative, .idle],
        .speculative: [.committed, .listening],
        .committed: [.speaking, .listening, .idle],
        .speaking: [.idle, .listening],
    ]

    /// Whether `from → to` is allowed for `cause`.
    public static func isAllowed(from: TurnState, to: TurnState, cause: TransitionCause) -> Bool {
        if to == .idle && cause.forcesIdle { return true }
        return allowed[from, default: []].contains(to)
    }

    /// Throws ``ForbiddenTransition`` unless `from → to` is allowed for `cause`.
    public static func check(from: TurnState, to: TurnState, cause: TransitionCause) throws(ForbiddenTransition) {
        guard isAllowed(from: from, to: to, cause: cause) else { throw ForbiddenTransition(from: from, to: to, cause: cause) }
    }
}

/// A transition that happened: when, from, to, why, and in which turn.
public struct TransitionEvent: Equatable, Sendable, Codable {
    public var time: VoiceInstant
    public var from: TurnState
    public var to: TurnState
    public var cause: TransitionCause
    public var turn: Int?

    public init(time: VoiceInstant, from: TurnState, to: TurnState, cause: TransitionCause, turn: Int? = nil) {
        self.time = time
        self.from = from
        self.to = to
        self.cause = cause
        self.turn = turn
    }
}

/// A transition the table does not allow.
public struct ForbiddenTransition: Error, Equatable, Sendable, CustomStringConvertible {
    public var from: TurnState
    public var to: TurnState
    public var cause: TransitionCause

    public var description: String {
        "transition \(from.rawValue.uppercased()) → \(to.rawValue.uppercased()) (cause \(cause.rawValue)) is not allowed"
    }
}
