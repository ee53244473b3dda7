import Logging

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
    case speech(SpeechEvent)
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

/// The turn controller: a value that takes one event at a time and returns the actions to
/// carry out. It does no I/O and reads time only from its injected clock, so tests feed events
/// and compare actions.
///
/// The rule above all: no audio before COMMITTED, and nothing of a cancelled or interrupted
/// call is ever played. Every LLM call, TTS request and audio chunk carries ids; output whose
/// ids are not the current turn's is dropped here.
public struct TurnController {
    public private(set) var settings: TurnSettings
    public private(set) var buffer = TranscriptBuffer()
    public private(set) var telemetry: TelemetryTracker
    public private(set) var history: ConversationHistory
    public private(set) var adaptive: AdaptiveDebounce
    /// Transitions the controller attempted that the table refused (a bug if ever non-zero).
    public private(set) var rejectedTransitions = 0

    private var machine: TurnStateMachine
    private var detector: CancellationDetector
    private let clock: any VoiceClock
    private var logger: Logger
    private var timers: [TurnTimer: DebounceTimer] = [:]
    private var turn: Turn?
    /// The TTS request of a notice being spoken while IDLE (turn 0 in playback).
    private var notice: TTSRequest?
    private var noticeSegments = 0
    /// Notice segments handed to playback and not yet finished.
    private var noticePlaying: Set<Int> = []
    private var nextTurnID = 1
    private var nextCallID = 1
    private var nextTTSID = 1
    private var actions: [TurnAction] = []

    public init(settings: TurnSettings = TurnSettings(), clock: any VoiceClock, sessionID: String = "session",
                logger: Logger = Logger(label: "voiced.turn")) {
        self.settings = settings
        self.clock = clock
        var logger = logger
        // Every line of the controller names its session (the journal's SESSION_ID).
        logger[metadataKey: "session"] = "\(sessionID)"
        self.logger = logger
        self.machine = TurnStateMachine(clock: clock, logger: logger)
        self.detector = CancellationDetector(markers: settings.correctionMarkers)
        self.adaptive = AdaptiveDebounce(initial: settings.debounce, settings: settings.adaptive)
        self.telemetry = TelemetryTracker(sessionID: sessionID)
        self.history = ConversationHistory(maxTurns: settings.historyMaxTurns, maxCharacters: settings.historyMaxCharacters)
        for timer in TurnTimer.allCases { timers[timer] = DebounceTimer(duration: .zero) }
    }

    /// The current state.
    public var state: TurnState { machine.state }
    /// Recent transitions, for status displays.
    public var recentTransitions: [TransitionEvent] { machine.history }
    /// The debounce in force.
    public var debounce: Duration { adaptive.current }
    /// The current turn's number, once the user has said something in it.
    public var currentTurnID: Int? { turn?.id }

    /// Applies new settings live. The debounce restarts from the new value.
    public mutating func update(settings new: TurnSettings) {
        if new.debounce != settings.debounce { adaptive.set(new.debounce) }
        adaptive.settings = new.adaptive
        detector = CancellationDetector(markers: new.correctionMarkers)
        history.maxTurns = new.historyMaxTurns
        history.maxCharacters = new.historyMaxCharacters
        settings = new
    }

    /// Restores a debounce value kept across a restart.
    public mutating func restoreDebounce(_ value: Duration) { adaptive.set(value) }

    /// Handles one event; returns the actions to carry out, in order.
    public mutating func handle(_ input: TurnInput) -> [TurnAction] {
        switch input {
        case .button: onButton()
        case .speech(let event): onSpeech(event)
        case .llm(let call, let event): onLLM(call: call, event)
        case .tts(let request, let event): onTTS(request: request, event)
        case .playback(let event): onPlayback(event)
        case .timer(let timer, let ticket): onTimer(timer, ticket)
        case .settings(let settings): update(settings: settings)
        case .say(let text, let voice): say(text, voice: voice)
        case .heartbeat: break
        case .offline: onShutdown(cause: .offline)
        case .muted: if state == .listening || state == .speculative { onShutdown(cause: .muted) }
        case .shutdown: onShutdown(cause: .shutdown)
        case .fatalError: onShutdown(cause: .fatalError)
        }
        defer { actions = [] }
        return actions
    }

    // MARK: - Per-turn bookkeeping

    private struct Call {
        var id: Int
        var chunker = SentenceChunker()
        var text = ""
        var tokens = 0
        var done = false
        var failure: String?
    }

