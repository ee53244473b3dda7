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
        let reference = PlaybackReference()
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
        let speaker = Speaker(backend: backend, reference: reference)
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
/// thread each frame also goes through the barge-in detector and the overflow report.
struct Microphone: Sendable {
    enum Backend: Sendable {
        case alsa(ALSACapture)
        case wav(WAVCapture)
    }

    let backend: Backend
    /// The barge-in detector on the capture thread (its settings change live).
    let bargeIn: BargeInBox

    func statusText(_ config: VoicedConfig) -> String {
        switch backend {
        case .alsa(let c): c.status.statusText("microphone")
        case .wav: "microphone: WAV file \(config.audio.captureWAV)"
        }
    }

    var deviceStatus: AudioDeviceStatus? { if case .alsa(let c) = backend { c.status } else { nil } }

    /// While muted no audio leaves the device.
    func setMuted(_ on: Bool) {
        switch backend {
        case .alsa(let c): c.isMuted = on
        case .wav(let c): c.isMuted = on
        }
    }

    /// - Parameter voice: the local voice activity detector's events (barge-in).
    static func build(_ config: VoicedConfig, ring: AudioRingBuffer, reference: PlaybackReference, clock: any VoiceClock,
                      heartbeats: LoopHeartbeats, logger: Logger, onStatus: @escaping @Sendable (AudioDeviceStatus) -> Void,
                      voice: @escaping @Sendable (SpeechEvent) -> Void) throws(DaemonError) -> Microphone {
        // The loop beats the watchdog on every step (muted or not, device or not); frames that
        // leave the capture thread (never while muted) feed barge-in and the overflow report.
        let bargeIn = BargeInBox(settings: voiceActivity(config), reference: reference,
                                 echoCancellation: config.audio.echoCancellation)
        let captureLogger = logger.with(label: "voiced.capture")
        let overflows = OverflowLog(ring: ring, clock: clock, logger: captureLogger)
        let observer: @Sendable (UnsafeBufferPointer<Int16>) -> Void = { frame in
            overflows.check()
            if let event = bargeIn.process(frame) { voice(event) }
        }
        let beat = heartbeats.heartbeat(for: "capture")
        switch config.audio.captureBackend {
        case .alsa:
            return Microphone(backend: .alsa(ALSACapture(configuration: .capture(device: config.audio.captureDevice), ring: ring,
                                                         logger: captureLogger, frameObserver: observer, loopHeartbeat: beat,
                                                         onStatus: onStatus)),
                              bargeIn: bargeIn)
        case .wav:
            do {
                let samples = try WAVFile.readMono16k(config.audio.captureWAV)
                return Microphone(backend: .wav(WAVCapture(clips: [.init(samples: samples)], ring: ring, clock: clock,
                                                           frameObserver: observer, loopHeartbeat: beat)),
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
        case .wav(let c): ClosureService { try await untilShutdown { await c.run() } }
        }
    }

    /// The barge-in detector's settings from [audio].
    static func voiceActivity(_ config: VoicedConfig) -> VoiceActivitySettings {
        var settings = VoiceActivitySettings()
        settings.enabled = config.audio.bargeIn == .voice
        settings.minimumLevel = config.audio.vadThresholdDB
        return settings
    }
}

/// The barge-in detector on the capture thread (it is only ever used there). Settings changed
/// live wait in a box; the capture thread takes them before its next frame.
final class BargeInBox: @unchecked Sendable {
    // @unchecked: `detector` is touched only by the capture thread; `pending` is behind its mutex.
    private let detector: BargeInDetector
    private let pending = Mutex<VoiceActivitySettings?>(nil)

    init(settings: VoiceActivitySettings, reference: PlaybackReference, echoCancellation: Bool) {
        let canceller: (any EchoCanceller)? = echoCancellation ? SpeexEchoCanceller() : nil
        detector = BargeInDetector(settings: settings, reference: reference, echoCanceller: canceller)
    }

    /// New voice-activity settings (`audio.barge_in`, `audio.vad_threshold_db`), from the next frame on.
    func update(settings: VoiceActivitySettings) { pending.withLock { $0 = settings } }

    func process(_ frame: UnsafeBufferPointer<Int16>) -> SpeechEvent? {
        if let settings = pending.withLock({ box -> VoiceActivitySettings? in defer { box = nil }; return box }) {
            detector.update(settings: settings)
        }
        return detector.process(frame)
    }
}
