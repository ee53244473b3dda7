import Logging
import ServiceLifecycle
import Synchronization
import VoiceCore
import VoiceLinux

/// The speaker: ALSA or a WAV file, with the reference of what it played (for echo cancellation
/// and barge-in) and its volume.
struct Speaker: Sendable {
    enum Backend: Sendable {
        case alsa(ALSAPlayback)
        case wav(WAVPlayback)
    }

    let backend: Backend
    let reference: PlaybackReference
    /// With the room harness: a mirror of the reference that the simulated microphone hears.
    let roomSpeaker: PlaybackReference?

    var output: any AudioPlayback {
        switch backend {
        case .alsa(let p): p
        case .wav(let p): p
        }
    }

    /// The device in words, for `voicectl status`.
    func statusText(_ config: VoicedConfig) -> String {
        switch backend {
        case .alsa(let p): p.status.statusText("speaker")
        case .wav: "speaker: WAV file \(config.audio.playbackWAV)"
        }
    }

    /// The ALSA device's state (nil for a WAV file, which is ready at once).
    var deviceStatus: AudioDeviceStatus? { if case .alsa(let p) = backend { p.status } else { nil } }

    func setVolume(_ percent: Int) {
        switch backend {
        case .alsa(let p): p.volume = percent
        case .wav(let p): p.volume = percent
        }
    }

    static func build(_ config: VoicedConfig, clock: any VoiceClock, heartbeats: LoopHeartbeats, logger: Logger,
                      onStatus: @escaping @Sendable (AudioDeviceStatus) -> Void) throws(DaemonError) -> Speaker {
        // The reference of what it played for echo cancellation and barge-in (and, with the room
        // harness, a mirror of it that the simulated microphone hears).
        let roomSpeaker: PlaybackReference? = config.audio.room && config.audio.captureBackend == .wav ? PlaybackReference() : nil
        let reference = PlaybackReference(mirror: roomSpeaker)
        let backend: Backend
        switch config.audio.playbackBackend {
        case .alsa:
            backend = .alsa(ALSAPlayback(configuration: .playback(device: config.audio.playbackDevice),
                                         logger: logger.with(label: "voiced.playback"), reference: reference,
                                         loopHeartbeat: heartbeats.heartbeat(for: "playback"), onStatus: onStatus))
        case .wav:
            do {
                backend = .wav(try WAVPlayback(path: config.audio.playbackWAV, clock: clock, reference: reference,
                                               logger: logger.with(label: "voiced.playback")))
            } catch {
                throw DaemonError("cannot write \(config.audio.playbackWAV): \(error)")
            }
        }
        let speaker = Speaker(backend: backend, reference: reference, roomSpeaker: roomSpeaker)
        speaker.setVolume(config.audio.volume)
        return speaker
    }

    /// The writer loop, as a service (it starts the ALSA thread and stops it at shutdown).
    func service(heartbeats: LoopHeartbeats) -> ClosureService {
        switch backend {
        case .alsa(let p):
            return ClosureService { try await untilShutdown { try await p.run() } }
        case .wav(let p):
            let beat = heartbeats.heartbeat(for: "playback")
            return ClosureService { try await untilShutdown { await p.run(loopHeartbeat: beat) } }
        }
    }
}

/// The microphone: ALSA or a WAV file, feeding the ring that speech-to-text reads. On the capture
/// thread each frame first goes through the capture processor (echo cancellation while the
/// speaker plays, voice activity for barge-in, the echo gate's record) and the overflow report.
struct Microphone: Sendable {
    enum Backend: Sendable {
        case alsa(ALSACapture)
        case wav(WAVCapture)
    }

    let backend: Backend
    /// The capture processor on the capture thread (its settings change live) and the echo gate.
    let bargeIn: BargeInBox

    func statusText(_ config: VoicedConfig) -> String {
        switch backend {
        case .alsa(let c): c.status.statusText("microphone")
        case .wav(let c): "microphone: WAV file \(config.audio.captureWAV)\(c.isStandingBy ? ", standing by (not capturing until a wake)" : "")"
        }
    }