    private struct Segment {
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
        var hasEnded: Bool { ttsDone && (samples == 0 || finishedAt != nil) }
    }

    private struct Turn {
        var id: Int?
        var startedAt: VoiceInstant
        var states: [TransitionEvent] = []
        var calls: [LLMCallRecord] = []
        var call: Call?
        var baseline = ""
        /// A call cancelled by the start of speech, before any words: the words that follow
        /// decide whether it was a correction.
        var pendingReason: (call: Int, baseline: String)?
        var lastSpeechStartAt: VoiceInstant?
        var lastFinalAt: VoiceInstant?
        var speechEndAt: VoiceInstant?
        var sentences: [String] = []
        var sentenceVoice: Voice = .primary
        var segments: [Segment] = []
        var tts: TTSRequest?
        var heldAudio: [PlaybackChunk] = []
        var heldEnds: [Int] = []
        var audioStarted = false
        var llmFailure: String?
        var ttsFailed = false
        var apologising = false
        /// Speech woke the speaker (always listening), not the button.
        var wokeBySpeech = false
        var committedDebounceMs: Int64 = 0
        var latencies = TurnLatencies()

        /// When the user stopped talking: the first speech end after the last speech start, else the last final.
        var speechEnd: VoiceInstant? {
            if let end = speechEndAt, end >= (lastSpeechStartAt ?? .zero) { return end }
            return lastFinalAt
        }
    }

    private var now: VoiceInstant { clock.now }

    private mutating func emit(_ action: TurnAction) { actions.append(action) }

    private mutating func go(_ target: TurnState, _ cause: TransitionCause) {
        do {
            let event = try machine.transition(to: target, cause: cause, turn: turn?.id)
            turn?.states.append(event)
            emit(.transitioned(event))
            let showError = turn?.llmFailure != nil && (target == .committed || target == .speaking)
            emit(.setIndicator(showError ? .error : IndicatorState(target)))
        } catch {
            rejectedTransitions += 1
        }
    }

    private mutating func startTimer(_ timer: TurnTimer, after duration: Duration) {
        timers[timer, default: DebounceTimer(duration: duration)].duration = duration
        let at = now
        guard let ticket = timers[timer]?.start(at: at) else { return }
        emit(.schedule(timer, ticket))
    }

    private mutating func cancelTimer(_ timer: TurnTimer) { timers[timer]?.cancel() }

    private mutating func beginTurn() {
        turn = Turn(startedAt: now)
        try? buffer.clear()
    }

    private mutating func ensureTurnID() {
        guard turn != nil, turn?.id == nil else { return }
        let id = nextTurnID
        nextTurnID += 1
        turn?.id = id
        for index in turn!.states.indices { turn!.states[index].turn = id }
    }

    private func ms(since start: VoiceInstant?, to end: VoiceInstant?) -> Int64? {
        guard let start, let end else { return nil }
        return (end - start).wholeMilliseconds
    }

    // MARK: - Events

    /// Speaks a notice while IDLE, through the same TTS and playback as answers, as turn 0.
    private mutating func say(_ text: String, voice: Voice) {
        guard state == .idle, !TranscriptBuffer.normalise(text).isEmpty else { return }
        stopNotice()
        let request = TTSRequest(id: nextTTSID, turn: 0, segment: noticeSegments, text: text, voice: voice, call: nil)
        nextTTSID += 1
        noticeSegments += 1
        notice = request
        emit(.startTTS(request))
    }

    /// Silences a notice (a wake, or a newer notice).
    private mutating func stopNotice() {
        if let request = notice { emit(.cancelTTS(request: request.id)) }
        if notice != nil || !noticePlaying.isEmpty { emit(.dropPlayback(turn: 0)) }
        notice = nil
        noticePlaying = []
    }

    private mutating func onButton() {
        switch state {
        case .idle:
            stopNotice()
            beginTurn()
            go(.listening, .buttonWake)
            startTimer(.listenTimeout, after: settings.listenTimeout)
        case .committed, .speaking:
            bargeIn()
        case .listening, .speculative:
            break  // already listening: the press changes nothing (see docs/turn-taking.md)
        }
    }

    private static func isNewSpeech(_ event: SpeechEvent) -> Bool {
        switch event {
        case .speechStarted: true
        case .partial(let text): !TranscriptBuffer.normalise(text).isEmpty
        case .final(let text, _, _, _): !TranscriptBuffer.normalise(text).isEmpty
        case .speechEnded: false
        }
    }

