import Glibc
import Logging
import Synchronization
import VoiceCore

/// Plays 16 kHz mono through an ALSA PCM from a dedicated writer thread.
///
/// `enqueue`, `endSegment` and `drop` come from the turn engine's thread and never wait on the
/// device: they take a lock that the writer holds only for non-blocking calls (the PCM is opened
/// non-blocking; the writer waits for room outside the lock). `drop()` silences the output at
/// once from the caller's thread (`snd_pcm_drop`, then `snd_pcm_prepare`) and clears the queue,
/// and nothing queued before it is written after it.
///
/// Events follow what the device did: `segmentStarted` when a sentence's first sample is written,
/// `segmentFinished` once it was ended and the device has played past its last sample
/// (`snd_pcm_delay`). Between sentences the writer keeps the device fed with a little silence,
/// so a pause is not an underrun; after `idleTimeout` of silence it stops the device quietly.
/// Real underruns are recovered (`snd_pcm_recover`) and counted. If the device vanishes it is
/// reopened with backoff; meanwhile queued audio is discarded as if played, so turns still end.
public final class ALSAPlayback: AudioPlayback, @unchecked Sendable {
    // @unchecked: `state` is a Mutex; `loop` is touched only by the writer thread (or by a test
    // driving `iterate()` with no thread running); the rest is atomics or immutable.

    /// Counters, readable from any thread.
    public struct Statistics: Equatable, Sendable {
        /// Underruns recovered with `snd_pcm_recover`.
        public var underruns = 0
        /// Suspends recovered.
        public var suspends = 0
        /// Times the device was closed to be reopened.
        public var reopens = 0
        /// Calls to `drop()`.
        public var drops = 0
        /// Samples of queued audio written to the device.
        public var samplesWritten = 0
        /// Samples of queued audio discarded (by a drop, or while the device was unavailable).
        public var samplesDiscarded = 0
        /// Samples of silence written between sentences.
        public var silenceWritten = 0
        /// Times the device was stopped after a pause.
        public var idleStops = 0
    }

    /// What the writer should wait for after a step (the thread waits; tests need not).
    enum Wait: Equatable {
        case none
        case device(milliseconds: Int32)
        case idle
        case backoff(Duration)
    }

    private struct Pending {
        var key: PlaybackSegmentTracker.Key
        var samples: [Int16]
        var offset = 0
    }

    private struct State {
        var queue: [Pending] = []
        var tracker = PlaybackSegmentTracker()
        var handler: (@Sendable (PlaybackEvent) -> Void)?
        var device: (any PCMDevice)?
        /// Samples written since the playback began, across devices (the tracker's positions).
        var position = 0
        var silenceSinceAudio = 0
        var statistics = Statistics()
        var status: AudioDeviceStatus = .stopped
    }

    public let configuration: PCMConfiguration
    /// How long the device may play silence before it is stopped.
    public let idleTimeout: Duration
    private let logger: Logger
    private let open: ALSACapture.Opener
    private let reference: PlaybackReference?
    private let onStatus: @Sendable (AudioDeviceStatus) -> Void
    private let loopHeartbeat: Heartbeat?
    private let state = Mutex(State())
    private let volumeLevel = Atomic<Int>(100)
    private let wake = WakeSignal()
    private let loopThread = AudioLoopThread(name: "voiced-playback")
    private var loop: LoopState

    private struct LoopState {
        var backoff: ReopenBackoff
        var scratch: [Int16] = []
    }

    /// - Parameters:
    ///   - configuration: the PCM (``PCMConfiguration/playback(device:)`` by default).
    ///   - reference: receives every sample sent to the device (after the volume), for echo
    ///     cancellation and the barge-in threshold.
    ///   - idleTimeout: silence after which the device is stopped.
    ///   - open: opens the device; tests pass fakes.
    ///   - onStatus: told of every status change, on the writer thread.
    ///   - loopHeartbeat: beaten on every step of the writer loop, with or without a device, so
    ///     the watchdog sees the loop alive while the speaker is gone and being reopened.
    public init(configuration: PCMConfiguration = .playback(), logger: Logger, reference: PlaybackReference? = nil,
                idleTimeout: Duration = .milliseconds(500), backoff: ReopenBackoff = ReopenBackoff(),
                open: ALSACapture.Opener? = nil, loopHeartbeat: Heartbeat? = nil,
                onStatus: @escaping @Sendable (AudioDeviceStatus) -> Void = { _ in }) {
        self.configuration = configuration
        self.loopHeartbeat = loopHeartbeat
        self.idleTimeout = idleTimeout
        self.logger = logger
        self.reference = reference
        if let open { self.open = open } else { self.open = ALSACapture.openALSA }
        self.onStatus = onStatus
        loop = LoopState(backoff: backoff)
    }

    deinit { stop() }

