import VoiceCore
import VoiceSupport

/// One line of a simulation's timeline.
public struct TimelineEntry: Equatable, Sendable {
    public var time: VoiceInstant
    public var event: String
    public var turn: Int?
    /// The entry's other fields, in order.
    public var fields: [(String, JSONValue)]

    public static func == (lhs: TimelineEntry, rhs: TimelineEntry) -> Bool {
        lhs.time == rhs.time && lhs.event == rhs.event && lhs.turn == rhs.turn
            && JSONValue.object(lhs.fields) == JSONValue.object(rhs.fields)
    }

    public func field(_ name: String) -> JSONValue? { fields.first { $0.0 == name }?.1 }

    public var json: JSONValue {
        var pairs: [(String, JSONValue)] = [("t_ms", .int(time.milliseconds)), ("event", .string(event))]
        pairs += fields
        if let turn { pairs.append(("turn", .int(Int64(turn)))) }
        return .object(pairs)
    }
}

/// What a simulation produced.
public struct SimulationResult: Sendable {
    public var timeline: [TimelineEntry]
    public var turns: [TurnRecord]
    public var telemetry: TelemetrySnapshot
    public var debounce: Duration
    /// Breaches of "no audio before COMMITTED, nothing of a cancelled or interrupted turn played".
    public var violations: [String]
    /// What actually played, from the virtual speaker.
    public var played: [VirtualPlayback.Played]
    public var indicator: [IndicatorState]
    public var llmRequests: [LLMRequest]
    public var rejectedTransitions: Int

    /// Timeline entries of one kind.
    public func entries(_ event: String) -> [TimelineEntry] { timeline.filter { $0.event == event } }
}

/// Runs the real turn controller and engine on a manual clock with scripted providers.
/// `voiced simulate`, the scenario tests and the benchmarks all go through here.
public final class ScenarioRunner {
    public let scenario: Scenario
    public let clock = ManualClock()
    public let llm: ScriptedLanguageModel
    public let tts: ScriptedTextToSpeech
    public let fallbackTTS: ScriptedTextToSpeech
    public let playback: VirtualPlayback
    public let indicator = RecordingIndicator()
    public let engine: TurnEngine

    private var timeline: [TimelineEntry] = []
    private var turns: [TurnRecord] = []
    private var checker = InvariantChecker()
    private var liveCalls: [Int: Int] = [:]   // call → turn, while running
    private var callTurns: [Int: Int] = [:]   // call → turn, every call
    private var audioStarted: Set<Int> = []

    public init(scenario: Scenario) {
        self.scenario = scenario
        llm = ScriptedLanguageModel(clock: clock, replies: scenario.llm.replies, timeToFirstToken: scenario.llm.timeToFirstToken,
                                    perToken: scenario.llm.perToken, failingCalls: scenario.llm.failingCalls,
                                    ignoresCancel: scenario.llm.ignoresCancel)
        tts = ScriptedTextToSpeech(clock: clock, timeToFirstByte: scenario.tts.timeToFirstByte,
                                   perCharacter: scenario.tts.perCharacter, failingRequests: scenario.tts.failingRequests)
        fallbackTTS = ScriptedTextToSpeech(clock: clock, timeToFirstByte: scenario.fallbackTTS.timeToFirstByte,
                                           perCharacter: scenario.fallbackTTS.perCharacter,
                                           failingRequests: scenario.fallbackTTS.failingRequests)
        playback = VirtualPlayback(clock: clock)
        let controller = TurnController(settings: scenario.settings, clock: clock, sessionID: "simulation")
        engine = TurnEngine(controller: controller, llm: llm, tts: tts, fallbackTTS: fallbackTTS, playback: playback,
                            indicator: indicator, scheduler: clock)
        engine.inputObserver = { [unowned self] input in observe(input) }
        engine.actionObserver = { [unowned self] action in observe(action) }
    }

    /// Runs every scripted event and whatever follows from them, until nothing is left to do.
    public func run() -> SimulationResult {
        scheduleEvents()
        let lastEvent = scenario.events.last?.at ?? .zero
        clock.runUntilIdle(limit: lastEvent + .seconds(600))
        return result()
    }

    private var scheduled = false

    /// Puts the scripted events on the clock (once); advance the clock to play them.
    public func scheduleEvents() {
        guard !scheduled else { return }
        scheduled = true
        for event in scenario.events {
            clock.run(at: event.at) { [unowned self] in
                switch event.kind {
                case .button: engine.post(.button)
                case .speech(let speech, let source): engine.post(.speech(speech, from: source))
                }
            }
        }
    }

    /// What happened so far.
    public func result() -> SimulationResult {
        var violations = checker.violations
        violations += checker.checkPlayed(playback.played)
        if engine.controller.rejectedTransitions > 0 {
            violations.append("the controller attempted \(engine.controller.rejectedTransitions) forbidden transition(s)")
        }
        return SimulationResult(
            timeline: timeline, turns: turns, telemetry: engine.controller.telemetry.snapshot,
            debounce: engine.controller.debounce, violations: violations, played: playback.played,
            indicator: indicator.shown, llmRequests: llm.requests,
            rejectedTransitions: engine.controller.rejectedTransitions)
    }

    private func add(_ event: String, turn: Int?, _ fields: [(String, JSONValue)] = []) {
        timeline.append(TimelineEntry(time: clock.now, event: event, turn: turn, fields: fields))
    }