    private mutating func onSpeech(_ event: SpeechEvent) {
        switch state {
        case .idle:
            guard settings.alwaysListening, Self.isNewSpeech(event) else { return }
            stopNotice()
            beginTurn()
            turn?.wokeBySpeech = true
            go(.listening, .speechStarted)
            listen(event)
        case .listening:
            listen(event)
        case .speculative, .committed:
            if case .speechEnded = event {
                markSpeechEnd()
                return
            }
            guard Self.isNewSpeech(event) else { return }
            cancelSpeculation(reason: correctionReason(for: event), wordless: event == .speechStarted)
            listen(event)
        case .speaking:
            guard Self.isNewSpeech(event) else { return }
            bargeIn()
            listen(event)
        }
    }

    /// What `event` adds to the words said since the speculation began.
    private func correctionReason(for event: SpeechEvent) -> CancellationReason {
        let added: String
        switch event {
        case .partial(let text), .final(let text, _, _, _): added = text
        default: return .newSpeech
        }
        return detector.reason(text: buffer.text + " " + added, since: turn?.baseline ?? buffer.text)
    }

    /// Records the end of the user's speech: the first end reported after the last start.
    /// Speech-to-text may report one end several times (Deepgram's speech_final, then its
    /// UtteranceEnd a second later); the earliest is when the user stopped.
    private mutating func markSpeechEnd() {
        guard let current = turn else { return }
        if let end = current.speechEndAt, end >= (current.lastSpeechStartAt ?? .zero) { return }
        let at = now
        turn?.speechEndAt = at
    }

    /// The first words after a wordless cancellation decide its reason.
    private mutating func refineCancellation() {
        guard let pending = turn?.pendingReason, !buffer.textIncludingPartial.isEmpty else { return }
        let reason = detector.reason(text: buffer.textIncludingPartial, since: pending.baseline)
        guard !CancellationDetector.newWords(in: buffer.textIncludingPartial, since: pending.baseline).isEmpty else { return }
        turn?.pendingReason = nil
        guard case .correctionMarker = reason else { return }
        updateCallRecord(pending.call) { $0.reason = reason.code }
        logger.info("LLM call was cancelled by a correction", metadata: [
            "event": "llm_call_cancel_refined", "turn": "\(turn?.id ?? 0)", "call": "\(pending.call)", "reason": "\(reason.code)",
        ])
        emit(.cancellationRefined(call: pending.call, reason: reason.code))
    }

    /// Applies a speech event in LISTENING.
    private mutating func listen(_ event: SpeechEvent) {
        defer { refineCancellation() }
        if Self.isNewSpeech(event) {
            // A turn gets its number with its first words: a start of speech that brings none
            // (noise, an empty final) spends no number.
            if event != .speechStarted { ensureTurnID() }
            cancelTimer(.listenTimeout)
            cancelTimer(.followUp)
        }
        switch event {
        case .speechStarted:
            let at = now
            turn?.lastSpeechStartAt = at
            cancelTimer(.debounce)
        case .partial(let text):
            try? buffer.setPartial(text)
            if Self.isNewSpeech(event) { cancelTimer(.debounce) }
        case .final(let text, let confidence, let start, let end):
            guard Self.isNewSpeech(event) else {
                try? buffer.setPartial("")
                return
            }
            try? buffer.appendFinal(TranscriptSegment(text: text, start: start, end: end, confidence: confidence))
            let at = now
            turn?.lastFinalAt = at
            startTimer(.debounce, after: adaptive.current)
            if settings.speculation == .atFinal { restartCall() }
        case .speechEnded:
            markSpeechEnd()
            if turn?.wokeBySpeech == true, turn?.id == nil, buffer.textIncludingPartial.isEmpty {
                // Speech woke the speaker and ended without a word: nothing to wait for.
                turn = nil
                cancelTimer(.debounce)
                go(.idle, .nothingHeard)
                return
            }
            if !(timers[.debounce]?.isRunning ?? false) {
                startTimer(.listenTimeout, after: settings.listenTimeout)
            }
        }
    }

