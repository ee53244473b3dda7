import Testing
import VoiceTesting
import VoiceSupport
@testable import VoiceCore

/// Every rule of the turn controller, through the same runner as `voiced simulate`.
/// Default script: debounce 400 ms, hold 200 ms, LLM first token 400 ms then 30 ms per token,
/// TTS first byte 150 ms and 60 ms of audio per character, fallback first byte 30 ms.
@Suite struct TurnControllerScenarioTests {
    static let reply = "It is sunny. Enjoy your day!"

    func question(_ configure: (inout Scenario) -> Void = { _ in }) -> Script {
        var script = Script(configure)
        script.button(0)
        script.speechStart(100)
        script.partial(700, "what is the")
        script.final(1300, "What is the weather today?")
        script.speechEnd(1300)
        return script
    }

    // MARK: Rules 1-4, 6, 8: the happy cycle

    @Test func happyCycleGoesThroughEveryStateAndSpeaksTheWholeAnswer() throws {
        let r = question().run()
        #expect(r.transitions == [[.idle, .listening], [.listening, .speculative], [.speculative, .committed],
                                  [.committed, .speaking], [.speaking, .idle]])
        #expect(r.time(entering: .speculative) == 1700)  // final + debounce
        #expect(r.time(entering: .committed) == 1900)    // + hold
        #expect(r.times("llm_start") == [1700])
        #expect(r.spokenTexts == ["It is sunny.", "Enjoy your day!"])
        #expect(r.times("tts_start").first == 2160)      // first sentence complete: tokens at 2100, 2130, 2160
        #expect(r.times("audio_start") == [2310])        // + TTS first byte
        let turn = try #require(r.turns.first)
        #expect(turn.status == .completed && !turn.interrupted)
        #expect(turn.userText == "What is the weather today?")
        #expect(turn.spokenText == Self.reply)
        #expect(turn.latencies.speechEndToFirstAudioMs == 1010)
        #expect(turn.latencies.speechEndToLLMStartMs == 400)
        #expect(turn.latencies.speechEndToFirstTokenMs == 800)
        #expect(turn.latencies.speechEndToFirstSentenceMs == 860)
        #expect(turn.latencies.speechEndToTTSFirstByteMs == 1010)
        #expect(turn.llmCalls.map(\.status) == [.completed])
        #expect(turn.llmCalls.first?.tokens == 6)
        // 12 + 15 characters at 60 ms each, from 2310.
        #expect(r.times("turn_end") == [2310 + 27 * 60])
        #expect(r.indicator == [.listening, .speculative, .committed, .speaking, .idle])
    }

    @Test func theLLMOutputIsHeldSilentUntilCommitted() {
        // A fast LLM: the whole answer exists before the commit, but nothing is synthesised before it.
        let r = question { $0.llm.timeToFirstToken = .milliseconds(10); $0.llm.perToken = .milliseconds(1) }.run()
        #expect(r.times("tts_start").allSatisfy { $0 >= 1900 })
        #expect(r.times("audio_start") == [1900 + 150])
    }

    @Test func theLLMCallCarriesSystemPromptHistoryAndTranscript() throws {
        var script = question { $0.llm.replies = ["First answer.", "Second answer."] }
        script.say(5000, 6000, "And tomorrow?")
        script.button(4500)
        let r = script.run()
        #expect(r.llmRequests.count == 2)
        let second = try #require(r.llmRequests.last).messages
        #expect(second.map(\.role) == [.system, .user, .assistant, .user])
        #expect(second[1].content == "What is the weather today?")
        #expect(second[2].content == "First answer.")
        #expect(second[3].content == "And tomorrow?")
    }

    // MARK: Rule 2 and a pause inside one turn

    @Test func twoFinalsWithinTheDebounceMakeOneTurn() throws {
        var script = Script()
        script.button(0)
        script.speechStart(100)
        script.final(1000, "Set a timer")
        script.partial(1200, "for ten")    // cancels the running debounce
        script.final(1300, "for ten minutes")
        script.speechEnd(1300)
        let r = script.run()
        #expect(r.times("llm_start") == [1700])
        #expect(r.llmRequests.first?.messages.last?.content == "Set a timer for ten minutes")
        #expect(r.turns.count == 1)
    }

    // MARK: Rule 5: resumed speech and corrections cancel silently

    @Test func resumedSpeechDuringSpeculativeCancelsAndKeepsTheTranscript() throws {
        var script = question { $0.llm.replies = ["Wrong answer.", Self.reply] }
        script.speechStart(1800)              // SPECULATIVE (1700–1900)
        script.final(2300, "in Paris")
        script.speechEnd(2300)
        let r = script.run()
        let cancel = try #require(r.entries("llm_cancel").first)
        #expect(cancel.time.milliseconds == 1800 && r.string(cancel, "reason") == "new_speech")
        #expect(r.transitions.prefix(3) == [[.idle, .listening], [.listening, .speculative], [.speculative, .listening]])
        #expect(r.entries("state")[2].field("cause") == .string("new_speech"))
        #expect(r.llmRequests.last?.messages.last?.content == "What is the weather today? in Paris")
        let turn = try #require(r.turns.first)
        #expect(r.turns.count == 1)
        #expect(turn.llmCalls.map(\.status) == [.canceled, .completed])
        #expect(turn.llmCalls.first?.reason == "new_speech")
        #expect(turn.spokenText == Self.reply)
        #expect(!r.spokenTexts.contains("Wrong answer."))
        #expect(r.times("audio_start").allSatisfy { $0 >= r.time(entering: .committed)! })
        #expect(r.telemetry.cancellationRate == 0.5)
    }

    @Test func resumedSpeechDuringCommittedBeforeAudioCancelsTheCallAndTheTTS() throws {
        var script = question { $0.llm.replies = ["Wrong answer. It is really wrong.", Self.reply] }
        script.speechStart(2200)              // COMMITTED; TTS of "Wrong answer." started at 2130, audio due at 2280
        script.final(2600, "in Paris please")
        script.speechEnd(2600)
        let r = script.run()
        #expect(r.transitions[3] == [.committed, .listening])
        #expect(r.entries("llm_cancel").first.map { r.string($0, "reason") } == "new_speech")
        #expect(r.spokenTexts.first == "Wrong answer.")   // synthesis had started...
        #expect(r.played.allSatisfy { $0.start.milliseconds >= 3200 })  // ...but nothing of it played
        let turn = try #require(r.turns.first)
        #expect(turn.spokenText == Self.reply)
        #expect(turn.userText == "What is the weather today? in Paris please")
        let runner = ScenarioRunner(scenario: script.scenario)
        _ = runner.run()
        #expect(runner.tts.cancelled == [1])
    }

    @Test func aCorrectionMarkerDuringSpeculativeIsRecordedAsSuch() throws {
        var script = question { $0.llm.replies = ["Monday it is.", "Tuesday it is."] }
        script.partial(1800, "actually make it")
        script.final(2100, "actually make it Tuesday")
        script.speechEnd(2100)
        let r = script.run()
        #expect(r.entries("llm_cancel").first.map { r.string($0, "reason") } == "correction_marker")
        #expect(r.entries("state")[2].field("cause") == .string("correction_marker"))
        #expect(try #require(r.turns.first).spokenText == "Tuesday it is.")
    }

    @Test func aCorrectionMarkerDuringCommittedIsRecordedAsSuch() throws {
        var script = question { $0.llm.replies = ["Monday it is.", "Tuesday it is."] }
        script.final(2000, "No, Tuesday")
        script.speechEnd(2000)
        let r = script.run()
        #expect(r.transitions[3] == [.committed, .listening])
        #expect(r.entries("llm_cancel").first.map { r.string($0, "reason") } == "correction_marker")
        #expect(try #require(r.turns.first).llmCalls.first?.reason == "correction_marker")
    }

    @Test func aMarkerSaidBeforeTheCallBeganIsNotACorrection() throws {
        var script = Script()
        script.button(0)
        script.say(100, 1300, "No I want tea")
        script.partial(1800, "with milk")
        script.final(2000, "with milk")
        script.speechEnd(2000)
        let r = script.run()
        #expect(r.entries("llm_cancel").first.map { r.string($0, "reason") } == "new_speech")
    }

    // MARK: Rule 7

    @Test func anAnswerWithNoSentenceEndIsSpokenWhole() throws {
        let r = question { $0.llm.replies = ["sure thing"] }.run()
        #expect(r.spokenTexts == ["sure thing"])
        #expect(r.times("tts_start") == [1700 + 400 + 30])   // at the end of the stream
        #expect(try #require(r.turns.first).spokenText == "sure thing")
    }

    @Test func anEmptyAnswerEndsTheTurnWithNothingSaid() throws {
        let r = question { $0.llm.replies = [""] }.run()
        #expect(r.transitions.last == [.committed, .idle])
        #expect(r.entries("state").last?.field("cause") == .string("nothing_to_say"))
        #expect(r.played.isEmpty)
    }

    // MARK: Rule 9: barge-in

    @Test(arguments: [
        (2320, ""),                       // just after the first audio
        (2670, "It is"),                  // half-way through "It is sunny."
        (3500, "It is sunny. Enjoy"),     // on the last sentence
    ])
    func buttonBargeInDropsPlaybackAtOnceAndRecordsOnlyWhatPlayed(at: Int, spoken: String) throws {
        var script = question()
        script.button(at)
        let r = script.run()
        #expect(r.times("audio_drop") == [Int64(at)])
        let turn = try #require(r.turns.first)
        #expect(turn.status == .interrupted && turn.interrupted)
        #expect(turn.spokenText == spoken)
        #expect(r.transitions.contains([.speaking, .listening]))
        #expect(r.played.allSatisfy { $0.end.milliseconds <= at })
        #expect(r.entries("state").last(where: { r.string($0, "to") == "listening" })?.field("cause") == .string("barge_in"))
        // The fresh turn that follows times out with nothing said.
        #expect(r.transitions.last == [.listening, .idle])
    }

    @Test func buttonDuringCommittedInterruptsBeforeAnyAudio() throws {
        var script = question()
        script.button(2000)
        let r = script.run()
        #expect(r.transitions[3] == [.committed, .listening])
        #expect(r.played.isEmpty)
        #expect(try #require(r.turns.first).status == .interrupted)
        #expect(r.entries("llm_cancel").first.map { r.string($0, "reason") } == "barge_in")
    }

    @Test func voiceBargeInStartsTheNextTurnAndTheHistoryHoldsOnlyWhatWasPlayed() throws {
        var script = question { $0.llm.replies = [Self.reply, "Okay, stopping."] }
        script.localVoiceStart(2670)        // while SPEAKING only the local detector barges in
        script.speechStart(2670)
        script.final(3000, "stop that")
        script.speechEnd(3000)
        let r = script.run()
        #expect(r.times("audio_drop") == [2670])
        #expect(r.turns.map(\.status) == [.interrupted, .completed])
        #expect(r.turns.map(\.turn) == [1, 2])
        #expect(r.turns[0].spokenText == "It is")
        #expect(r.turns[1].userText == "stop that")
        let history = try #require(r.llmRequests.last).messages
        #expect(history.contains(ChatMessage(role: .assistant, content: "It is")))
        #expect(r.played.filter { $0.turn == 1 }.allSatisfy { $0.end.milliseconds <= 2670 })
    }

    // MARK: Rule 10: failures

    @Test func llmFailureApologisesThroughTheFallbackShowsAnErrorAndGoesIdle() throws {
        let r = question { $0.llm.failingCalls = [1] }.run()
        let turn = try #require(r.turns.first)
        #expect(turn.status == .llmFailed)
        #expect(turn.llmCalls.map(\.status) == [.failed])
        #expect(r.entries("tts_start").map { r.string($0, "voice") } == ["fallback"])
        #expect(r.spokenTexts == [TurnSettings().apology])
        #expect(r.indicator.contains(.error))
        #expect(r.transitions.last.map { $0[1] } == .idle)
        #expect(r.entries("state").last?.field("cause") == .string("llm_failed"))
    }

    /// The apology is the speaker's notice, not the assistant's answer: cut short by the user,
    /// it still never enters the conversation the LLM sees next.
    @Test func anInterruptedApologyNeverEntersTheHistory() throws {
        var script = question { $0.llm.failingCalls = [1]; $0.llm.replies = ["Yes, I am here."] }
        script.button(2600)  // mid-apology (it starts at about 2130)
        script.say(4000, 5000, "Are you there?")
        let r = script.run()
        #expect(r.turns.first?.interrupted == true)
        #expect(r.turns.first?.spokenText.isEmpty == false, "the apology was partly spoken")
        let messages = try #require(r.llmRequests.last).messages
        #expect(r.llmRequests.count == 2)
        #expect(!messages.contains { $0.role == .assistant }, "no assistant turn: the LLM never answered")
        #expect(!messages.contains { $0.content.contains(TurnSettings().apology.prefix(10)) })
    }

    /// A stalled LLM: a short cue 2 s after the commit, the apology at the 7 s stall budget,
    /// never the providers' own 10 s timeouts; nothing of the stalled call is ever said.
    @Test func aStalledAnswerGetsAnEarlyCueThenTheApologyAtTheBudget() throws {
        let r = question { $0.llm.timeToFirstToken = .seconds(30) }.run()
        #expect(r.time(entering: .committed) == 1900)
        #expect(r.times("cue") == [3900])
        #expect(r.entries("cue").first.flatMap { r.string($0, "earcon") } == "wait")
        #expect(r.times("llm_cancel") == [8900])
        #expect(r.entries("tts_start").map { r.string($0, "voice") } == ["fallback"])
        #expect(r.spokenTexts == [TurnSettings().apology])
        #expect(r.times("audio_start").first.map { $0 >= 8900 } == true)
        let turn = try #require(r.turns.first)
        #expect(turn.status == .llmFailed)
        #expect(turn.llmCalls.map(\.status) == [.failed])
        #expect(turn.llmCalls.first?.reason == "stall_budget")
    }

    @Test func theStallBudgetAndTheCueAreSettings() throws {
        let r = question {
            $0.llm.timeToFirstToken = .seconds(30)
            $0.settings.waitCue = .zero
            $0.settings.stallBudget = .milliseconds(3000)
        }.run()
        #expect(r.times("cue").isEmpty, "a zero cue delay means no cue")
        #expect(r.times("llm_cancel") == [4900])
    }

    /// A server that ignores max_tokens cannot make the speaker talk on: past `max_answer` no new
    /// sentence starts and the call is stopped.
    @Test func theSpokenLengthOfAnAnswerIsCapped() throws {
        let long = (1...20).map { "Sentence number \($0) is here." }.joined(separator: " ")
        let r = question {
            $0.llm.replies = [long]
            $0.settings.maxAnswer = .seconds(3)
        }.run()
        #expect(r.spokenTexts == ["Sentence number 1 is here.", "Sentence number 2 is here."])
        let turn = try #require(r.turns.first)
        #expect(turn.status == .completed)
        #expect(turn.spokenText == "Sentence number 1 is here. Sentence number 2 is here.")
        #expect(turn.llmCalls.first?.reason == "answer_cap")
        #expect(r.transitions.last == [.speaking, .idle])
    }

    @Test func aPromptAnswerHasNoCue() {
        let r = question().run()
        #expect(r.times("cue").isEmpty)
    }

    @Test func llmFailureBeforeTheCommitWaitsForTheCommitToApologise() throws {
        let r = question { $0.llm.failingCalls = [1]; $0.llm.timeToFirstToken = .milliseconds(50) }.run()
        #expect(r.times("llm_fail") == [1750])
        #expect(r.times("audio_start").allSatisfy { $0 >= 1900 })
        #expect(try #require(r.turns.first).status == .llmFailed)
    }

    @Test func ttsFailureHandsTheAnswerToTheFallbackVoice() throws {
        let r = question { $0.tts.failingRequests = [1] }.run()
        let turn = try #require(r.turns.first)
        #expect(turn.status == .ttsFailed)
        #expect(turn.spokenText == Self.reply)
        #expect(r.entries("tts_start").map { r.string($0, "voice") } == ["primary", "fallback", "fallback"])
        #expect(r.spokenTexts == ["It is sunny.", "It is sunny.", "Enjoy your day!"])
    }

    @Test func whenEvenTheFallbackFailsTheTurnEndsQuietly() throws {
        let r = question { $0.tts.failingRequests = [1]; $0.fallbackTTS.failingRequests = [1] }.run()
        #expect(try #require(r.turns.first).status == .ttsFailed)
        #expect(r.played.isEmpty)
        #expect(r.transitions.last == [.committed, .idle])
    }

    // MARK: Late output of an old call

    @Test func lateTokensOfACancelledCallAreNeverSpoken() throws {
        var script = question { $0.llm.replies = ["Old answer. Old.", "New answer."]; $0.llm.ignoresCancel = true }
        script.speechStart(1800)
        script.final(2300, "in Paris")
        script.speechEnd(2300)
        let r = script.run()
        #expect(!r.spokenTexts.contains { $0.contains("Old") })
        #expect(try #require(r.turns.first).spokenText == "New answer.")
    }

    // MARK: Rule 8: follow-up, rule 1: always listening, timeouts

    @Test func afterATurnTheFollowUpWindowListensWithoutAButton() throws {
        var script = question { $0.settings.followUp = .milliseconds(3000); $0.llm.replies = ["One.", "Two."] }
        // The first turn ends at 2310 + 4*60 = 2550; a follow-up at 3000 needs no button.
        script.say(3000, 3500, "And then?")
        let r = script.run()
        #expect(r.turns.map(\.status) == [.completed, .completed])
        #expect(r.transitions.contains([.speaking, .listening]))
        #expect(r.transitions.last == [.listening, .idle])
        #expect(r.entries("state").last?.field("cause") == .string("follow_up_elapsed"))
    }

    @Test func alwaysListeningWakesOnSpeech() throws {
        var script = Script { $0.settings.alwaysListening = true }
        script.say(100, 1300, "Hello there")
        let r = script.run()
        #expect(r.entries("state").first?.field("cause") == .string("speech_started"))
        #expect(r.turns.count == 1)
    }

    /// Noise, a cough, an empty final: speech that brings no word neither keeps the speaker
    /// listening in silence nor spends a turn number.
    @Test(arguments: ["", "   "])
    func speechWithoutWordsGoesBackToIdleAtOnceAndSpendsNoTurnNumber(emptyFinal: String) throws {
        var script = Script { $0.settings.alwaysListening = true }
        script.speechStart(100)
        script.final(600, emptyFinal)
        script.speechEnd(600)
        script.say(3000, 4200, "Hello there")
        let r = script.run()
        #expect(r.transitions.prefix(2) == [[.idle, .listening], [.listening, .idle]])
        #expect(r.entries("state").dropFirst().first?.field("cause") == .string("nothing_heard"))
        #expect(r.time(entering: .idle) == 600, "back to IDLE at the speech's end, not after listen_timeout")
        let turn = try #require(r.turns.first)
        #expect(r.turns.count == 1)
        #expect(turn.turn == 1, "the empty wake spent no number")
        #expect(turn.userText == "Hello there")
    }

    @Test func aButtonWakeStillWaitsForTheListenTimeout() {
        var script = Script()
        script.button(0)
        script.speechStart(100)
        script.final(600, "")
        script.speechEnd(600)
        let r = script.run()
        #expect(r.transitions == [[.idle, .listening], [.listening, .idle]])
        #expect(r.entries("state").last?.field("cause") == .string("listen_timeout"))
        #expect(r.turns.isEmpty)
    }

    @Test func speechWhileIdleIsIgnoredWithoutAlwaysListening() {
        var script = Script()
        script.say(100, 1300, "Hello there")
        let r = script.run()
        #expect(r.transitions.isEmpty && r.turns.isEmpty && r.llmRequests.isEmpty)
    }

    @Test func aWakeWithNoSpeechTimesOutWithoutARecord() {
        var script = Script()
        script.button(0)
        let r = script.run()
        #expect(r.transitions == [[.idle, .listening], [.listening, .idle]])
        #expect(r.time(entering: .idle) == 8000)
        #expect(r.turns.isEmpty)
    }

    // MARK: Rule 11: bounded history

    @Test func theHistoryKeepsOnlyTheConfiguredNumberOfTurns() throws {
        var script = Script { $0.settings.historyMaxTurns = 1; $0.llm.replies = ["A.", "B.", "C."] }
        for (index, start) in [0, 5000, 10000].enumerated() {
            script.button(start)
            script.say(start + 100, start + 1000, "question \(index + 1)")
        }
        let r = script.run()
        let last = try #require(r.llmRequests.last).messages
        #expect(last.map(\.content) == [TurnSettings().systemPrompt, "question 2", "B.", "question 3"])
    }

    // MARK: Rule 13: adaptive debounce

    @Test func adaptiveDebounceRisesWithCancellationsAndFallsWithout() throws {
        var script = Script { $0.settings.adaptive.enabled = true; $0.llm.replies = ["Ok."] }
        for turn in 0..<20 {
            let t = turn * 10_000
            script.button(t)
            script.say(t + 100, t + 1000, "request \(turn)")
            if turn < 5 {
                // Resume talking while SPECULATIVE: one cancellation in this turn.
                let speculative = t + 1000 + (turn == 0 ? 400 : 500)  // debounce in force
                script.speechStart(speculative + 50)
                script.final(t + 2500, "more")
                script.speechEnd(t + 2500)
            }
        }
        let r = script.run()
        let adjustments = r.entries("debounce")
        // Window 1: the first 10 outcomes hold 5 cancellations (50%) → +100 ms.
        #expect(adjustments.first?.field("old_ms") == .int(400))
        #expect(adjustments.first?.field("new_ms") == .int(500))
        #expect(adjustments.first?.field("cancellation_rate") == .double(0.5))
        // Windows of completions only (0%) → −50 ms, never below 400.
        #expect(adjustments.dropFirst().allSatisfy { $0.field("cancellation_rate") == .double(0) })
        #expect(adjustments.last?.field("new_ms") == .int(450))
        #expect(r.turns.count == 20)
        // A turn after the raise waits the new debounce: its final at 51000 commits at 51000 + 500 + 200.
        #expect(r.turns[5].debounceMs == 500)
        #expect(r.telemetry.cancellations == 5 && r.telemetry.completedTurns == 20)
        #expect(r.telemetry.averageDebounceMs != nil)
    }

    // MARK: Latency settings

    @Test func atFinalStartsTheLLMAtTheFinalButSpeaksOnlyAfterTheCommit() throws {
        let r = question { $0.settings.speculation = .atFinal }.run()
        #expect(r.times("llm_start") == [1300])
        #expect(r.time(entering: .committed) == 1900)
        #expect(r.times("tts_start").first == 1900)
        #expect(r.times("audio_start") == [2050])
    }

    @Test func atFinalRestartsTheCallWhenAnotherFinalArrives() throws {
        var script = Script { $0.settings.speculation = .atFinal; $0.llm.replies = ["Partial idea.", "Full answer."] }
        script.button(0)
        script.speechStart(100)
        script.final(1000, "Set a timer")
        script.final(1300, "for ten minutes")
        script.speechEnd(1300)
        let r = script.run()
        #expect(r.times("llm_start") == [1000, 1300])
        #expect(r.entries("llm_cancel").first.map { r.string($0, "reason") } == "new_speech")
        #expect(try #require(r.turns.first).spokenText == "Full answer.")
        #expect(r.telemetry.cancellations == 0)   // superseded in LISTENING, not a cancelled speculation
        #expect(r.telemetry.tokensWasted == 0)    // it had received no token yet
    }

    @Test func preemptiveTTSHoldsTheFirstSentenceUntilTheCommit() throws {
        // at_final + preemptive: the sentence is ready at 1760 (SPECULATIVE), its audio at 1910.
        let r = question { $0.settings.speculation = .atFinal; $0.settings.preemptiveTTS = true }.run()
        #expect(r.times("tts_start").first == 1760)
        let commit = try #require(r.time(entering: .committed))
        let firstAudio = try #require(r.times("audio_start").first)
        #expect(firstAudio >= commit && firstAudio - commit <= 20)
    }

    @Test func preemptiveAudioReadyBeforeTheCommitPlaysAtTheCommit() throws {
        let r = question {
            $0.settings.speculation = .atFinal
            $0.settings.preemptiveTTS = true
            $0.tts.timeToFirstByte = .milliseconds(50)
        }.run()
        #expect(r.times("audio_start") == [1900])
        #expect(r.played.first?.start.milliseconds == 1900)
    }

    @Test func preemptiveAudioOfACancelledCallIsDiscarded() throws {
        var script = question {
            $0.settings.speculation = .atFinal
            $0.settings.preemptiveTTS = true
            $0.tts.timeToFirstByte = .milliseconds(50)
            $0.llm.replies = ["Old answer.", "New answer."]
        }
        script.speechStart(1850)            // the held audio of "Old answer." arrived at 1810
        script.final(2300, "in Paris")
        script.speechEnd(2300)
        let r = script.run()
        #expect(try #require(r.turns.first).spokenText == "New answer.")
        let firstPlayed = try #require(r.played.first)
        #expect(firstPlayed.start.milliseconds >= r.time(entering: .committed, occurrence: 0)!)
        #expect(r.played.allSatisfy { $0.start.milliseconds >= 2900 })
    }

    @Test func sequentialModeStartsTheLLMOnlyAtTheCommit() throws {
        let r = question { $0.settings.speculation = .atCommit }.run()
        #expect(r.times("llm_start") == [1900])
        #expect(r.times("audio_start") == [1900 + 400 + 60 + 150])
    }
}

