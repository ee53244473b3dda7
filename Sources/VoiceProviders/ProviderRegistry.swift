import Logging
import ServiceLifecycle
import VoiceCore

/// A text-to-speech provider as the daemon runs it: speech, and the live `[tts]` keys.
public protocol TextToSpeechProvider: TextToSpeech, Sendable {
    /// Takes the live `[tts]` keys of `config` from the next request on; throws, and keeps the
    /// old ones, when they are refused.
    func apply(_ config: VoicedConfig) throws(ProviderSetupError)
}

/// An LLM provider as the daemon runs it: chat, and the live `[llm]` keys.
public protocol LanguageModelProvider: LanguageModel, Sendable {
    /// Takes the live `[llm]` keys of `config` from the next call on; throws, and keeps the old
    /// ones, when they are refused.
    func apply(_ config: VoicedConfig) throws(ProviderSetupError)
}

/// A speech-to-text provider as the daemon runs it: a Service that streams the ring's audio.
public protocol SpeechToTextProvider: Service, Sendable {
    /// Stops (true) or resumes sending audio; the connection stays up.
    func setMuted(_ muted: Bool)
    /// Asks for what was heard so far to be finalised (a turn ended).
    func finalize()
}

/// What every provider is built from.
public struct ProviderContext: Sendable {
    public var config: VoicedConfig
    public var credentials: CredentialSource
    public var clock: any VoiceClock
    /// The log level and handler the providers' loggers take.
    public var logger: Logger

    public init(config: VoicedConfig, credentials: CredentialSource = CredentialSource(), clock: any VoiceClock = SystemVoiceClock(),
                logger: Logger) {
        self.config = config
        self.credentials = credentials
        self.clock = clock
        self.logger = logger
    }

    /// A logger under `label` at the context's level.
    public func logger(_ label: String) -> Logger {
        var made = Logger(label: label)
        made.logLevel = logger.logLevel
        return made
    }

    /// The key `credential`, or nil when none is set.
    func key(_ credential: CredentialName) throws -> Secret? { try credentials.load(credential) }
}

/// Where speech-to-text takes its audio and sends what it hears.
public struct SpeechToTextWiring: Sendable {
    public var audio: AudioRingBuffer
    public var onEvent: @Sendable (SpeechEvent) -> Void
    public var onStatus: @Sendable (SpeechToTextStatus) -> Void

    public init(audio: AudioRingBuffer, onEvent: @escaping @Sendable (SpeechEvent) -> Void,
                onStatus: @escaping @Sendable (SpeechToTextStatus) -> Void) {
        self.audio = audio
        self.onEvent = onEvent
        self.onStatus = onStatus
    }
}

/// One implementation of a provider kind: its name in the configuration and how it is built.
/// Each provider declares its entry in its own file; ``ProviderRegistry`` lists them.
public struct ProviderEntry<Input: Sendable, Made>: Sendable {
    /// The value of the `provider` key (`elevenlabs`).
    public let name: String
    /// Checks what can be checked before anything opens (a missing key, a key in the wrong form),
    /// so a bad configuration stops the daemon with exit code 78 before it touches a device.
    let preflight: @Sendable (ProviderContext) throws -> Void
    let make: @Sendable (ProviderContext, Input) throws -> Made

    init(name: String, preflight: @escaping @Sendable (ProviderContext) throws -> Void = { _ in },
         make: @escaping @Sendable (ProviderContext, Input) throws -> Made) {
        self.name = name
        self.preflight = preflight
        self.make = make
    }
}

public typealias SpeechToTextEntry = ProviderEntry<SpeechToTextWiring, any SpeechToTextProvider>
public typealias LanguageModelEntry = ProviderEntry<Void, any LanguageModelProvider>
public typealias TextToSpeechEntry = ProviderEntry<Void, any TextToSpeechProvider>

/// Why a provider could not be chosen or built, and what to do.
public struct ProviderRegistryError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The configuration key at fault (`tts.provider`), when it is one.
    public var key: String?
    public var message: String

    public var description: String { (key.map { "\($0): " } ?? "") + message }
}

