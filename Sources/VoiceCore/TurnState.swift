import Logging

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

/// The turn state with its transition table, hooks, event stream and recent history.
///
/// A rejected transition leaves the state unchanged, is logged at warning, and throws
/// ``ForbiddenTransition``. An accepted one runs the on-exit hook of the old state, then the
/// on-enter hook of the new one, then the observer, and is appended to ``history``.
public struct TurnStateMachine {
    public typealias Hook = (TransitionEvent) -> Void

    /// The current state.
    public private(set) var state: TurnState = .idle
    /// The most recent transitions, oldest first, at most ``historyLimit``.
    public private(set) var history: [TransitionEvent] = []
    /// How many transitions ``history`` keeps.
    public let historyLimit: Int

    private let clock: any VoiceClock
    private var logger: Logger
    private var onEnter: [TurnState: [Hook]] = [:]
    private var onExit: [TurnState: [Hook]] = [:]
    private var observers: [Hook] = []

    public init(clock: any VoiceClock, historyLimit: Int = 32, logger: Logger = Logger(label: "voiced.turn")) {
        self.clock = clock
        self.historyLimit = max(1, historyLimit)
        self.logger = logger
    }

    /// Runs `hook` whenever `state` is entered.
    public mutating func onEnter(_ state: TurnState, _ hook: @escaping Hook) { onEnter[state, default: []].append(hook) }
    /// Runs `hook` whenever `state` is left.
    public mutating func onExit(_ state: TurnState, _ hook: @escaping Hook) { onExit[state, default: []].append(hook) }
    /// Runs `observer` after every accepted transition (the event stream).
    public mutating func observe(_ observer: @escaping Hook) { observers.append(observer) }

    /// Moves to `target` for `cause`, or throws ``ForbiddenTransition`` and stays put.
    @discardableResult
    public mutating func transition(to target: TurnState, cause: TransitionCause, turn: Int? = nil) throws(ForbiddenTransition) -> TransitionEvent {
        guard TurnTransitions.isAllowed(from: state, to: target, cause: cause) else {
            let error = ForbiddenTransition(from: state, to: target, cause: cause)
            logger.warning("rejected transition", metadata: [
                "from": "\(state.rawValue)", "to": "\(target.rawValue)", "cause": "\(cause.rawValue)",
                "turn": "\(turn.map(String.init) ?? "-")",
            ])
            throw error
        }
        let event = TransitionEvent(time: clock.now, from: state, to: target, cause: cause, turn: turn)
        for hook in onExit[state, default: []] { hook(event) }
        state = target
        for hook in onEnter[target, default: []] { hook(event) }
        history.append(event)
        if history.count > historyLimit { history.removeFirst(history.count - historyLimit) }
        logger.debug("transition", metadata: [
            "from": "\(event.from.rawValue)", "to": "\(event.to.rawValue)", "cause": "\(cause.rawValue)",
            "state": "\(event.to.rawValue)", "turn": "\(turn.map(String.init) ?? "-")",
        ])
        for observer in observers { observer(event) }
        return event
    }
}
