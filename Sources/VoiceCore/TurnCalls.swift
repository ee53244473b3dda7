/// The LLM calls of a turn: the one whose reply is the answer (``Turn/call``) and the record of
/// every call made (``Turn/calls``). Pure bookkeeping; the controller decides when a call starts
/// or ends, and says so to the provider and the log.
extension Turn {
    /// Starts call `id`; the sentences queued from an earlier call are dropped.
    mutating func startCall(_ id: Int, at time: VoiceInstant) {
        self.call = Call(id: id)
        self.answer.dropQueued()
        self.calls.append(LLMCallRecord(call: id, status: .running, reason: nil, tokens: 0, promptTokens: nil,
                                        startedAt: time, endedAt: nil, firstTokenAt: nil))
    }

    /// Whether `event` of call `id` is for the current call and still due (its usage report may
    /// come after its end); anything else is late output of an old call.
    func accepts(_ event: LLMEvent, ofCall id: Int) -> Bool {
        guard let call = self.call, call.id == id else { return false }
        if case .usage = event { return true }
        return !call.done
    }

    /// The current call while it streams.
    var runningCall: Call? {
        guard let call = self.call, !call.done, call.failure == nil else { return nil }
        return call
    }

    /// The current call, finished or not, unless it failed: its reply may still be discarded.
    var discardableCall: Call? {
        guard let call = self.call, call.failure == nil,
              let record = self.calls.first(where: { $0.call == call.id }),
              record.status == .running || record.status == .completed else { return nil }
        return call
    }

    /// A token of the current call: the sentences it completes.
    mutating func receiveToken(_ text: String, at time: VoiceInstant) -> [String] {
        guard let id = self.call?.id else { return [] }
        if self.call?.tokens == 0 { updateRecord(of: id) { $0.firstTokenAt = time } }
        self.call?.tokens += 1
        self.call?.text += text
        return self.call?.chunker.append(text) ?? []
    }

    mutating func receiveUsage(promptTokens: Int, completionTokens: Int) {
        guard let id = self.call?.id else { return }
        updateRecord(of: id) {
            $0.promptTokens = promptTokens
            $0.tokens = max($0.tokens, completionTokens)
        }
    }

    /// The current call finished streaming: the last sentence (one without an end mark), if any.
    mutating func finishCall(at time: VoiceInstant) -> String? {
        guard let call = self.call else { return nil }
        self.call?.done = true
        updateRecord(of: call.id) {
            $0.status = .completed
            $0.tokens = max($0.tokens, call.tokens)
            $0.endedAt = time
        }
        return self.call?.chunker.finish()
    }

    mutating func failCall(_ message: String, at time: VoiceInstant) {
        guard let call = self.call else { return }
        self.call?.failure = message
        self.call?.done = true
        updateRecord(of: call.id) {
            $0.status = .failed
            $0.reason = message
            $0.tokens = max($0.tokens, call.tokens)
            $0.endedAt = time
        }
    }

    /// Ends the current call before its own end (cancelled, capped, stalled), recorded with
    /// `status` and `reason`. Returns the tokens it had received. `countingTokens`: the record
    /// takes the tokens counted as they arrived.
    @discardableResult
    mutating func endCall(_ status: LLMCallRecord.Status, reason: String, at time: VoiceInstant,
                          countingTokens: Bool = true) -> Int {
        guard let call = self.call else { return 0 }
        updateRecord(of: call.id) {
            $0.status = status
            $0.reason = reason
            if countingTokens { $0.tokens = max($0.tokens, call.tokens) }
            if $0.endedAt == nil { $0.endedAt = time }
        }
        self.call?.done = true
        return self.calls.first(where: { $0.call == call.id })?.tokens ?? call.tokens
    }

    /// The record of the turn as it ends now: its transitions so far (the caller adds the last),
    /// its calls, and its latencies after the end of speech.
    func record(status: TurnStatus, interrupted: Bool, cause: TransitionCause, userText: String,
                at time: VoiceInstant) -> TurnRecord {
        var record = TurnRecord(
            turn: self.id ?? 0, userText: userText, spokenText: self.answer.spokenText(at: time), states: self.states,
            startedAt: self.startedAt, endedAt: time, interrupted: interrupted, status: status,
            llmCalls: self.calls, latencies: self.latencies, debounceMs: self.committedDebounceMs, cause: cause)
        if let call = self.call, let answered = self.calls.first(where: { $0.call == call.id }) {
            record.latencies.speechEndToLLMStartMs = msAfterSpeechEnd(answered.startedAt)
            record.latencies.speechEndToFirstTokenMs = msAfterSpeechEnd(answered.firstTokenAt)
        }
        return record
    }
}
