import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals
import VoiceControl
import VoiceCore
import VoiceEspeak
import VoiceLinux
import VoiceProviders
import VoiceSupport
import VoiceTelemetry

/// Why the daemon could not start, with what to do.
public struct DaemonError: Error, CustomStringConvertible {
    public var message: String
    /// A configuration problem (exit code 78) rather than a failure of the machine.
    public var isConfiguration: Bool
    public var description: String { message }

    public init(_ message: String, configuration: Bool = false) {
        self.message = message
        isConfiguration = configuration
    }
}

/// The daemon's object graph: it reads the configuration, opens the devices, builds the
/// providers, the turn service, telemetry and the control socket, and runs them as one
/// `ServiceGroup` (SIGTERM shuts down in reverse order, telemetry last; SIGHUP reloads).
public final class Daemon: Sendable {
    public let configPath: String
    public let sessionID: String
    let logger: Logger
    let clock = SystemVoiceClock()
    let settings: SettingsStore
    let ring: AudioRingBuffer
    let mux: IndicatorMux
    let turns: TurnService
    let notifier: SystemdNotifier
    let heartbeats: LoopHeartbeats
    let telemetry: TelemetryWriter
    let sttStatus: SpeechToTextStatusBox
    let mute: MuteState
    /// Told of errors that happen outside a turn (devices, speech-to-text, sync) for `voicectl watch`.
    let errors = ErrorFanout()
    private let parts: Parts
    /// The configuration the running services were last given (live settings).
    private let applied: Mutex<VoicedConfig>
    /// `audio.earcons`, read at each wake.
    private let earcons: Atomic<Bool>

    /// What only the daemon knows: each is optional or one of a few kinds, by configuration.
    private struct Parts: Sendable {
        var capture: Capture
        var playback: Playback
        var stt: DeepgramLiveClient
        var led: GPIOIndicator?
        var button: (any ButtonEvents)?
        var sync: TelemetrySync?
        var control: ControlSocketServer
        var daemonControl: DaemonControl
        var volume: @Sendable (Int) -> Void
        // What live settings change besides the turn service (see `LiveTarget`).
        var llm: OpenAIChat
        var tts: ElevenLabsTTS
        var fallback: EspeakTTS
        var bargeIn: BargeInBox
    }

    enum Capture: Sendable {
        case alsa(ALSACapture)
        case wav(WAVCapture)
    }

    enum Playback: Sendable {
        case alsa(ALSAPlayback)
        case wav(WAVPlayback)

        var output: any AudioPlayback {
            switch self {
            case .alsa(let p): p
            case .wav(let p): p
            }
        }
    }