@Suite struct WordlessCancellationTests {
    @Test func aCancellationBySpeechStartIsRecordedAsACorrectionWhenTheWordsSaySo() throws {
        var script = Script { $0.llm.replies = ["Monday it is.", "Tuesday it is."] }
        script.button(0)
        script.say(100, 1300, "Book it for Monday")
        script.speechStart(1800)                         // SPECULATIVE: cancelled before any words
        script.partial(2000, "actually make it")
        script.final(2300, "actually make it Tuesday")
        script.speechEnd(2300)
        let r = script.run()
        #expect(r.entries("llm_cancel").first.map { r.string($0, "reason") } == "new_speech")
        #expect(r.entries("llm_cancel_reason").first.map { r.string($0, "reason") } == "correction_marker")
        let turn = try #require(r.turns.first)
        #expect(turn.llmCalls.first?.reason == "correction_marker")
        #expect(turn.spokenText == "Tuesday it is.")
    }

    @Test func aCancellationBySpeechStartStaysNewSpeechWithoutAMarker() throws {
        var script = Script { $0.llm.replies = ["Monday it is.", "Fine."] }
        script.button(0)
        script.say(100, 1300, "Book it for Monday")
        script.speechStart(1800)
        script.final(2300, "at seven please")
        script.speechEnd(2300)
        let r = script.run()
        #expect(r.entries("llm_cancel_reason").isEmpty)
        #expect(try #require(r.turns.first).llmCalls.first?.reason == "new_speech")
    }
}

@Suite struct SpeechEndTests {
    @Test func theFirstEndReportedAfterTheLastStartCounts() throws {
        var script = Script()
        script.button(0)
        script.speechStart(100)
        script.final(1300, "What is the weather today?")
        script.speechEnd(1300)      // speech_final
        script.speechEnd(2300)      // UtteranceEnd, a second later: not a later end of speech
        let r = script.run()
        #expect(try #require(r.turns.first).latencies.speechEndToFirstAudioMs == 1010)
    }
}
