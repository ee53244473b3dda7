/// Notices spoken while IDLE (`voicectl say`, "I'm offline"): through the same TTS and playback
/// as answers, as turn 0, and never part of a turn or of the conversation. One at a time: a newer
/// notice or a wake silences the one before.
struct Notices {
    /// The request of the notice being synthesised.
    private var request: TTSRequest?
    private var segments = 0
    /// Notice segments handed to playback and not yet finished.
    private var playing: Set<Int> = []

    /// Silences the notice: its request cancelled, what plays dropped.
    mutating func stop(into actions: inout [TurnAction]) {
        if let request { actions.append(.cancelTTS(request: request.id)) }
        if request != nil || !playing.isEmpty { actions.append(.dropPlayback(turn: 0)) }
        request = nil
        playing = []
    }

    /// Silences the notice before, then starts synthesising `text` as request `id`.
    mutating func say(_ text: String, voice: Voice, id: Int, into actions: inout [TurnAction]) {
        stop(into: &actions)
        let request = TTSRequest(id: id, turn: 0, segment: segments, text: text, voice: voice, call: nil)
        segments += 1
        self.request = request
        actions.append(.startTTS(request))
    }

    /// The notice's request, if `id` is it.
    func request(_ id: Int) -> TTSRequest? { request?.id == id ? request : nil }

    /// Output of the notice's request; its audio plays only while `idle`.
    mutating func receive(_ event: TTSEvent, idle: Bool, into actions: inout [TurnAction]) {
        guard let request else { return }
        switch event {
        case .audio(let samples):
            guard idle, !samples.isEmpty else { return }
            playing.insert(request.segment)
            actions.append(.play(PlaybackChunk(turn: 0, segment: request.segment, samples: samples)))
        case .finished:
            actions.append(.endSegment(turn: 0, segment: request.segment))
            self.request = nil
        case .failed:
            self.request = nil
        }
    }

    /// Playback finished a notice's segment.
    mutating func finished(segment: Int) { playing.remove(segment) }
}
