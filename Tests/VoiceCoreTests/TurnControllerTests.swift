import Testing
import VoiceTesting
import VoiceSupport
@testable import VoiceCore

/// The controller on its own: events in, actions out.
@Suite struct TurnControllerTests {
    @Test func shutdownWhileSpeakingDropsPlaybackAndGoesIdle() throws {
        var script = Script()
        script.button(0)
        script.say(100, 1300, "What is the weather today?")
        let runner = ScenarioRunner(scenario: script.scenario)
        runner.scheduleEvents()
        runner.clock.advance(to: .milliseconds(2400))
        #expect(runner.engine.controller.state == .speaking)
        runner.engine.post(.shutdown)
        #expect(runner.engine.controller.state == .idle)
        runner.clock.runUntilIdle()
        let r = runner.result()
        #expect(r.times("audio_drop") == [2400])
        #expect(r.played.allSatisfy { $0.end.milliseconds <= 2400 })
        #expect(r.entries("state").last?.field("cause") == .string("shutdown"))
        #expect(r.violations.isEmpty)
    }

    @Test func aTimerTicketThatWasSupersededDoesNothing() {
        let clock = ManualClock()
        var c = TurnController(clock: clock)
        _ = c.handle(.button)
        let first = c.handle(.speech(.final(text: "one", confidence: 1, start: 0, end: 1)))
        clock.advance(by: .milliseconds(100))
        _ = c.handle(.speech(.final(text: "two", confidence: 1, start: 1, end: 2)))
        clock.advance(by: .milliseconds(300))
        for case let .schedule(.debounce, ticket) in first {
            #expect(c.handle(.timer(.debounce, ticket)).isEmpty)
        }
        #expect(c.state == .listening)
    }

    /// With `preemptive_tts` the first sentence is synthesised while SPECULATIVE; when the call
    /// then fails, the commit discards that held audio unheard and only the apology is spoken, and
    /// the turn ends (the held audio used to stay held, so the turn never finished).
    @Test func aCallThatFailsWhileItsFirstSentenceIsHeldIsNeverHeardAndTheTurnEnds() throws {
        let clock = ManualClock()
        var settings = TurnSettings()
        settings.preemptiveTTS = true
        var c = TurnController(settings: settings, clock: clock)
        var all: [TurnAction] = []
        func handle(_ input: TurnInput) -> [TurnAction] {
            let actions = c.handle(input)
            all += actions
            return actions
        }
        func scheduled(_ timer: TurnTimer, _ actions: [TurnAction]) -> DebounceTimer.Ticket? {
            actions.lazy.compactMap { if case .schedule(timer, let ticket) = $0 { ticket } else { nil } }.first
        }
        func requests(_ actions: [TurnAction]) -> [TTSRequest] {
            actions.compactMap { if case .startTTS(let request) = $0 { request } else { nil } }
        }
        _ = handle(.button)
        let debounce = try #require(scheduled(.debounce, handle(.speech(.final(text: "What time is it?", confidence: 0.9, start: 0, end: 1)))))
        clock.advance(to: debounce.deadline)
        let speculating = handle(.timer(.debounce, debounce))
        let commitHold = try #require(scheduled(.commitHold, speculating))
        #expect(c.state == .speculative)
        let held = try #require(requests(handle(.llm(call: 1, .token("Noon. ")))).first)
        _ = handle(.tts(request: held.id, .audio([Int16](repeating: 1, count: 1600))))
        _ = handle(.tts(request: held.id, .finished))
        _ = handle(.llm(call: 1, .failed("boom")))
        clock.advance(to: commitHold.deadline)
        let committing = handle(.timer(.commitHold, commitHold))
        let apology = try #require(requests(committing).first)
        #expect(apology.text == settings.apology && apology.voice == .fallback)
        _ = handle(.tts(request: apology.id, .audio([Int16](repeating: 2, count: 1600))))
        _ = handle(.tts(request: apology.id, .finished))
        _ = handle(.playback(.segmentStarted(turn: 1, segment: apology.segment)))
        clock.advance(by: .milliseconds(100))
        let end = handle(.playback(.segmentFinished(turn: 1, segment: apology.segment)))
        let played = all.compactMap { if case .play(let chunk) = $0 { chunk.samples } else { nil } }
        #expect(played == [[Int16](repeating: 2, count: 1600)], "only the apology is heard")
        #expect(c.state == .idle)
        let record = try #require(end.lazy.compactMap { if case .turnFinished(let record) = $0 { record } else { nil } }.first)
        #expect(record.status == .llmFailed && record.spokenText == settings.apology)
        #expect(c.rejectedTransitions == 0)
    }

