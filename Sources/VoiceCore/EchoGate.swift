/// The echo gate: whether a speech-to-text result may count as the user's words.
///
/// The rule: a transcript whose audio overlaps the speaker's own playback (while it plays and for
/// the capture processor's tail after it) is discarded, unless the local voice activity detector
/// confirmed user speech in that window. Speech-to-text gets echo-cancelled audio then, but what
/// the canceller leaves can still be transcribed; the detector, whose threshold rises with the
/// playback, is the witness that a person spoke.
///
/// The capture side records, frame by frame, when there was echo risk and when the detector
/// heard the user; the speech-to-text side asks about the stretch of audio a result covers. Pure:
/// times are given, nothing is read from a clock. Not thread-safe: wrap it in a lock.
public struct EchoGate: Sendable {
    /// A stretch of capture time.
    public struct Span: Equatable, Sendable {
        public var start: VoiceInstant
        public var end: VoiceInstant

        func overlaps(_ start: VoiceInstant, _ end: VoiceInstant) -> Bool { self.start < end && start < self.end }
    }

    /// How far back spans are kept.
    public let memory: Duration
    /// How long before a result's arrival its audio may have ended: speech-to-text's latency
    /// (endpointing and the network), so the window a result is judged on reaches back that far.
    public var latency: Duration
    /// Echo risk: playback active, or within its tail.
    public private(set) var echo: [Span] = []
    /// The local detector heard the user.
    public private(set) var speech: [Span] = []

    public init(latency: Duration = .milliseconds(1500), memory: Duration = .seconds(30)) {
        self.latency = latency
        self.memory = memory
    }

    /// Records one captured frame that ended at `end` and lasted `duration`.
    public mutating func frame(endingAt end: VoiceInstant, duration: Duration, echoRisk: Bool, userSpeech: Bool) {
        let start = end + (.zero - duration)
        if echoRisk { Self.extend(&echo, start, end, slack: duration) }
        if userSpeech { Self.extend(&speech, start, end, slack: duration) }
        let horizon = end + (.zero - memory)
        if let first = echo.first, first.end < horizon { echo.removeAll { $0.end < horizon } }
        if let first = speech.first, first.end < horizon { speech.removeAll { $0.end < horizon } }
    }

    /// Whether a result about the audio from `start` to `end` is admitted.
    public func admits(from start: VoiceInstant, to end: VoiceInstant) -> Bool {
        guard echo.contains(where: { $0.overlaps(start, end) }) else { return true }
        return speech.contains { $0.overlaps(start, end) }
    }

    /// Whether a speech-to-text event that arrived at `arrival` is admitted. A final covers its
    /// own duration (`end − start`) before the arrival and the latency; partials and speech-started
    /// the latency; speech-ended always passes (it starts nothing).
    public func admits(_ event: SpeechEvent, arrivedAt arrival: VoiceInstant) -> Bool {
        switch event {
        case .speechEnded:
            return true
        case .speechStarted, .partial:
            return admits(from: arrival + (.zero - latency), to: arrival)
        case .final(_, _, let start, let end):
            let spoken = Duration.milliseconds(Int64(max(0, end - start) * 1000))
            return admits(from: arrival + (.zero - latency - spoken), to: arrival)
        }
    }

    private static func extend(_ spans: inout [Span], _ start: VoiceInstant, _ end: VoiceInstant, slack: Duration) {
        if let last = spans.last, start <= last.end + slack {
            spans[spans.count - 1].end = max(last.end, end)
        } else {
            spans.append(Span(start: start, end: end))
        }
    }
}
