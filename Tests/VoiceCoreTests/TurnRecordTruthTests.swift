import Logging
import Testing
import VoiceTesting
import VoiceSupport
@testable import VoiceCore

/// The `index`th element of a JSON array.
func element(_ value: JSONValue?, _ index: Int) -> JSONValue? {
    guard case .array(let items)? = value, index < items.count else { return nil }
    return items[index]
}

/// Records that tell the truth: a discarded reply is a cancelled call whatever its progress, every
/// turn leaves a record, and the log says what happened, once.
@Suite struct DiscardedReplyTests {
    /// A fast model (a local server): the whole reply has streamed 16 ms after the debounce,
    /// long before the commit hold ends (1700 → 1900).
    func fastQuestion(_ replies: [String] = ["Wrong answer.", "It is sunny."], _ configure: (inout Scenario) -> Void = { _ in }) -> Script {
        var script = Script {
            $0.llm.timeToFirstToken = .milliseconds(10)
            $0.llm.perToken = .milliseconds(3)
            $0.llm.replies = replies
            configure(&$0)
        }
        script.button(0)
        script.speechStart(100)
        script.final(1300, "What is the weather today?")
        script.speechEnd(1300)
        return script
    }

    @Test func aCallThatFinishedInsideTheCommitHoldIsRecordedCancelledByNewSpeech() throws {
        var script = fastQuestion()
        script.speechStart(1800)                 // SPECULATIVE; call 1 finished at 1713
        script.final(2300, "in Paris")
        script.speechEnd(2300)
        let r = script.run()
        #expect(try #require(r.times("llm_done").first) < 1800)
        let cancel = try #require(r.entries("llm_cancel").first)
        #expect(cancel.time.milliseconds == 1800 && r.string(cancel, "reason") == "new_speech" && cancel.turn == 1)
        let turn = try #require(r.turns.first)
        #expect(turn.llmCalls.map(\.status) == [.canceled, .completed])
        #expect(turn.llmCalls.first?.reason == "new_speech")
        #expect(turn.llmCalls.first?.tokens == 2)
        #expect(turn.spokenText == "It is sunny.")
        #expect(r.telemetry.tokensWasted == 2)
        #expect(r.telemetry.cancellations == 1)
        let json = element(element(r.json["turns"], 0)?["llm_calls"], 0)
        #expect(json?["status"] == .string("canceled") && json?["reason"] == .string("new_speech"))
    }

    @Test func aFinishedCallCancelledByACorrectionInCommittedSaysSo() throws {
        var script = fastQuestion()
        script.final(2000, "No, tomorrow")      // COMMITTED (1900); first audio only at 2050
        script.speechEnd(2000)
        let r = script.run()
        #expect(r.transitions[3] == [.committed, .listening])
        #expect(r.entries("llm_cancel").first.map { r.string($0, "reason") } == "correction_marker")
        let call = try #require(r.turns.first?.llmCalls.first)
        #expect(call.status == .canceled && call.reason == "correction_marker")
        #expect(r.telemetry.tokensWasted == 2)
    }

    @Test func aFinishedCallCancelledByABareSpeechStartIsRefinedToACorrection() throws {
        var script = fastQuestion()
        script.speechStart(1800)
        script.partial(2000, "actually make it")
        script.final(2300, "actually make it tomorrow")
        script.speechEnd(2300)
        let r = script.run()
        #expect(r.entries("llm_cancel_reason").first.map { r.string($0, "reason") } == "correction_marker")
        let call = try #require(r.turns.first?.llmCalls.first)
        #expect(call.status == .canceled && call.reason == "correction_marker")
    }

    @Test func aButtonBeforeAnyAudioDiscardsAFinishedCallAsABargeIn() throws {
        var script = fastQuestion()
        script.button(1950)                      // COMMITTED, nothing played yet (audio at 2050)
        let r = script.run()
        let turn = try #require(r.turns.first)
        #expect(turn.status == .interrupted && turn.spokenText == "")
        #expect(turn.llmCalls.first?.status == .canceled && turn.llmCalls.first?.reason == "barge_in")
        #expect(r.entries("llm_cancel").first.map { r.string($0, "reason") } == "barge_in")
        #expect(r.telemetry.tokensWasted == 2)
        #expect(r.played.isEmpty)
    }

