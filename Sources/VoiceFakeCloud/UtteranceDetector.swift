import VoiceCore

/// Energy-based utterance detection on 16 kHz 16-bit mono audio, for the fake Deepgram service:
/// a pure value fed with the audio as it arrives, returning what a live recogniser would report.
///
/// Audio is judged in 10 ms frames by RMS. Speech starts after `minSpeech` of loud frames (the
/// start is the first loud frame); while it lasts, an interim is due every `interimInterval`;
/// it ends (a final) after `endpointing` of quiet; an utterance end follows `utteranceEnd` of
/// quiet after the last loud frame, unless speech resumes first. Times are seconds of audio
/// since the stream began.
public struct UtteranceDetector: Sendable {
    public struct Settings: Sendable, Equatable {
        public var sampleRate = 16_000
        public var thresholdRMS = 500.0
        public var minSpeech: Duration = .milliseconds(100)
        public var interimInterval: Duration = .milliseconds(300)
        /// Quiet that ends an utterance with `speech_final`; nil (`endpointing=false`): 1 s, and
        /// the final is not `speech_final`.
        public var endpointing: Duration? = .milliseconds(10)
        /// Quiet after the last word before `UtteranceEnd`; nil: none is sent.
        public var utteranceEnd: Duration?

        public init() {}
    }

    public enum Event: Equatable, Sendable {
        case speechStarted(at: Double)
        /// Speech goes on: `start` and the speech heard so far.
        case interim(start: Double, duration: Double)
        /// The utterance is over.
        case final(start: Double, duration: Double, speechFinal: Bool, fromFinalize: Bool)
        case utteranceEnd(lastWordEnd: Double)
    }

    private enum State: Equatable {
        case quiet(loudFrames: Int, runStart: Int)
        case speech(start: Int, lastLoudEnd: Int, lastInterim: Int)
    }

    public let settings: Settings
    private let frameLength: Int
    private var pending: [Int16] = []
    private var position = 0
    private var state = State.quiet(loudFrames: 0, runStart: 0)
    private var awaitingUtteranceEnd: Int?

    public init(settings: Settings) {
        self.settings = settings
        frameLength = max(1, settings.sampleRate / 100)
    }

    /// Seconds of audio received.
    public var audioSeconds: Double { seconds(position + pending.count) }

    /// Whether an utterance is in progress.
    public var inSpeech: Bool { if case .speech = state { true } else { false } }

    /// Takes the next audio; returns what it completes.
    public mutating func feed(_ samples: some Collection<Int16>) -> [Event] {
        pending.append(contentsOf: samples)
        var events: [Event] = []
        var offset = 0
        while pending.count - offset >= frameLength {
            let frame = pending[offset..<(offset + frameLength)]
            offset += frameLength
            events += process(frame)
        }
        pending.removeFirst(offset)
        return events
    }

    /// `Finalize`: ends an utterance in progress at once.
    public mutating func finalize() -> [Event] {
        guard case .speech(let start, let lastLoudEnd, _) = state else { return [] }
        state = .quiet(loudFrames: 0, runStart: position)
        awaitingUtteranceEnd = settings.utteranceEnd == nil ? nil : lastLoudEnd
        let end = max(lastLoudEnd, position)
        return [.final(start: seconds(start), duration: seconds(end - start), speechFinal: false, fromFinalize: true)]
    }

    private mutating func process(_ frame: ArraySlice<Int16>) -> [Event] {
        let start = position
        position += frame.count
        let end = position
        let loud = AudioMath.rms(frame) >= settings.thresholdRMS
        var events: [Event] = []
        switch state {
        case .quiet(let loudFrames, let runStart):
            if loud {
                let run = loudFrames + 1
                let first = loudFrames == 0 ? start : runStart
                if Duration.milliseconds(run * 10) >= settings.minSpeech {
                    state = .speech(start: first, lastLoudEnd: end, lastInterim: end)
                    awaitingUtteranceEnd = nil
                    events.append(.speechStarted(at: seconds(first)))
                } else {
                    state = .quiet(loudFrames: run, runStart: first)
                }
            } else {
                state = .quiet(loudFrames: 0, runStart: end)
                if let lastWordEnd = awaitingUtteranceEnd, let gap = settings.utteranceEnd, samples(gap) <= end - lastWordEnd {
                    awaitingUtteranceEnd = nil
                    events.append(.utteranceEnd(lastWordEnd: seconds(lastWordEnd)))
                }
            }
        case .speech(let speechStart, var lastLoudEnd, var lastInterim):
            if loud {
                lastLoudEnd = end
                if end - lastInterim >= samples(settings.interimInterval) {
                    lastInterim = end
                    events.append(.interim(start: seconds(speechStart), duration: seconds(end - speechStart)))
                }
                state = .speech(start: speechStart, lastLoudEnd: lastLoudEnd, lastInterim: lastInterim)
            } else {
                let silence = settings.endpointing ?? .seconds(1)
                if end - lastLoudEnd >= samples(max(silence, .milliseconds(10))) {
                    state = .quiet(loudFrames: 0, runStart: end)
                    awaitingUtteranceEnd = settings.utteranceEnd == nil ? nil : lastLoudEnd
                    events.append(.final(start: seconds(speechStart), duration: seconds(lastLoudEnd - speechStart),
                                         speechFinal: settings.endpointing != nil, fromFinalize: false))
                    if let lastWordEnd = awaitingUtteranceEnd, let gap = settings.utteranceEnd, samples(gap) <= end - lastWordEnd {
                        awaitingUtteranceEnd = nil
                        events.append(.utteranceEnd(lastWordEnd: seconds(lastWordEnd)))
                    }
                }
            }
        }
        return events
    }

    private func samples(_ duration: Duration) -> Int {
        Int(duration.wholeMilliseconds) * settings.sampleRate / 1000
    }

    private func seconds(_ samples: Int) -> Double {
        (Double(samples) / Double(settings.sampleRate) * 1000).rounded() / 1000
    }
}
