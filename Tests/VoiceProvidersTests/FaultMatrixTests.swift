import Foundation
import Testing
@testable import VoiceCore
import VoiceFakeCloud
import VoiceProviders

/// Every provider fault in every phase of a turn, through the real turn controller and engine
/// and the real clients against the fake cloud (docs/reliability.md, "Provider fault matrix").
///
/// Each cell asserts a defined end state (the turn's status and its LLM call's, back to IDLE),
/// that nothing wrong was spoken (only the answer's sentences or the apology, in the voice
/// expected, each exactly the audio made for it; never audio before COMMITTED), and that the
/// engine stays up (a second, fault-free turn is answered in full).
@Suite struct FaultMatrixTests {
    enum Phase: String, CaseIterable, Sendable {
        case speculative
        case committed = "committed, before audio"
        case speaking
    }

    enum Row: String, CaseIterable, Sendable {
        case status401 = "status 401"
        case status429 = "status 429"
        case status500 = "status 500"
        case status503 = "status 503"
        case closeMidStream = "close mid-stream"
        case stall
        case invalidJSON = "invalid JSON"
        case oversized = "oversized message"
        case wrongContentType = "wrong content type"
        case nonAudioBody = "non-audio body"
    }

    static let question = "What's the weather like today?"
    static let first = "It is sunny and twenty two degrees."
    static let second = "Enjoy your day and take a hat!"
    static let answer = first + " " + second
    static let apology = TurnSettings().apology

    /// A sentence that should reach the speaker, in which voice; `partial`: cut short (the
    /// primary voice failed in the middle of it, and the fallback says it again after).
    struct Spoken: Equatable, CustomStringConvertible {
        var text: String
        var voice: Voice
        var partial = false
        var description: String { "\(voice.rawValue)\(partial ? " (cut)" : ""): \(text)" }
    }

    /// One cell: the fake cloud's script and settings that place the fault in the phase, and what must happen.
    struct Cell {
        var row: Row
        var phase: Phase
        /// Which request the fault hits, for the table.
        var target: String
        var script: FakeCloudScript
        var settings = TurnSettings()
        var chatStall: Duration?
        var speechStall: Duration?
        var status: TurnStatus
        var call: LLMCallRecord.Status
        var spoken: [Spoken]
        /// Where the LLM call must have ended relative to the states (nil: not checked).
        var callEnds: CallEnd? = nil
        /// Stream events the chat client must have skipped (not JSON).
        var skipped = 0

        enum CallEnd { case beforeCommit, afterCommit, whileSpeaking }
    }

