/// When the speculative LLM call starts.
public enum SpeculationMode: String, Codable, Sendable, CaseIterable {
    /// After the silence debounce (the default).
    case afterDebounce = "after_debounce"
    /// At each final transcript, restarted when another final arrives; committed after debounce + hold.
    case atFinal = "at_final"
    /// No speculation: the LLM starts only once the turn is committed (the baseline for benchmarks).
    case atCommit = "at_commit"
}

/// Everything that shapes turn-taking. Durations are kept as `Duration`; the JSON and config
/// forms use milliseconds (`debounce_ms`, ...).
public struct TurnSettings: Equatable, Sendable {
    /// The silence debounce after a final transcript (starting value when adaptive).
    public var debounce: Duration = .milliseconds(400)
    /// How long the turn stays SPECULATIVE with no new speech before it commits.
    public var commitHold: Duration = .milliseconds(200)
    public var speculation: SpeculationMode = .afterDebounce
    /// Synthesise the first sentence before COMMITTED, holding its audio until then.
    public var preemptiveTTS = false
    /// The adaptive-debounce rules (`enabled` is the `adaptive_debounce` switch).
    public var adaptive = AdaptiveDebounceSettings()
    /// Speech alone wakes the speaker from IDLE (otherwise only the button does).
    public var alwaysListening = false
    /// While SPEAKING, the start of speech heard by the local voice activity detector barges in
    /// (the button always does). The daemon sets it from `audio.barge_in` (`voice`: on, the
    /// default; `button_only`: off).
    public var bargeInByVoice = true
    /// After a completed turn, stay LISTENING this long for a follow-up (0: go IDLE).
    public var followUp: Duration = .zero
    /// A wake with no speech at all goes back to IDLE after this long.
    public var listenTimeout: Duration = .seconds(8)
    /// COMMITTED and still silent this long: a short earcon tells the user the answer is coming
    /// (zero: no cue). First audio normally comes well inside a second of the commit.
    public var waitCue: Duration = .milliseconds(2000)
    /// COMMITTED and still silent this long: the answer is given up and the apology spoken,
    /// instead of waiting out the providers' own timeouts.
    public var stallBudget: Duration = .milliseconds(7000)
    /// The longest answer spoken: past it no new sentence starts and the LLM call is stopped
    /// (with `max_tokens`, which a server may ignore, this bounds what the speaker says).
    public var maxAnswer: Duration = .seconds(60)
    /// Words that mark a correction.
    public var correctionMarkers = CancellationDetector.defaultMarkers
    /// The system prompt of every LLM call.
    public var systemPrompt = "You are a helpful voice assistant on a smart speaker. Answer briefly, in plain spoken sentences."
    /// How many past turns the conversation history keeps.
    public var historyMaxTurns = 8
    /// How many characters of past turns the history keeps.
    public var historyMaxCharacters = 4000
    /// What the fallback voice says when the LLM fails.
    public var apology = "Sorry, I can't reach the assistant right now."

    public init() {}
}
