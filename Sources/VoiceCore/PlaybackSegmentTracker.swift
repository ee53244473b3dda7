/// Turns what a playback queued, wrote and played into `segmentStarted` / `segmentFinished`
/// events, the same way ``AudioPlayback`` implementations must report them.
///
/// Positions count samples along the output stream since the playback began. A segment starts
/// when its first sample is written to the output; it finishes once it was ended, nothing of it
/// is still queued, and the output has played past its last written sample. Pure; the playback
/// calls it under its own lock.
public struct PlaybackSegmentTracker: Sendable {
    /// A sentence: its turn and index.
    public struct Key: Hashable, Sendable {
        public var turn: Int
        public var segment: Int
        public init(turn: Int, segment: Int) {
            self.turn = turn
            self.segment = segment
        }
    }

    private struct Progress {
        var queued = 0
        var started = false
        var ended = false
        var writtenEnd = 0
    }

    private var segments: [Key: Progress] = [:]

    public init() {}

    /// `count` samples of `key` were queued.
    public mutating func enqueued(_ key: Key, count: Int) {
        segments[key, default: Progress()].queued += count
    }

    /// `count` queued samples of `key` were written to the output at stream `position`.
    /// Returns `.segmentStarted` for the segment's first write.
    public mutating func wrote(_ key: Key, count: Int, at position: Int) -> [PlaybackEvent] {
        var progress = segments[key, default: Progress()]
        progress.queued = max(0, progress.queued - count)
        progress.writtenEnd = position + count
        let first = !progress.started && count > 0
        if first { progress.started = true }
        segments[key] = progress
        return first ? [.segmentStarted(turn: key.turn, segment: key.segment)] : []
    }

    /// The first sample of `key` is reaching the output now (before it is accounted as written):
    /// returns `.segmentStarted` if it had not started yet.
    public mutating func beginning(_ key: Key) -> [PlaybackEvent] {
        guard segments[key]?.started == false else { return [] }
        segments[key]?.started = true
        return [.segmentStarted(turn: key.turn, segment: key.segment)]
    }

    /// The segment will get no more audio.
    public mutating func ended(_ key: Key) {
        segments[key, default: Progress()].ended = true
    }

    /// The output has played everything before stream `position`. Returns the segments that
    /// finished, in the order they were written.
    public mutating func played(upTo position: Int) -> [PlaybackEvent] {
        let done = segments
            .filter { $0.value.ended && $0.value.started && $0.value.queued == 0 && $0.value.writtenEnd <= position }
            .sorted { ($0.value.writtenEnd, $0.key.turn, $0.key.segment) < ($1.value.writtenEnd, $1.key.turn, $1.key.segment) }
        for (key, _) in done { segments[key] = nil }
        return done.map { .segmentFinished(turn: $0.key.turn, segment: $0.key.segment) }
    }

    /// Everything queued was discarded: no segment in progress will be reported any more.
    public mutating func dropped() { segments.removeAll() }

    /// Segments started or queued and not yet reported finished.
    public var inProgress: Int { segments.values.filter { $0.started || $0.queued > 0 }.count }
}