    private func observe(_ input: TurnInput) {
        switch input {
        case .button:
            add("input", turn: nil, [("type", .string("button"))])
        case .speech(let speech, let source):
            // Speech-to-text is the usual source and goes unnamed; the local detector is named.
            let from: [(String, JSONValue)] = source == .speechToText ? [] : [("source", .string(source.rawValue))]
            switch speech {
            case .speechStarted: add("input", turn: nil, [("type", .string("speech_start"))] + from)
            case .speechEnded: add("input", turn: nil, [("type", .string("speech_end"))] + from)
            case .partial(let text): add("input", turn: nil, [("type", .string("partial")), ("text", .string(text))] + from)
            case .final(let text, _, _, _): add("input", turn: nil, [("type", .string("final")), ("text", .string(text))] + from)
            }
        case .llm(let call, .finished):
            if let turn = liveCalls.removeValue(forKey: call) { add("llm_done", turn: turn, [("call", .int(Int64(call)))]) }
        case .llm(let call, .failed(let message)):
            if let turn = liveCalls.removeValue(forKey: call) {
                add("llm_fail", turn: turn, [("call", .int(Int64(call))), ("error", .string(message))])
            }
        case .tts(_, .failed(let message)):
            add("tts_fail", turn: engine.controller.currentTurnID, [("error", .string(message))])
        default:
            break
        }
    }

    private func observe(_ action: TurnAction) {
        checker.observe(action, at: clock.now)
        switch action {
        case .transitioned(let event):
            add("state", turn: event.turn, [
                ("from", .string(event.from.rawValue)), ("to", .string(event.to.rawValue)), ("cause", .string(event.cause.rawValue)),
            ])
        case .startLLM(let request):
            liveCalls[request.call] = request.turn
            callTurns[request.call] = request.turn
            add("llm_start", turn: request.turn, [("call", .int(Int64(request.call)))])
        case .cancelLLM(let call, let reason):
            // Also for a call that had finished: its reply is discarded all the same.
            liveCalls.removeValue(forKey: call)
            add("llm_cancel", turn: callTurns[call], [("call", .int(Int64(call))), ("reason", .string(reason))])
        case .startTTS(let request):
            add("tts_start", turn: request.turn, [("text", .string(request.text)), ("voice", .string(request.voice.rawValue))])
        case .play(let chunk):
            if chunk.turn != 0, audioStarted.insert(chunk.turn).inserted { add("audio_start", turn: chunk.turn) }
        case .dropPlayback(let turn):
            add("audio_drop", turn: turn)
        case .cue(let earcon):
            add("cue", turn: engine.controller.currentTurnID, [("earcon", .string(earcon.rawValue))])
        case .turnFinished(let record):
            turns.append(record)
            add("turn_end", turn: record.turn, [("status", .string(record.status.rawValue)),
                                                ("cause", record.cause.map { .string($0.rawValue) } ?? .null)])
        case .debounceAdjusted(let adjustment):
            add("debounce", turn: nil, [
                ("old_ms", .int(adjustment.old.wholeMilliseconds)), ("new_ms", .int(adjustment.new.wholeMilliseconds)),
                ("cancellation_rate", .double((adjustment.cancellationRate * 1000).rounded() / 1000)),
            ])
        case .cancellationRefined(let call, let reason):
            add("llm_cancel_reason", turn: engine.controller.currentTurnID, [("call", .int(Int64(call))), ("reason", .string(reason))])
        case .cancelTTS, .endSegment, .setIndicator, .schedule:
            break
        }
    }
}

/// Watches the action stream (and what actually played) for breaches of the rule above all.
public struct InvariantChecker: Sendable {
    public private(set) var violations: [String] = []
    private var state: TurnState = .idle
    private var currentTurn: Int?
    private var committedTurns: Set<Int> = []
    private var cancelledCalls: Set<Int> = []
    private var segmentCall: [[Int]: Int] = [:]
    private var drops: [Int: VoiceInstant] = [:]

    public init() {}

    public mutating func observe(_ action: TurnAction, at now: VoiceInstant) {
        switch action {
        case .transitioned(let event):
            state = event.to
            currentTurn = event.turn ?? currentTurn
            if event.to == .committed, let turn = event.turn { committedTurns.insert(turn) }
        case .cancelLLM(let call, _):
            cancelledCalls.insert(call)
        case .startTTS(let request):
            if let call = request.call { segmentCall[[request.turn, request.segment]] = call }
        case .play(let chunk) where chunk.turn == 0:
            // A notice (`voicectl say`, "I'm offline"): never an answer, only while IDLE.
            if state != .idle {
                violations.append("t=\(now.milliseconds)ms: a notice was handed to playback in state \(state)")
            }
        case .play(let chunk):
            let t = now.milliseconds
            if !committedTurns.contains(chunk.turn) || !(state == .committed || state == .speaking) {
                violations.append("t=\(t)ms: audio of turn \(chunk.turn) handed to playback in state \(state) before COMMITTED")
            }
            if let call = segmentCall[[chunk.turn, chunk.segment]], cancelledCalls.contains(call) {
                violations.append("t=\(t)ms: audio of cancelled call \(call) (turn \(chunk.turn)) handed to playback")
            }
            if drops[chunk.turn] != nil {
                violations.append("t=\(t)ms: audio of turn \(chunk.turn) handed to playback after its audio_drop")
            }
            if let current = currentTurn, chunk.turn != current {
                violations.append("t=\(t)ms: audio of turn \(chunk.turn) played during turn \(current)")
            }
        case .dropPlayback(let turn) where turn != 0:
            drops[turn] = now
        default:
            break
        }
    }

    /// What the speaker actually played must not run past a drop of its turn.
    public func checkPlayed(_ played: [VirtualPlayback.Played]) -> [String] {
        played.compactMap { stretch in
            guard let drop = drops[stretch.turn], stretch.end > drop else { return nil }
            return "turn \(stretch.turn): audio played until t=\(stretch.end.milliseconds)ms, after its drop at t=\(drop.milliseconds)ms"
        }
    }
}