    /// The software volume, 0 (mute) to 100 (as is); takes effect within a period.
    public var volume: Int {
        get { volumeLevel.load(ordering: .relaxed) }
        set { volumeLevel.store(max(0, min(100, newValue)), ordering: .relaxed) }
    }

    /// The current status.
    public var status: AudioDeviceStatus { state.withLock { $0.status } }

    /// The counters.
    public var statistics: Statistics { state.withLock { $0.statistics } }

    /// Samples queued and not yet written.
    public var queuedSamples: Int { state.withLock { $0.queue.reduce(0) { $0 + $1.samples.count - $1.offset } } }

    // MARK: - AudioPlayback

    public func setEventHandler(_ handler: @escaping @Sendable (PlaybackEvent) -> Void) {
        state.withLock { $0.handler = handler }
    }

    public func enqueue(_ chunk: PlaybackChunk) {
        guard !chunk.samples.isEmpty else { return }
        let key = PlaybackSegmentTracker.Key(turn: chunk.turn, segment: chunk.segment)
        state.withLock { state in
            state.queue.append(Pending(key: key, samples: chunk.samples))
            state.tracker.enqueued(key, count: chunk.samples.count)
        }
        wake.raise()
    }

    public func endSegment(turn: Int, segment: Int) {
        state.withLock { $0.tracker.ended(PlaybackSegmentTracker.Key(turn: turn, segment: segment)) }
        wake.raise()
    }

    public func drop() {
        let failure = state.withLock { state -> ALSAError? in
            let discarded = state.queue.reduce(0) { $0 + $1.samples.count - $1.offset }
            state.queue.removeAll()
            state.tracker.dropped()
            state.silenceSinceAudio = 0
            state.statistics.drops += 1
            state.statistics.samplesDiscarded += discarded
            guard let device = state.device else { return nil }
            var code = device.drop()
            if code >= 0 { code = device.prepare() }
            guard code < 0 else { return nil }
            state.device = nil  // the writer reopens it
            state.statistics.reopens += 1
            return .failed("snd_pcm_drop/snd_pcm_prepare", code: code, device: configuration.device)
        }
        if let failure { logger.error("playback drop failed; reopening", metadata: ["error": "\(failure)"]) }
        wake.raise()
    }

    // MARK: - Thread