    private mutating func onTimer(_ timer: TurnTimer, _ ticket: DebounceTimer.Ticket) {
        let at = now
        guard timers[timer]?.fire(ticket, now: at) == true else { return }  // cancelled or superseded
        switch (timer, state) {
        case (.debounce, .listening):
            guard !buffer.isEmpty else { return }
            speculate()
        case (.commitHold, .speculative):
            commit()
        case (.listenTimeout, .listening):
            if buffer.isEmpty {
                turn = nil
                go(.idle, .listenTimeout)
            } else {
                speculate()  // finals arrived but no debounce is running (speech ended without a final after a cancel)
            }
        case (.followUp, .listening) where buffer.isEmpty:
            turn = nil
            go(.idle, .followUpElapsed)
        case (.waitCue, .committed) where turn?.audioStarted == false:
            emit(.cue(.wait))
        case (.stallBudget, .committed):
            stalled()
        default:
            break
        }
    }

    /// The user seems to have finished: start the answer, held silent.
    private mutating func speculate() {
        cancelTimer(.listenTimeout)
        turn?.baseline = buffer.text
        go(.speculative, .debounceElapsed)
        switch settings.speculation {
        case .afterDebounce: startCall()
        case .atFinal: if turn?.call == nil || turn?.call?.failure != nil { startCall() }
        case .atCommit: break
        }
        startTimer(.commitHold, after: settings.commitHold)
        startPreemptiveTTS()
    }

    private mutating func commit() {
        buffer.lock()
        turn?.committedDebounceMs = adaptive.current.wholeMilliseconds
        go(.committed, .commitHoldElapsed)
        if settings.speculation == .atCommit { startCall() }
        if let failure = turn?.call?.failure {
            apologise(after: failure)
            return
        }
        releaseHeldAudio()
        pumpTTS()
        finishIfDone()
        if state == .committed, turn?.audioStarted == false {
            if settings.waitCue > .zero { startTimer(.waitCue, after: settings.waitCue) }
            startTimer(.stallBudget, after: settings.stallBudget)
        }
    }

    /// COMMITTED and still silent after the stall budget: the LLM (or the voice) stalled. The
    /// user is told at once rather than after the providers' own timeouts.
    private mutating func stalled() {
        guard let current = turn, !current.audioStarted, !current.apologising else { return }
        let budget = settings.stallBudget.wholeMilliseconds
        if let call = current.call, !call.done, call.failure == nil {
            emit(.cancelLLM(call: call.id, reason: "stall_budget"))
            let at = now
            updateCallRecord(call.id) {
                $0.status = .failed
                $0.reason = "stall_budget"
                if $0.endedAt == nil { $0.endedAt = at }
            }
            turn?.call?.done = true
            turn?.call?.failure = "no answer within \(budget) ms"
        }
        logger.warning("no audio within the stall budget; apologising", metadata: [
            "event": "provider_error", "turn": "\(current.id ?? 0)", "stall_budget_ms": "\(budget)",
        ])
        discardAnswer()
        apologise(after: "no audio within the stall budget of \(budget) ms")
    }

    // MARK: - LLM

    private mutating func startCall() {
        guard turn != nil else { return }
        let id = nextCallID
        nextCallID += 1
        var messages = [ChatMessage(role: .system, content: settings.systemPrompt)]
        messages += history.messages
        messages.append(ChatMessage(role: .user, content: buffer.text))
        turn!.call = Call(id: id)
        turn!.sentences = []
        turn!.calls.append(LLMCallRecord(call: id, status: .running, reason: nil, tokens: 0, promptTokens: nil,
                                         startedAt: now, endedAt: nil, firstTokenAt: nil))
        emit(.startLLM(LLMRequest(turn: turn!.id ?? 0, call: id, messages: messages)))
    }

    /// In `at_final` mode a new final restarts the call on the longer transcript.
    private mutating func restartCall() {
        telemetry.recordWastedTokens(discardCall(reason: CancellationReason.newSpeech.code))
        discardAnswer()
        startCall()
    }

    private mutating func updateCallRecord(_ id: Int, _ change: (inout LLMCallRecord) -> Void) {
        guard let index = turn?.calls.firstIndex(where: { $0.call == id }) else { return }
        change(&turn!.calls[index])
    }

    /// Cancels the running call, if any, recording why; returns the tokens it had received.
    @discardableResult
    private mutating func stopCall(reason: String) -> Int {
        guard let call = turn?.call, !call.done, call.failure == nil else { return 0 }
        return cancelCall(call, reason: reason)
    }