    static func cell(_ row: Row, _ phase: Phase) -> Cell {
        var script = instantScript(replies: [answer])
        let primary = [Spoken(text: first, voice: .primary), Spoken(text: second, voice: .primary)]
        let fallback = [Spoken(text: first, voice: .fallback), Spoken(text: second, voice: .fallback)]
        let apologised = [Spoken(text: apology, voice: .fallback)]
        func llmStatus(_ code: Int) -> FakeCloudScript.Fault {
            fault(.llm, .status) {
                $0.status = code
                if code == 429 { $0.retryAfter = "1" }
            }
        }
        func ttsStatus(_ code: Int, request: Int) -> FakeCloudScript.Fault {
            fault(.tts, .status, requests: [request]) { $0.status = code }
        }
        let statusCode: Int? = switch row {
        case .status401: 401
        case .status429: 429
        case .status500: 500
        case .status503: 503
        default: nil
        }

        switch phase {
        case .speculative:
            // The LLM call (the speculative one), struck within its first tokens; a long commit
            // hold keeps the turn SPECULATIVE until well after the client has given up or retried.
            var settings = TurnSettings()
            settings.commitHold = .milliseconds(1500)
            script.llm.tokenIntervalMs = 20
            let target = "LLM request 1"
            if let code = statusCode {
                script.faults = [llmStatus(code)]
                // 429 and 5xx are retried (429 after its Retry-After) and the answer follows.
                let retried = code != 401
                return Cell(row: row, phase: phase, target: target, script: script, settings: settings,
                            status: retried ? .completed : .llmFailed, call: retried ? .completed : .failed,
                            spoken: retried ? primary : apologised, callEnds: retried ? nil : .beforeCommit)
            }
            var chatStall: Duration?
            switch row {
            case .closeMidStream: script.faults = [fault(.llm, .closeMidStream) { $0.after = 2 }]
            case .stall:
                script.faults = [fault(.llm, .stall) { $0.after = 2; $0.stallMs = 5000 }]
                chatStall = .milliseconds(500)
            case .invalidJSON:
                // An event that is not JSON is skipped (and counted); the answer goes on.
                script.faults = [fault(.llm, .invalidJSON) { $0.after = 2 }]
                return Cell(row: row, phase: phase, target: "LLM request 1, after 2 tokens", script: script, settings: settings,
                            status: .completed, call: .completed, spoken: primary, skipped: 1)
            case .oversized: script.faults = [fault(.llm, .oversized) { $0.after = 2 }]
            case .wrongContentType: script.faults = [fault(.llm, .wrongContentType)]
            case .nonAudioBody:
                // Speech before the commit exists only with preemptive TTS: the first sentence's
                // request gets a JSON body with status 200; the fallback says it all at COMMITTED.
                settings.preemptiveTTS = true
                script.faults = [fault(.tts, .invalidJSON)]
                return Cell(row: row, phase: phase, target: "TTS request 1 (preemptive)", script: script, settings: settings,
                            status: .ttsFailed, call: .completed, spoken: fallback)
            default: break
            }
            // Tokens reached the client before the fault, so it is not retried: the apology, at COMMITTED.
            return Cell(row: row, phase: phase, target: row == .wrongContentType ? target : target + ", after 2 tokens", script: script, settings: settings, chatStall: chatStall,
                        status: .llmFailed, call: .failed, spoken: apologised, callEnds: .beforeCommit)

        case .committed:
            if let code = statusCode {
                // The first sentence's TTS request, made at COMMITTED: 5xx is retried once; 401 and
                // 429 are not (the fallback voice can speak at once).
                script.faults = [ttsStatus(code, request: 1)]
                let retried = code >= 500
                return Cell(row: row, phase: phase, target: "TTS request 1", script: script, status: retried ? .completed : .ttsFailed,
                            call: .completed, spoken: retried ? primary : fallback)
            }
            switch row {
            case .wrongContentType, .nonAudioBody:
                script.faults = [fault(.tts, row == .wrongContentType ? .wrongContentType : .invalidJSON)]
                return Cell(row: row, phase: phase, target: "TTS request 1", script: script, status: .ttsFailed, call: .completed,
                            spoken: fallback)
            default: break
            }
            // The LLM stream, struck after the commit (its first token comes 600 ms after the
            // call starts, the commit 200 ms) and before the first sentence is complete.
            script.llm.firstTokenDelayMs = 600
            script.llm.tokenIntervalMs = 20
            var chatStall: Duration?
            switch row {
            case .closeMidStream: script.faults = [fault(.llm, .closeMidStream) { $0.after = 2 }]
            case .stall:
                script.faults = [fault(.llm, .stall) { $0.after = 2; $0.stallMs = 5000 }]
                chatStall = .milliseconds(500)
            case .invalidJSON:
                script.faults = [fault(.llm, .invalidJSON) { $0.after = 2 }]
                return Cell(row: row, phase: phase, target: "LLM request 1, after 2 tokens", script: script,
                            status: .completed, call: .completed, spoken: primary, skipped: 1)
            default: script.faults = [fault(.llm, .oversized) { $0.after = 2 }]
            }
            return Cell(row: row, phase: phase, target: "LLM request 1, after 2 tokens", script: script, chatStall: chatStall,
                        status: .llmFailed, call: .failed, spoken: apologised, callEnds: .afterCommit)

        case .speaking:
            let cut = [Spoken(text: first, voice: .primary), Spoken(text: second, voice: .primary, partial: true),
                       Spoken(text: second, voice: .fallback)]
            let secondByFallback = [Spoken(text: first, voice: .primary), Spoken(text: second, voice: .fallback)]
            if let code = statusCode {
                // The second sentence's TTS request, made while the first one plays.
                script.faults = [ttsStatus(code, request: 2)]
                let retried = code >= 500
                return Cell(row: row, phase: phase, target: "TTS request 2", script: script, status: retried ? .completed : .ttsFailed,
                            call: .completed, spoken: retried ? primary : secondByFallback)
            }
            switch row {
            case .closeMidStream:
                script.faults = [fault(.tts, .closeMidStream, requests: [2]) { $0.after = 1 }]
                return Cell(row: row, phase: phase, target: "TTS request 2, after 1 chunk", script: script, status: .ttsFailed,
                            call: .completed, spoken: cut)
            case .stall:
                script.faults = [fault(.tts, .stall, requests: [2]) { $0.after = 1; $0.stallMs = 5000 }]
                return Cell(row: row, phase: phase, target: "TTS request 2, after 1 chunk", script: script, speechStall: .milliseconds(500),
                            status: .ttsFailed, call: .completed, spoken: cut)
            case .wrongContentType, .nonAudioBody:
                script.faults = [fault(.tts, row == .wrongContentType ? .wrongContentType : .invalidJSON, requests: [2])]
                return Cell(row: row, phase: phase, target: "TTS request 2", script: script, status: .ttsFailed, call: .completed,
                            spoken: secondByFallback)
            default:
                // The LLM stream, struck after the first sentence has been spoken: a token every
                // 150 ms, the first sentence complete at token 8, the fault after token 12.
                script.llm.tokenIntervalMs = 150
                script.faults = [fault(.llm, row == .invalidJSON ? .invalidJSON : .oversized) { $0.after = 12 }]
                if row == .invalidJSON {
                    return Cell(row: row, phase: phase, target: "LLM request 1, after 12 tokens", script: script,
                                status: .completed, call: .completed, spoken: primary, skipped: 1)
                }
                return Cell(row: row, phase: phase, target: "LLM request 1, after 12 tokens", script: script, status: .llmFailed,
                            call: .failed, spoken: [Spoken(text: first, voice: .primary), Spoken(text: apology, voice: .fallback)],
                            callEnds: .whileSpeaking)
            }
        }
    }