    /// Builds everything from the configuration file at `configPath` (already validated into `config`).
    public init(config fileConfig: VoicedConfig, configPath: String, logger: Logger,
                credentials: CredentialSource = CredentialSource()) throws(DaemonError) {
        self.configPath = configPath
        self.logger = logger
        sessionID = UUID().uuidString.lowercased()
        notifier = SystemdNotifier(logger: logger)

        // Live settings kept by voicectl, over the configuration file.
        let settings = SettingsStore(base: fileConfig, file: fileConfig.control.stateDirectory + "/settings.toml")
        for problem in settings.problems { logger.warning("saved setting ignored", metadata: ["problem": "\(problem)"]) }
        self.settings = settings
        let config = settings.effective
        applied = Mutex(config)
        earcons = Atomic(config.audio.earcons)
        VoicedLogging.level.level = Logger.Level(rawValue: config.log.level) ?? .info

        // Keys first: a missing one is a configuration error. They come from systemd credentials
        // or the environment, never the configuration file.
        let deepgramKey: DeepgramKey
        do {
            guard let secret = try credentials.load(.deepgram) else {
                throw DaemonError("no Deepgram API key: set the systemd credential \(CredentialName.deepgram.file) or \(CredentialName.deepgram.variable)", configuration: true)
            }
            deepgramKey = try DeepgramKey(secret.reveal())
        } catch let error as DaemonError {
            throw error
        } catch {
            throw DaemonError("the Deepgram API key is unusable: \(error)", configuration: true)
        }
        // Telemetry next: it also remembers the adaptive debounce across restarts.
        let origin = Date()
        var writerConfiguration = TelemetryWriterConfiguration(databasePath: config.telemetry.database)
        writerConfiguration.sizeLimitBytes = Int64(config.telemetry.maxSizeMiB) << 20
        do {
            try FileManager.default.createDirectory(atPath: (config.telemetry.database as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            telemetry = try TelemetryWriter(configuration: writerConfiguration, origin: origin,
                                            logger: logger.with(label: "voiced.telemetry"))
        } catch {
            throw DaemonError("cannot open the telemetry store \(config.telemetry.database): \(error)")
        }

        ring = AudioRingBuffer(capacity: config.audio.ringBufferSeconds * PlaybackChunk.sampleRate)
        // The watchdog watches that each loop is alive, not that audio flows: a muted microphone
        // and a device being reopened are states the daemon lives in.
        heartbeats = LoopHeartbeats(loops: ["capture", "playback", "controller"], window: .seconds(10), clock: clock)
        mute = MuteState(file: fileConfig.control.stateDirectory + "/muted")
        let mute = self.mute

        // The LEDs (or a console line), behind the mux that adds muted/offline/error and STATUS=.
        let output: any Indicator & Sendable
        var led: GPIOIndicator?
        switch config.gpio.backend {
        case .gpiod:
            let layout: LEDLayout = config.gpio.layout == .rgb
                ? .rgb : .perState([.idle, .listening, .speculative, .committed, .speaking, .error])
            do {
                let indicator = try GPIOIndicator(
                    configuration: GPIOIndicatorConfiguration(chip: config.gpio.chip, layout: layout,
                                                              offsets: config.gpio.ledLines.map { UInt32($0) },
                                                              activeLow: config.gpio.activeLow),
                    clock: clock, logger: logger.with(label: "voiced.gpio"))
                led = indicator
                output = indicator
            } catch {
                throw DaemonError("cannot open the LEDs on \(config.gpio.chip): \(error) (without a GPIO chip, set [gpio] backend = \"console\")")
            }
        case .console, .consoleNoStdin:
            output = ConsoleIndicator()
        }
        let notifier = self.notifier
        mux = IndicatorMux(output: output) { shown, reasons in
            notifier.status(Self.statusLine(shown, reasons))
        }
        // A mute from before a restart or a reboot holds, and the LEDs show it from the start.
        let mux = self.mux
        if mute.isOn { mux.setMuted(true) }
        let errors = self.errors
        let deviceStatus: @Sendable (DeviceRole, AudioDeviceStatus) -> Void = { role, status in
            let wasError = mux.deviceErrors[role] != nil
            mux.setDeviceError(role, status.isError ? status.statusText(role.rawValue) : nil)
            if status.isError && !wasError { errors.send("\(status.statusText(role.rawValue))") }
        }

        // Playback, and the reference of what it played for echo cancellation and barge-in (and,
        // with the room harness, a mirror of it that the simulated microphone hears).
        let roomSpeaker: PlaybackReference? = config.audio.room && config.audio.captureBackend == .wav ? PlaybackReference() : nil
        let reference = PlaybackReference(mirror: roomSpeaker)
        let playback: Playback
        switch config.audio.playbackBackend {
        case .alsa:
            let alsa = ALSAPlayback(configuration: .playback(device: config.audio.playbackDevice),
                                    logger: logger.with(label: "voiced.playback"), reference: reference,
                                    loopHeartbeat: heartbeats.heartbeat(for: "playback"),
                                    onStatus: { status in deviceStatus(.speaker, status) })
            playback = .alsa(alsa)
        case .wav:
            do {
                playback = .wav(try WAVPlayback(path: config.audio.playbackWAV, clock: clock, reference: reference,
                                                logger: logger.with(label: "voiced.playback")))
            } catch {
                throw DaemonError("cannot write \(config.audio.playbackWAV): \(error)")
            }
        }
        let volume: @Sendable (Int) -> Void
        switch playback {
        case .alsa(let p): volume = { p.volume = $0 }
        case .wav(let p): volume = { p.volume = $0 }
        }
        volume(config.audio.volume)

        let llm: OpenAIChat
        let tts: ElevenLabsTTS
        do {
            var chat = OpenAIChatConfiguration(baseURL: config.llm.baseURL, model: config.llm.model,
                                               apiKey: try credentials.load(.openAI))
            chat.maxTokens = config.llm.maxTokens
            chat.temperature = config.llm.temperature
            llm = try OpenAIChat(configuration: chat, clock: clock, logger: logger.with(label: "voiced.llm"))
            let voice = ElevenLabsConfiguration(baseURL: config.tts.baseURL, voiceID: config.tts.voiceID,
                                                modelID: config.tts.modelID, apiKey: try credentials.load(.elevenLabs))
            tts = try ElevenLabsTTS(configuration: voice, clock: clock, logger: logger.with(label: "voiced.tts"))
        } catch {
            throw DaemonError("cannot set up the cloud providers: \(error)", configuration: true)
        }
        let fallback = EspeakTTS(voice: config.fallbackTTS.voice, wordsPerMinute: config.fallbackTTS.wordsPerMinute,
                                 logger: logger.with(label: "voiced.espeak"))

        // The turn controller, with the debounce it had before a restart.
        var controller = TurnController(settings: config.turn, clock: clock, sessionID: sessionID,
                                        logger: logger.with(label: "voiced.turn"))
        if let kept = telemetry.persistedDebounce, config.turn.adaptive.enabled { controller.restoreDebounce(kept) }
        let turns = TurnService(controller: controller, llm: llm, tts: tts, fallbackTTS: fallback, playback: playback.output,
                                indicator: mux, scheduler: TaskTimerScheduler(clock: clock),
                                bargeInByVoice: config.audio.bargeIn == .voice, logger: logger.with(label: "voiced.turn"))
        self.turns = turns

        // The capture processor: echo cancellation while the speaker plays (and its tail), voice
        // activity, and the echo gate that speech-to-text results pass.
        let bargeIn = BargeInBox(settings: Self.voiceActivity(config), reference: reference,
                                 echoCancellation: config.audio.echoCancellation, cancelsEcho: config.audio.bargeIn == .voice,
                                 clock: clock)
        // Speech-to-text reads the ring; offline makes the speaker say so and go idle.
        let sttLogger = logger.with(label: "voiced.stt")
        let sttStatus = SpeechToTextStatusBox()
        self.sttStatus = sttStatus
        let stt: DeepgramLiveClient
        do {
            let deepgram = DeepgramConfiguration(baseURL: config.stt.baseURL, model: config.stt.model, language: config.stt.language,
                                                 endpointing: config.stt.endpointing, utteranceEnd: config.stt.utteranceEnd)
            stt = try DeepgramLiveClient(
                configuration: deepgram, apiKey: deepgramKey, audio: ring, clock: clock, logger: logger.with(label: "voiced.stt"),
                onEvent: { event in
                    guard bargeIn.admits(event) else {
                        sttLogger.info("a transcript of the speaker's own playback was discarded",
                                       metadata: ["event": "echo_discarded", "speech": "\(event)"])
                        return
                    }
                    turns.speech(event, from: .speechToText)
                },
                onStatus: { status in
                    sttStatus.set(status)
                    switch status {
                    case .online: mux.setOffline(false)
                    case .offline:
                        sttLogger.error("speech-to-text is offline after its reconnects; telling the user",
                                        metadata: ["event": "provider_error"])
                        errors.send("speech-to-text is offline after its reconnects")
                        mux.setOffline(true)
                        turns.goOffline()
                    case .reconnecting, .stopped: break
                    }
                })
        } catch {
            throw DaemonError("cannot set up speech-to-text: \(error)", configuration: true)
        }

        // Capture: the loop beats the watchdog on every step (muted or not, device or not); frames
        // that leave the capture thread (never while muted) feed barge-in and the overflow report.
        let captureLogger = logger.with(label: "voiced.capture")
        let overflows = OverflowLog(ring: ring, clock: clock, logger: captureLogger)
        let processor: @Sendable (UnsafeMutableBufferPointer<Int16>) -> Void = { frame in
            overflows.check()
            if let event = bargeIn.process(inPlace: frame) { turns.speech(event, from: .localVoiceActivity) }
        }
        let captureBeat = heartbeats.heartbeat(for: "capture")
        let capture: Capture
        switch config.audio.captureBackend {
        case .alsa:
            capture = .alsa(ALSACapture(configuration: .capture(device: config.audio.captureDevice), ring: ring,
                                        logger: captureLogger, frameProcessor: processor, loopHeartbeat: captureBeat,
                                        onStatus: { status in deviceStatus(.microphone, status) }))
        case .wav:
            do {
                let samples = try WAVFile.readMono16k(config.audio.captureWAV)
                let room = roomSpeaker.map { speaker in
                    // The room hears each reference frame one frame (20 ms) after the canceller takes it.
                    WAVCapture.RoomHarness(room: Room(path: EchoPath(delay: .milliseconds(max(0, config.audio.roomDelayMs - 20)),
                                                                     gain: config.audio.roomEchoGainDB),
                                                      noiseLevel: AudioMath.amplitude(decibels: config.audio.roomNoiseDBFS) * 32768),
                                           speaker: speaker)
                }
                capture = .wav(WAVCapture(clips: [.init(samples: samples)], ring: ring, clock: clock, frameProcessor: processor,
                                          loopHeartbeat: captureBeat, room: room))
            } catch {
                throw DaemonError("cannot read \(config.audio.captureWAV): \(error)", configuration: true)
            }
        }

        // The button (or stdin), and the control socket.
        var button: (any ButtonEvents)?
        switch config.gpio.backend {
        case .gpiod:
            do {
                button = try GPIOButton(
                    configuration: GPIOButtonConfiguration(chip: config.gpio.chip, offset: UInt32(config.gpio.buttonLine),
                                                           settings: ButtonSettings(longPress: config.gpio.longPress)),
                    clock: clock, logger: logger.with(label: "voiced.gpio"))
            } catch {
                throw DaemonError("cannot open the button on \(config.gpio.chip) line \(config.gpio.buttonLine): \(error)")
            }
        case .console:
            button = try? StdinButton(logger: logger.with(label: "voiced.button"))
            logger.notice("no GPIO: LEDs are a console line; the button is Enter on stdin (l + Enter: long press) or voicectl")
        case .consoleNoStdin:
            logger.notice("no GPIO: LEDs are a console line; the button is voicectl wake/interrupt/mute")
        }

        var sync: TelemetrySync?
        if !config.telemetry.postgresURL.isEmpty {
            var postgres = PostgresUpstreamConfiguration(url: config.telemetry.postgresURL)
            if !config.telemetry.postgresRootCertificate.isEmpty { postgres.rootCertificatePath = config.telemetry.postgresRootCertificate }
            do {
                let made = try TelemetrySync(configuration: TelemetrySyncConfiguration(databasePath: config.telemetry.database),
                                             postgres: postgres, clock: clock, logger: logger.with(label: "voiced.telemetry.sync"))
                made.onUploadFailure { message in errors.send(message) }
                sync = made
            } catch {
                throw DaemonError("cannot set up the telemetry sync: \(error)", configuration: true)
            }
        }

        let ring = self.ring
        let devices: @Sendable () -> [String: String]
        switch (capture, playback) {
        case (.alsa(let c), .alsa(let p)):
            devices = { ["microphone": c.status.statusText("microphone"), "speaker": p.status.statusText("speaker")] }
        case (.alsa(let c), .wav):
            devices = { ["microphone": c.status.statusText("microphone"), "speaker": "speaker: WAV file \(config.audio.playbackWAV)"] }
        case (.wav, .alsa(let p)):
            devices = { ["microphone": "microphone: WAV file \(config.audio.captureWAV)", "speaker": p.status.statusText("speaker")] }
        case (.wav, .wav):
            devices = { ["microphone": "microphone: WAV file \(config.audio.captureWAV)", "speaker": "speaker: WAV file \(config.audio.playbackWAV)"] }
        }
        let probes = DaemonProbes(
            sessionID: sessionID, clock: clock,
            providers: { ["stt": sttStatus.text] },
            devices: devices,
            ringBuffer: { ring.statistics },
            isMuted: { mux.isMuted },
            telemetry: { [telemetry] in telemetry.statistics.statusFields },
            setMuted: { _ in },
            apply: { _ in })
        let daemonControl = DaemonControl(turns: turns, settings: settings, probes: probes)
        let control = ControlSocketServer(path: config.control.socket, group: config.control.group, handler: daemonControl,
                                          logger: logger.with(label: "voiced.control"))
        parts = Parts(capture: capture, playback: playback, stt: stt, led: led, button: button, sync: sync, control: control,
                      daemonControl: daemonControl, volume: volume, llm: llm, tts: tts, fallback: fallback, bargeIn: bargeIn)
        daemonControl.probes.setMuted = { [weak self] on in self?.setMuted(on) }
        errors.observe { [weak daemonControl] message in daemonControl?.broadcast(error: message) }
        if mute.isOn { setMuted(true) }
        daemonControl.probes.apply = { [weak self] config in self?.apply(config) }
    }

    static func voiceActivity(_ config: VoicedConfig) -> VoiceActivitySettings {
        var settings = VoiceActivitySettings()
        // On in both modes: with button_only it does not barge in (TurnService), but it still
        // witnesses the user's speech for the echo gate.
        settings.enabled = true
        settings.minimumLevel = config.audio.vadThresholdDB
        return settings
    }

    /// Mutes or unmutes the microphone: while muted no audio leaves the device. The choice is
    /// kept in the state directory, so it holds across a restart and a reboot.
    public func setMuted(_ on: Bool) {
        switch parts.capture {
        case .alsa(let c): c.isMuted = on
        case .wav(let c): c.isMuted = on
        }
        mux.setMuted(on)
        if on { turns.muted() }
        updateStreaming()
        do {
            try mute.persist(on)
        } catch {
            logger.error("the mute applies now but could not be saved; it will not survive a restart",
                         metadata: ["muted": "\(on)", "file": "\(mute.file)", "error": "\(error)"])
            errors.send("the mute could not be saved to \(mute.file): \(error)")
        }
        logger.notice(on ? "microphone muted" : "microphone live", metadata: ["muted": "\(on)"])
    }

    /// One line for systemd's STATUS=: what is shown, then every device problem standing.
    static func statusLine(_ shown: IndicatorState, _ reasons: [String]) -> String {
        if shown == .error && !reasons.isEmpty { return "Error: " + reasons.joined(separator: "; ") }
        return ([SystemdNotifier.statusText(for: shown)] + reasons).joined(separator: "; ")
    }

    /// Applies a changed configuration to the running services (voicectl, SIGHUP): each changed
    /// live key through its `LiveTarget`, from the next turn or at once. Changed keys that are
    /// not live are logged as taking effect after a restart.
    func apply(_ config: VoicedConfig, from source: String = "settings") {
        let changed = applied.withLock { old -> [ConfigKey] in
            defer { old = config }
            return VoicedConfig.changedKeys(from: old, to: config)
        }
        var targets = Set<LiveTarget>()
        for key in changed where key.live {
            guard let wired = Self.liveWiring[key.path] else {
                logger.error("\(source): \(key.path) is marked live but not wired to anything; it takes effect after restart",
                             metadata: ["key": "\(key.path)"])
                continue
            }
            targets.formUnion(wired)
        }
        for target in LiveTarget.allCases where targets.contains(target) { apply(target, config) }
        for key in changed {
            if key.live && Self.liveWiring[key.path] != nil {
                logger.notice("\(source): applied", metadata: ["key": "\(key.path)", "value": "\(key.value(in: config).tomlText)"])
            } else if !key.live {
                logger.warning("\(source): changed; takes effect after restart", metadata: ["key": "\(key.path)"])
            }
        }
        if changed.isEmpty { logger.notice("\(source): nothing changed") }
    }

    /// What a live key changes in the running daemon.
    enum LiveTarget: String, CaseIterable, Sendable {
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
    static let liveWiring: [String: Set<LiveTarget>] = {
        var wiring: [String: Set<LiveTarget>] = [:]
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

    private func apply(_ target: LiveTarget, _ config: VoicedConfig) {
        switch target {
        case .turn:
            turns.update(settings: config.turn, bargeInByVoice: config.audio.bargeIn == .voice)
            updateStreaming()
        case .volume:
            parts.volume(config.audio.volume)
        case .voiceActivity:
            parts.bargeIn.update(settings: Self.voiceActivity(config), cancelsEcho: config.audio.bargeIn == .voice)
        case .llm:
            do {
                try parts.llm.update(.init(model: config.llm.model, maxTokens: config.llm.maxTokens, temperature: config.llm.temperature))
            } catch {
                logger.error("the LLM settings were not applied; the old ones stay", metadata: ["error": "\(error)"])
            }
        case .tts:
            do {
                try parts.tts.update(.init(voiceID: config.tts.voiceID, modelID: config.tts.modelID))
            } catch {
                logger.error("the voice settings were not applied; the old ones stay", metadata: ["error": "\(error)"])
            }
        case .fallbackVoice:
            parts.fallback.update(voice: config.fallbackTTS.voice, wordsPerMinute: config.fallbackTTS.wordsPerMinute)
        case .button:
            if let button = parts.button as? GPIOButton {
                var settings = button.settings
                settings.longPress = config.gpio.longPress
                button.update(settings: settings)
            }
        case .earcons:
            earcons.store(config.audio.earcons, ordering: .relaxed)
        case .logLevel:
            VoicedLogging.level.level = Logger.Level(rawValue: config.log.level) ?? .info
        }
    }

    /// Audio goes to speech-to-text only when it may: never while muted, and while IDLE only
    /// with `always_listening` (otherwise a wake is needed first: nothing is streamed in between).
    func updateStreaming(state: TurnState? = nil) {
        let idle = (state ?? turns.current.state) == .idle
        let silent = mux.isMuted || (idle && !settings.effective.turn.alwaysListening)
        parts.stt.setMuted(silent)
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
        apply(settings.rebase(on: new), from: "reload")
    }

    /// Runs until SIGTERM or SIGINT.
    public func run() async throws {
        // A SIGHUP before the reload service listens must not kill the daemon (its default action).
        signal(SIGHUP, SIG_IGN)
        telemetry.sessionStarted(sessionID, at: clock.now)
        observeTurns()
        do {
            try parts.control.start()
        } catch {
            throw DaemonError("cannot create the control socket: \(error.description) (is [control] socket in a writable directory?)")
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        // Started first, stopped last: telemetry flushes after everything else has stopped. The
        // turn under way (aborted) and the session's end are queued before the writer's last write.
        services.append(.init(service: ClosureService("telemetry") { [self] in
            telemetry.start()
            try? await gracefulShutdown()
            turns.shutdown(cause: Task.isCancelled ? .fatalError : .shutdown)
            telemetry.sessionEnded(sessionID, at: clock.now)
            await telemetry.stop()
        }))
        if let sync = parts.sync { services.append(.init(service: sync)) }
        switch parts.playback {
        case .alsa(let p):
            try startThread { () throws(ThreadStartError) in try p.start() }
            services.append(.init(service: ClosureService("playback") { try await untilShutdown { try await p.run() } }))
        case .wav(let p):
            let beat = heartbeats.heartbeat(for: "playback")
            services.append(.init(service: ClosureService("playback") { try await untilShutdown { await p.run(loopHeartbeat: beat) } }))
        }
        switch parts.capture {
        case .alsa(let c):
            try startThread { () throws(ThreadStartError) in try c.start() }
            services.append(.init(service: ClosureService("capture") { try await untilShutdown { try await c.run() } }))
        case .wav(let c):
            services.append(.init(service: ClosureService("capture") { try await untilShutdown { await c.run() } }))
        }
        try parts.led?.start()
        services.append(.init(service: parts.stt))
        services.append(.init(service: turns))
        if let button = parts.button {
            services.append(.init(service: ClosureService("button") { [self] in
                try await untilShutdown { [self] in
                    for await gesture in button.gestures() {
                        switch gesture {
                        case .shortPress: turns.buttonPressed()
                        case .longPress: setMuted(!mux.isMuted)
                        }
                    }
                }
                button.stop()
            }))
        }
        services.append(.init(service: ClosureService("controller-heartbeat") { [self] in
            try await untilShutdown { [self] in try await controllerHeartbeat() }
        }))
        services.append(.init(service: ClosureService("reload") { [self] in
            try await untilShutdown { [self] in
                for await _ in await UnixSignalsSequence(trapping: .sighup) { reload() }
            }
        }))
        // Last: told of SIGTERM first, so STOPPING=1 goes out at once.
        services.append(.init(service: SystemdWatchdogService(notifier: notifier, heartbeats: heartbeats, clock: clock,
                                                              logger: logger.with(label: "voiced.watchdog"))))

        // READY=1 once capture and playback have opened or failed a first time (they are then
        // retried with backoff, which STATUS= says); the GPIO chip opened in init. It waits inside
        // the group, so SIGTERM is handled gracefully from the first moment.
        services.append(.init(service: ClosureService("ready") { [self] in
            let devices = await devicesSettled()
            notifier.ready(status: Self.statusLine(mux.shown, mux.deviceErrors.sorted { $0.key < $1.key }.map(\.value)))
            logger.notice("voiced ready", metadata: ["session": "\(sessionID)", "config": "\(configPath)",
                                                     "microphone": "\(devices.microphone)", "speaker": "\(devices.speaker)"])
        }, successTerminationBehavior: .ignore))

        let group = ServiceGroup(configuration: .init(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            logger.error("a service failed; shutting down", metadata: ["error": "\(error)"])
        }
        parts.control.stop()
        parts.led?.stop()
        logger.notice("voiced stopped", metadata: ["session": "\(sessionID)"])
    }

    /// Waits (at most 5 s) until each ALSA device has opened or failed once; the WAV backends
    /// are ready at once. Returns how each is doing.
    private func devicesSettled() async -> (microphone: String, speaker: String) {
        func settled() -> (microphone: AudioDeviceStatus?, speaker: AudioDeviceStatus?) {
            var microphone: AudioDeviceStatus?
            var speaker: AudioDeviceStatus?
            if case .alsa(let c) = parts.capture { microphone = c.status }
            if case .alsa(let p) = parts.playback { speaker = p.status }
            return (microphone, speaker)
        }
        let deadline = clock.now + .seconds(5)
        while clock.now < deadline {
            let now = settled()
            if now.microphone != .stopped && now.speaker != .stopped { break }
            try? await Task.sleep(for: .milliseconds(2))
        }
        let now = settled()
        return (now.microphone.map { $0.statusText("microphone") } ?? "wav", now.speaker.map { $0.statusText("speaker") } ?? "wav")
    }

    private func startThread(_ start: () throws(ThreadStartError) -> Void) throws(DaemonError) {
        do {
            try start()
        } catch {
            throw DaemonError(error.description)
        }
    }

    /// Proves the controller handles events: a heartbeat goes through its queue every 2 s and
    /// the watchdog's "controller" loop beats only when it came out.
    private func controllerHeartbeat() async throws {
        let beat = heartbeats.heartbeat(for: "controller")
        while !Task.isCancelled {
            let before = turns.current.handledEvents
            turns.heartbeat()
            try await Task.sleep(for: .milliseconds(500))
            if turns.current.handledEvents != before { beat.beat() }
            try await Task.sleep(for: .milliseconds(1500))
        }
    }

    /// Telemetry, earcons and speech-to-text finalisation follow the turns.
    private func observeTurns() {
        let telemetry = self.telemetry
        let sessionID = self.sessionID
        let clock = self.clock
        let playback = parts.playback
        let stt = parts.stt
        let turnCount = Atomic<Int>(0)
        updateStreaming(state: .idle)
        turns.observe { [turns, unowned self] note in
            switch note {
            case .transition(let event):
                if event.from == .idle || event.to == .idle { self.updateStreaming(state: event.to) }
                if event.from == .idle && event.to == .listening && self.earcons.load(ordering: .relaxed) {
                    playback.output.enqueue(PlaybackChunk(turn: -1, segment: 0, samples: Earcon.wake.samples()))
                }
                // A wake that heard nothing says that listening has ended.
                if event.to == .idle && event.cause == .listenTimeout && self.earcons.load(ordering: .relaxed) {
                    playback.output.enqueue(PlaybackChunk(turn: -1, segment: 0, samples: Earcon.listenEnded.samples()))
                }
                if event.to == .speculative { stt.finalize() }
            case .turnFinished(let record):
                telemetry.turnFinished(record, sessionID: sessionID)
                let count = turnCount.add(1, ordering: .relaxed).newValue
                if count % DaemonControl.snapshotEvery == 0 { telemetry.snapshot(turns.current.telemetry, at: clock.now) }
            case .debounceAdjusted(let adjustment):
                telemetry.debounceChanged(to: adjustment.new, sessionID: sessionID, at: clock.now)
            case .speech, .speaking, .providerFailed:
                break
            }
        }
    }
}

/// The speech-to-text connection's state in words, for `voicectl status`.
final class SpeechToTextStatusBox: Sendable {
    private let status = Mutex("connecting")

    func set(_ new: SpeechToTextStatus) {
        let text: String
        switch new {
        case .online: text = "connected"
        case .reconnecting(let attempt, _): text = "reconnecting (attempt \(attempt))"
        case .offline: text = "offline"
        case .stopped: text = "stopped"
        }
        status.withLock { $0 = text }
    }

    var text: String { status.withLock { $0 } }
}

/// The capture processor on the capture thread (it is only ever used there), and the echo gate
/// it keeps for speech-to-text. Settings changed live wait in a box; the capture thread takes
/// them before its next frame.
final class BargeInBox: @unchecked Sendable {
    // @unchecked: `processor` is touched only by the capture thread; `pending` and `gate` are
    // behind their mutexes.
    private let processor: CaptureProcessor
    private let pending = Mutex<(settings: VoiceActivitySettings, cancelsEcho: Bool)?>(nil)
    private let gate = Mutex(EchoGate())
    private let clock: any VoiceClock

    /// The canceller exists when `echoCancellation` is on; it runs only while the speaker plays
    /// (and its tail), and only while `cancelsEcho` (barge-in by voice).
    init(settings: VoiceActivitySettings, reference: PlaybackReference, echoCancellation: Bool, cancelsEcho: Bool,
         clock: any VoiceClock) {
        let canceller: (any EchoCanceller)? = echoCancellation ? SpeexEchoCanceller() : nil
        processor = CaptureProcessor(settings: settings, reference: reference, echoCanceller: canceller,
                                     tail: Self.tail(filterLength: (canceller as? SpeexEchoCanceller)?.filterLength),
                                     cancelsEcho: cancelsEcho)
        self.clock = clock
    }

    /// The echo path's length (the canceller's filter length, 200 ms without one) plus 100 ms.
    static func tail(filterLength: Duration?) -> Duration { (filterLength ?? .milliseconds(200)) + .milliseconds(100) }

    /// New voice-activity settings (`audio.barge_in`, `audio.vad_threshold_db`), from the next frame on.
    func update(settings: VoiceActivitySettings, cancelsEcho: Bool) { pending.withLock { $0 = (settings, cancelsEcho) } }

    /// One captured frame, changed in place (echo-cancelled while the speaker plays).
    func process(inPlace frame: UnsafeMutableBufferPointer<Int16>) -> SpeechEvent? {
        if let update = pending.withLock({ box -> (settings: VoiceActivitySettings, cancelsEcho: Bool)? in defer { box = nil }; return box }) {
            processor.update(settings: update.settings)
            processor.cancelsEcho = update.cancelsEcho
        }
        let event = processor.process(inPlace: frame)
        let now = clock.now
        let inPlayback = processor.lastFrameInPlayback
        let speaking = processor.isSpeaking
        gate.withLock {
            $0.frame(endingAt: now, duration: PlaybackChunk.duration(ofSamples: frame.count), echoRisk: inPlayback, userSpeech: speaking)
        }
        return event
    }

    /// Whether a speech-to-text event arriving now may count as the user's (``EchoGate``).
    func admits(_ event: SpeechEvent) -> Bool {
        let now = clock.now
        return gate.withLock { $0.admits(event, arrivedAt: now) }
    }
}

extension Logger {
    /// The same handler configuration under another label.
    func with(label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = logLevel
        return logger
    }
}