    /// Discards the reply of the current call, finished or not: nothing of it will be said. A
    /// call that already finished streaming (a fast model often finishes inside the commit hold)
    /// is recorded `canceled` all the same, with the reason. Returns the tokens it had received,
    /// which are wasted. A failed call stays `failed`.
    @discardableResult
    private mutating func discardCall(reason: String) -> Int {
        guard let call = turn?.call, call.failure == nil,
              let record = turn?.calls.first(where: { $0.call == call.id }),
              record.status == .running || record.status == .completed else { return 0 }
        return cancelCall(call, reason: reason)
    }

    private mutating func cancelCall(_ call: Call, reason: String) -> Int {
        emit(.cancelLLM(call: call.id, reason: reason))
        let at = now
        updateCallRecord(call.id) {
            $0.status = .canceled
            $0.reason = reason
            $0.tokens = max($0.tokens, call.tokens)
            if $0.endedAt == nil { $0.endedAt = at }
        }
        turn?.call?.done = true
        let tokens = turn?.calls.first(where: { $0.call == call.id })?.tokens ?? call.tokens
        logger.info("LLM call cancelled", metadata: [
            "event": "llm_call_canceled", "turn": "\(turn?.id ?? 0)", "call": "\(call.id)", "reason": "\(reason)",
            "tokens": "\(tokens)", "finished": "\(call.done)",
        ])
        return tokens
    }

    /// Forgets the answer in progress: queued sentences, TTS in flight, held audio.
    private mutating func discardAnswer() {
        if let tts = turn?.tts { emit(.cancelTTS(request: tts.id)) }
        turn?.tts = nil
        turn?.sentences = []
        turn?.segments = []
        turn?.heldAudio = []
        turn?.heldEnds = []
        turn?.call = nil
        turn?.latencies = TurnLatencies()
    }

    private mutating func onLLM(call id: Int, _ event: LLMEvent) {
        guard var call = turn?.call, call.id == id, !call.done || event.isUsage else { return }  // late output of an old call
        switch event {
        case .token(let text):
            if call.tokens == 0 {
                let at = now
                updateCallRecord(id) { $0.firstTokenAt = at }
            }
            call.tokens += 1
            call.text += text
            let sentences = call.chunker.append(text)
            turn?.call = call
            queue(sentences)
        case .usage(let prompt, let completion):
            updateCallRecord(id) {
                $0.promptTokens = prompt
                $0.tokens = max($0.tokens, completion)
            }
        case .finished:
            call.done = true
            let last = call.chunker.finish()
            turn?.call = call
            let at = now
            updateCallRecord(id) {
                $0.status = .completed
                $0.tokens = max($0.tokens, call.tokens)
                $0.endedAt = at
            }
            queue(last.map { [$0] } ?? [])
            finishIfDone()
        case .failed(let message):
            call.failure = message
            call.done = true
            turn?.call = call
            let at = now
            updateCallRecord(id) {
                $0.status = .failed
                $0.reason = message
                $0.tokens = max($0.tokens, call.tokens)
                $0.endedAt = at
            }
            logger.error("LLM call failed", metadata: ["event": "provider_error", "turn": "\(turn?.id ?? 0)", "call": "\(id)", "error": "\(message)"])
            if state == .committed || state == .speaking { apologise(after: message) }
        }
    }

    private mutating func queue(_ sentences: [String]) {
        guard !sentences.isEmpty, turn != nil else { return }
        if turn!.latencies.speechEndToFirstSentenceMs == nil {
            turn!.latencies.speechEndToFirstSentenceMs = ms(since: turn!.speechEnd, to: now)
        }
        turn!.sentences += sentences
        if state == .committed || state == .speaking { pumpTTS() } else { startPreemptiveTTS() }
    }

    private mutating func apologise(after failure: String) {
        guard turn != nil, !turn!.apologising else { return }
        turn!.apologising = true
        turn!.llmFailure = failure
        emit(.setIndicator(.error))
        turn!.sentences = [settings.apology]
        turn!.sentenceVoice = .fallback
        pumpTTS()
        finishIfDone()
    }

    // MARK: - TTS and playback

    /// With `preemptive_tts`, synthesises the first sentence before COMMITTED; its audio is held.
    private mutating func startPreemptiveTTS() {
        guard settings.preemptiveTTS, state == .speculative || state == .listening,
              let turn, turn.segments.isEmpty, turn.tts == nil, !turn.sentences.isEmpty else { return }
        pumpTTS(force: true)
    }

