import Glibc
import Logging
import Synchronization
import VoiceCore

/// How a capture or playback device is doing, for the indicator and systemd's `STATUS=`.
public enum AudioDeviceStatus: Equatable, Sendable {
    /// Not started, or stopped.
    case stopped
    /// The device is open and streaming.
    case running(device: String, format: PCMFormat)
    /// The device is open but stopped: nothing is captured until a wake (``ALSACapture/setStandby(_:)``).
    case standby(device: String)
    /// The device failed or could not be opened; the next attempt comes after `retryIn`.
    case unavailable(device: String, reason: String, attempt: Int, retryIn: Duration)

    /// Whether the indicator should show an error.
    public var isError: Bool {
        if case .unavailable = self { return true }
        return false
    }

    /// One line for systemd's `STATUS=`, `what` naming the device's role ("microphone", "speaker").
    public func statusText(_ what: String) -> String {
        switch self {
        case .stopped:
            return "\(what) stopped"
        case .running(let device, let format):
            return "\(what) on \(device) (\(format.sampleRate) Hz, \(format.period.wholeMilliseconds) ms periods)"
        case .standby(let device):
            return "\(what) \(device) standing by (not capturing until a wake)"
        case .unavailable(let device, let reason, let attempt, let retryIn):
            return "\(what) \(device) unavailable: \(reason); retry \(attempt) in \(retryIn.wholeMilliseconds) ms"
        }
    }
}

/// Captures 16 kHz mono from an ALSA PCM on a dedicated thread, into an ``AudioRingBuffer``.
///
/// The thread reads 20 ms frames without blocking the ring's consumer (the ring's producer side
/// never blocks). Overruns are recovered with `snd_pcm_recover` and counted. When the device
/// vanishes (`ENODEV`, `EBADFD`, ...) or stalls, it is closed and reopened with backoff while
/// ``status`` (and `onStatus`) says why, for the indicator and systemd's `STATUS=`. While muted,
/// frames are read and discarded, so the device never overruns and nothing reaches the ring.
///
/// Standing by (``setStandby(_:)``: the daemon's idle speaker, waiting for the button), the device
/// stays open but stopped (`snd_pcm_drop`) and the thread sleeps: no interrupts, no reads, no
/// frame processing. Lifting it prepares the device again and the next read starts it, as after an
/// overrun.
public final class ALSACapture: @unchecked Sendable {
    // @unchecked: `loop` is touched only by the capture thread (or by a test driving `iterate()`
    // with no thread running); everything else is atomics, a Mutex or immutable.

    /// Counters, readable from any thread.
    public struct Statistics: Equatable, Sendable {
        /// Overruns recovered with `snd_pcm_recover`.
        public var overruns = 0
        /// Suspends recovered.
        public var suspends = 0
        /// Times the device was closed to be reopened.
        public var reopens = 0
        /// Frames (of 20 ms) written into the ring.
        public var frames = 0
        /// Frames read and discarded while muted.
        public var mutedFrames = 0
    }

    /// A function that opens a device (``ALSAPCM/init(_:)`` by default; tests pass fakes).
    public typealias Opener = @Sendable (PCMConfiguration) throws(ALSAError) -> any PCMDevice

    /// Opens a real ALSA PCM.
    @Sendable
    public static func openALSA(_ configuration: PCMConfiguration) throws(ALSAError) -> any PCMDevice {
        try ALSAPCM(configuration)
    }

    public let configuration: PCMConfiguration
    /// Samples per frame written to the ring (20 ms).
    public let frameSize: Int
    private let ring: AudioRingBuffer
    private let logger: Logger
    private let open: Opener
    private let backoffSleep: (@Sendable (Duration) -> Void)?
    private let onStatus: @Sendable (AudioDeviceStatus) -> Void
    private let frameObserver: (@Sendable (UnsafeBufferPointer<Int16>) -> Void)?
    private let frameProcessor: (@Sendable (UnsafeMutableBufferPointer<Int16>) -> Void)?
    private let loopHeartbeat: Heartbeat?
    /// With no data for this long, the device is taken for stalled and reopened.
    public let stallTimeout: Duration

    private let muted = Atomic<Bool>(false)
    private let standby = Atomic<Bool>(false)
    /// Wakes the loop from its sleeps (a reopen backoff, standing by): raised to stop it and to lift
    /// the standby.
    private let wake = WakeSignal()
    private let shared = Mutex<(status: AudioDeviceStatus, statistics: Statistics)>((.stopped, Statistics()))
    private let loopThread = AudioLoopThread(name: "voiced-capture")
    private var loop: LoopState

