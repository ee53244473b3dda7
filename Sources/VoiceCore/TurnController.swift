import Logging

/// The turn controller: a value that takes one event at a time and returns the actions to
/// carry out. It does no I/O and reads time only from its injected clock, so tests feed events
/// and compare actions.
///
/// The rule above all: no audio before COMMITTED, and nothing of a cancelled or interrupted
/// call is ever played. Every LLM call, TTS request and audio chunk carries ids; output whose
/// ids are not the current turn's is dropped here.
///
/// The state is one ``TurnPhase`` whose cases carry their ``Turn``; the turn's answer on its way
/// to the speaker is its ``AnswerPipeline``. The controller keeps the turn policy: transitions,
/// timers, who may barge in, LLM calls, and the record of each turn.
public struct TurnController {
    public private(set) var settings: TurnSettings
    public private(set) var buffer = TranscriptBuffer()
    public private(set) var telemetry: TelemetryTracker
    public private(set) var history: ConversationHistory
    public private(set) var adaptive: AdaptiveDebounce
    /// Transitions the controller attempted that the table refused (a bug if ever non-zero).
    public private(set) var rejectedTransitions = 0
    /// The most recent transitions, oldest first, at most ``transitionHistoryLimit`` (for status
    /// displays). The controller's one history of transitions; each turn's record holds its own.
    public private(set) var recentTransitions: [TransitionEvent] = []
    /// How many transitions ``recentTransitions`` keeps.
    public static let transitionHistoryLimit = 16