    /// Starts synthesising the next sentence if none is in flight (one at a time, in order).
    private mutating func pumpTTS(force: Bool = false) {
        guard force || state == .committed || state == .speaking else { return }
        guard turn != nil, turn!.tts == nil, !turn!.sentences.isEmpty, let turnID = turn!.id else { return }
        if !turn!.apologising, reachedAnswerCap() { return }
        let text = turn!.sentences.removeFirst()
        let request = TTSRequest(id: nextTTSID, turn: turnID, segment: turn!.segments.count, text: text,
                                 voice: turn!.sentenceVoice, call: turn!.apologising ? nil : turn!.call?.id)
        nextTTSID += 1
        turn!.segments.append(Segment(text: text, voice: request.voice, isApology: turn!.apologising))
        turn!.tts = request
        emit(.startTTS(request))
    }

    /// Whether the answer has been spoken for `max_answer` already: then no further sentence is
    /// started, the LLM call is stopped (a server may ignore max_tokens) and the turn ends when
    /// the sentence under way has played.
    private mutating func reachedAnswerCap() -> Bool {
        guard let current = turn else { return false }
        let spoken = PlaybackChunk.duration(ofSamples: current.segments.reduce(0) { $0 + $1.samples })
        guard spoken >= settings.maxAnswer else { return false }
        turn?.sentences = []
        if let call = current.call, !call.done {
            emit(.cancelLLM(call: call.id, reason: "answer_cap"))
            let at = now
            updateCallRecord(call.id) {
                $0.reason = "answer_cap"
                $0.tokens = max($0.tokens, call.tokens)
                if $0.endedAt == nil { $0.endedAt = at }
                $0.status = .completed
            }
            turn?.call?.done = true
        }
        logger.notice("the answer reached its spoken-length cap; the rest is not said", metadata: [
            "turn": "\(current.id ?? 0)", "max_answer_s": "\(settings.maxAnswer.wholeMilliseconds / 1000)",
        ])
        return true
    }

    private mutating func onNotice(_ request: TTSRequest, _ event: TTSEvent) {
        switch event {
        case .audio(let samples):
            guard state == .idle, !samples.isEmpty else { return }
            noticePlaying.insert(request.segment)
            emit(.play(PlaybackChunk(turn: 0, segment: request.segment, samples: samples)))
        case .finished:
            emit(.endSegment(turn: 0, segment: request.segment))
            notice = nil
        case .failed(let message):
            logger.warning("notice could not be spoken", metadata: ["turn": "0", "voice": "\(request.voice.rawValue)", "error": "\(message)"])
            notice = nil
        }
    }

    private mutating func onTTS(request id: Int, _ event: TTSEvent) {
        if let notice, notice.id == id {
            onNotice(notice, event)
            return
        }
        guard let request = turn?.tts, request.id == id else { return }  // late output of a cancelled request
        switch event {
        case .audio(let samples):
            guard !samples.isEmpty else { return }
            if turn!.latencies.speechEndToTTSFirstByteMs == nil {
                turn!.latencies.speechEndToTTSFirstByteMs = ms(since: turn!.speechEnd, to: now)
            }
            turn!.segments[request.segment].samples += samples.count
            let chunk = PlaybackChunk(turn: request.turn, segment: request.segment, samples: samples)
            if state == .committed || state == .speaking {
                play(chunk)
            } else {
                turn!.heldAudio.append(chunk)  // never before COMMITTED
            }
        case .finished:
            turn!.tts = nil
            turn!.segments[request.segment].ttsDone = true
            if turn!.segments[request.segment].samples > 0 {
                if state == .committed || state == .speaking {
                    emit(.endSegment(turn: request.turn, segment: request.segment))
                } else {
                    turn!.heldEnds.append(request.segment)
                }
            }
            pumpTTS()
            finishIfDone()
        case .failed(let message):
            turn!.tts = nil
            logger.warning("TTS failed", metadata: ["event": "provider_error", "turn": "\(request.turn)", "voice": "\(request.voice.rawValue)", "error": "\(message)"])
            turn!.segments[request.segment].ttsDone = true
            turn!.segments[request.segment].counts = false
            if turn!.segments[request.segment].samples > 0, state == .committed || state == .speaking {
                emit(.endSegment(turn: request.turn, segment: request.segment))
            }
            if request.voice == .primary {
                // The fallback voice speaks the rest of the answer, starting with this sentence again.
                turn!.ttsFailed = true
                turn!.sentenceVoice = .fallback
                turn!.sentences.insert(request.text, at: 0)
                if state == .speculative || state == .listening {
                    turn!.heldAudio.removeAll { $0.segment == request.segment }
                    turn!.segments[request.segment].samples = 0  // never played, nothing to wait for
                }
            } else {
                // Even the fallback failed: nothing more can be said in this turn.
                turn!.sentences = []
                stopCall(reason: "tts_failed")
            }
            pumpTTS()
            finishIfDone()
        }
    }

