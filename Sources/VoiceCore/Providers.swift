/// What speech-to-text (or local voice activity detection) reports.
public enum SpeechEvent: Equatable, Sendable {
    case speechStarted
    case partial(String)
    case final(text: String, confidence: Double, start: Double, end: Double)
    case speechEnded
}

/// One message of a chat-completions request.
public struct ChatMessage: Equatable, Sendable, Codable {
    public enum Role: String, Codable, Sendable { case system, user, assistant }
    public var role: Role
    public var content: String
    public init(role: Role, content: String) {
        self.role = role
        self.content = content
    }
}

/// A request to the language model. `call` is unique for the daemon's life; `turn` says which
/// turn it belongs to, so late output of an old turn can be told apart and dropped.
public struct LLMRequest: Equatable, Sendable {
    public var turn: Int
    public var call: Int
    public var messages: [ChatMessage]

    public init(turn: Int, call: Int, messages: [ChatMessage]) {
        self.turn = turn
        self.call = call
        self.messages = messages
    }
}

/// What the language model streams back for one call.
public enum LLMEvent: Equatable, Sendable {
    case token(String)
    case usage(promptTokens: Int, completionTokens: Int)
    case finished
    /// The call failed after the provider's own retries.
    case failed(String)
}

/// Which voice speaks: the streaming service, or the local fallback (espeak-ng).
public enum Voice: String, Equatable, Sendable, Codable {
    case primary
    case fallback
}

/// A request to synthesise one sentence.
public struct TTSRequest: Equatable, Sendable {
    public var id: Int
    public var turn: Int
    /// The sentence's index within the turn's answer.
    public var segment: Int
    public var text: String
    public var voice: Voice
    /// The LLM call whose answer this sentence is, if any (nil for notices such as the apology).
    public var call: Int?
}

/// What text-to-speech streams back for one request: 16 kHz mono PCM.
public enum TTSEvent: Equatable, Sendable {
    case audio([Int16])
    case finished
    case failed(String)
}

/// A piece of PCM for playback, tagged with its turn and sentence.
public struct PlaybackChunk: Equatable, Sendable {
    public static let sampleRate = 16_000
    public var turn: Int
    public var segment: Int
    public var samples: [Int16]

    public init(turn: Int, segment: Int, samples: [Int16]) {
        self.turn = turn
        self.segment = segment
        self.samples = samples
    }

    public var duration: Duration { Self.duration(ofSamples: samples.count) }

    public static func duration(ofSamples count: Int) -> Duration {
        .microseconds(Int64(count) * 1_000_000 / Int64(sampleRate))
    }
}

/// What playback reports.
public enum PlaybackEvent: Equatable, Sendable {
    /// The first sample of a sentence reached the device.
    case segmentStarted(turn: Int, segment: Int)
    /// Every sample of a sentence that was ended has played.
    case segmentFinished(turn: Int, segment: Int)
}

/// What the LEDs show.
public enum IndicatorState: String, Equatable, Sendable, Codable {
    case idle, listening, speculative, committed, speaking, error, offline, muted

    public init(_ state: TurnState) {
        switch state {
        case .idle: self = .idle
        case .listening: self = .listening
        case .speculative: self = .speculative
        case .committed: self = .committed
        case .speaking: self = .speaking
        }
    }
}

// Providers are called by the engine's draining thread and must not block: `start` begins the
// work and returns; events come back through `onEvent`, from any thread, in order per request.

/// A streaming language model.
public protocol LanguageModel: AnyObject {
    func start(_ request: LLMRequest, onEvent: @escaping @Sendable (LLMEvent) -> Void)
    /// Stops a call at once; no further events are needed for it.
    func cancel(call: Int)
}

/// A streaming text-to-speech service.
public protocol TextToSpeech: AnyObject {
    func start(_ request: TTSRequest, onEvent: @escaping @Sendable (TTSEvent) -> Void)
    func cancel(request: Int)
}

/// The speaker's output.
public protocol AudioPlayback: AnyObject {
    /// Sets where progress is reported.
    func setEventHandler(_ handler: @escaping @Sendable (PlaybackEvent) -> Void)
    /// Queues PCM behind what is already queued.
    func enqueue(_ chunk: PlaybackChunk)
    /// Marks the end of a sentence's audio, so its end can be reported once played.
    func endSegment(turn: Int, segment: Int)
    /// Stops now and discards everything queued.
    func drop()
}

/// The LEDs (or a console line standing in for them).
public protocol Indicator: AnyObject {
    func show(_ state: IndicatorState)
}

/// Runs work at an instant of the engine's clock.
public protocol TimerScheduler: AnyObject {
    func schedule(at instant: VoiceInstant, _ action: @escaping @Sendable () -> Void)
}
