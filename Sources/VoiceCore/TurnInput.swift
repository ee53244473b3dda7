/// Where a speech event came from.
///
/// While SPEAKING the cloud transcribes the speaker's own voice too, so only the local voice
/// activity detector (which subtracts what is played) may barge in, and only with
/// ``TurnSettings/bargeInByVoice``; outside SPEAKING the cloud's own events are used and the
/// local detector's are ignored.
public enum SpeechSource: String, Sendable, Equatable, CaseIterable {
    /// The cloud speech-to-text service (its voice activity events and its transcripts).
    case speechToText = "speech_to_text"
    /// The local voice activity detector that watches the microphone for barge-in.
    case localVoiceActivity = "local_voice"
}

/// The controller's timers.
public enum TurnTimer: String, Sendable, CaseIterable {
    /// Silence after a final transcript.
    case debounce
    /// Time in SPECULATIVE with no new speech before COMMITTED.
    case commitHold
    /// A wake with no speech.
    case listenTimeout
    /// The follow-up window after a completed turn.
    case followUp
    /// COMMITTED with no audio yet for this long: a short cue that the answer is coming.
    case waitCue
    /// COMMITTED with no audio yet for this long: give up on the answer and apologise.
    case stallBudget
}

/// Everything the controller reacts to.
public enum TurnInput: Equatable, Sendable {
    case button
    /// A speech event and where it came from. Written without a source, it is speech-to-text's.
    /// While SPEAKING only the local voice detector may barge in (see ``SpeechSource``).
    case speech(SpeechEvent, from: SpeechSource = .speechToText)
    case llm(call: Int, LLMEvent)
    case tts(request: Int, TTSEvent)
    case playback(PlaybackEvent)
    case timer(TurnTimer, DebounceTimer.Ticket)
    /// New settings, applied between events.
    case settings(TurnSettings)
    /// Speak a notice (`voicectl say`, "I'm offline") while IDLE; ignored in any other state.
    case say(String, Voice)
    /// A no-op the watchdog posts to prove the controller still handles events.
    case heartbeat
    /// Speech-to-text is gone for good (after its reconnects): stop the turn, go IDLE.
    case offline
    /// The microphone was muted: a turn still listening (or holding its answer) ends, since the
    /// rest of what the user says will not be heard; an answer already committed is still given.
    case muted
    case shutdown
    /// The daemon is stopping because something failed: stop the turn, go IDLE.
    case fatalError
}

/// What the controller asks its driver to do (and tells its observers).
public enum TurnAction: Equatable, Sendable {
    case startLLM(LLMRequest)
    /// The call's reply is discarded and the call recorded `canceled` with `reason`; also sent for
    /// a call that had already finished streaming (the provider then has nothing left to stop).
    case cancelLLM(call: Int, reason: String)
    case startTTS(TTSRequest)
    case cancelTTS(request: Int)
    case play(PlaybackChunk)
    case endSegment(turn: Int, segment: Int)
    /// Silence playback at once and discard what is queued.
    case dropPlayback(turn: Int)
    /// Play a short earcon now (the wait cue): never words, never the answer.
    case cue(Earcon)
    case setIndicator(IndicatorState)
    case schedule(TurnTimer, DebounceTimer.Ticket)
    case transitioned(TransitionEvent)
    case turnFinished(TurnRecord)
    case debounceAdjusted(DebounceAdjustment)
    /// A call cancelled when speech merely started is now known to have been cancelled by a
    /// correction: the first words after it hold a marker. The turn record says so too.
    case cancellationRefined(call: Int, reason: String)
}
