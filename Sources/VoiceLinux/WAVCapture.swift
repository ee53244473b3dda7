import Synchronization
import VoiceCore

/// A microphone made of WAV files, for the demo and for machines without a sound card: writes
/// 20 ms frames into the ring paced in real time by the injected clock, the clips at their
/// offsets, silence between them and after the last one until stopped.
///
/// ALSA's `file` PCM cannot stand in for this: it delivers as fast as it is read.
public final class WAVCapture: Sendable {
    /// Audio placed on the capture's timeline.
    public struct Clip: Equatable, Sendable {
        /// 16 kHz mono.
        public var samples: [Int16]
        /// When the clip starts, from the capture's start. A clip that would overlap the one
        /// before starts right after it instead.
        public var offset: Duration

        public init(samples: [Int16], offset: Duration = .zero) {
            self.samples = samples
            self.offset = offset
        }

        /// Loads a WAV file (any rate, mono or stereo) as a clip at `offset`.
        public static func file(_ path: String, at offset: Duration = .zero,
                                options: WAV.ReadOptions = WAV.ReadOptions()) throws(WAVFileError) -> Clip {
            Clip(samples: try WAVFile.readMono16k(path, options: options), offset: offset)
        }
    }

    /// Samples per frame (20 ms).
    public static let frameSize = PlaybackChunk.sampleRate / 50

    private let timeline: [Int16]
    private let ring: AudioRingBuffer
    private let clock: any VoiceClock
    private let frameObserver: (@Sendable (UnsafeBufferPointer<Int16>) -> Void)?
    private let frameProcessor: (@Sendable (UnsafeMutableBufferPointer<Int16>) -> Void)?
    private let loopHeartbeat: Heartbeat?
    private let muted = Atomic<Bool>(false)
    private let standby = Atomic<Bool>(false)
    /// The thread of ``start()`` (the daemon's), and what wakes it early (the standby lifted, a stop).
    private let loopThread = AudioLoopThread(name: "voiced-capture")
    private let wake = WakeSignal()
    private let state = Mutex<(start: VoiceInstant?, frames: Int)>((nil, 0))
    private let room: Mutex<RoomHarness?>
    private let inRoom: Bool

    /// The room harness: what the speaker plays (a mirror of the playback reference) reaches the
    /// microphone through the room's echo path, with its noise, mixed with the clips.
    public struct RoomHarness: Sendable {
        public var room: Room
        /// Receives what the speaker plays; pass it as the playback reference's `mirror`.
        public var speaker: PlaybackReference

        public init(room: Room, speaker: PlaybackReference) {
            self.room = room
            self.speaker = speaker
        }
    }

    /// - Parameters:
    ///   - clips: the audio, placed at their offsets.
    ///   - frameObserver: sees each frame written (as ``ALSACapture``'s does), e.g. for barge-in.
    ///   - frameProcessor: runs on each frame before the ring and may change it (as ``ALSACapture``'s).
    ///   - loopHeartbeat: beaten on every step, muted or not (as ``ALSACapture``'s is).
    ///   - room: when given, the microphone hears the clips in this room (see ``RoomHarness``).
    public init(clips: [Clip], ring: AudioRingBuffer, clock: any VoiceClock,
                frameObserver: (@Sendable (UnsafeBufferPointer<Int16>) -> Void)? = nil,
                frameProcessor: (@Sendable (UnsafeMutableBufferPointer<Int16>) -> Void)? = nil,
                loopHeartbeat: Heartbeat? = nil, room: RoomHarness? = nil) {
        self.frameProcessor = frameProcessor
        self.room = Mutex(room)
        inRoom = room != nil
        self.loopHeartbeat = loopHeartbeat
        var timeline: [Int16] = []
        for clip in clips.sorted(by: { $0.offset < $1.offset }) {
            let start = Self.samples(in: clip.offset)
            if start > timeline.count { timeline += [Int16](repeating: 0, count: start - timeline.count) }
            timeline += clip.samples
        }
        self.timeline = timeline
        self.ring = ring
        self.clock = clock
        self.frameObserver = frameObserver
    }

    /// How long the clips and their gaps last (silence follows).
    public var duration: Duration { PlaybackChunk.duration(ofSamples: timeline.count) }

    /// Frames written (or discarded while muted, or gone by while standing by) so far.
    public var framesProduced: Int { state.withLock { $0.frames } }

    /// Whether every clip has been delivered.
    public var isFinished: Bool { framesProduced * Self.frameSize >= timeline.count }

