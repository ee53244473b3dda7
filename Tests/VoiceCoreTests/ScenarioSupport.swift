import Testing
import VoiceTesting
import VoiceSupport
@testable import VoiceCore

/// Builds scenarios in code and runs them through the same runner as `voiced simulate`.
struct Script {
    var scenario = Scenario()
    init(_ configure: (inout Scenario) -> Void = { _ in }) {
        scenario.settings.adaptive.enabled = false
        configure(&scenario)
    }
    mutating func button(_ at: Int) { add(at, .button) }
    mutating func speechStart(_ at: Int) { add(at, .speech(.speechStarted)) }
    mutating func speechEnd(_ at: Int) { add(at, .speech(.speechEnded)) }
    /// The local voice detector hears speech start (it barges in while SPEAKING).
    mutating func localVoiceStart(_ at: Int) { add(at, .speech(.speechStarted, from: .localVoiceActivity)) }
    mutating func partial(_ at: Int, _ text: String) { add(at, .speech(.partial(text))) }
    mutating func final(_ at: Int, _ text: String) {
        add(at, .speech(.final(text: text, confidence: 0.9, start: Double(at) / 1000 - 1, end: Double(at) / 1000)))
    }
    /// Speech from `start`, a final at `end` and the end of speech at the same moment.
    mutating func say(_ start: Int, _ end: Int, _ text: String) {
        speechStart(start)
        final(end, text)
        speechEnd(end)
    }
    private mutating func add(_ at: Int, _ kind: Scenario.EventKind) {
        scenario.events.append(Scenario.Event(at: .milliseconds(Int64(at)), kind: kind))
        scenario.events.sort { $0.at < $1.at }
    }

    /// Runs the scenario and checks the rule above all on every run.
    func run(sourceLocation: SourceLocation = #_sourceLocation) -> SimulationResult {
        let result = ScenarioRunner(scenario: scenario).run()
        #expect(result.violations == [], sourceLocation: sourceLocation)
        #expect(result.rejectedTransitions == 0, sourceLocation: sourceLocation)
        return result
    }
}

extension SimulationResult {
    /// (from, to) of every state change, in order.
    var transitions: [[TurnState]] {
        entries("state").compactMap { entry in
            guard case .string(let from)? = entry.field("from"), case .string(let to)? = entry.field("to"),
                  let f = TurnState(rawValue: from), let t = TurnState(rawValue: to) else { return nil }
            return [f, t]
        }
    }

    func times(_ event: String) -> [Int64] { entries(event).map(\.time.milliseconds) }

    func string(_ entry: TimelineEntry, _ key: String) -> String? {
        if case .string(let value)? = entry.field(key) { return value }
        return nil
    }

    /// The time of the transition into `state` (the first one, or the nth).
    func time(entering state: TurnState, occurrence: Int = 0) -> Int64? {
        let matches = entries("state").filter { string($0, "to") == state.rawValue }
        return occurrence < matches.count ? matches[occurrence].time.milliseconds : nil
    }

    var spokenTexts: [String] { entries("tts_start").compactMap { string($0, "text") } }
}