    private var phase: TurnPhase = .idle
    private var detector: CancellationDetector
    private let clock: any VoiceClock
    private var logger: Logger
    private var timers: [TurnTimer: DebounceTimer] = [:]
    /// Notices spoken while IDLE (turn 0 in playback).
    private var notices = Notices()
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
        self.detector = CancellationDetector(markers: settings.correctionMarkers)
        self.adaptive = AdaptiveDebounce(initial: settings.debounce, settings: settings.adaptive)
        self.telemetry = TelemetryTracker(sessionID: sessionID)
        self.history = ConversationHistory(maxTurns: settings.historyMaxTurns, maxCharacters: settings.historyMaxCharacters)
        for timer in TurnTimer.allCases { timers[timer] = DebounceTimer(duration: .zero) }
    }

    /// The current state.
    public var state: TurnState { phase.state }
    /// The debounce in force.
    public var debounce: Duration { adaptive.current }
    /// The current turn's number, once the user has said something in it.
    public var currentTurnID: Int? { phase.turn?.id }

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
        case .speech(let event, let source): onSpeech(event, from: source)
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

    // MARK: - State, turn and timers

    private var now: VoiceInstant { clock.now }

    private mutating func emit(_ action: TurnAction) { actions.append(action) }

    /// Changes the current turn in place (nothing in IDLE).
    @discardableResult
    private mutating func withTurn<R>(_ body: (inout Turn) -> R) -> R? { phase.modifyTurn(body) }

    /// Moves to `target` for `cause`, carrying the current turn, or `fresh` when waking from IDLE
    /// (IDLE drops the turn). A transition the table refuses is counted, logged and not made.
    /// `anonymous`: the turn is dropped before the transition, which names no turn.
    @discardableResult
    private mutating func go(_ target: TurnState, _ cause: TransitionCause, with fresh: Turn? = nil,
                             anonymous: Bool = false) -> TransitionEvent? {
        let from = phase.state
        let turnID = anonymous ? nil : (fresh ?? phase.turn)?.id
        do {
            try TurnTransitions.check(from: from, to: target, cause: cause)
        } catch {
            rejectedTransitions += 1
            logger.warning("rejected transition", metadata: [
                "from": "\(from.rawValue)", "to": "\(target.rawValue)", "cause": "\(cause.rawValue)",
                "turn": "\(turnID.map(String.init) ?? "-")", "error": "\(error)",
            ])
            return nil
        }
        // Only a wake leaves IDLE, and it brings its turn.
        guard from != .idle || target == .idle || fresh != nil else {
            rejectedTransitions += 1
            logger.warning("rejected transition", metadata: [
                "from": "\(from.rawValue)", "to": "\(target.rawValue)", "cause": "\(cause.rawValue)", "error": "no turn to carry",
            ])
            return nil
        }
        let event = TransitionEvent(time: now, from: from, to: target, cause: cause, turn: turnID)
        var turn = fresh ?? phase.take()
        turn?.states.append(event)
        let showError = turn?.llmFailure != nil && (target == .committed || target == .speaking)
        phase = TurnPhase(target, turn) ?? .idle
        recentTransitions.append(event)
        if recentTransitions.count > Self.transitionHistoryLimit { recentTransitions.removeFirst() }
        logger.debug("transition", metadata: [
            "from": "\(from.rawValue)", "to": "\(target.rawValue)", "cause": "\(cause.rawValue)",
            "state": "\(target.rawValue)", "turn": "\(turnID.map(String.init) ?? "-")",
        ])
        emit(.transitioned(event))
        emit(.setIndicator(showError ? .error : IndicatorState(target)))
        return event
    }

    private mutating func startTimer(_ timer: TurnTimer, after duration: Duration) {
        timers[timer, default: DebounceTimer(duration: duration)].duration = duration
        let at = now
        guard let ticket = timers[timer]?.start(at: at) else { return }
        emit(.schedule(timer, ticket))
    }

    private mutating func cancelTimer(_ timer: TurnTimer) { timers[timer]?.cancel() }

    /// IDLE → LISTENING with a new turn.
    private mutating func wake(_ cause: TransitionCause, bySpeech: Bool = false) {
        var turn = Turn(startedAt: now)
        turn.wokeBySpeech = bySpeech
        try? buffer.clear()
        go(.listening, cause, with: turn)
    }

    /// A turn gets its number with its first words.
    private mutating func ensureTurnID() {
        let id = nextTurnID
        let numbered = withTurn { turn -> Bool in
            guard turn.id == nil else { return false }
            turn.id = id
            for index in turn.states.indices { turn.states[index].turn = id }
            return true
        }
        if numbered == true { nextTurnID += 1 }
    }

    // MARK: - Events

    /// Speaks a notice while IDLE, through the same TTS and playback as answers, as turn 0.
    private mutating func say(_ text: String, voice: Voice) {
        guard state == .idle, !TranscriptBuffer.normalise(text).isEmpty else { return }
        notices.say(text, voice: voice, id: nextTTSID, into: &actions)
        nextTTSID += 1
    }

    /// Silences a notice (a wake).
    private mutating func stopNotice() { notices.stop(into: &actions) }

    private mutating func onButton() {
        switch state {
        case .idle:
            stopNotice()
            wake(.buttonWake)
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

    /// Who may speak when: while SPEAKING the cloud hears the speaker's own voice, so only the
    /// local voice detector's start of speech barges in (with barge-in by voice on); outside
    /// SPEAKING the cloud's own events are used and the local detector's are ignored.
    private func admits(_ event: SpeechEvent, from source: SpeechSource) -> Bool {
        switch (source, state) {
        case (.localVoiceActivity, .speaking): settings.bargeInByVoice && event == .speechStarted
        case (.localVoiceActivity, _): false
        case (.speechToText, .speaking): false
        case (.speechToText, _): true
        }
    }

    private mutating func onSpeech(_ event: SpeechEvent, from source: SpeechSource) {
        guard admits(event, from: source) else { return }
        switch state {
        case .idle:
            guard settings.alwaysListening, Self.isNewSpeech(event) else { return }
            stopNotice()
            wake(.speechStarted, bySpeech: true)
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
        return detector.reason(text: buffer.text + " " + added, since: phase.turn?.baseline ?? buffer.text)
    }

    /// Records the end of the user's speech: the first end reported after the last start.
    /// Speech-to-text may report one end several times (Deepgram's speech_final, then its
    /// UtteranceEnd a second later); the earliest is when the user stopped.
    private mutating func markSpeechEnd() {
        let at = now
        withTurn { turn in
            if let end = turn.speechEndAt, end >= (turn.lastSpeechStartAt ?? .zero) { return }
            turn.speechEndAt = at
        }
    }

    /// The first words after a wordless cancellation decide its reason.
    private mutating func refineCancellation() {
        guard let pending = phase.turn?.pendingReason, !buffer.textIncludingPartial.isEmpty else { return }
        let reason = detector.reason(text: buffer.textIncludingPartial, since: pending.baseline)
        guard !CancellationDetector.newWords(in: buffer.textIncludingPartial, since: pending.baseline).isEmpty else { return }
        withTurn { $0.pendingReason = nil }
        guard case .correctionMarker = reason else { return }
        withTurn { $0.updateRecord(of: pending.call) { $0.reason = reason.code } }
        logger.info("LLM call was cancelled by a correction", metadata: [
            "event": "llm_call_cancel_refined", "turn": "\(currentTurnID ?? 0)", "call": "\(pending.call)", "reason": "\(reason.code)",
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
            withTurn { $0.lastSpeechStartAt = at }
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
            withTurn { $0.lastFinalAt = at }
            startTimer(.debounce, after: adaptive.current)
            if settings.speculation == .atFinal { restartCall() }
        case .speechEnded:
            markSpeechEnd()
            if phase.turn?.wokeBySpeech == true, currentTurnID == nil, buffer.textIncludingPartial.isEmpty {
                // Speech woke the speaker and ended without a word: nothing to wait for.
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
                go(.idle, .listenTimeout, anonymous: true)
            } else {
                speculate()  // finals arrived but no debounce is running (speech ended without a final after a cancel)
            }
        case (.followUp, .listening) where buffer.isEmpty:
            go(.idle, .followUpElapsed, anonymous: true)
        case (.waitCue, .committed) where phase.turn?.answer.audioStarted == false:
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
        let baseline = buffer.text
        withTurn { $0.baseline = baseline }
        go(.speculative, .debounceElapsed)
        switch settings.speculation {
        case .afterDebounce: startCall()
        case .atFinal: if phase.turn?.call.map({ $0.failure != nil }) ?? true { startCall() }
        case .atCommit: break
        }
        startTimer(.commitHold, after: settings.commitHold)
        startPreemptiveTTS()
    }

    private mutating func commit() {
        buffer.lock()
        let debounceMs = adaptive.current.wholeMilliseconds
        withTurn { $0.committedDebounceMs = debounceMs }
        go(.committed, .commitHoldElapsed)
        if settings.speculation == .atCommit { startCall() }
        if let failure = phase.turn?.call?.failure {
            // The call failed while the answer was held: nothing of it is said, only the apology.
            discardAnswer(audible: true, keepingCall: true)
            apologise(after: failure)
            return
        }
        releaseHeldAudio()
        pumpTTS()
        finishIfDone()
        if state == .committed, phase.turn?.answer.audioStarted == false {
            if settings.waitCue > .zero { startTimer(.waitCue, after: settings.waitCue) }
            startTimer(.stallBudget, after: settings.stallBudget)
        }
    }

    /// COMMITTED and still silent after the stall budget: the LLM (or the voice) stalled. The
    /// user is told at once rather than after the providers' own timeouts.
    private mutating func stalled() {
        guard let current = phase.turn, !current.answer.audioStarted, !current.answer.apologising else { return }
        let budget = settings.stallBudget.wholeMilliseconds
        if let call = current.call, !call.done, call.failure == nil {
            emit(.cancelLLM(call: call.id, reason: "stall_budget"))
            let at = now
            withTurn { $0.endCall(.failed, reason: "stall_budget", at: at, countingTokens: false) }
        }
        logger.warning("no audio within the stall budget; apologising", metadata: [
            "event": "provider_error", "turn": "\(current.id ?? 0)", "stall_budget_ms": "\(budget)",
        ])
        discardAnswer(audible: true)
        apologise(after: "no audio within the stall budget of \(budget) ms")
    }

    // MARK: - LLM

    private mutating func startCall() {
        guard state != .idle else { return }
        let id = nextCallID
        nextCallID += 1
        var messages = [ChatMessage(role: .system, content: settings.systemPrompt)]
        messages += history.messages
        messages.append(ChatMessage(role: .user, content: buffer.text))
        let at = now
        let turnID = withTurn { turn -> Int in
            turn.startCall(id, at: at)
            return turn.id ?? 0
        }
        emit(.startLLM(LLMRequest(turn: turnID ?? 0, call: id, messages: messages)))
    }

    /// In `at_final` mode a new final restarts the call on the longer transcript.
    private mutating func restartCall() {
        telemetry.recordWastedTokens(discardCall(reason: CancellationReason.newSpeech.code))
        discardAnswer()
        startCall()
    }

    /// Cancels the running call, if any, recording why; returns the tokens it had received.
    @discardableResult
    private mutating func stopCall(reason: String) -> Int {
        guard let call = phase.turn?.runningCall else { return 0 }
        return cancelCall(call, reason: reason)
    }

    /// Discards the reply of the current call, finished or not: nothing of it will be said. A
    /// call that already finished streaming (a fast model often finishes inside the commit hold)
    /// is recorded `canceled` all the same, with the reason. Returns the tokens it had received,
    /// which are wasted. A failed call stays `failed`.
    @discardableResult
    private mutating func discardCall(reason: String) -> Int {
        guard let call = phase.turn?.discardableCall else { return 0 }
        return cancelCall(call, reason: reason)
    }

    private mutating func cancelCall(_ call: Turn.Call, reason: String) -> Int {
        emit(.cancelLLM(call: call.id, reason: reason))
        let at = now
        let tokens = withTurn { $0.endCall(.canceled, reason: reason, at: at) } ?? call.tokens
        logger.info("LLM call cancelled", metadata: [
            "event": "llm_call_canceled", "turn": "\(currentTurnID ?? 0)", "call": "\(call.id)", "reason": "\(reason)",
            "tokens": "\(tokens)", "finished": "\(call.done)",
        ])
        return tokens
    }

    /// Forgets the answer in progress: queued sentences, TTS in flight, held audio, and (unless
    /// `keepingCall`) the call it came from. `audible`: the turn stays COMMITTED (the apology follows).
    private mutating func discardAnswer(audible: Bool = false, keepingCall: Bool = false) {
        let inFlight = withTurn { turn -> TTSRequest? in
            let request = turn.answer.cancelInFlight()
            turn.answer = AnswerPipeline(released: audible)
            turn.llmFailure = nil
            if !keepingCall {
                turn.call = nil
                turn.latencies = TurnLatencies()
            }
            return request
        }
        if let request = inFlight ?? nil { emit(.cancelTTS(request: request.id)) }
    }

    private mutating func onLLM(call id: Int, _ event: LLMEvent) {
        guard phase.turn?.accepts(event, ofCall: id) == true else { return }  // late output of an old call
        let at = now
        switch event {
        case .token(let text):
            queue(withTurn { $0.receiveToken(text, at: at) } ?? [])
        case .usage(let prompt, let completion):
            withTurn { $0.receiveUsage(promptTokens: prompt, completionTokens: completion) }
        case .finished:
            let last = withTurn { $0.finishCall(at: at) } ?? nil
            queue(last.map { [$0] } ?? [])
            finishIfDone()
        case .failed(let message):
            withTurn { $0.failCall(message, at: at) }
            logger.error("LLM call failed", metadata: ["event": "provider_error", "turn": "\(currentTurnID ?? 0)", "call": "\(id)", "error": "\(message)"])
            if phase.isAudible { apologise(after: message) }
        }
    }

    /// New sentences of the answer: synthesised now once COMMITTED, else held (or the first one
    /// synthesised ahead with `preemptive_tts`).
    private mutating func queue(_ sentences: [String]) {
        guard !sentences.isEmpty else { return }
        let at = now
        withTurn { turn in
            if turn.latencies.speechEndToFirstSentenceMs == nil {
                turn.latencies.speechEndToFirstSentenceMs = turn.msAfterSpeechEnd(at)
            }
            turn.answer.enqueue(sentences)
        }
        if phase.isAudible { pumpTTS() } else { startPreemptiveTTS() }
    }

    private mutating func apologise(after failure: String) {
        guard let turn = phase.turn, !turn.answer.apologising else { return }
        let apology = settings.apology
        withTurn {
            $0.llmFailure = failure
            $0.answer.apologise(apology)
        }
        emit(.setIndicator(.error))
        pumpTTS()
        finishIfDone()
    }

    // MARK: - TTS and playback

    /// With `preemptive_tts`, synthesises the first sentence before COMMITTED; its audio is held.
    private mutating func startPreemptiveTTS() {
        guard settings.preemptiveTTS, state == .speculative || state == .listening else { return }
        pumpTTS(preemptive: true)
    }

    /// Starts synthesising the next sentence if none is in flight (one at a time, in order).
    private mutating func pumpTTS(preemptive: Bool = false) {
        guard let turn = phase.turn, let turnID = turn.id, turn.answer.canStart(preemptive: preemptive) else { return }
        if !turn.answer.apologising, turn.answer.synthesisedDuration >= settings.maxAnswer {
            capAnswer()
            return
        }
        let id = nextTTSID
        nextTTSID += 1
        let call = turn.call?.id
        guard let request = withTurn({ $0.answer.startNext(id: id, turn: turnID, call: call) }) ?? nil else { return }
        emit(.startTTS(request))
    }

    /// The answer has been spoken for `max_answer` already: no further sentence is started, the
    /// LLM call is stopped (a server may ignore max_tokens) and the turn ends when the sentence
    /// under way has played.
    private mutating func capAnswer() {
        withTurn { $0.answer.dropQueued() }
        if let call = phase.turn?.call, !call.done {
            emit(.cancelLLM(call: call.id, reason: "answer_cap"))
            let at = now
            withTurn { $0.endCall(.completed, reason: "answer_cap", at: at) }
        }
        logger.notice("the answer reached its spoken-length cap; the rest is not said", metadata: [
            "turn": "\(currentTurnID ?? 0)", "max_answer_s": "\(settings.maxAnswer.wholeMilliseconds / 1000)",
        ])
    }

    private mutating func onTTS(request id: Int, _ event: TTSEvent) {
        if let notice = notices.request(id) {
            if case .failed(let message) = event {
                logger.warning("notice could not be spoken", metadata: ["turn": "0", "voice": "\(notice.voice.rawValue)", "error": "\(message)"])
            }
            notices.receive(event, idle: state == .idle, into: &actions)
            return
        }
        guard let request = phase.turn?.answer.current(id) else { return }  // late output of a cancelled request
        switch event {
        case .audio(let samples):
            guard !samples.isEmpty else { return }
            let at = now
            let chunk = withTurn { turn -> PlaybackChunk? in
                if turn.latencies.speechEndToTTSFirstByteMs == nil {
                    turn.latencies.speechEndToTTSFirstByteMs = turn.msAfterSpeechEnd(at)
                }
                return turn.answer.audio(samples, request: id)  // held before COMMITTED
            } ?? nil
            if let chunk { play(chunk) }
        case .finished:
            if let segment = withTurn({ $0.answer.finished(request: id) }) ?? nil {
                emit(.endSegment(turn: request.turn, segment: segment))
            }
            pumpTTS()
            finishIfDone()
        case .failed(let message):
            logger.warning("TTS failed", metadata: ["event": "provider_error", "turn": "\(request.turn)", "voice": "\(request.voice.rawValue)", "error": "\(message)"])
            guard let failure = withTurn({ $0.answer.failed(request: id) }) ?? nil else { return }
            if let segment = failure.endSegment { emit(.endSegment(turn: request.turn, segment: segment)) }
            if failure.outcome == .silenced { stopCall(reason: "tts_failed") }
            pumpTTS()
            finishIfDone()
        }
    }

    /// At COMMITTED: what the answer held goes to playback, in order.
    private mutating func releaseHeldAudio() {
        guard let held = withTurn({ $0.answer.release() }) else { return }
        let turnID = currentTurnID ?? 0
        for chunk in held.audio { play(chunk) }
        for segment in held.ends { emit(.endSegment(turn: turnID, segment: segment)) }
    }

    /// Hands a chunk of the answer to playback; the first one makes the turn SPEAKING.
    private mutating func play(_ chunk: PlaybackChunk) {
        let at = now
        guard let first = withTurn({ turn -> Bool in
            guard turn.answer.notePlayed() else { return false }
            turn.latencies.speechEndToFirstAudioMs = turn.msAfterSpeechEnd(at)
            return true
        }) else { return }
        if first {
            cancelTimer(.waitCue)
            cancelTimer(.stallBudget)
            go(.speaking, .firstAudio)
        }
        emit(.play(chunk))
    }

    private mutating func onPlayback(_ event: PlaybackEvent) {
        if case .segmentFinished(0, let segment) = event {
            notices.finished(segment: segment)
            return
        }
        let at = now
        switch event {
        case .segmentStarted(let turnID, let segment):
            guard currentTurnID == turnID else { return }
            withTurn { $0.answer.segment(segment, startedAt: at) }
        case .segmentFinished(let turnID, let segment):
            guard currentTurnID == turnID, withTurn({ $0.answer.segment(segment, finishedAt: at) }) == true else { return }
            finishIfDone()
        }
    }

    // MARK: - Ending a turn

    /// Completes the turn once the answer is all said and played.
    private mutating func finishIfDone() {
        guard phase.isAudible, let turn = phase.turn else { return }
        let llmDone = turn.call.map { $0.done } ?? (settings.speculation != .atCommit)
        guard llmDone || turn.answer.apologising, turn.answer.isDrained else { return }
        let status: TurnStatus = turn.answer.apologising ? .llmFailed : (turn.answer.ttsFailed ? .ttsFailed : .completed)
        let cause: TransitionCause
        if turn.answer.apologising { cause = .llmFailed }
        else if state == .committed { cause = .nothingToSay }
        else { cause = .playbackFinished }
        finishTurn(status: status, interrupted: false, cause: cause)
    }

    private mutating func finishTurn(status: TurnStatus, interrupted: Bool, cause: TransitionCause) {
        guard let current = phase.turn else { return }
        let at = now
        let userText = buffer.text
        buffer.unlock()
        try? buffer.clear()
        cancelTimer(.commitHold)
        cancelTimer(.debounce)
        cancelTimer(.waitCue)
        cancelTimer(.stallBudget)
        let followUp = !interrupted && settings.followUp > .zero && status != .llmFailed && status != .aborted
        var record = current.record(status: status, interrupted: interrupted, cause: cause, userText: userText, at: at)
        if current.answer.audioStarted, status != .llmFailed, status != .aborted {
            telemetry.recordCompletedTurn(
                latency: record.latencies.speechEndToFirstAudioMs.map { .milliseconds($0) },
                debounce: .milliseconds(current.committedDebounceMs))
            if let adjustment = adaptive.recordCompletion() { emit(.debounceAdjusted(adjustment)) }
        }
        // The history holds what the assistant answered: never an apology or a notice.
        // A turn whose LLM call failed has no answer, even if its apology was cut short.
        if status != .llmFailed, status != .aborted, current.llmFailure == nil {
            history.append(user: userText, assistant: current.answer.spokenText(at: at, answerOnly: true))
        }

        // Leave the state first so the record holds the last transition.
        let last: TransitionEvent?
        if interrupted || followUp {
            last = go(.listening, cause)
            withTurn { $0 = Turn(startedAt: at) }
            startTimer(interrupted ? .listenTimeout : .followUp, after: interrupted ? settings.listenTimeout : settings.followUp)
        } else {
            last = go(.idle, cause)
        }
        record.states = current.states + (last.map { [$0] } ?? [])
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
        if wordless, let turn = phase.turn, let call = turn.call, call.failure == nil {
            let pending = (call: call.id, baseline: turn.baseline)
            withTurn { $0.pendingReason = pending }
        }
        let tokens = discardCall(reason: reason.code)
        discardAnswer()
        cancelTimer(.commitHold)
        buffer.unlock()
        telemetry.recordCancellation(tokensWasted: tokens)
        if let adjustment = adaptive.recordCancellation() { emit(.debounceAdjusted(adjustment)) }
        go(.listening, reason == .newSpeech ? .newSpeech : .correctionMarker)
    }

    /// Cancels the call (a reply not yet heard is discarded whole) and the TTS in flight.
    private mutating func stopAnswer(reason: String) {
        // Before any audio the whole reply is discarded; once speaking, a finished call's reply
        // was (partly) said and stays `completed`.
        let audio = phase.turn?.answer.audioStarted ?? false
        telemetry.recordWastedTokens(audio ? stopCall(reason: reason) : discardCall(reason: reason))
        if let request = withTurn({ $0.answer.cancelInFlight() }) ?? nil { emit(.cancelTTS(request: request.id)) }
    }

    /// A button press or user speech while the answer is due or playing.
    private mutating func bargeIn() {
        stopAnswer(reason: "barge_in")
        emit(.dropPlayback(turn: currentTurnID ?? 0))
        finishTurn(status: .interrupted, interrupted: true, cause: .bargeIn)
    }

    /// Shutdown, a fatal error, or speech-to-text gone for good: the turn stops where it is and,
    /// once the user had said something, leaves an `aborted` record with the cause.
    private mutating func onShutdown(cause: TransitionCause) {
        guard state != .idle else { return }
        stopAnswer(reason: cause.rawValue)
        if phase.isAudible { emit(.dropPlayback(turn: currentTurnID ?? 0)) }
        for timer in TurnTimer.allCases { cancelTimer(timer) }
        if currentTurnID != nil {
            finishTurn(status: .aborted, interrupted: false, cause: cause)
            return
        }
        buffer.unlock()
        try? buffer.clear()
        go(.idle, cause)
    }
}