    @Test func atFinalARestartDiscardsAFinishedCall() throws {
        var script = Script {
            $0.settings.speculation = .atFinal
            $0.llm.timeToFirstToken = .milliseconds(10)
            $0.llm.perToken = .milliseconds(3)
            $0.llm.replies = ["Partial idea.", "Full answer."]
        }
        script.button(0)
        script.speechStart(100)
        script.final(1000, "Set a timer")        // call 1 done at 1013
        script.final(1300, "for ten minutes")
        script.speechEnd(1300)
        let r = script.run()
        let turn = try #require(r.turns.first)
        #expect(turn.llmCalls.map(\.status) == [.canceled, .completed])
        #expect(turn.llmCalls.first?.reason == "new_speech")
        #expect(r.telemetry.tokensWasted == 2)
        #expect(r.telemetry.cancellations == 0)  // superseded in LISTENING, not a cancelled speculation
    }

    @Test func aCallWhoseReplyWasSpokenStaysCompletedWhenTheUserBargesIn() throws {
        var script = fastQuestion(["It is sunny. Enjoy your day!"])
        script.button(2300)                      // SPEAKING since 2050
        let r = script.run()
        let turn = try #require(r.turns.first)
        #expect(turn.status == .interrupted)
        #expect(turn.llmCalls.first?.status == .completed)
        #expect(r.telemetry.tokensWasted == 0)
    }

    @Test func theCancellationIsLoggedWithItsReasonSessionAndTurn() throws {
        let logs = InMemoryLogHandler.Store()
        let clock = ManualClock()
        var controller = TurnController(clock: clock, sessionID: "s-1", logger: InMemoryLogHandler.logger(label: "voiced.turn", store: logs))
        _ = controller.handle(.button)
        let heard = controller.handle(.speech(.final(text: "What time is it?", confidence: 0.9, start: 0, end: 1)))
        let ticket = try #require(scheduled(.debounce, in: heard))
        clock.advance(to: ticket.deadline)
        let request = try #require(controller.handle(.timer(.debounce, ticket)).lazy.compactMap { action -> LLMRequest? in
            if case .startLLM(let request) = action { return request }
            return nil
        }.first)
        _ = controller.handle(.llm(call: request.call, .token("Noon.")))
        _ = controller.handle(.llm(call: request.call, .finished))
        _ = controller.handle(.speech(.speechStarted))
        let line = try #require(logs.entries.first { $0.message == "LLM call cancelled" })
        #expect(line["reason"] == "new_speech" && line["session"] == "s-1" && line["turn"] == "1" && line["tokens"] == "1")
    }

    func scheduled(_ timer: TurnTimer, in actions: [TurnAction]) -> DebounceTimer.Ticket? {
        for action in actions { if case .schedule(timer, let ticket) = action { return ticket } }
        return nil
    }
}

@Suite struct EveryTurnLeavesARecordTests {
    /// Wakes and says one final; returns the controller in LISTENING with the debounce running.
    func listening(_ clock: ManualClock, logs: InMemoryLogHandler.Store = .init()) -> TurnController {
        var controller = TurnController(clock: clock, sessionID: "s-1", logger: InMemoryLogHandler.logger(label: "voiced.turn", store: logs))
        _ = controller.handle(.button)
        _ = controller.handle(.speech(.speechStarted))
        clock.advance(to: .milliseconds(900))
        _ = controller.handle(.speech(.final(text: "Turn on the lights", confidence: 0.9, start: 0, end: 0.9)))
        return controller
    }

    static func record(_ actions: [TurnAction]) -> TurnRecord? {
        for action in actions { if case .turnFinished(let record) = action { return record } }
        return nil
    }

    @Test(arguments: [(TurnInput.shutdown, TransitionCause.shutdown), (.offline, .offline), (.fatalError, .fatalError)])
    func aTurnCutShortIsRecordedAbortedWithTheCause(input: TurnInput, cause: TransitionCause) throws {
        let clock = ManualClock()
        var controller = listening(clock)
        clock.advance(to: .milliseconds(1000))
        let actions = controller.handle(input)
        let record = try #require(Self.record(actions))
        #expect(record.status == .aborted && record.cause == cause)
        #expect(record.userText == "Turn on the lights")
        #expect(record.endedAt == .milliseconds(1000))
        #expect(record.states.last?.to == .idle && record.states.last?.cause == cause)
        #expect(controller.state == .idle)
        #expect(controller.history.messages.isEmpty)
        #expect(controller.telemetry.completedTurns == 0)
    }