    /// Starts the writer thread (once).
    public func start() throws(ThreadStartError) {
        try loopThread.start { [self] in
            while !loopThread.isStopping {
                switch iterate() {
                case .none: break
                case .device(let milliseconds):
                    if let device = state.withLock({ $0.device }) { _ = device.wait(milliseconds: milliseconds) }
                case .idle: wake.wait(timeout: .milliseconds(200))
                case .backoff(let delay): wake.wait(timeout: delay)
                }
            }
            state.withLock { $0.device = nil }
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

    private enum Outcome {
        case wrote
        case full
        case idle
        case failed(PCMRecoveryStep)
        case noDevice
    }

    /// One step of the writer: writes a piece of audio (or of silence), reports progress, and
    /// says what to wait for next.
    func iterate() -> Wait {
        loopHeartbeat?.beat()
        let volume = SoftwareVolume(volumeLevel.load(ordering: .relaxed))
        var scratch = loop.scratch
        let (outcome, events, handler) = state.withLock { state -> (Outcome, [PlaybackEvent], (@Sendable (PlaybackEvent) -> Void)?) in
            var events: [PlaybackEvent] = []
            let outcome = writeStep(&state, scratch: &scratch, volume: volume, events: &events)
            return (outcome, events, state.handler)
        }
        loop.scratch = scratch
        if let handler { for event in events { handler(event) } }

        switch outcome {
        case .wrote:
            return .none
        case .full:
            return .device(milliseconds: Int32(max(1, configuration.period.wholeMilliseconds)))
        case .idle:
            return .idle
        case .noDevice:
            return openDevice()
        case .failed(let step):
            switch step {
            case .retry:
                return .device(milliseconds: Int32(max(1, configuration.period.wholeMilliseconds)))
            case .recovered(let failure):
                logger.warning("playback recovered", metadata: ["device": "\(configuration.device)", "failure": "\(failure)",
                                                                "underruns": "\(statistics.underruns)"])
                return .none
            case .reopen(let error):
                logger.error("playback device lost; reopening", metadata: ["device": "\(configuration.device)", "error": "\(error)"])
                setStatus(.unavailable(device: configuration.device, reason: "\(error)", attempt: 0, retryIn: .zero))
                return .none
            }
        }
    }

    /// The part of a step done under the lock: only non-blocking calls.
    private func writeStep(_ state: inout State, scratch: inout [Int16], volume: SoftwareVolume,
                           events: inout [PlaybackEvent]) -> Outcome {
        guard let device = state.device else { return .noDevice }
        let period = max(1, device.format.periodFrames)
        if scratch.count < period { scratch = [Int16](repeating: 0, count: period) }
        var outcome = Outcome.idle

        if let head = state.queue.first {
            let count = min(period, head.samples.count - head.offset)
            head.samples.withUnsafeBufferPointer { source in
                scratch.withUnsafeMutableBufferPointer { target in
                    guard let from = source.baseAddress, let to = target.baseAddress else { return }
                    to.update(from: from + head.offset, count: count)
                    volume.apply(to: UnsafeMutableBufferPointer(start: to, count: count))
                }
            }
            let written = scratch.withUnsafeBufferPointer { device.writei($0.baseAddress!, frames: count) }
            if written > 0 {
                events += state.tracker.wrote(head.key, count: written, at: state.position)
                state.position += written
                state.silenceSinceAudio = 0
                state.statistics.samplesWritten += written
                state.queue[0].offset += written
                if state.queue[0].offset >= state.queue[0].samples.count { state.queue.removeFirst() }
                scratch.withUnsafeBufferPointer { reference?.played(UnsafeBufferPointer(rebasing: $0[0..<written])) }
                outcome = .wrote
            } else {
                outcome = failure(written, device: device, state: &state)
            }
        } else if device.state == .disconnected {
            // The card went away while nothing was playing: close it now (the kernel waits for
            // every open file before it can let the card go) and reopen it with backoff.
            outcome = failure(-Int(ENODEV), device: device, state: &state)
        } else if device.state == .running {
            let idleFrames = configuration.frames(idleTimeout)
            let delay = device.delay()
            if state.silenceSinceAudio >= idleFrames, state.tracker.inProgress == 0 {
                // A long pause: stop quietly (a stop, not an underrun), start again on the next write.
                _ = device.drop()
                let prepared = device.prepare()
                state.statistics.idleStops += 1
                state.silenceSinceAudio = 0
                if prepared < 0 { outcome = failure(Int(prepared), device: device, state: &state) }
            } else if delay >= 0, delay < 2 * period {
                scratch.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
                let written = scratch.withUnsafeBufferPointer { device.writei($0.baseAddress!, frames: period) }
                if written > 0 {
                    state.position += written
                    state.silenceSinceAudio += written
                    state.statistics.silenceWritten += written
                    scratch.withUnsafeBufferPointer { reference?.played(UnsafeBufferPointer(rebasing: $0[0..<written])) }
                    outcome = .wrote
                } else {
                    outcome = failure(written, device: device, state: &state)
                }
            } else if delay < 0 {
                outcome = failure(delay, device: device, state: &state)
            } else {
                outcome = .full
            }
        }

        // What has played: everything written but the device's delay; all of it once stopped.
        if state.device != nil {
            let delay = device.state == .running ? device.delay() : 0
            if delay >= 0 { events += state.tracker.played(upTo: state.position - delay) }
        }
        return outcome
    }

    private func failure(_ code: Int, device: any PCMDevice, state: inout State) -> Outcome {
        let step = PCMRecoveryPolicy.handle(code: code, call: "snd_pcm_writei", device: device, name: configuration.device)
        switch step {
        case .retry:
            return .full
        case .recovered(let failure):
            if failure == .xrun { state.statistics.underruns += 1 }
            if failure == .suspended { state.statistics.suspends += 1 }
        case .reopen:
            state.device = nil
            state.statistics.reopens += 1
        }
        return .failed(step)
    }

    private func openDevice() -> Wait {
        do throws(ALSAError) {
            let device = try open(configuration)
            state.withLock { $0.device = device }
            loop.backoff.reset()
            logger.notice("playback started", metadata: ["device": "\(configuration.device)", "format": "\(device.format)"])
            setStatus(.running(device: configuration.device, format: device.format))
            return .none
        } catch {
            let delay = loop.backoff.next()
            let attempt = loop.backoff.attempts
            logger.warning("playback device unavailable", metadata: [
                "device": "\(configuration.device)", "error": "\(error)", "attempt": "\(attempt)", "retry_ms": "\(delay.wholeMilliseconds)",
            ])
            setStatus(.unavailable(device: configuration.device, reason: "\(error)", attempt: attempt, retryIn: delay))
            discardQueueAsPlayed()
            return .backoff(delay)
        }
    }

    /// With no device, queued audio cannot play: account for it as played so turns still end.
    private func discardQueueAsPlayed() {
        let (events, handler) = state.withLock { state -> ([PlaybackEvent], (@Sendable (PlaybackEvent) -> Void)?) in
            var events: [PlaybackEvent] = []
            for pending in state.queue {
                let count = pending.samples.count - pending.offset
                events += state.tracker.wrote(pending.key, count: count, at: state.position)
                state.position += count
                state.statistics.samplesDiscarded += count
            }
            state.queue.removeAll()
            events += state.tracker.played(upTo: state.position)
            return (events, state.handler)
        }
        if let handler { for event in events { handler(event) } }
    }

    private func setStatus(_ status: AudioDeviceStatus) {
        let changed = state.withLock { state -> Bool in
            defer { state.status = status }
            return state.status != status
        }
        if changed { onStatus(status) }
    }
}