    var deviceStatus: AudioDeviceStatus? { if case .alsa(let c) = backend { c.status } else { nil } }

    /// Standing by, nothing is captured (no reads, no processing): the idle speaker waiting for
    /// the button, and the muted one. Lifted, capture starts again at once.
    func setStandby(_ on: Bool) {
        switch backend {
        case .alsa(let c): c.setStandby(on)
        case .wav(let c): c.setStandby(on)
        }
    }

    /// While muted no audio leaves the device.
    func setMuted(_ on: Bool) {
        switch backend {
        case .alsa(let c): c.isMuted = on
        case .wav(let c): c.isMuted = on
        }
    }

    /// - Parameter voice: the local voice activity detector's events (barge-in).
    static func build(_ config: VoicedConfig, ring: AudioRingBuffer, speaker: Speaker, clock: any VoiceClock,
                      heartbeats: LoopHeartbeats, logger: Logger, onStatus: @escaping @Sendable (AudioDeviceStatus) -> Void,
                      voice: @escaping @Sendable (SpeechEvent) -> Void) throws(DaemonError) -> Microphone {
        // The loop beats the watchdog on every step (muted or not, device or not); frames that
        // leave the capture thread (never while muted) are processed in place before the ring.
        let bargeIn = BargeInBox(settings: voiceActivity(config), reference: speaker.reference,
                                 echoCancellation: config.audio.echoCancellation, cancelsEcho: config.audio.bargeIn == .voice,
                                 clock: clock)
        let captureLogger = logger.with(label: "voiced.capture")
        let overflows = OverflowLog(ring: ring, clock: clock, logger: captureLogger)
        let processor: @Sendable (UnsafeMutableBufferPointer<Int16>) -> Void = { frame in
            overflows.check()
            if let event = bargeIn.process(inPlace: frame) { voice(event) }
        }
        let beat = heartbeats.heartbeat(for: "capture")
        switch config.audio.captureBackend {
        case .alsa:
            return Microphone(backend: .alsa(ALSACapture(configuration: .capture(device: config.audio.captureDevice), ring: ring,
                                                         logger: captureLogger, frameProcessor: processor, loopHeartbeat: beat,
                                                         onStatus: onStatus)),
                              bargeIn: bargeIn)
        case .wav:
            do {
                let samples = try WAVFile.readMono16k(config.audio.captureWAV)
                let room = speaker.roomSpeaker.map { mirror in
                    // The room hears each reference frame one frame (20 ms) after the canceller takes it.
                    WAVCapture.RoomHarness(room: Room(path: EchoPath(delay: .milliseconds(max(0, config.audio.roomDelayMs - 20)),
                                                                     gain: config.audio.roomEchoGainDB),
                                                      noiseLevel: AudioMath.amplitude(decibels: config.audio.roomNoiseDBFS) * 32768),
                                           speaker: mirror)
                }
                return Microphone(backend: .wav(WAVCapture(clips: [.init(samples: samples)], ring: ring, clock: clock,
                                                           frameProcessor: processor, loopHeartbeat: beat, room: room)),
                                  bargeIn: bargeIn)
            } catch {
                throw DaemonError("cannot read \(config.audio.captureWAV): \(error)", configuration: true)
            }
        }
    }

    /// The capture loop, as a service (it starts the ALSA thread and stops it at shutdown).
    func service() -> ClosureService {
        switch backend {
        case .alsa(let c): ClosureService { try await untilShutdown { try await c.run() } }
        case .wav(let c): ClosureService { try await untilShutdown { try await c.runOnThread() } }
        }
    }

    /// The voice activity detector's settings from [audio]. On in both barge-in modes: with
    /// `button_only` the controller does not let it barge in, but it still witnesses the user's
    /// speech for the echo gate.
    static func voiceActivity(_ config: VoicedConfig) -> VoiceActivitySettings {
        var settings = VoiceActivitySettings()
        settings.enabled = true
        settings.minimumLevel = config.audio.vadThresholdDB
        return settings
    }
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
