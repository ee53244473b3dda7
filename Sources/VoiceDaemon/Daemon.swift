import FoundationEssentials
import Glibc
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

/// The composition root: it reads the configuration, has each subsystem build itself (audio,
/// indicators and button, providers, telemetry, control), wires them, and runs every long-running
/// piece as a `Service` of one `ServiceGroup` (SIGTERM shuts down in reverse order, telemetry
/// last). Runtime policy lives in the piece that owns it: the mute and the streaming gate in
/// `MicrophoneGate`, live settings and SIGHUP in `LiveSettings`, earcons and finalisation in
/// `TurnFollowers`, the turn loop in `TurnService`.
public final class Daemon: Sendable {
    public let configPath: String
    public let sessionID: String
    let logger: Logger
    let clock = SystemVoiceClock()
    let notifier: SystemdNotifier
    let heartbeats: LoopHeartbeats
    let speaker: Speaker
    let microphone: Microphone
    let indicators: Indicators
    let records: Records
    let stt: any SpeechToTextProvider
    let turns: TurnService
    let gate: MicrophoneGate
    let live: LiveSettings
    let control: ControlSocketServer

    /// Builds everything from the configuration file at `configPath` (already validated into `config`).
    public init(config fileConfig: VoicedConfig, configPath: String, logger: Logger,
                credentials: CredentialSource = CredentialSource()) throws(DaemonError) {
        self.configPath = configPath
        self.logger = logger
        let sessionID = UUID().uuidString.lowercased()
        self.sessionID = sessionID
        let clock = self.clock
        let notifier = SystemdNotifier(logger: logger)
        self.notifier = notifier

        // Live settings kept by voicectl, over the configuration file.
        let settings = SettingsStore(base: fileConfig, file: fileConfig.control.stateDirectory + "/settings.toml")
        for problem in settings.problems { logger.warning("saved setting ignored", metadata: ["problem": "\(problem)"]) }
        let config = settings.effective
        VoicedLogging.level.level = Logger.Level(rawValue: config.log.level) ?? .info

        // Providers and their keys first (an unknown provider or a missing key is a configuration
        // error), then telemetry, which also remembers the adaptive debounce across restarts.
        let cloud = try Cloud.build(config, credentials: credentials, clock: clock, logger: logger)
        let errors = ErrorFanout()
        let records = try Records.build(config, clock: clock, errors: errors, logger: logger)
        self.records = records

        // The watchdog watches that each loop is alive, not that audio flows: a muted microphone
        // and a device being reopened are states the daemon lives in.
        let heartbeats = LoopHeartbeats(loops: ["capture", "playback", "controller"], window: .seconds(10), clock: clock)
        self.heartbeats = heartbeats
        let indicators = try Indicators.build(config, clock: clock, notifier: notifier, logger: logger)
        self.indicators = indicators
        let mux = indicators.mux
        // A mute from before a restart or a reboot holds, and the LEDs show it from the start.
        let mute = MuteState(file: fileConfig.control.stateDirectory + "/muted")
        if mute.isOn { mux.setMuted(true) }
        let deviceStatus: @Sendable (DeviceRole, AudioDeviceStatus) -> Void = { role, status in
            let wasError = mux.deviceErrors[role] != nil
            mux.setDeviceError(role, status.isError ? status.statusText(role.rawValue) : nil)
            if status.isError && !wasError { errors.send("\(status.statusText(role.rawValue))") }
        }
        let speaker = try Speaker.build(config, clock: clock, heartbeats: heartbeats, logger: logger,
                                        onStatus: { deviceStatus(.speaker, $0) })
        self.speaker = speaker

        // The turn controller, with the debounce it had before a restart, on its own loop.
        var controller = TurnController(settings: config.turn, clock: clock, sessionID: sessionID,
                                        logger: logger.with(label: "voiced.turn"))
        if let kept = records.writer.persistedDebounce, config.turn.adaptive.enabled { controller.restoreDebounce(kept) }
        let turns = TurnService(controller: controller, llm: cloud.llm, tts: cloud.tts, fallbackTTS: cloud.fallback,
                                playback: speaker.output, indicator: mux, scheduler: TaskTimerScheduler(clock: clock),
                                loop: true,
                                logger: logger.with(label: "voiced.turn"))
        self.turns = turns

        // The microphone fills the ring; its capture processor keeps the echo gate that
        // speech-to-text results pass. Speech-to-text reads the ring; going offline makes the
        // speaker say so.
        let ring = AudioRingBuffer(capacity: config.audio.ringBufferSeconds * PlaybackChunk.sampleRate)
        let microphone = try Microphone.build(config, ring: ring, speaker: speaker, clock: clock,
                                              heartbeats: heartbeats, logger: logger,
                                              onStatus: { deviceStatus(.microphone, $0) },
                                              voice: { event in turns.speech(event, from: .localVoiceActivity) })
        self.microphone = microphone
        let sttStatus = SpeechToTextStatusBox()
        let sttLogger = logger.with(label: "voiced.stt")
        let bargeIn = microphone.bargeIn
        let stt = try cloud.speechToText(
            ring: ring,
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
        self.stt = stt

        // Policy: who hears the microphone, what follows the turns, live settings.
        let gate = MicrophoneGate(microphone: microphone, mux: mux, turns: turns, stt: stt, mute: mute, settings: settings,
                                  errors: errors, logger: logger)
        self.gate = gate
        let followers = TurnFollowers(earcons: config.audio.earcons)
        followers.follow(turns: turns, speaker: speaker, stt: stt, gate: gate, records: records, sessionID: sessionID, clock: clock)
        let live = LiveSettings(configPath: configPath, settings: settings, turns: turns, gate: gate, speaker: speaker,
                                microphone: microphone, cloud: cloud, button: indicators.button, followers: followers,
                                notifier: notifier, logger: logger)
        self.live = live
        if mute.isOn { gate.setMuted(true) }

        // voicectl.
        let writer = records.writer
        let probes = DaemonProbes(
            sessionID: sessionID, clock: clock,
            providers: { ["stt": sttStatus.text] },
            devices: { ["microphone": microphone.statusText(config), "speaker": speaker.statusText(config)] },
            ringBuffer: { ring.statistics },
            isMuted: { mux.isMuted },
            telemetry: { writer.statistics.statusFields },
            setMuted: { on in gate.setMuted(on) },
            apply: { config in live.apply(config) })
        let daemonControl = DaemonControl(turns: turns, settings: settings, probes: probes)
        errors.observe { [weak daemonControl] message in daemonControl?.broadcast(error: message) }
        control = ControlSocketServer(path: config.control.socket, group: config.control.group, handler: daemonControl,
                                      logger: logger.with(label: "voiced.control"))
    }

    /// Runs until SIGTERM or SIGINT.
    public func run() async throws {
        // A SIGHUP before the reload service listens must not kill the daemon (its default action).
        signal(SIGHUP, SIG_IGN)
        records.writer.sessionStarted(sessionID, at: clock.now)
        do {
            try control.start()
        } catch {
            throw DaemonError("cannot create the control socket: \(error.description) (is [control] socket in a writable directory?)")
        }
        // In start order; the group stops them in reverse. Telemetry first, so it flushes last.
        var services: [any Service] = [records.service(sessionID: sessionID, turns: turns, clock: clock)]
        if let sync = records.sync { services.append(sync) }
        services += [
            speaker.service(heartbeats: heartbeats),
            microphone.service(),
            CurlLoop.shared,  // the chat and speech providers' HTTP loop, stopped after them
            stt,
            turns,
            indicators.service(turns: turns, gate: gate),
            ControlService(server: control),
            turns.heartbeatService(beat: heartbeats.heartbeat(for: "controller")),
            live,
            // Last: told of SIGTERM first, so STOPPING=1 goes out at once.
            SystemdWatchdogService(notifier: notifier, heartbeats: heartbeats, clock: clock,
                                   logger: logger.with(label: "voiced.watchdog")),
        ]
        var configurations = services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) }
        // READY=1 once capture and playback have opened or failed a first time (they are then
        // retried with backoff, which STATUS= says); the GPIO chip opened in init. It waits inside
        // the group, so SIGTERM is handled gracefully from the first moment.
        configurations.append(.init(service: ClosureService { [self] in
            let devices = await devicesSettled()
            let mux = indicators.mux
            notifier.ready(status: Indicators.statusLine(mux.shown, mux.deviceErrors.sorted { $0.key < $1.key }.map(\.value)))
            logger.notice("voiced ready", metadata: ["session": "\(sessionID)", "config": "\(configPath)",
                                                     "microphone": "\(devices.microphone)", "speaker": "\(devices.speaker)"])
        }, successTerminationBehavior: .ignore))

