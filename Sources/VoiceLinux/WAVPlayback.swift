import Logging
import Synchronization
import VoiceCore

/// A speaker made of a WAV file, for the demo and for machines without a sound card: plays in
/// real time on the injected clock, so its events come when a real speaker's would, and appends
/// what actually played to a WAV file a person can listen to.
///
/// Playback begins the moment audio is enqueued while idle; chunks follow one another without
/// gaps; a segment starts when its first sample plays and finishes once it was ended and its
/// last sample has played. `drop()` discards the queue at once: the file keeps only what played
/// before the drop, cut at the drop's instant. A pause between stretches of audio is written as
/// silence, but at most `maximumRecordedGap`, so a file of a long session keeps the rhythm of a
/// conversation without minutes of dead air.
///
/// Calls from the turn engine never touch the file: the ``run()`` loop (or ``tick()``) writes it.
public final class WAVPlayback: AudioPlayback, @unchecked Sendable {
    // @unchecked: all mutable state is in `state`'s Mutex, the file writer in its own.

    /// Rung by `enqueue`, so the idle loop starts playing at once.
    private let doorbell = Doorbell()

    private struct Pending {
        var key: PlaybackSegmentTracker.Key
        var samples: [Int16]
        var offset = 0
    }

    private struct State {
        var queue: [Pending] = []
        var tracker = PlaybackSegmentTracker()
        var handler: (@Sendable (PlaybackEvent) -> Void)?
        /// When the current stretch of audio began; nil while idle.
        var stretchStart: VoiceInstant?
        /// Samples played since `stretchStart`.
        var stretchSamples = 0
        /// When the last stretch ended (for the gap written before the next one).
        var lastEnd: VoiceInstant?
        /// Samples played since the playback began (the tracker's positions).
        var position = 0
        /// Played but not yet in the file.
        var unwritten: [Int16] = []
        var drops = 0
    }

    /// The longest pause written to the file.
    public let maximumRecordedGap: Duration
    private let clock: any VoiceClock
    private let reference: PlaybackReference?
    private let logger: Logger
    private let state = Mutex(State())
    private let writer: Mutex<WAVFileWriter?>
    private let volumeLevel = Atomic<Int>(100)

    /// - Parameters:
    ///   - path: the WAV file to write (created or truncated), or nil to write none.
    ///   - reference: receives what plays, as ``ALSAPlayback``'s does.
    public init(path: String?, clock: any VoiceClock, reference: PlaybackReference? = nil,
                maximumRecordedGap: Duration = .seconds(1), logger: Logger = Logger(label: "voiced.playback.wav")) throws(WAVFileError) {
        self.clock = clock
        self.reference = reference
        self.maximumRecordedGap = maximumRecordedGap
        self.logger = logger
        if let path {
            writer = Mutex(try WAVFileWriter(path: path))
        } else {
            writer = Mutex(nil)
        }
    }

    /// The software volume, 0 (mute) to 100 (as is), applied to what is written.
    public var volume: Int {
        get { volumeLevel.load(ordering: .relaxed) }
        set { volumeLevel.store(max(0, min(100, newValue)), ordering: .relaxed) }
    }

    /// Samples played since the playback began.
    public var playedSamples: Int { state.withLock { $0.position } }

    /// Whether audio is playing or queued.
    public var isPlaying: Bool { state.withLock { $0.stretchStart != nil } }

    /// Calls to `drop()`.
    public var drops: Int { state.withLock { $0.drops } }

    // MARK: - AudioPlayback

    public func setEventHandler(_ handler: @escaping @Sendable (PlaybackEvent) -> Void) {
        state.withLock { $0.handler = handler }
    }

