import FoundationEssentials
import Logging
import Synchronization
import VoiceCore

/// Settings of the OpenAI-compatible speech client (`POST {baseURL}/audio/speech`).
public struct OpenAISpeechConfiguration: Sendable {
    /// The API's base URL (…/v1): OpenAI, or a local server such as Kokoro-FastAPI
    /// (`http://127.0.0.1:8880/v1`) or openedai-speech (`http://127.0.0.1:8000/v1`).
    public var baseURL = "https://api.openai.com/v1"
    public var model = "gpt-4o-mini-tts"
    /// The voice's name (`alloy`, `nova`…, or a local server's own, such as `af_heart`).
    public var voice = "alloy"
    /// The speaking rate, 0.25…4.0; nil sends none (the server's 1.0).
    public var speed: Double?
    /// The rate of the PCM the server sends: OpenAI's `pcm` is 24 kHz 16-bit mono little-endian.
    public var sampleRate = 24_000
    /// Sent as `Authorization: Bearer`; a local server may need none.
    public var apiKey: Secret?
    /// No audio within this long → one retry.
    public var firstByteTimeout: Duration = .seconds(5)
    /// No byte at all for this long in the middle of a sentence → the request fails.
    public var stallTimeout: Duration = .seconds(5)
    public var connectTimeout: Duration = .seconds(5)
    public var policy = RetryPolicy.speech

    public init(baseURL: String = "https://api.openai.com/v1", model: String = "gpt-4o-mini-tts", voice: String = "alloy",
                speed: Double? = nil, apiKey: Secret? = nil) {
        self.baseURL = baseURL
        self.model = model
        self.voice = voice
        self.speed = speed
        self.apiKey = apiKey
    }
}

extension CredentialName {
    /// The key of the OpenAI-compatible speech server. Its own credential, not the chat's: the
    /// speech server is often another vendor or a local server, which must not see the LLM's key.
    public static let openAISpeech = CredentialName(file: "openai_speech_api_key", variable: "OPENAI_SPEECH_API_KEY")
}

/// A streaming ``TextToSpeech`` over the OpenAI speech API (`POST {baseURL}/audio/speech` with
/// `response_format: "pcm"`), served by OpenAI and by local servers (Kokoro-FastAPI,
/// openedai-speech), on libcurl.
///
/// The body is raw 16-bit little-endian mono PCM at ``OpenAISpeechConfiguration/sampleRate``
/// (24 kHz), sent chunked as it is made; speexdsp's resampler converts it to the playback rate
/// as it arrives, across chunk boundaries. The same rules as ``ElevenLabsTTS`` hold: a body that
/// is not audio is never played, a network error, a 5xx or no first byte in time gets one retry
/// before any audio was delivered, and `cancel` stops the transfer at once.
public final class OpenAISpeechTTS: TextToSpeech, @unchecked Sendable {
    // @unchecked: `live` is behind its mutex; the rest is immutable or thread-safe.

    private let configuration: OpenAISpeechConfiguration
    private let live: LiveSettingsBox<LiveSettings>
    private let endpoint: Endpoint
    private let requests: SpeechRequests

    /// Called with the record of every request as it ends (from any thread).
    public var recorder: (@Sendable (ProviderCallRecord) -> Void)? {
        get { requests.recorder }
        set { requests.recorder = newValue }
    }