    private struct LoopState {
        var device: (any PCMDevice)?
        var backoff: ReopenBackoff
        var frame: [Int16]
        var filled = 0
        var sinceData: Duration = .zero
        /// The device was stopped for the standby and must be prepared before the next read.
        var stopped = false
    }

    /// - Parameters:
    ///   - configuration: the PCM (``PCMConfiguration/capture(device:)`` by default).
    ///   - ring: where the frames go.
    ///   - backoff: the reopen delays.
    ///   - open: opens the device; tests pass fakes.
    ///   - backoffSleep: waits between reopen attempts and while standing by; by default a wait that
    ///     `stop()` (and lifting the standby) cuts short.
    ///   - frameObserver: sees every frame written to the ring, on the capture thread (keep it
    ///     short: the barge-in detector runs here to stay aligned with the playback reference).
    ///   - frameProcessor: runs on every frame before it is written to the ring, on the capture
    ///     thread, and may change it (the echo canceller: the ring gets the cancelled frame).
    ///   - loopHeartbeat: beaten on every step of the loop, muted or not, with or without a
    ///     device: the watchdog watches whether the loop is alive, not whether audio flows.
    ///   - onStatus: told of every status change, on the capture thread.
    public init(configuration: PCMConfiguration = .capture(), ring: AudioRingBuffer, logger: Logger,
                backoff: ReopenBackoff = ReopenBackoff(), stallTimeout: Duration = .seconds(2),
                open: Opener? = nil, backoffSleep: (@Sendable (Duration) -> Void)? = nil,
                frameObserver: (@Sendable (UnsafeBufferPointer<Int16>) -> Void)? = nil,
                frameProcessor: (@Sendable (UnsafeMutableBufferPointer<Int16>) -> Void)? = nil,
                loopHeartbeat: Heartbeat? = nil,
                onStatus: @escaping @Sendable (AudioDeviceStatus) -> Void = { _ in }) {
        self.configuration = configuration
        self.loopHeartbeat = loopHeartbeat
        frameSize = max(1, configuration.frames(.milliseconds(20)))
        self.ring = ring
        self.logger = logger
        if let open { self.open = open } else { self.open = ALSACapture.openALSA }
        self.backoffSleep = backoffSleep
        self.onStatus = onStatus
        self.frameObserver = frameObserver
        self.frameProcessor = frameProcessor
        self.stallTimeout = stallTimeout
        loop = LoopState(backoff: backoff, frame: [Int16](repeating: 0, count: frameSize))
    }

    deinit { stop() }

    /// Whether frames are discarded instead of written to the ring.
    public var isMuted: Bool {
        get { muted.load(ordering: .relaxed) }
        set { muted.store(newValue, ordering: .relaxed) }
    }

    /// Whether the capture stands by: the device stopped, nothing read.
    public var isStandingBy: Bool { standby.load(ordering: .relaxed) }

    /// Stands by (the device stopped, the thread asleep) or captures again; takes effect within
    /// the loop's next step (at once when lifted: the sleeping thread is woken).
    public func setStandby(_ on: Bool) {
        standby.store(on, ordering: .relaxed)
        if !on { wake.raise() }
    }

    /// How long the loop sleeps at a time while standing by (it beats the watchdog on each step).
    public static let standbyBeat: Duration = .seconds(1)

    /// The current status.
    public var status: AudioDeviceStatus { shared.withLock { $0.status } }

    /// The counters.
    public var statistics: Statistics { shared.withLock { $0.statistics } }

    /// Starts the capture thread (once).
    public func start() throws(ThreadStartError) {
        try loopThread.start { [self] in
            while !loopThread.isStopping { iterate() }
            loop.device = nil
            setStatus(.stopped)
        }
    }

    /// Stops the thread and closes the device; returns once the thread has finished.
    public func stop() { loopThread.stop { wake.raise() } }

    /// Runs until the task is cancelled (for a service group).
    public func run() async throws {
        try await AudioLoopThread.run(start: { () throws(ThreadStartError) in try start() }, stop: stop)
    }

    // MARK: - The loop

