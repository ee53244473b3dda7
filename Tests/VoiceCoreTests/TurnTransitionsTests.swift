import Testing
import VoiceTesting
@testable import VoiceCore

/// The table of allowed transitions, and the controller's one history of them.
@Suite struct TurnTransitionsTests {
    static let allowedPairs: [(TurnState, TurnState)] = [
        (.idle, .listening),
        (.listening, .speculative), (.listening, .idle),
        (.speculative, .committed), (.speculative, .listening),
        (.committed, .speaking), (.committed, .listening), (.committed, .idle),
        (.speaking, .idle), (.speaking, .listening),
    ]

    @Test(arguments: allowedPairs.map { [$0.0, $0.1] })
    func everyAllowedTransitionIsAccepted(pair: [TurnState]) throws {
        #expect(TurnTransitions.isAllowed(from: pair[0], to: pair[1], cause: .debounceElapsed))
        try TurnTransitions.check(from: pair[0], to: pair[1], cause: .debounceElapsed)
    }

    static var forbiddenPairs: [[TurnState]] {
        var pairs: [[TurnState]] = []
        for from in TurnState.allCases {
            for to in TurnState.allCases where !allowedPairs.contains(where: { $0 == (from, to) }) {
                pairs.append([from, to])
            }
        }
        return pairs
    }

    @Test func theForbiddenTableIsEverythingElse() {
        #expect(Self.forbiddenPairs.count == 25 - 10)
        #expect(Self.forbiddenPairs.contains([.idle, .speaking]))
        #expect(Self.forbiddenPairs.contains([.listening, .committed]))
        #expect(Self.forbiddenPairs.contains([.speaking, .speculative]))
    }

    @Test(arguments: forbiddenPairs)
    func forbiddenTransitionIsRejected(pair: [TurnState]) {
        #expect(!TurnTransitions.isAllowed(from: pair[0], to: pair[1], cause: .newSpeech))
        #expect(throws: ForbiddenTransition(from: pair[0], to: pair[1], cause: .newSpeech)) {
            try TurnTransitions.check(from: pair[0], to: pair[1], cause: .newSpeech)
        }
    }

    @Test func forbiddenTransitionErrorNamesBothStates() {
        let error = ForbiddenTransition(from: .idle, to: .speaking, cause: .firstAudio)
        #expect(error.description.contains("IDLE"))
        #expect(error.description.contains("SPEAKING"))
    }

    @Test(arguments: TurnState.allCases)
    func shutdownFatalErrorAndOfflineTakeAnyStateToIdle(state: TurnState) {
        for cause in [TransitionCause.shutdown, .fatalError, .offline] {
            #expect(TurnTransitions.isAllowed(from: state, to: .idle, cause: cause))
        }
        #expect(TurnTransitions.isAllowed(from: state, to: .idle, cause: .newSpeech) == (state != .idle && state != .speculative))
    }

    static func transitions(_ actions: [TurnAction]) -> [TransitionEvent] {
        actions.compactMap { if case .transitioned(let event) = $0 { event } else { nil } }
    }

    @Test func transitionsCarryTheInjectedClocksTimeAndCause() {
        let clock = ManualClock()
        var controller = TurnController(clock: clock)
        clock.advance(by: .milliseconds(1250))
        let actions = controller.handle(.button)
        #expect(Self.transitions(actions) == [TransitionEvent(time: .milliseconds(1250), from: .idle, to: .listening, cause: .buttonWake)])
        #expect(actions.contains(.setIndicator(.listening)))
        #expect(controller.recentTransitions == Self.transitions(actions))
    }

    @Test func theControllerKeepsTheLast16Transitions() throws {
        let clock = ManualClock()
        var controller = TurnController(clock: clock)
        var all: [TransitionEvent] = []
        for _ in 0..<10 {
            let wake = controller.handle(.button)
            all += Self.transitions(wake)
            let ticket = try #require(wake.lazy.compactMap { action -> DebounceTimer.Ticket? in
                if case .schedule(.listenTimeout, let ticket) = action { return ticket }
                return nil
            }.first)
            clock.advance(to: ticket.deadline)
            all += Self.transitions(controller.handle(.timer(.listenTimeout, ticket)))
        }
        #expect(all.count == 20)
        #expect(controller.recentTransitions == Array(all.suffix(TurnController.transitionHistoryLimit)))
        #expect(controller.recentTransitions.count == 16)
        #expect(controller.recentTransitions.last?.cause == .listenTimeout)
    }

    /// The record of a turn holds its own transitions, from its wake to its last one.
    @Test func aTurnsRecordHoldsItsTransitionsIncludingTheLast() throws {
        var script = Script()
        script.button(0)
        script.say(100, 1300, "What is the weather today?")
        let r = script.run()
        let turn = try #require(r.turns.first)
        #expect(turn.states.map(\.to) == [.listening, .speculative, .committed, .speaking, .idle])
        #expect(turn.states.allSatisfy { $0.turn == 1 })
        #expect(turn.states.last?.cause == .playbackFinished)
    }
}