    private mutating func releaseHeldAudio() {
        guard let held = turn?.heldAudio, !held.isEmpty else { return }
        let ends = turn!.heldEnds
        turn!.heldAudio = []
        turn!.heldEnds = []
        for chunk in held { play(chunk) }
        for segment in ends { emit(.endSegment(turn: turn!.id ?? 0, segment: segment)) }
    }

    private mutating func play(_ chunk: PlaybackChunk) {
        guard turn != nil else { return }
        if !turn!.audioStarted {
            turn!.audioStarted = true
            cancelTimer(.waitCue)
            cancelTimer(.stallBudget)
            turn!.latencies.speechEndToFirstAudioMs = ms(since: turn!.speechEnd, to: now)
            go(.speaking, .firstAudio)
        }
        emit(.play(chunk))
    }

    private mutating func onPlayback(_ event: PlaybackEvent) {
        if case .segmentFinished(0, let segment) = event {
            noticePlaying.remove(segment)
            return
        }
        switch event {
        case .segmentStarted(let turnID, let segment):
            guard turn?.id == turnID, let count = turn?.segments.count, segment < count else { return }
            turn!.segments[segment].startedAt = now
        case .segmentFinished(let turnID, let segment):
            guard turn?.id == turnID, let count = turn?.segments.count, segment < count else { return }
            turn!.segments[segment].finishedAt = now
            finishIfDone()
        }
    }

    // MARK: - Ending a turn

    /// Completes the turn once the answer is all said and played.
    private mutating func finishIfDone() {
        guard let turn, state == .committed || state == .speaking else { return }
        let llmDone = turn.call.map { $0.done } ?? (settings.speculation == .atCommit ? false : true)
        guard llmDone || turn.apologising, turn.sentences.isEmpty, turn.tts == nil, turn.heldAudio.isEmpty,
              turn.segments.allSatisfy(\.hasEnded) else { return }
        let status: TurnStatus = turn.apologising ? .llmFailed : (turn.ttsFailed ? .ttsFailed : .completed)
        let cause: TransitionCause
        if turn.apologising { cause = .llmFailed }
        else if state == .committed { cause = .nothingToSay }
        else { cause = .playbackFinished }
        finishTurn(status: status, interrupted: false, cause: cause)
    }