    /// Checks the configuration; throws ``ProviderSetupError`` for a refused URL or a bad setting.
    public init(configuration: OpenAISpeechConfiguration, loop: CurlLoop = .shared, clock: any VoiceClock = SystemVoiceClock(),
                logger: Logger = Logger(label: "voiced.tts")) throws(ProviderSetupError) {
        endpoint = try Endpoint(configuration.baseURL)
        guard endpoint.scheme == "http" || endpoint.scheme == "https" else { throw .unsupportedScheme(endpoint.scheme) }
        guard (8_000...48_000).contains(configuration.sampleRate) else {
            throw .invalidSetting(name: "sample_rate", reason: "\(configuration.sampleRate) Hz is not a speech rate (8000…48000)")
        }
        live = try LiveSettingsBox(LiveSettings(model: configuration.model, voice: configuration.voice, speed: configuration.speed))
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "provider"] = "openai_speech"
        requests = SpeechRequests(
            service: .init(name: "The speech server", credential: .openAISpeech, apiKey: configuration.apiKey, endpoint: endpoint),
            loop: loop, clock: clock, logger: logger)
    }

    /// What may change while the daemon runs: the model, the voice and the speed.
    public struct LiveSettings: Equatable, Sendable, CheckedSettings {
        public var model: String
        public var voice: String
        /// 0.25…4.0; nil sends none.
        public var speed: Double?

        public init(model: String, voice: String, speed: Double? = nil) {
            self.model = model
            self.voice = voice
            self.speed = speed
        }

        func check() throws(ProviderSetupError) {
            guard !model.isEmpty else { throw .invalidSetting(name: "model_id", reason: "is empty") }
            guard !voice.isEmpty else { throw .invalidSetting(name: "voice_id", reason: "is empty: name a voice such as alloy") }
            if let speed, !(0.25...4.0).contains(speed) {
                throw .invalidSetting(name: "speed", reason: "\(speed) is out of range 0.25…4.0")
            }
        }
    }

    /// The settings in force: the next request uses them.
    public var settings: LiveSettings { live.current }

    /// Changes the settings from the next request on (a request in flight keeps what it started
    /// with). Throws, and keeps the old ones, for an empty model or voice or a speed out of range.
    public func update(_ settings: LiveSettings) throws(ProviderSetupError) { try live.update(settings) }

    /// The last 100 request records, oldest first.
    public var records: [ProviderCallRecord] { requests.records }

    public func start(_ request: TTSRequest, onEvent: @escaping @Sendable (TTSEvent) -> Void) {
        struct Body: Encodable {
            var model: String
            var input: String
            var voice: String
            var response_format = "pcm"
            var speed: Double?
        }
        let settings = self.settings
        requests.start(request, url: endpoint.appending(path: "/audio/speech"),
                       headers: configuration.apiKey.map { ["Authorization: Bearer \($0.reveal())"] } ?? [],
                       body: Body(model: settings.model, input: request.text, voice: settings.voice, speed: settings.speed),
                       sampleRate: configuration.sampleRate,
                       timing: .init(configuration), onEvent: onEvent)
    }

    public func cancel(request id: Int) { requests.cancel(request: id) }
}

extension OpenAISpeechTTS: TextToSpeechProvider {
    /// The `[tts]` keys, with OpenAI's defaults for those left empty.
    static func resolved(_ tts: VoicedConfig.TTS) -> VoicedConfig.TTS {
        tts.resolved(baseURL: "https://api.openai.com/v1", voice: "alloy", model: "gpt-4o-mini-tts")
    }

    /// The voice and model change live; the speed (`tts.speed` is not live) stays as it started.
    public func apply(_ config: VoicedConfig) throws(ProviderSetupError) {
        let tts = Self.resolved(config.tts)
        try update(.init(model: tts.modelID, voice: tts.voiceID, speed: settings.speed))
    }
}

extension ProviderEntry where Input == Void, Made == any TextToSpeechProvider {
    /// An OpenAI-compatible `/v1/audio/speech` (OpenAI, Kokoro-FastAPI, openedai-speech):
    /// `[tts] provider = "openai"`, with its own key (``CredentialName/openAISpeech``), none for a local server.
    static var openAISpeech: Self {
        Self(name: "openai") { context, _ in
            let tts = OpenAISpeechTTS.resolved(context.config.tts)
            return try OpenAISpeechTTS(
                configuration: OpenAISpeechConfiguration(baseURL: tts.baseURL, model: tts.modelID, voice: tts.voiceID,
                                                         speed: tts.speed == 1 ? nil : tts.speed,
                                                         apiKey: try context.key(.openAISpeech)),
                clock: context.clock, logger: context.logger("voiced.tts"))
        }
    }
}
