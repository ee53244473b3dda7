/// Decides when to log the ring buffer's overflows: at most once per `interval`, with the audio
/// dropped since the last report, so a microphone the reader cannot keep up with is visible in
/// the journal without flooding it.
public struct RingOverflowReporter: Sendable {
    /// What to log: the samples dropped and the overflows since the last report, and in all.
    public struct Report: Equatable, Sendable {
        public var droppedSamples: Int
        public var overflows: Int
        public var totalDroppedSamples: Int
        /// The dropped audio in milliseconds (16 kHz).
        public var droppedMilliseconds: Int { droppedSamples * 1000 / PlaybackChunk.sampleRate }
    }

    public let interval: Duration
    private var reported = (dropped: 0, overflows: 0)
    private var lastReport: VoiceInstant?

    public init(interval: Duration = .seconds(10)) { self.interval = interval }

    /// Called with the ring's counters; returns a report when there are new drops and the last
    /// report is at least `interval` old.
    public mutating func check(_ statistics: AudioRingBuffer.Statistics, at now: VoiceInstant) -> Report? {
        guard statistics.overflowEvents > reported.overflows else { return nil }
        if let lastReport, now - lastReport < interval { return nil }
        let report = Report(droppedSamples: statistics.droppedSamples - reported.dropped,
                            overflows: statistics.overflowEvents - reported.overflows,
                            totalDroppedSamples: statistics.droppedSamples)
        reported = (statistics.droppedSamples, statistics.overflowEvents)
        lastReport = now
        return report
    }
}