        let group = ServiceGroup(configuration: .init(
            services: configurations, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        var failure: (any Error)?
        do {
            try await group.run()
        } catch {
            failure = error
            logger.error("a service failed; shutting down", metadata: ["error": "\(error)"])
        }
        logger.notice("voiced stopped", metadata: ["session": "\(sessionID)"])
        // A failure exits non-zero, so that systemd's Restart=on-failure restarts the daemon.
        if let failure { throw DaemonError("a service failed: \(failure)") }
    }

    /// Waits (at most 5 s) until each ALSA device has opened or failed once; the WAV backends
    /// are ready at once. Returns how each is doing.
    private func devicesSettled() async -> (microphone: String, speaker: String) {
        let deadline = clock.now + .seconds(5)
        while clock.now < deadline {
            if microphone.deviceStatus != .stopped && speaker.deviceStatus != .stopped { break }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return (microphone.deviceStatus.map { $0.statusText("microphone") } ?? "wav",
                speaker.deviceStatus.map { $0.statusText("speaker") } ?? "wav")
    }
}

extension TurnService {
    /// Proves the controller handles events: a heartbeat goes through its queue every 2 s and
    /// the watchdog's "controller" loop beats only when it came out.
    func heartbeatService(beat: Heartbeat) -> ClosureService {
        ClosureService { [self] in
            try await untilShutdown { [self] in
                while !Task.isCancelled {
                    let before = current.handledEvents
                    heartbeat()
                    try await Task.sleep(for: .milliseconds(500))
                    if current.handledEvents != before { beat.beat() }
                    try await Task.sleep(for: .milliseconds(1500))
                }
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

extension Logger {
    /// The same handler configuration under another label.
    func with(label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = logLevel
        return logger
    }
}
