import FoundationEssentials
import Logging
import Synchronization
import VoiceCore

/// Settings of the ElevenLabs streaming text-to-speech client.
public struct ElevenLabsConfiguration: Sendable {
    /// The API's base URL; requests go to `{baseURL}/v1/text-to-speech/{voiceID}/stream`.
    public var baseURL = "https://api.elevenlabs.io"
    /// The voice (letters, digits, `_` and `-`).
    public var voiceID: String
    public var modelID = "eleven_flash_v2_5"
    /// Sent as `xi-api-key`.
    public var apiKey: Secret?
    /// No audio within this long → one retry.
    public var firstByteTimeout: Duration = .seconds(5)
    /// No byte at all for this long in the middle of a sentence → the request fails.
    public var stallTimeout: Duration = .seconds(5)
    public var connectTimeout: Duration = .seconds(5)
    public var policy = RetryPolicy.speech

    public init(baseURL: String = "https://api.elevenlabs.io", voiceID: String, modelID: String = "eleven_flash_v2_5",
                apiKey: Secret? = nil) {
        self.baseURL = baseURL
        self.voiceID = voiceID
        self.modelID = modelID
        self.apiKey = apiKey
    }
}

/// A streaming ``TextToSpeech`` over ElevenLabs' `/stream` endpoint with `output_format=pcm_16000`
/// (16 kHz, 16-bit little-endian mono PCM), on libcurl.
///
/// PCM reaches the controller as it arrives; a sample split across two reads is joined. An error
/// status, a JSON body or any non-audio content type is an error and is never played. A network
/// error, a 5xx or no first byte in time gets one retry (before any audio was delivered); then
/// the request fails and the controller has the fallback voice speak. `cancel` stops the
/// transfer at once.
public final class ElevenLabsTTS: TextToSpeech, @unchecked Sendable {
    // @unchecked: `requests` is behind its mutex, `log` is thread-safe; the rest is immutable.

    private let configuration: ElevenLabsConfiguration
    /// The voice and model, which may change while the daemon runs; each request reads them when it starts.
    private let live: LiveSettingsBox<LiveSettings>
    private let endpoint: Endpoint
    private let logger: Logger
    private let requests: SpeechRequests

    /// Called with the record of every request as it ends (from any thread).
    public var recorder: (@Sendable (ProviderCallRecord) -> Void)? {
        get { requests.recorder }
        set { requests.recorder = newValue }
    }

    /// Checks the configuration; throws ``ProviderSetupError`` for a refused URL or a bad voice id.
    public init(configuration: ElevenLabsConfiguration, loop: CurlLoop = .shared, clock: any VoiceClock = SystemVoiceClock(),
                logger: Logger = Logger(label: "voiced.tts")) throws(ProviderSetupError) {
        endpoint = try Endpoint(configuration.baseURL)
        guard endpoint.scheme == "http" || endpoint.scheme == "https" else { throw .unsupportedScheme(endpoint.scheme) }
        live = try LiveSettingsBox(LiveSettings(voiceID: configuration.voiceID, modelID: configuration.modelID))
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "provider"] = "elevenlabs"
        self.logger = logger
        requests = SpeechRequests(
            service: .init(name: "ElevenLabs", credential: .elevenLabs, apiKey: configuration.apiKey, endpoint: endpoint),
            loop: loop, clock: clock, logger: logger)
    }

    /// What may change while the daemon runs: the voice and the model.
    public struct LiveSettings: Equatable, Sendable, CheckedSettings {
        /// The voice (letters, digits, `_` and `-`).
        public var voiceID: String
        public var modelID: String

        public init(voiceID: String, modelID: String) {
            self.voiceID = voiceID
            self.modelID = modelID
        }

        func check() throws(ProviderSetupError) {
            // ASCII letters and digits, `_` and `-`.
            let allowed = { (scalar: Unicode.Scalar) in
                ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == "_" || scalar == "-"
            }
            guard !voiceID.isEmpty, voiceID.unicodeScalars.allSatisfy(allowed) else {
                throw .invalidSetting(name: "voice_id", reason: "use the voice's id (letters, digits, _ and -), got '\(voiceID)'")
            }
            guard !modelID.isEmpty else { throw .invalidSetting(name: "model_id", reason: "is empty") }
        }
    }

    /// The voice and model in force: the next request uses them.
    public var settings: LiveSettings { live.current }

    /// Changes the voice and model from the next request on (a request in flight keeps what it
    /// started with). Throws, and keeps the old ones, for a bad voice id or an empty model.
    public func update(_ settings: LiveSettings) throws(ProviderSetupError) { try live.update(settings) }

    /// The last 100 request records, oldest first.
    public var records: [ProviderCallRecord] { requests.records }

    public func start(_ request: TTSRequest, onEvent: @escaping @Sendable (TTSEvent) -> Void) {
        struct Body: Encodable {
            var text: String
            var model_id: String
        }
        let settings = self.settings
        let url = endpoint.appending(path: "/v1/text-to-speech/\(settings.voiceID)/stream?output_format=pcm_16000")
        requests.start(request, url: url, headers: configuration.apiKey.map { ["xi-api-key: \($0.reveal())"] } ?? [],
                       body: Body(text: request.text, model_id: settings.modelID), sampleRate: 16_000,
                       timing: .init(configuration), onEvent: onEvent)
    }

    public func cancel(request id: Int) { requests.cancel(request: id) }
}

extension ElevenLabsTTS: TextToSpeechProvider {
    /// The `[tts]` keys, with ElevenLabs' defaults for those left empty.
    static func resolved(_ tts: VoicedConfig.TTS) -> VoicedConfig.TTS {
        tts.resolved(baseURL: "https://api.elevenlabs.io", voice: "21m00Tcm4TlvDq8ikWAM", model: "eleven_flash_v2_5")
    }

    public func apply(_ config: VoicedConfig) throws(ProviderSetupError) {
        let tts = Self.resolved(config.tts)
        try update(.init(voiceID: tts.voiceID, modelID: tts.modelID))
    }
}

extension ProviderEntry where Input == Void, Made == any TextToSpeechProvider {
    /// ElevenLabs streaming text-to-speech: `[tts] provider = "elevenlabs"`.
    static var elevenLabs: Self {
        Self(name: "elevenlabs") { context, _ in
            let tts = ElevenLabsTTS.resolved(context.config.tts)
            return try ElevenLabsTTS(
                configuration: ElevenLabsConfiguration(baseURL: tts.baseURL, voiceID: tts.voiceID, modelID: tts.modelID,
                                                       apiKey: try context.key(.elevenLabs)),
                clock: context.clock, logger: context.logger("voiced.tts"))
        }
    }
}