    @Test func aWakeWithNoWordsLeavesNoRecordAtShutdown() {
        let clock = ManualClock()
        var controller = TurnController(clock: clock)
        _ = controller.handle(.button)
        #expect(Self.record(controller.handle(.shutdown)) == nil)
        #expect(controller.state == .idle)
    }

    @Test func aSpeculativeCallCutShortByGoingOfflineIsCancelledWithThatReason() throws {
        var script = Script()
        script.button(0)
        script.say(100, 1300, "What is the weather today?")
        let runner = ScenarioRunner(scenario: script.scenario)
        runner.scheduleEvents()
        runner.clock.advance(to: .milliseconds(1750))          // SPECULATIVE, call 1 running
        runner.engine.post(.offline)
        runner.clock.runUntilIdle()
        let r = runner.result()
        #expect(r.violations.isEmpty)
        let turn = try #require(r.turns.first)
        #expect(turn.status == .aborted && turn.cause == .offline)
        #expect(turn.llmCalls.first?.status == .canceled && turn.llmCalls.first?.reason == "offline")
        #expect(r.entries("turn_end").first?.field("cause") == .string("offline"))
        #expect(element(r.json["turns"], 0)?["cause"] == .string("offline"))
    }
}

@Suite struct TurnLogTests {
    func run(_ configure: (inout Scenario) -> Void = { _ in }, logs: InMemoryLogHandler.Store) {
        var scenario = Scenario()
        scenario.settings.adaptive.enabled = false
        configure(&scenario)
        let clock = ManualClock()
        let engine = TurnEngine(
            controller: TurnController(settings: scenario.settings, clock: clock, sessionID: "s-1",
                                       logger: InMemoryLogHandler.logger(label: "voiced.turn", store: logs)),
            llm: ScriptedLanguageModel(clock: clock, replies: ["It is sunny."], failingCalls: scenario.llm.failingCalls),
            tts: ScriptedTextToSpeech(clock: clock), fallbackTTS: ScriptedTextToSpeech(clock: clock),
            playback: VirtualPlayback(clock: clock), indicator: RecordingIndicator(), scheduler: clock)
        engine.post(.button)
        clock.advance(to: .milliseconds(100))
        engine.post(.speech(.speechStarted))
        clock.advance(to: .milliseconds(1300))
        engine.post(.speech(.final(text: "What is the weather?", confidence: 0.9, start: 0.1, end: 1.3)))
        engine.post(.speech(.speechEnded))
        clock.runUntilIdle()
    }

    @Test func aFailedTurnIsLoggedOnceAsFailedAtErrorLevel() throws {
        let logs = InMemoryLogHandler.Store()
        run({ $0.llm.failingCalls = [1] }, logs: logs)
        let turnLines = logs.entries.filter { $0["event"]?.hasPrefix("turn_") == true }
        #expect(turnLines.count == 1)
        let line = try #require(turnLines.first)
        #expect(line["event"] == "turn_failed" && line.level == .error && line["status"] == "llm_failed")
        #expect(line.message == "turn failed")
        #expect(!logs.entries.contains { $0["event"] == "turn_completed" })
    }

    @Test func aCompletedTurnIsLoggedOnceAsCompleted() throws {
        let logs = InMemoryLogHandler.Store()
        run(logs: logs)
        let turnLines = logs.entries.filter { $0.message.hasPrefix("turn ") }
        #expect(turnLines.count == 1)
        #expect(turnLines.first?["event"] == "turn_completed" && turnLines.first?.level == .info)
        #expect(turnLines.first?["cause"] == "playback_finished")
    }

    @Test func everyLineOfTheControllerCarriesTheSessionAndTheTurn() {
        let logs = InMemoryLogHandler.Store()
        run({ $0.llm.failingCalls = [1] }, logs: logs)
        #expect(logs.entries.count >= 5)
        for entry in logs.entries {
            #expect(entry["session"] == "s-1", "\(entry.message)")
            #expect(entry["turn"] != nil, "\(entry.message)")
        }
        #expect(logs.entries.filter { $0.message == "transition" }.allSatisfy { $0["state"] != nil })
    }
}