/// The one place that knows every provider: the `[stt]`, `[llm]` and `[tts]` `provider` keys
/// select from these lists. Adding a provider is one new file that declares its entry (see
/// ``OpenAISpeechTTS``), plus its name in the list here, its fake and its tests.
public enum ProviderRegistry {
    public static let speechToText: [SpeechToTextEntry] = [.deepgram]
    public static let languageModels: [LanguageModelEntry] = [.openAIChat]
    public static let textToSpeech: [TextToSpeechEntry] = [.elevenLabs, .openAISpeech]

    /// Checks that every `provider` key names a known provider and that each chosen one can
    /// start (its key is there and in the right form), without building anything.
    public static func check(_ context: ProviderContext) throws(ProviderRegistryError) {
        let config = context.config
        try preflight(entry(speechToText, config.stt.provider, key: "stt.provider"), context, key: "stt.provider")
        try preflight(entry(languageModels, config.llm.provider, key: "llm.provider"), context, key: "llm.provider")
        try preflight(entry(textToSpeech, config.tts.provider, key: "tts.provider"), context, key: "tts.provider")
    }

    /// Only the names: for `voiced --check-config`, which reads no credentials.
    public static func checkNames(_ config: VoicedConfig) throws(ProviderRegistryError) {
        _ = try entry(speechToText, config.stt.provider, key: "stt.provider")
        _ = try entry(languageModels, config.llm.provider, key: "llm.provider")
        _ = try entry(textToSpeech, config.tts.provider, key: "tts.provider")
    }

    /// The speech-to-text provider `[stt] provider` names.
    public static func speechToText(_ context: ProviderContext, _ wiring: SpeechToTextWiring) throws(ProviderRegistryError) -> any SpeechToTextProvider {
        try build(entry(speechToText, context.config.stt.provider, key: "stt.provider"), context, wiring, key: "stt.provider")
    }

    /// The LLM provider `[llm] provider` names.
    public static func languageModel(_ context: ProviderContext) throws(ProviderRegistryError) -> any LanguageModelProvider {
        try build(entry(languageModels, context.config.llm.provider, key: "llm.provider"), context, (), key: "llm.provider")
    }

    /// The text-to-speech provider `[tts] provider` names.
    public static func textToSpeech(_ context: ProviderContext) throws(ProviderRegistryError) -> any TextToSpeechProvider {
        try build(entry(textToSpeech, context.config.tts.provider, key: "tts.provider"), context, (), key: "tts.provider")
    }

    static func entry<Input, Made>(_ entries: [ProviderEntry<Input, Made>], _ name: String,
                                   key: String) throws(ProviderRegistryError) -> ProviderEntry<Input, Made> {
        guard let found = entries.first(where: { $0.name == name }) else {
            throw ProviderRegistryError(key: key, message: "unknown provider '\(name)': use one of "
                                        + entries.map { "\"\($0.name)\"" }.joined(separator: ", "))
        }
        return found
    }

    private static func preflight<Input, Made>(_ entry: ProviderEntry<Input, Made>, _ context: ProviderContext,
                                               key: String) throws(ProviderRegistryError) {
        do {
            try entry.preflight(context)
        } catch {
            throw ProviderRegistryError(key: nil, message: "\(error)")
        }
    }

    private static func build<Input, Made>(_ entry: ProviderEntry<Input, Made>, _ context: ProviderContext, _ input: Input,
                                           key: String) throws(ProviderRegistryError) -> Made {
        try preflight(entry, context, key: key)
        do {
            return try entry.make(context, input)
        } catch {
            throw ProviderRegistryError(key: nil, message: "cannot set up the \(key.prefix { $0 != "." }) provider \(entry.name): \(error)")
        }
    }
}

/// A provider that cannot start for want of its key, or with a key it cannot use.
struct ProviderKeyError: Error, CustomStringConvertible {
    var description: String
}

extension VoicedConfig.TTS {
    /// The `[tts]` keys with the provider's defaults for those left empty.
    func resolved(baseURL: String, voice: String, model: String) -> VoicedConfig.TTS {
        var out = self
        if out.baseURL.isEmpty { out.baseURL = baseURL }
        if out.voiceID.isEmpty { out.voiceID = voice }
        if out.modelID.isEmpty { out.modelID = model }
        return out
    }
}