    struct Outcome: Sendable {
        var row: Row
        var phase: Phase
        var label: String
        var problems: [String]
    }

    @Test func everyProviderFaultInEveryPhaseEndsCleanly() async throws {
        let cells = Row.allCases.flatMap { row in Phase.allCases.map { (row, $0) } }
        var outcomes: [Outcome] = []
        // Three cells at a time: they spend most of their time waiting on timers and delays.
        await withTaskGroup(of: Outcome.self) { group in
            var pending = cells[...]
            for _ in 0..<3 {
                guard let (row, phase) = pending.popFirst() else { break }
                group.addTask { await Self.run(Self.cell(row, phase)) }
            }
            for await outcome in group {
                outcomes.append(outcome)
                if let (row, phase) = pending.popFirst() { group.addTask { await Self.run(Self.cell(row, phase)) } }
            }
        }
        print(Self.table(outcomes))
        for outcome in outcomes {
            #expect(outcome.problems.isEmpty, "\(outcome.row.rawValue) / \(outcome.phase.rawValue): \(outcome.problems.joined(separator: "; "))")
        }
        #expect(outcomes.count == Row.allCases.count * Phase.allCases.count)
    }

    /// The matrix as a Markdown table: each cell the end state, and which request the fault hit.
    static func table(_ outcomes: [Outcome]) -> String {
        var lines = ["| fault | " + Phase.allCases.map(\.rawValue).joined(separator: " | ") + " |",
                     "|---|" + String(repeating: "---|", count: Phase.allCases.count)]
        for row in Row.allCases {
            let cells = Phase.allCases.map { phase in
                outcomes.first { $0.row == row && $0.phase == phase }.map { $0.label } ?? "not run"
            }
            lines.append("| \(row.rawValue) | " + cells.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n")
    }

    static func run(_ cell: Cell) async -> Outcome {
        var problems: [String] = []
        func check(_ condition: Bool, _ message: @autoclosure () -> String) { if !condition { problems.append(message()) } }
        let cloud: FakeCloud
        let rig: TurnRig
        do {
            cloud = try await startCloud(cell.script)
            rig = try TurnRig(cloud, settings: cell.settings) { chat, speech in
                if let stall = cell.chatStall { chat.stallTimeout = stall }
                if let stall = cell.speechStall { speech.stallTimeout = stall }
            }
        } catch {
            return Outcome(row: cell.row, phase: cell.phase, label: "rig failed", problems: ["cannot start: \(error)"])
        }
        defer { Task { await cloud.stop() } }
        // Synthesised once, before any request: every request then gets the same audio (espeak-ng
        // varies a little from one synthesis to the next), so a cut one is an exact prefix.
        for sentence in [first, second] { _ = try? await cloud.speech(for: sentence) }

        // The faulty turn.
        rig.ask(question)
        guard await rig.records.wait(timeout: .seconds(30), until: { !$0.isEmpty }), let record = rig.records.events.first else {
            return Outcome(row: cell.row, phase: cell.phase, label: "WEDGED (no turn record)", problems: ["no turn record within 30 s"])
        }
        let requestsAfterFirstTurn = (llm: cloud.records(.llm).count, tts: cloud.records(.tts).count)
        let played = Self.spoken(turn: record.turn, rig: rig)
        check(record.status == cell.status, "status \(record.status.rawValue), expected \(cell.status.rawValue)")
        check(record.llmCalls.map(\.status) == [cell.call], "LLM calls \(record.llmCalls.map(\.status.rawValue)), expected [\(cell.call.rawValue)]")
        check(record.states.last?.to == .idle, "ended in \(record.states.last?.to.rawValue ?? "nothing"), expected idle")
        check(played.map(\.spoken) == cell.spoken, "spoke \(played.map(\.spoken)), expected \(cell.spoken)")
        check(record.spokenText == cell.spoken.filter { !$0.partial }.map(\.text).joined(separator: " "),
              "recorded as spoken: \"\(record.spokenText)\"")
        if cell.status == .llmFailed { check(rig.indicator.shown.contains(.error), "the LEDs did not show the error") }
        check(rig.chat.invalidEvents == cell.skipped, "\(rig.chat.invalidEvents) stream events skipped, expected \(cell.skipped)")
        problems += await Self.audioProblems(played, cloud: cloud, rig: rig)
        problems += Self.playedOnlyWhenCommitted(rig.actions.events)
        if let end = cell.callEnds, let call = record.llmCalls.first, let ended = call.endedAt {
            let committed = record.states.first { $0.to == .committed }?.time
            let speaking = record.states.first { $0.to == .speaking }?.time
            switch end {
            case .beforeCommit: check(committed.map { ended <= $0 } ?? false, "the LLM call did not fail before the commit")
            case .afterCommit: check(committed.map { ended > $0 } ?? false, "the LLM call failed before the commit")
            case .whileSpeaking: check(speaking.map { ended > $0 } ?? false, "the LLM call failed before any audio")
            }
        }

        // Stays up: the next turn, with no fault left, is answered in full by the primary voice.
        rig.ask(question)
        if await rig.records.wait(timeout: .seconds(30), until: { $0.count >= 2 }), let next = rig.records.events.last {
            let again = Self.spoken(turn: next.turn, rig: rig)
            check(next.status == .completed && again.map(\.spoken) == [Spoken(text: first, voice: .primary), Spoken(text: second, voice: .primary)],
                  "the next turn: \(next.status.rawValue), spoke \(again.map(\.spoken))")
            problems += await Self.audioProblems(again, cloud: cloud, rig: rig)
        } else {
            problems.append("no record of the next, fault-free turn: the engine is wedged")
        }

        // The label, from what happened.
        var label: String
        switch record.status {
        case .completed:
            let retried = requestsAfterFirstTurn.llm > 1 || requestsAfterFirstTurn.tts > 2
            label = retried ? "completed (retried)" : rig.chat.invalidEvents > 0 ? "completed (bad event skipped)" : "completed"
        case .ttsFailed:
            let from = played.first { $0.spoken.voice == .fallback }.map { $0.spoken.text == first ? "1" : "2" } ?? "-"
            label = "tts_failed (fallback voice from sentence \(from))"
        case .llmFailed:
            let sentences = played.filter { $0.spoken.voice == .primary }.count
            label = sentences == 0 ? "llm_failed (apology)" : "llm_failed (\(sentences) sentence\(sentences == 1 ? "" : "s"), then apology)"
        case .interrupted:
            label = "interrupted"
        case .aborted:
            label = "aborted (\(record.cause?.rawValue ?? "-"))"
        }
        label = "\(cell.target): " + label + (problems.isEmpty ? "" : " **WRONG**")
        return Outcome(row: cell.row, phase: cell.phase, label: label, problems: problems)
    }

    /// A segment that reached the speaker: what it was meant to say and what it played.
    struct Played {
        var spoken: Spoken
        var request: Int
        var samples: [Int16]
    }

    /// The turn's segments that reached playback, in order, with the request that made each.
    static func spoken(turn: Int, rig: TurnRig) -> [Played] {
        let requests = rig.actions.events.compactMap { action -> TTSRequest? in
            if case .startTTS(let request) = action, request.turn == turn { request } else { nil }
        }
        let chunks = rig.playback.played.filter { $0.turn == turn }
        var result: [Played] = []
        for request in requests.sorted(by: { $0.segment < $1.segment }) {
            let samples = chunks.filter { $0.segment == request.segment }.flatMap(\.samples)
            guard !samples.isEmpty else { continue }
            result.append(Played(spoken: Spoken(text: request.text, voice: request.voice), request: request.id, samples: samples))
        }
        // A primary segment followed by the same sentence in the fallback voice was cut.
        for index in result.indices.dropLast() where result[index].spoken.voice == .primary
            && result[index + 1].spoken.voice == .fallback && result[index + 1].spoken.text == result[index].spoken.text {
            result[index].spoken.partial = true
        }
        return result
    }

    /// Each segment played exactly the audio made for its sentence: the service's speech of
    /// that text (a prefix of it when cut), or what the fallback voice produced for it.
    static func audioProblems(_ played: [Played], cloud: FakeCloud, rig: TurnRig) async -> [String] {
        var problems: [String] = []
        for segment in played {
            switch segment.spoken.voice {
            case .primary:
                guard let expected = try? await cloud.speech(for: segment.spoken.text) else {
                    problems.append("cannot synthesise \"\(segment.spoken.text)\" for the comparison")
                    continue
                }
                if segment.spoken.partial {
                    if !(segment.samples.count < expected.count && Array(expected.prefix(segment.samples.count)) == segment.samples) {
                        problems.append("the cut \"\(segment.spoken.text)\" played \(segment.samples.count) samples that are not the start of its speech")
                    }
                } else if segment.samples != expected {
                    problems.append("\"\(segment.spoken.text)\" played \(segment.samples.count) samples, not its \(expected.count) samples of speech")
                }
            case .fallback:
                if segment.samples != rig.fallback.delivered(request: segment.request) {
                    problems.append("the fallback's \"\(segment.spoken.text)\" played other audio than the fallback made")
                }
            }
        }
        return problems
    }

    /// No audio before COMMITTED: every `play` comes while the turn is COMMITTED or SPEAKING.
    static func playedOnlyWhenCommitted(_ actions: [TurnAction]) -> [String] {
        var state = TurnState.idle
        var problems: [String] = []
        for action in actions {
            switch action {
            case .transitioned(let event): state = event.to
            case .play(let chunk) where chunk.turn != 0 && state != .committed && state != .speaking:
                problems.append("audio of turn \(chunk.turn) played in \(state.rawValue)")
            default: break
            }
        }
        return problems
    }
}