    public func enqueue(_ chunk: PlaybackChunk) {
        guard !chunk.samples.isEmpty else { return }
        let now = clock.now
        let key = PlaybackSegmentTracker.Key(turn: chunk.turn, segment: chunk.segment)
        emit(state.withLock { state in
            var events = advance(&state, to: now)
            if state.stretchStart == nil {
                if let lastEnd = state.lastEnd {
                    let gap = max(.zero, min(now - lastEnd, maximumRecordedGap))
                    state.unwritten += [Int16](repeating: 0, count: WAVCapture.samples(in: gap))
                }
                state.stretchStart = now
                state.stretchSamples = 0
            }
            state.queue.append(Pending(key: key, samples: chunk.samples))
            state.tracker.enqueued(key, count: chunk.samples.count)
            // The first sample of an idle speaker plays now.
            if state.queue.count == 1 { events += state.tracker.beginning(key) }
            return (events, state.handler)
        })
        doorbell.ring()
    }

    public func endSegment(turn: Int, segment: Int) {
        let now = clock.now
        emit(state.withLock { state in
            var events = advance(&state, to: now)
            state.tracker.ended(PlaybackSegmentTracker.Key(turn: turn, segment: segment))
            events += state.tracker.played(upTo: state.position)
            return (events, state.handler)
        })
    }

    public func drop() {
        let now = clock.now
        emit(state.withLock { state in
            let events = advance(&state, to: now)
            state.queue.removeAll()
            state.tracker.dropped()
            if state.stretchStart != nil {
                state.stretchStart = nil
                state.lastEnd = now
            }
            state.drops += 1
            return (events, state.handler)
        })
    }

    // MARK: - Pacing

    /// Plays what is due by the clock's now and writes it to the file.
    public func tick() {
        let now = clock.now
        emit(state.withLock { state in (advance(&state, to: now), state.handler) })
        flush()
    }

    /// Plays in real time until the task is cancelled, then writes what is left. `loopHeartbeat`
    /// beats on every step (the watchdog's view of the playback loop). It steps every 20 ms while
    /// audio plays; idle, it sleeps until audio is enqueued, waking every 200 ms only to beat
    /// (as ``ALSAPlayback``'s idle loop does).
    public func run(loopHeartbeat: Heartbeat? = nil) async {
        while !Task.isCancelled {
            loopHeartbeat?.beat()
            tick()
            if state.withLock({ $0.stretchStart != nil }) {
                do {
                    try await clock.sleep(until: clock.now + .milliseconds(20))
                } catch {
                    break
                }
            } else {
                await doorbell.sleep(until: clock.now + .milliseconds(200), clock: clock)
            }
        }
        flush()
    }

    /// Writes what has played to the file.
    public func flush() {
        let samples = state.withLock { state -> [Int16] in
            defer { state.unwritten.removeAll(keepingCapacity: true) }
            return state.unwritten
        }
        guard !samples.isEmpty else { return }
        writer.withLock { writer in
            do throws(WAVFileError) {
                try writer?.append(samples)
            } catch {
                logger.error("cannot record playback", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Accounts for the audio that has played by `now`.
    private func advance(_ state: inout State, to now: VoiceInstant) -> [PlaybackEvent] {
        guard let start = state.stretchStart else { return [] }
        var events: [PlaybackEvent] = []
        let due = now > start ? WAVCapture.samples(in: now - start) : 0
        var available = due - state.stretchSamples
        let volume = SoftwareVolume(volumeLevel.load(ordering: .relaxed))
        while available > 0, !state.queue.isEmpty {
            let head = state.queue[0]
            let count = min(available, head.samples.count - head.offset)
            var piece = Array(head.samples[head.offset..<head.offset + count])
            volume.apply(to: &piece)
            state.unwritten += piece
            reference?.played(piece)
            events += state.tracker.wrote(head.key, count: count, at: state.position)
            state.position += count
            state.stretchSamples += count
            available -= count
            state.queue[0].offset += count
            events += state.tracker.played(upTo: state.position)
            if state.queue[0].offset >= head.samples.count {
                state.queue.removeFirst()
                if let next = state.queue.first { events += state.tracker.beginning(next.key) }
            }
        }
        if state.queue.isEmpty {
            state.lastEnd = start + PlaybackChunk.duration(ofSamples: state.stretchSamples)
            state.stretchStart = nil
        }
        return events
    }

    private func emit(_ result: ([PlaybackEvent], (@Sendable (PlaybackEvent) -> Void)?)) {
        guard let handler = result.1 else { return }
        for event in result.0 { handler(event) }
    }
}
