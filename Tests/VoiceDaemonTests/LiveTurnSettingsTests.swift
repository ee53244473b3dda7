import Testing
import VoiceCore
import VoiceTesting
@testable import VoiceDaemon

/// Turn settings changed while the daemon runs, through the call the daemon's live wiring makes
/// (`TurnService.update(settings:)`, `LiveSettings.wiring` target `.turn`), rule
/// what the controller does next. The daemon-level contract test cannot produce these cheaply.
@Suite struct LiveTurnSettingsTests {
    /// Wake, hear `text` as a final transcript, and run until the turn is over.
    func turn(_ h: Harness, _ text: String = "What is the weather?") {
        h.service.buttonPressed()
        h.clock.advance(by: .milliseconds(100))
        h.service.speech(.speechStarted, from: .speechToText)
        h.clock.advance(by: .milliseconds(1200))
        h.service.speech(.final(text: text, confidence: 0.9, start: 0.1, end: 1.3), from: .speechToText)
        h.service.speech(.speechEnded, from: .speechToText)
        h.clock.runUntilIdle(limit: h.clock.now + .seconds(60))
    }

    func causes(_ h: Harness) -> [TransitionCause] {
        h.notes.withLock { notes in notes.compactMap { if case .transition(let e) = $0 { e.cause } else { nil } } }
    }

    @Test func correctionMarkersChangedLiveCancelTheHeldAnswer() {
        let h = Harness()
        var settings = TurnSettings()
        settings.adaptive.enabled = false
        settings.commitHold = .milliseconds(2000)
        h.service.update(settings: settings)
        func holdThenSay(_ words: String) {
            h.service.buttonPressed()
            h.clock.advance(by: .milliseconds(1300))
            h.service.speech(.final(text: "What is the weather?", confidence: 0.9, start: 0.1, end: 1.3), from: .speechToText)
            h.clock.advance(by: .milliseconds(600))  // debounce 400: SPECULATIVE, held 2 s
            #expect(h.service.current.state == .speculative)
            h.service.speech(.final(text: words, confidence: 0.9, start: 1.9, end: 2.2), from: .speechToText)
            h.clock.advance(by: .milliseconds(10))
        }
        holdThenSay("banana split")
        #expect(causes(h).last == .newSpeech, "not a marker yet: \(causes(h))")
        h.service.buttonPressed()
        h.clock.runUntilIdle(limit: h.clock.now + .seconds(60))
        settings.correctionMarkers = ["banana split"]
        h.service.update(settings: settings)
        holdThenSay("banana split")
        #expect(causes(h).last == .correctionMarker, "\(causes(h))")
    }

    @Test func adaptiveSettingsChangedLiveRuleTheNextAdjustment() {
        let h = Harness()
        var settings = TurnSettings()
        settings.debounce = .milliseconds(600)
        settings.adaptive.enabled = false
        h.service.update(settings: settings)
        for _ in 0..<10 { turn(h) }
        #expect(h.service.current.telemetry.completedTurns == 10)
        #expect(h.service.current.debounceMs == 600, "adaptive_debounce off: no adjustment")
        settings.adaptive.enabled = true
        settings.adaptive.lowerBelow = 0.12
        h.service.update(settings: settings)
        for _ in 0..<10 { turn(h) }
        #expect(h.service.current.debounceMs == 550, "adaptive_debounce on: 10 completed turns lower it by 50 ms")
    }
}

/// The stall budget and the answer cap, changed through the daemon's live wiring.
@Suite struct LiveStallSettingsTests {
    func transitions(_ h: Harness) -> [TransitionEvent] {
        h.notes.withLock { notes in notes.compactMap { if case .transition(let e) = $0 { e } else { nil } } }
    }

    func ask(_ h: Harness) {
        h.service.buttonPressed()
        h.clock.advance(by: .milliseconds(100))
        h.service.speech(.speechStarted, from: .speechToText)
        h.clock.advance(by: .milliseconds(1200))
        h.service.speech(.final(text: "What is the weather?", confidence: 0.9, start: 0.1, end: 1.3), from: .speechToText)
        h.service.speech(.speechEnded, from: .speechToText)
        h.clock.runUntilIdle(limit: h.clock.now + .seconds(120))
    }

    @Test func aStallBudgetChangedLiveRulesTheNextTurn() throws {
        let h = Harness()
        h.llm.timeToFirstToken = .seconds(100)  // a stalled LLM
        var settings = TurnSettings()
        settings.adaptive.enabled = false
        settings.stallBudget = .milliseconds(3000)
        h.service.update(settings: settings)
        ask(h)
        let events = transitions(h)
        let committed = try #require(events.first { $0.to == .committed })
        let failed = try #require(events.first { $0.cause == .llmFailed })
        #expect((failed.time - committed.time) >= .milliseconds(3000))
        #expect((failed.time - committed.time) < .milliseconds(7000), "the new budget, not the default 7 s")
    }

    @Test func anAnswerCapChangedLiveRulesTheNextTurn() throws {
        let h = Harness()
        h.llm.replies = [(1...30).map { "Sentence number \($0) is here." }.joined(separator: " ")]
        var settings = TurnSettings()
        settings.adaptive.enabled = false
        settings.maxAnswer = .seconds(5)
        h.service.update(settings: settings)
        ask(h)
        let record = try #require(h.service.current.lastTurn)
        #expect(record.llmCalls.first?.reason == "answer_cap")
        #expect(record.spokenText.count < 30 * 26 / 2, "cut well short of the whole answer")
    }
}
