/// The answer of one turn on its way to the speaker: sentence chunks in, TTS requests out one at
/// a time and in order, their audio held until the turn is committed and handed to playback after,
/// and what of it was actually played.
///
/// A pure value, owned by the turn; the controller decides when to ``release()`` it (at COMMITTED),
/// when to start the next request and what a failure means for the turn. The rule above all is
/// kept here too: audio that arrives before ``release()`` is held, never returned for playback,
/// and a discarded answer's held audio is gone.
struct AnswerPipeline: Equatable, Sendable {
    /// One sentence of the answer (or the apology) and its audio.
    struct Segment: Equatable, Sendable {
        var text: String
        var voice: Voice
        var samples = 0
        var ttsDone = false
        var startedAt: VoiceInstant?
        var finishedAt: VoiceInstant?
        /// Counted in what was spoken (false for a sentence whose primary TTS failed and was redone).
        var counts = true
        /// The apology after a failure: spoken and recorded, but never part of the conversation
        /// history the LLM sees (it is not the assistant's answer).
        var isApology = false
        /// Synthesised, and played to its end (or it had no audio).
        var hasEnded: Bool { ttsDone && (samples == 0 || finishedAt != nil) }
    }

    /// What a TTS failure leaves to do.
    enum FailureOutcome: Equatable, Sendable {
        /// The fallback voice will say the rest, starting again with the failed sentence.
        case fallback
        /// Even the fallback failed: nothing more can be said in this turn.
        case silenced
    }

    /// Sentences waiting for their TTS request.
    private(set) var sentences: [String] = []
    /// The voice of the next request: the fallback after a failure or for the apology.
    private(set) var voice: Voice = .primary
    private(set) var segments: [Segment] = []
    /// The one request being synthesised.
    private(set) var inFlight: TTSRequest?
    /// Audio and segment ends that arrived before ``release()``.
    private(set) var heldAudio: [PlaybackChunk] = []
    private(set) var heldEnds: [Int] = []
    /// Whether audio may go to playback (the turn is COMMITTED or SPEAKING).
    private(set) var released: Bool
    /// Whether any audio was handed to playback.
    private(set) var audioStarted = false
    /// A primary TTS request failed in this answer.
    private(set) var ttsFailed = false
    /// The answer was replaced by the apology.
    private(set) var apologising = false

    init(released: Bool = false) { self.released = released }

    /// Adds sentences of the answer, in order.
    mutating func enqueue(_ more: [String]) { sentences += more }

    /// Drops the sentences not yet requested (the answer cap; a failed fallback).
    mutating func dropQueued() { sentences = [] }

    /// Replaces what is left of the answer with `apology`, in the fallback voice. The request in
    /// flight, if any, finishes first.
    mutating func apologise(_ apology: String) {
        apologising = true
        sentences = [apology]
        voice = .fallback
    }

    /// A request may start: none in flight and a sentence waiting; after ``release()``, or before
    /// it for the first sentence only when `preemptive` (its audio is then held).
    func canStart(preemptive: Bool) -> Bool {
        guard inFlight == nil, !sentences.isEmpty else { return false }
        return released || (preemptive && segments.isEmpty)
    }

    /// How long the audio synthesised so far plays.
    var synthesisedDuration: Duration { PlaybackChunk.duration(ofSamples: segments.reduce(0) { $0 + $1.samples }) }

    /// Starts the request for the next sentence (check ``canStart(preemptive:)`` first).
    mutating func startNext(id: Int, turn: Int, call: Int?) -> TTSRequest? {
        guard inFlight == nil, !sentences.isEmpty else { return nil }
        let text = sentences.removeFirst()
        let request = TTSRequest(id: id, turn: turn, segment: segments.count, text: text, voice: voice,
                                 call: apologising ? nil : call)
        segments.append(Segment(text: text, voice: voice, isApology: apologising))
        inFlight = request
        return request
    }

    /// Forgets the request in flight (to cancel it); returns it.
    mutating func cancelInFlight() -> TTSRequest? {
        defer { inFlight = nil }
        return inFlight
    }

    /// The request in flight if `id` is its id; output of any other request is late and dropped.
    func current(_ id: Int) -> TTSRequest? { inFlight?.id == id ? inFlight : nil }

