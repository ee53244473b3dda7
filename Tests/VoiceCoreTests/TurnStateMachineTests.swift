import Testing
import VoiceTesting
@testable import VoiceCore

@Suite struct TurnStateMachineTests {
    static let allowedPairs: [(TurnState, TurnState)] = [
        (.idle, .listening),
        (.listening, .speculative), (.listening, .idle),
        (.speculative, .committed), (.speculative, .listening),
        (.committed, .speaking), (.committed, .listening), (.committed, .idle),
        (.speaking, .idle), (.speaking, .listening),
    ]

    /// Drives a fresh machine into `state` along allowed transitions.
    static func machine(in state: TurnState, clock: ManualClock = ManualClock()) throws -> TurnStateMachine {
        var machine = TurnStateMachine(clock: clock)
        let path: [TurnState: [TurnState]] = [
            .idle: [], .listening: [.listening], .speculative: [.listening, .speculative],
            .committed: [.listening, .speculative, .committed],
            .speaking: [.listening, .speculative, .committed, .speaking],
        ]
        for step in path[state]! { try machine.transition(to: step, cause: .buttonWake) }
        return machine
    }

    @Test(arguments: allowedPairs.map { [$0.0, $0.1] })
    func everyAllowedTransitionIsAccepted(pair: [TurnState]) throws {
        var machine = try Self.machine(in: pair[0])
        let event = try machine.transition(to: pair[1], cause: .debounceElapsed, turn: 7)
        #expect(machine.state == pair[1])
        #expect(event.from == pair[0] && event.to == pair[1] && event.turn == 7)
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
    func forbiddenTransitionIsRejectedAndStateUnchanged(pair: [TurnState]) throws {
        var machine = try Self.machine(in: pair[0])
        let before = machine.history
        #expect(throws: ForbiddenTransition(from: pair[0], to: pair[1], cause: .newSpeech)) {
            try machine.transition(to: pair[1], cause: .newSpeech)
        }
        #expect(machine.state == pair[0])
        #expect(machine.history == before)
    }

    @Test func forbiddenTransitionErrorNamesBothStates() {
        let error = ForbiddenTransition(from: .idle, to: .speaking, cause: .firstAudio)
        #expect(error.description.contains("IDLE"))
        #expect(error.description.contains("SPEAKING"))
    }

    @Test(arguments: TurnState.allCases)
    func shutdownFatalErrorAndOfflineTakeAnyStateToIdle(state: TurnState) throws {
        for cause in [TransitionCause.shutdown, .fatalError, .offline] {
            var machine = try Self.machine(in: state)
            try machine.transition(to: .idle, cause: cause)
            #expect(machine.state == .idle)
        }
    }

    @Test func exitHookRunsBeforeEnterHookThenObserver() throws {
        var machine = TurnStateMachine(clock: ManualClock())
        var log: [String] = []
        machine.onExit(.idle) { _ in log.append("exit idle") }
        machine.onEnter(.listening) { _ in log.append("enter listening") }
        machine.onEnter(.idle) { _ in log.append("enter idle (wrong)") }
        machine.observe { event in log.append("event \(event.from)->\(event.to)") }
        try machine.transition(to: .listening, cause: .buttonWake)
        #expect(log == ["exit idle", "enter listening", "event idle->listening"])
    }

    @Test func rejectedTransitionRunsNoHooks() throws {
        var machine = TurnStateMachine(clock: ManualClock())
        var ran = false
        machine.onExit(.idle) { _ in ran = true }
        machine.observe { _ in ran = true }
        _ = try? machine.transition(to: .committed, cause: .commitHoldElapsed)
        #expect(!ran)
    }

    @Test func eventsCarryTheInjectedClocksTimeAndCause() throws {
        let clock = ManualClock()
        var machine = TurnStateMachine(clock: clock)
        clock.advance(by: .milliseconds(1250))
        let event = try machine.transition(to: .listening, cause: .buttonWake, turn: 1)
        #expect(event == TransitionEvent(time: .milliseconds(1250), from: .idle, to: .listening, cause: .buttonWake, turn: 1))
    }

    @Test func historyKeepsTheLastNTransitions() throws {
        var machine = TurnStateMachine(clock: ManualClock(), historyLimit: 3)
        for _ in 0..<3 {
            try machine.transition(to: .listening, cause: .buttonWake)
            try machine.transition(to: .idle, cause: .listenTimeout)
        }
        #expect(machine.history.count == 3)
        #expect(machine.history.map(\.to) == [.idle, .listening, .idle])
    }
}