    @Test func theInvariantCheckerCatchesAudioBeforeCommit() {
        var checker = InvariantChecker()
        checker.observe(.transitioned(TransitionEvent(time: .zero, from: .idle, to: .listening, cause: .buttonWake, turn: 1)), at: .zero)
        checker.observe(.play(PlaybackChunk(turn: 1, segment: 0, samples: [0])), at: .milliseconds(5))
        #expect(checker.violations.count == 1)
        #expect(checker.violations.first?.contains("before COMMITTED") == true)
    }

    @Test func theInvariantCheckerCatchesAudioOfACancelledCallAndAfterADrop() {
        var checker = InvariantChecker()
        for (from, to) in [(TurnState.idle, TurnState.listening), (.listening, .speculative), (.speculative, .committed)] {
            checker.observe(.transitioned(TransitionEvent(time: .zero, from: from, to: to, cause: .buttonWake, turn: 1)), at: .zero)
        }
        checker.observe(.startTTS(TTSRequest(id: 1, turn: 1, segment: 0, text: "x", voice: .primary, call: 7)), at: .zero)
        checker.observe(.cancelLLM(call: 7, reason: "new_speech"), at: .zero)
        checker.observe(.play(PlaybackChunk(turn: 1, segment: 0, samples: [0])), at: .zero)
        checker.observe(.dropPlayback(turn: 1), at: .zero)
        checker.observe(.play(PlaybackChunk(turn: 1, segment: 1, samples: [0])), at: .zero)
        #expect(checker.violations.count == 2)
        let late = VirtualPlayback.Played(turn: 1, segment: 0, start: .zero, end: .milliseconds(10))
        #expect(checker.checkPlayed([late]).count == 1)
    }

    @Test func historyIsBoundedByCharactersToo() {
        var history = ConversationHistory(maxTurns: 10, maxCharacters: 20)
        history.append(user: "0123456789", assistant: "abcdefghij")
        history.append(user: "second", assistant: "reply")
        #expect(history.messages.map(\.content) == ["second", "reply"])
    }

    @Test func loweringAHistoryBoundLiveTrimsBeforeTheNextRequest() {
        var history = ConversationHistory(maxTurns: 8, maxCharacters: 4000)
        history.append(user: "first", assistant: "one")
        history.append(user: "second", assistant: "two")
        history.maxTurns = 1
        #expect(history.messages.map(\.content) == ["second", "two"])
        history.maxCharacters = 0
        #expect(history.messages.isEmpty)
    }
}

@Suite struct NoticeTests {
    func runner() -> ScenarioRunner {
        var script = Script()
        script.button(5000)
        script.say(5100, 6000, "hello")
        return ScenarioRunner(scenario: script.scenario)
    }

    @Test func aNoticeIsSpokenWhileIdleWithoutATurn() {
        let r = runner()
        r.scheduleEvents()
        r.engine.post(.say("I'm offline.", .fallback))
        r.clock.advance(to: .milliseconds(2000))
        let result = r.result()
        #expect(r.fallbackTTS.requests.map(\.text) == ["I'm offline."])
        #expect(result.played.contains { $0.turn == 0 })
        #expect(result.transitions.isEmpty)
        #expect(result.violations.isEmpty)
    }

    @Test func aNoticeOutsideIdleIsIgnored() {
        let r = runner()
        r.scheduleEvents()
        r.clock.advance(to: .milliseconds(5050))
        r.engine.post(.say("Hello.", .primary))
        #expect(r.tts.requests.isEmpty)
    }

