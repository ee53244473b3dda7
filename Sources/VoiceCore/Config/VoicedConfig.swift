/// Where the microphone audio comes from.
public enum CaptureBackend: String, Sendable, CaseIterable { case alsa, wav }
/// Where the answer is played.
public enum PlaybackBackend: String, Sendable, CaseIterable { case alsa, wav }
/// What drives the LEDs and reads the button.
public enum IndicatorBackend: String, Sendable, CaseIterable {
    /// LEDs and button on GPIO lines (libgpiod).
    case gpiod
    /// A console line for the LEDs, and the button from standard input.
    case console
    /// A console line for the LEDs; the button only through the control socket.
    case consoleNoStdin = "console_no_stdin"
}
/// How the LEDs are wired.
public enum LEDWiring: String, Sendable, CaseIterable {
    /// Three lines: red, green, blue.
    case rgb
    /// One line per state: idle, listening, speculative, committed, speaking, error.
    case perState = "per_state"
}
/// What may interrupt the answer.
public enum BargeIn: String, Sendable, CaseIterable {
    /// The button, and the user's voice (local voice activity detection).
    case voice
    /// The button only.
    case buttonOnly = "button_only"
}

/// The daemon's configuration: `/etc/voiced/voiced.toml`, every key documented with its default
/// in `config/voiced.toml`. Secrets (API keys, the Postgres password) are never here: they come
/// from systemd credentials or the environment.
public struct VoicedConfig: Equatable, Sendable {
    public struct Audio: Equatable, Sendable {
        public var captureBackend: CaptureBackend = .alsa
        public var captureDevice = "default"
        public var captureWAV = ""
        public var playbackBackend: PlaybackBackend = .alsa
        public var playbackDevice = "default"
        public var playbackWAV = ""
        public var volume = 80
        public var ringBufferSeconds = 10
        public var bargeIn: BargeIn = .voice
        public var vadThresholdDB = -40.0
        public var echoCancellation = true
        public var earcons = true
        public var room = false
        public var roomEchoGainDB = -10.0
        public var roomDelayMs = 30
        public var roomNoiseDBFS = -70.0
    }
    public struct GPIO: Equatable, Sendable {
        public var backend: IndicatorBackend = .gpiod
        public var chip = "gpiochip0"
        public var layout: LEDWiring = .rgb
        public var ledLines: [Int] = [17, 27, 22]
        public var activeLow = false
        public var buttonLine = 23
        public var longPress: Duration = .milliseconds(2000)
    }
    public struct STT: Equatable, Sendable {
        /// The implementation, by its name in the provider registry.
        public var provider = "deepgram"
        public var baseURL = "wss://api.deepgram.com/v1/listen"
        public var model = "nova-3"
        public var language = "en-US"
        public var endpointing: Duration = .milliseconds(300)
        public var utteranceEnd: Duration = .milliseconds(1000)
    }
    public struct LLM: Equatable, Sendable {
        /// The implementation, by its name in the provider registry.
        public var provider = "openai"
        public var baseURL = "https://api.openai.com/v1"
        public var model = "gpt-4o-mini"
        public var maxTokens = 300
        public var temperature = 0.7
    }
    public struct TTS: Equatable, Sendable {
        /// The implementation, by its name in the provider registry.
        public var provider = "elevenlabs"
        /// Empty: the provider's own default (so are `voiceID` and `modelID`).
        public var baseURL = ""
        public var voiceID = ""
        public var modelID = ""
        /// The speaking rate, for providers that take one.
        public var speed = 1.0
    }
    public struct FallbackTTS: Equatable, Sendable {
        public var voice = "en-us"
        public var wordsPerMinute = 170
    }
    public struct Telemetry: Equatable, Sendable {
        public var database = "/var/lib/voiced/voiced.sqlite"
        public var maxSizeMiB = 64
        public var postgresURL = ""
        public var postgresRootCertificate = ""
    }
    public struct Control: Equatable, Sendable {
        public var socket = "/run/voiced/control.sock"
        public var group = "voiced"
        public var stateDirectory = "/var/lib/voiced"
    }
    public struct Log: Equatable, Sendable {
        public var level = "info"
    }

    public var turn = TurnSettings()
    /// `audio.barge_in` is also the turn controller's rule: `turn.bargeInByVoice` follows it.
    public var audio = Audio() { didSet { turn.bargeInByVoice = audio.bargeIn == .voice } }
    public var gpio = GPIO()
    public var stt = STT()
    public var llm = LLM()
    public var tts = TTS()
    public var fallbackTTS = FallbackTTS()
    public var telemetry = Telemetry()
    public var control = Control()
    public var log = Log()

    public init() {}
}