    /// Audio of the request in flight: the chunk to play now, or nil when it is held (before
    /// ``release()``) or dropped (empty, or not the request in flight).
    mutating func audio(_ samples: [Int16], request id: Int) -> PlaybackChunk? {
        guard let request = current(id), !samples.isEmpty else { return nil }
        segments[request.segment].samples += samples.count
        let chunk = PlaybackChunk(turn: request.turn, segment: request.segment, samples: samples)
        guard released else {
            heldAudio.append(chunk)  // never before COMMITTED
            return nil
        }
        return chunk
    }

    /// The request in flight finished: the segment whose end goes to playback now, if any (a
    /// segment with audio ends now after ``release()``, or at the release).
    mutating func finished(request id: Int) -> Int? {
        guard let request = current(id) else { return nil }
        inFlight = nil
        segments[request.segment].ttsDone = true
        guard segments[request.segment].samples > 0 else { return nil }
        guard released else {
            heldEnds.append(request.segment)
            return nil
        }
        return request.segment
    }

    /// The request in flight failed. Returns what follows, and whether its segment (part played)
    /// must be ended in playback now; nil for output of another request.
    mutating func failed(request id: Int) -> (outcome: FailureOutcome, endSegment: Int?)? {
        guard let request = current(id) else { return nil }
        inFlight = nil
        let segment = request.segment
        segments[segment].ttsDone = true
        segments[segment].counts = false
        let end = segments[segment].samples > 0 && released ? segment : nil
        guard request.voice == .primary else {
            sentences = []
            return (.silenced, end)
        }
        // The fallback voice speaks the rest of the answer, starting with this sentence again.
        ttsFailed = true
        voice = .fallback
        sentences.insert(request.text, at: 0)
        if !released {
            heldAudio.removeAll { $0.segment == segment }
            segments[segment].samples = 0  // never played, nothing to wait for
        }
        return (.fallback, end)
    }

    /// The turn is committed: from now on audio goes to playback. Returns what was held, in
    /// order, and the segments whose ends follow it.
    mutating func release() -> (audio: [PlaybackChunk], ends: [Int]) {
        released = true
        defer {
            heldAudio = []
            heldEnds = []
        }
        return (heldAudio, heldEnds)
    }

    /// Notes that audio went to playback; true the first time.
    mutating func notePlayed() -> Bool {
        guard !audioStarted else { return false }
        audioStarted = true
        return true
    }

    /// Playback started or finished `segment` at `time` (false for an unknown segment).
    @discardableResult
    mutating func segment(_ segment: Int, startedAt time: VoiceInstant) -> Bool {
        guard segments.indices.contains(segment) else { return false }
        segments[segment].startedAt = time
        return true
    }

    @discardableResult
    mutating func segment(_ segment: Int, finishedAt time: VoiceInstant) -> Bool {
        guard segments.indices.contains(segment) else { return false }
        segments[segment].finishedAt = time
        return true
    }

    /// Everything requested was synthesised and played: nothing queued, in flight or held.
    var isDrained: Bool {
        sentences.isEmpty && inFlight == nil && heldAudio.isEmpty && segments.allSatisfy(\.hasEnded)
    }

    /// What was actually played until `now`: whole segments, then the words of the segment
    /// playing in proportion to its audio played. `answerOnly` leaves out the apology.
    func spokenText(at now: VoiceInstant, answerOnly: Bool = false) -> String {
        var parts: [String] = []
        for segment in segments where segment.counts && !(answerOnly && segment.isApology) {
            if segment.finishedAt != nil {
                parts.append(segment.text)
            } else if let started = segment.startedAt, segment.samples > 0 {
                let total = PlaybackChunk.duration(ofSamples: segment.samples).seconds
                let fraction = min(1, max(0, (now - started).seconds / total))
                parts.append(Self.prefix(of: segment.text, fraction: fraction))
                break
            } else {
                break
            }
        }
        return TranscriptBuffer.normalise(parts.joined(separator: " "))
    }

    /// The whole words of `text` within the first `fraction` of its characters.
    static func prefix(of text: String, fraction: Double) -> String {
        if fraction >= 1 { return text }
        let limit = Int((Double(text.count) * fraction).rounded(.down))
        var result: [Substring] = []
        var used = 0
        for word in text.split(separator: " ") {
            let next = used + (result.isEmpty ? 0 : 1) + word.count
            if next > limit { break }
            result.append(word)
            used = next
        }
        return result.joined(separator: " ")
    }
}