    /// One step of the capture loop: opens the device if needed, else reads what is ready.
    func iterate() {
        loopHeartbeat?.beat()
        guard let device = loop.device else {
            openDevice()  // even standing by: the status says whether the device is there
            return
        }
        if standby.load(ordering: .relaxed) {
            if !loop.stopped {
                _ = device.drop()  // a failure shows when it is prepared again
                loop.stopped = true
                loop.filled = 0
                logger.info("capture standing by", metadata: ["device": "\(configuration.device)"])
                setStatus(.standby(device: configuration.device))
            } else if device.state == .disconnected {  // unplugged while standing by: the status says so now
                lose(device: .configuration(device: configuration.device, problem: "the device was disconnected"))
                return
            }
            sleep(Self.standbyBeat)
            return
        }
        if loop.stopped {
            loop.stopped = false
            loop.sinceData = .zero
            let code = device.prepare()
            guard code >= 0 else {
                lose(device: .failed("snd_pcm_prepare", code: code, device: configuration.device))
                return
            }
            logger.info("capture resumed", metadata: ["device": "\(configuration.device)"])
            setStatus(.running(device: configuration.device, format: device.format))
        }
        let remaining = frameSize - loop.filled
        let filled = loop.filled
        let count = loop.frame.withUnsafeMutableBufferPointer { buffer -> Int in
            guard let base = buffer.baseAddress else { return 0 }
            return device.readi(base + filled, frames: remaining)
        }
        if count > 0 {
            loop.sinceData = .zero
            loop.filled += count
            if loop.filled >= frameSize { deliver() }
            return
        }
        handle(code: count == 0 ? -Int(EAGAIN) : count, call: "snd_pcm_readi", device: device)
    }

    private func handle(code: Int, call: String, device: any PCMDevice) {
        switch PCMRecoveryPolicy.handle(code: code, call: call, device: device, name: configuration.device) {
        case .retry:
            let timeout = Int32(max(1, (configuration.period * 2).wholeMilliseconds))
            let waited = device.wait(milliseconds: timeout)
            if waited < 0 {
                handle(code: Int(waited), call: "snd_pcm_wait", device: device)
            } else if waited == 0 {
                loop.sinceData += .milliseconds(Int64(timeout))
                if loop.sinceData >= stallTimeout {
                    let error = ALSAError.configuration(device: configuration.device,
                                                        problem: "no audio for \(loop.sinceData.wholeMilliseconds) ms: the device stalled")
                    lose(device: error)
                }
            }
        case .recovered(let failure):
            loop.filled = 0  // the frame in progress has a hole: start a new one
            shared.withLock {
                if failure == .xrun { $0.statistics.overruns += 1 }
                if failure == .suspended { $0.statistics.suspends += 1 }
            }
            logger.warning("capture recovered", metadata: ["device": "\(configuration.device)", "failure": "\(failure)",
                                                           "overruns": "\(statistics.overruns)"])
        case .reopen(let error):
            lose(device: error)
        }
    }

    private func lose(device error: ALSAError) {
        logger.error("capture device lost; reopening", metadata: ["device": "\(configuration.device)", "error": "\(error)"])
        loop.device = nil
        loop.filled = 0
        loop.sinceData = .zero
        loop.stopped = false
        shared.withLock { $0.statistics.reopens += 1 }
        setStatus(.unavailable(device: configuration.device, reason: "\(error)", attempt: 0, retryIn: .zero))
    }

    private func openDevice() {
        do throws(ALSAError) {
            let device = try open(configuration)
            loop.device = device
            loop.backoff.reset()
            loop.sinceData = .zero
            logger.notice("capture started", metadata: ["device": "\(configuration.device)", "format": "\(device.format)"])
            setStatus(.running(device: configuration.device, format: device.format))
        } catch {
            let delay = loop.backoff.next()
            let attempt = loop.backoff.attempts
            logger.warning("capture device unavailable", metadata: [
                "device": "\(configuration.device)", "error": "\(error)", "attempt": "\(attempt)", "retry_ms": "\(delay.wholeMilliseconds)",
            ])
            setStatus(.unavailable(device: configuration.device, reason: "\(error)", attempt: attempt, retryIn: delay))
            sleep(delay)
        }
    }

    /// Sleeps between reopen attempts and while standing by: cut short by `stop()` and by lifting the standby.
    private func sleep(_ duration: Duration) {
        if let backoffSleep { backoffSleep(duration) } else { wake.wait(timeout: duration) }
    }

    private func deliver() {
        loop.filled = 0
        let isMuted = muted.load(ordering: .relaxed)
        if !isMuted {  // muted: nothing leaves the capture thread, not even to the detector
            if let frameProcessor { loop.frame.withUnsafeMutableBufferPointer { frameProcessor($0) } }
            loop.frame.withUnsafeBufferPointer { frame in
                ring.write(frame)
                frameObserver?(frame)
            }
        }
        shared.withLock { if isMuted { $0.statistics.mutedFrames += 1 } else { $0.statistics.frames += 1 } }
    }

    private func setStatus(_ status: AudioDeviceStatus) {
        let changed = shared.withLock { state -> Bool in
            defer { state.status = status }
            return state.status != status
        }
        if changed { onStatus(status) }
    }
}