    @Test func aWakeSilencesANotice() {
        let r = runner()
        r.scheduleEvents()
        r.clock.advance(to: .milliseconds(3000))
        r.engine.post(.say(String(repeating: "A long notice. ", count: 10), .primary))
        r.clock.advance(to: .milliseconds(5000))   // the button at 5000 wakes
        let result = r.result()
        #expect(r.playback.drops == [.milliseconds(5000)])
        #expect(result.played.filter { $0.turn == 0 }.allSatisfy { $0.end.milliseconds <= 5000 })
        r.clock.runUntilIdle()
        #expect(r.result().violations.isEmpty)
    }
}

/// Who may barge in while SPEAKING: the cloud hears the speaker's own voice, so only the local
/// voice detector's start of speech does, and only with barge-in by voice on.
@Suite struct BargeInBySpeechTests {
    /// A question whose answer plays from about 2310 ms to 4000 ms.
    func question(_ configure: (inout Scenario) -> Void = { _ in }) -> Script {
        var script = Script(configure)
        script.button(0)
        script.say(100, 1300, "What is the weather today?")
        return script
    }

    @Test func theLocalDetectorBargesInWhileSpeaking() throws {
        var script = question()
        script.localVoiceStart(2670)
        let r = script.run()
        #expect(r.times("audio_drop") == [2670])
        #expect(try #require(r.turns.first).status == .interrupted)
        #expect(r.entries("input").contains { $0.field("source") == .string("local_voice") })
    }

    @Test func withBargeInByTheButtonOnlyTheLocalDetectorDoesNot() throws {
        var script = question { $0.settings.bargeInByVoice = false }
        script.localVoiceStart(2670)
        let r = script.run()
        #expect(r.times("audio_drop").isEmpty)
        #expect(try #require(r.turns.first).status == .completed)
        #expect(r.turns.first?.spokenText == "It is sunny. Enjoy your day!")
    }

    @Test func speechToTextWhileSpeakingIsIgnored() throws {
        var script = question()
        script.speechStart(2670)                 // the speaker's own voice, transcribed
        script.partial(2800, "it is sunny")
        script.final(3000, "It is sunny.")
        script.speechEnd(3000)
        let r = script.run()
        #expect(r.times("audio_drop").isEmpty)
        #expect(r.turns.map(\.status) == [.completed])
        #expect(r.turns.first?.userText == "What is the weather today?")
    }

    @Test func onlyTheStartOfSpeechBargesIn() {
        var script = question()
        script.scenario.events.append(Scenario.Event(at: .milliseconds(2670), kind: .speech(.speechEnded, from: .localVoiceActivity)))
        let r = script.run()
        #expect(r.times("audio_drop").isEmpty)
        #expect(r.turns.map(\.status) == [.completed])
    }

    @Test func theLocalDetectorIsIgnoredOutsideSpeaking() throws {
        var script = question { $0.settings.alwaysListening = true }
        script.localVoiceStart(1800)             // SPECULATIVE: the cloud's events decide
        script.localVoiceStart(6000)             // IDLE: it does not wake the speaker either
        let r = script.run()
        #expect(r.entries("llm_cancel").isEmpty)
        #expect(r.turns.map(\.status) == [.completed])
        #expect(r.transitions.filter { $0 == [.idle, .listening] }.count == 1)
    }

    @Test func theRuleFollowsLiveSettings() {
        let clock = ManualClock()
        var settings = TurnSettings()
        settings.bargeInByVoice = false
        var controller = TurnController(settings: settings, clock: clock)
        #expect(controller.handle(.speech(.speechStarted, from: .localVoiceActivity)).isEmpty)
        settings.alwaysListening = true
        _ = controller.handle(.settings(settings))
        #expect(controller.handle(.speech(.speechStarted, from: .localVoiceActivity)).isEmpty, "IDLE: ignored")
        #expect(controller.state == .idle)
        _ = controller.handle(.speech(.speechStarted))
        #expect(controller.state == .listening, "speech-to-text wakes with always_listening")
    }
}