    /// What was actually played of the answer until now.
    private func spokenText(answerOnly: Bool = false) -> String {
        guard let turn else { return "" }
        var parts: [String] = []
        for segment in turn.segments where segment.counts && !(answerOnly && segment.isApology) {
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

    private mutating func finishTurn(status: TurnStatus, interrupted: Bool, cause: TransitionCause) {
        guard let current = turn else { return }
        let spoken = spokenText()
        let userText = buffer.text
        // Leave the state first so the record holds the last transition.
        buffer.unlock()
        try? buffer.clear()
        cancelTimer(.commitHold)
        cancelTimer(.debounce)
        cancelTimer(.waitCue)
        cancelTimer(.stallBudget)
        let followUp = !interrupted && settings.followUp > .zero && status != .llmFailed && status != .aborted
        var record = TurnRecord(
            turn: current.id ?? 0, userText: userText, spokenText: spoken, states: current.states,
            startedAt: current.startedAt, endedAt: now, interrupted: interrupted, status: status,
            llmCalls: current.calls, latencies: current.latencies, debounceMs: current.committedDebounceMs)
        if let call = current.call, let index = record.llmCalls.firstIndex(where: { $0.call == call.id }) {
            record.latencies.speechEndToLLMStartMs = ms(since: current.speechEnd, to: record.llmCalls[index].startedAt)
            record.latencies.speechEndToFirstTokenMs = ms(since: current.speechEnd, to: record.llmCalls[index].firstTokenAt)
        }
        if current.audioStarted, status != .llmFailed, status != .aborted {
            telemetry.recordCompletedTurn(
                latency: record.latencies.speechEndToFirstAudioMs.map { .milliseconds($0) },
                debounce: .milliseconds(current.committedDebounceMs))
            if let adjustment = adaptive.recordCompletion() { emit(.debounceAdjusted(adjustment)) }
        }
        // The history holds what the assistant answered: never an apology or a notice.
        // A turn whose LLM call failed has no answer, even if its apology was cut short.
        if status != .llmFailed, status != .aborted, current.llmFailure == nil {
            history.append(user: userText, assistant: spokenText(answerOnly: true))
        }

        if interrupted {
            go(.listening, cause)
            record.states = current.states + (machine.history.last.map { [$0] } ?? [])
            beginTurn()
            startTimer(.listenTimeout, after: settings.listenTimeout)
        } else if followUp {
            go(.listening, cause)
            record.states = current.states + (machine.history.last.map { [$0] } ?? [])
            beginTurn()
            startTimer(.followUp, after: settings.followUp)
        } else {
            go(.idle, cause)
            record.states = current.states + (machine.history.last.map { [$0] } ?? [])
            turn = nil
        }
        record.cause = cause
        // One line per turn, saying how it ended (the journal's MESSAGE_ID follows `event`).
        let level: Logger.Level
        let event: String
        switch status {
        case .completed: (level, event) = (.info, "turn_completed")
        case .interrupted: (level, event) = (.info, "turn_interrupted")
        case .llmFailed: (level, event) = (.error, "turn_failed")
        case .ttsFailed: (level, event) = (.warning, "turn_failed")
        case .aborted: (level, event) = (.warning, "turn_aborted")
        }
        logger.log(level: level, "turn \(event.dropFirst(5))", metadata: [
            "event": "\(event)", "turn": "\(record.turn)", "status": "\(status.rawValue)", "cause": "\(cause.rawValue)",
            "latency_ms": "\(record.latencies.speechEndToFirstAudioMs.map(String.init) ?? "-")",
        ])
        emit(.turnFinished(record))
    }

    /// New speech in SPECULATIVE, or in COMMITTED before any audio: cancel silently, keep listening.
    private mutating func cancelSpeculation(reason: CancellationReason, wordless: Bool = false) {
        if wordless, let call = turn?.call, call.failure == nil {
            let baseline = turn?.baseline ?? buffer.text
            turn?.pendingReason = (call.id, baseline)
        }
        let tokens = discardCall(reason: reason.code)
        discardAnswer()
        cancelTimer(.commitHold)
        buffer.unlock()
        telemetry.recordCancellation(tokensWasted: tokens)
        if let adjustment = adaptive.recordCancellation() { emit(.debounceAdjusted(adjustment)) }
        go(.listening, reason == .newSpeech ? .newSpeech : .correctionMarker)
    }

    /// A button press or user speech while the answer is due or playing.
    private mutating func bargeIn() {
        // Before any audio the whole reply is discarded; once speaking, a finished call's reply
        // was (partly) said and stays `completed`.
        let audio = turn?.audioStarted ?? false
        telemetry.recordWastedTokens(audio ? stopCall(reason: "barge_in") : discardCall(reason: "barge_in"))
        if let tts = turn?.tts { emit(.cancelTTS(request: tts.id)) }
        turn?.tts = nil
        emit(.dropPlayback(turn: turn?.id ?? 0))
        finishTurn(status: .interrupted, interrupted: true, cause: .bargeIn)
    }

    /// Shutdown, a fatal error, or speech-to-text gone for good: the turn stops where it is and,
    /// once the user had said something, leaves an `aborted` record with the cause.
    private mutating func onShutdown(cause: TransitionCause) {
        guard state != .idle else { return }
        let audio = turn?.audioStarted ?? false
        telemetry.recordWastedTokens(audio ? stopCall(reason: cause.rawValue) : discardCall(reason: cause.rawValue))
        if let tts = turn?.tts { emit(.cancelTTS(request: tts.id)) }
        turn?.tts = nil
        if state == .speaking || state == .committed { emit(.dropPlayback(turn: turn?.id ?? 0)) }
        for timer in TurnTimer.allCases { cancelTimer(timer) }
        if turn?.id != nil {
            finishTurn(status: .aborted, interrupted: false, cause: cause)
            return
        }
        turn = nil
        buffer.unlock()
        try? buffer.clear()
        go(.idle, cause)
    }
}

extension LLMEvent {
    var isUsage: Bool { if case .usage = self { true } else { false } }
}