    /// Whether frames are discarded instead of written to the ring.
    public var isMuted: Bool {
        get { muted.load(ordering: .relaxed) }
        set { muted.store(newValue, ordering: .relaxed) }
    }

    /// Whether the capture stands by: as a stopped device, the frames that fall due go by unheard
    /// (not written, not processed) and the loop sleeps instead of stepping every 20 ms.
    public var isStandingBy: Bool { standby.load(ordering: .relaxed) }

    /// Stands by or captures again (``ALSACapture/setStandby(_:)``'s counterpart).
    public func setStandby(_ on: Bool) {
        standby.store(on, ordering: .relaxed)
        if !on { wake.raise() }
    }

    /// Sets the instant the timeline starts (the first call to ``produce(upTo:)`` or ``run()``
    /// sets it otherwise).
    public func begin(at instant: VoiceInstant) {
        state.withLock { if $0.start == nil { $0.start = instant } }
    }

    /// Writes every frame whose last sample is due by `now`, as a microphone would have
    /// delivered them; returns how many (none while standing by: they go by unheard).
    @discardableResult
    public func produce(upTo now: VoiceInstant) -> Int {
        loopHeartbeat?.beat()
        let (first, count) = state.withLock { state -> (Int, Int) in
            let start = state.start ?? now
            state.start = start
            let due = now > start ? Self.samples(in: now - start) / Self.frameSize : 0
            let first = state.frames
            let count = max(0, due - first)
            state.frames += count
            return (first, count)
        }
        guard count > 0, !standby.load(ordering: .relaxed) else { return 0 }
        let isMuted = muted.load(ordering: .relaxed)
        var frame = [Int16](repeating: 0, count: Self.frameSize)
        var played = [Int16](repeating: 0, count: inRoom ? Self.frameSize : 0)
        for index in first..<first + count {
            let from = index * Self.frameSize
            for i in 0..<Self.frameSize { frame[i] = from + i < timeline.count ? timeline[from + i] : 0 }
            if inRoom {
                let user = frame
                room.withLock { box in
                    played.withUnsafeMutableBufferPointer { _ = box?.speaker.next(into: $0) }
                    played.withUnsafeBufferPointer { p in
                        user.withUnsafeBufferPointer { u in frame.withUnsafeMutableBufferPointer { box?.room.hear(played: p, user: u, into: $0) } }
                    }
                }
            }
            if !isMuted {
                if let frameProcessor { frame.withUnsafeMutableBufferPointer { frameProcessor($0) } }
                frame.withUnsafeBufferPointer { buffer in
                    ring.write(buffer)
                    frameObserver?(buffer)
                }
            }
        }
        return count
    }

    /// The instant the next frame falls due.
    public var nextDeadline: VoiceInstant {
        state.withLock { state in
            (state.start ?? clock.now) + PlaybackChunk.duration(ofSamples: (state.frames + 1) * Self.frameSize)
        }
    }

    /// One step of the real-time loop: writes the frames due and says when the next step falls
    /// due (the next frame, or a second away while standing by, to beat the watchdog).
    private func step() -> VoiceInstant {
        produce(upTo: clock.now)
        return isStandingBy ? clock.now + ALSACapture.standbyBeat : nextDeadline
    }

    /// Delivers frames in real time until the task is cancelled, paced by the injected clock (a
    /// test's manual clock; a lifted standby takes effect at the next step). The daemon uses
    /// ``start()``, which a lifted standby wakes at once.
    public func run() async {
        begin(at: clock.now)
        while !Task.isCancelled {
            do {
                try await clock.sleep(until: step())
            } catch {
                return  // cancelled
            }
        }
    }

    /// Delivers frames in real time on a thread of its own (`voiced-capture`), as ``ALSACapture``
    /// does on a device: one wake-up per frame, none of Swift concurrency's pool. The clock must
    /// be the system's (the thread sleeps in real time).
    public func start() throws(ThreadStartError) {
        begin(at: clock.now)
        try loopThread.start { [self] in
            while !loopThread.isStopping {
                let delay = step() - clock.now
                if delay > .zero { wake.wait(timeout: delay) }
            }
        }
    }

    /// Stops the thread of ``start()``; returns once it has finished.
    public func stop() { loopThread.stop { wake.raise() } }

    /// ``start()``, until the task is cancelled (for a service group).
    public func runOnThread() async throws {
        try await AudioLoopThread.run(start: { () throws(ThreadStartError) in try start() }, stop: stop)
    }

    /// Whole samples at 16 kHz in `duration`.
    static func samples(in duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return Int(seconds) * PlaybackChunk.sampleRate + Int(attoseconds / 62_500_000_000_000)
    }
}
