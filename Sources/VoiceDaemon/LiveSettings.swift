import FoundationEssentials
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals
import VoiceCore
import VoiceLinux
import VoiceProviders

/// Applies changed settings to the running daemon (voicectl `settings.set`, SIGHUP): each changed
/// live key through its `Target`, from the next turn or at once; changed keys that are not live
/// are logged as taking effect after a restart. As a service it reloads the file on SIGHUP.
final class LiveSettings: Service, Sendable {
    /// What a live key changes in the running daemon.
    enum Target: String, CaseIterable, Sendable {
        /// The turn controller's settings and barge-in by voice; whether audio streams while idle.
        case turn
        case volume
        /// The barge-in detector on the capture thread.
        case voiceActivity = "voice_activity"
        /// The chat client: model, max tokens, temperature (from the next call).
        case llm
        /// The speech client: voice and model (from the next request).
        case tts
        /// espeak-ng: voice and speed (from the next synthesis).
        case fallbackVoice = "fallback_voice"
        /// The GPIO button's long press (none on the console backends).
        case button
        case earcons
        /// The level of every logger at once.
        case logLevel = "log_level"
    }

    /// Every key marked live in the schema, and what it changes. A live key missing here is an
    /// error when it changes, and `LiveSettingsContractTests` fails.
    static let wiring: [String: Set<Target>] = {
        var wiring: [String: Set<Target>] = [:]
        // The turn controller takes `TurnSettings` whole: every [turn] key.
        for key in VoicedConfig.schema where key.path.hasPrefix("turn.") { wiring[key.path] = [.turn] }
        wiring["audio.volume"] = [.volume]
        wiring["audio.barge_in"] = [.turn, .voiceActivity]
        wiring["audio.vad_threshold_db"] = [.voiceActivity]
        wiring["audio.earcons"] = [.earcons]
        wiring["gpio.long_press_ms"] = [.button]
        wiring["llm.model"] = [.llm]
        wiring["llm.max_tokens"] = [.llm]
        wiring["llm.temperature"] = [.llm]
        wiring["tts.voice_id"] = [.tts]
        wiring["tts.model_id"] = [.tts]
        wiring["fallback_tts.voice"] = [.fallbackVoice]
        wiring["fallback_tts.words_per_minute"] = [.fallbackVoice]
        wiring["log.level"] = [.logLevel]
        return wiring
    }()

    private let configPath: String
    private let settings: SettingsStore
    /// The configuration the running services were last given.
    private let applied: Mutex<VoicedConfig>
    private let turns: TurnService
    private let gate: MicrophoneGate
    private let speaker: Speaker
    private let microphone: Microphone
    private let cloud: Cloud
    private let button: (any ButtonEvents)?
    private let followers: TurnFollowers
    private let notifier: SystemdNotifier
    private let logger: Logger

    init(configPath: String, settings: SettingsStore, turns: TurnService, gate: MicrophoneGate, speaker: Speaker,
         microphone: Microphone, cloud: Cloud, button: (any ButtonEvents)?, followers: TurnFollowers,
         notifier: SystemdNotifier, logger: Logger) {
        self.configPath = configPath
        self.settings = settings
        applied = Mutex(settings.effective)
        self.turns = turns
        self.gate = gate
        self.speaker = speaker
        self.microphone = microphone
        self.cloud = cloud
        self.button = button
        self.followers = followers
        self.notifier = notifier
        self.logger = logger
    }

    /// Reloads the configuration file at each SIGHUP until shutdown.
    func run() async throws {
        try await untilShutdown { [self] in
            for await _ in await UnixSignalsSequence(trapping: .sighup) { reload() }
        }
    }

    func apply(_ config: VoicedConfig, from source: String = "settings") {
        let changed = applied.withLock { old -> [ConfigKey] in
            defer { old = config }
            return VoicedConfig.changedKeys(from: old, to: config)
        }
        var targets = Set<Target>()
        for key in changed where key.live {
            guard let wired = Self.wiring[key.path] else {
                logger.error("\(source): \(key.path) is marked live but not wired to anything; it takes effect after restart",
                             metadata: ["key": "\(key.path)"])
                continue
            }
            targets.formUnion(wired)
        }
        for target in Target.allCases where targets.contains(target) { apply(target, config) }
        for key in changed {
            if key.live && Self.wiring[key.path] != nil {
                logger.notice("\(source): applied", metadata: ["key": "\(key.path)", "value": "\(key.value(in: config).tomlText)"])
            } else if !key.live {
                logger.warning("\(source): changed; takes effect after restart", metadata: ["key": "\(key.path)"])
            }
        }
        if changed.isEmpty { logger.notice("\(source): nothing changed") }
    }

    private func apply(_ target: Target, _ config: VoicedConfig) {
        switch target {
        case .turn:
            turns.update(settings: config.turn)  // `turn.bargeInByVoice` follows `audio.barge_in`
            gate.updateStreaming()
        case .volume:
            speaker.setVolume(config.audio.volume)
        case .voiceActivity:
            microphone.bargeIn.update(settings: Microphone.voiceActivity(config), cancelsEcho: config.audio.bargeIn == .voice)
        case .llm:
            do {
                try cloud.llm.apply(config)
            } catch {
                logger.error("the LLM settings were not applied; the old ones stay", metadata: ["error": "\(error)"])
            }
        case .tts:
            do {
                try cloud.tts.apply(config)
            } catch {
                logger.error("the voice settings were not applied; the old ones stay", metadata: ["error": "\(error)"])
            }
        case .fallbackVoice:
            cloud.fallback.update(voice: config.fallbackTTS.voice, wordsPerMinute: config.fallbackTTS.wordsPerMinute)
        case .button:
            if let button = button as? GPIOButton {
                var settings = button.settings
                settings.longPress = config.gpio.longPress
                button.update(settings: settings)
            }
        case .earcons:
            followers.earcons.store(config.audio.earcons, ordering: .relaxed)
        case .logLevel:
            VoicedLogging.level.level = Logger.Level(rawValue: config.log.level) ?? .info
        }
    }

    /// Re-reads the configuration file (SIGHUP): live keys apply now, the others are logged as
    /// needing a restart.
    func reload() {
        notifier.reloading()
        defer { notifier.ready() }
        guard let data = FileManager.default.contents(atPath: configPath) else {
            logger.error("reload: cannot read the configuration file; keeping the running one", metadata: ["path": "\(configPath)"])
            return
        }
        let new: VoicedConfig
        do {
            // From the bytes: a file that is not UTF-8 gets the line and key of its bad byte.
            new = try VoicedConfig.parse(bytes: data, file: configPath)
        } catch {
            logger.error("reload: the configuration is not usable; keeping the running one", metadata: ["error": "\(error.description)"])
            return
        }
        do {
            // A provider name the next start would refuse is refused now, while it can be fixed.
            try ProviderRegistry.checkNames(new)
        } catch {
            logger.error("reload: the configuration is not usable; keeping the running one", metadata: ["error": "\(error.description)"])
            return
        }
        apply(settings.rebase(on: new), from: "reload")
    }
}
