import Foundation
import Logging
import Testing
import VoiceCore
import VoiceEspeak
import VoiceTesting
@testable import VoiceDaemon
@testable import VoiceTelemetry

/// A turn service wired to a real telemetry writer, as the daemon wires them, with its log kept.
final class RecordedHarness {
    let clock = ManualClock()
    let fallback: ScriptedTextToSpeech
    let playback: VirtualPlayback
    let service: TurnService
    let writer: TelemetryWriter
    let logs = InMemoryLogHandler.Store()
    let path: String

    init(replies: [String] = ["It is sunny. Enjoy your day!"], failingCalls: Set<Int> = [],
         timeToFirstToken: Duration = .milliseconds(400)) throws {
        path = FileManager.default.temporaryDirectory.path + "/voiced-records-\(UUID().uuidString.prefix(8)).sqlite"
        fallback = ScriptedTextToSpeech(clock: clock, timeToFirstByte: .milliseconds(30))
        playback = VirtualPlayback(clock: clock)
        var settings = TurnSettings()
        settings.adaptive.enabled = false
        let logger = InMemoryLogHandler.logger(label: "voiced.turn", store: logs)
        service = TurnService(
            controller: TurnController(settings: settings, clock: clock, sessionID: "s-1", logger: logger),
            llm: ScriptedLanguageModel(clock: clock, replies: replies, timeToFirstToken: timeToFirstToken, perToken: .milliseconds(3),
                                       failingCalls: failingCalls),
            tts: ScriptedTextToSpeech(clock: clock), fallbackTTS: fallback, playback: playback,
            indicator: RecordingIndicator(), scheduler: clock, logger: logger)
        writer = try TelemetryWriter(configuration: .init(databasePath: path), origin: Date(timeIntervalSince1970: 1_000_000))
        writer.start()
        writer.sessionStarted("s-1", at: .zero)
        service.observe { [writer] note in
            if case .turnFinished(let record) = note { writer.turnFinished(record, sessionID: "s-1") }
        }
    }

    deinit {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    func ask(until t: Int64) {
        service.buttonPressed()
        clock.advance(to: .milliseconds(100))
        service.speech(.speechStarted, from: .speechToText)
        clock.advance(to: .milliseconds(1300))
        service.speech(.final(text: "What is the weather?", confidence: 0.9, start: 0.1, end: 1.3), from: .speechToText)
        service.speech(.speechEnded, from: .speechToText)
        clock.advance(to: .milliseconds(t))
    }

    /// Ends the session and stops the writer, then reads back everything it wrote.
    func finish() async throws -> SyncBatch {
        writer.sessionEnded("s-1", at: clock.now)
        await writer.stop()
        return try TelemetryStore(path: path).nextBatch(limit: 10_000)
    }
}

@Suite struct TurnRecordsTests {
    @Test func goingOfflineMidAnswerSaysSoAndLeavesCompleteTurnAndSessionRecords() async throws {
        let h = try RecordedHarness()
        h.ask(until: 2800)
        #expect(h.service.current.state == .speaking)
        // Speech-to-text gave up after its reconnects: what the daemon's status handler does.
        h.service.goOffline()
        h.clock.runUntilIdle()

        #expect(h.service.current.state == .idle)
        #expect(h.fallback.requests.map(\.text) == [SystemNotice.offline.rawValue])
        #expect(!h.playback.played(turn: 0).isEmpty)        // the user heard the notice
        let record = try #require(h.service.current.lastTurn)
        #expect(record.status == .aborted && record.cause == .offline)
        #expect(record.userText == "What is the weather?")
        #expect(record.spokenText.hasPrefix("It is"))
        #expect(record.endedAt == .milliseconds(2800))

        let rows = try await h.finish()
        #expect(rows.turns.count == 1)
        let turn = try #require(rows.turns.first)
        #expect(turn.status == "aborted" && turn.completedAt == 1_000_000_000 + 2800)
        #expect(turn.statesJSON.contains("\"to\":\"idle\",\"cause\":\"offline\""))
        #expect(rows.llmCalls.map(\.status) == ["completed"])   // its answer was being spoken
        let session = try #require(rows.sessions.first)
        #expect(rows.sessions.count == 1)
        #expect(session.totalTurns == 1 && session.endedAt == 1_000_000_000 + h.clock.now.milliseconds && session.status == "ended")
    }

    @Test func aServiceCancelledBecauseAnotherFailedRecordsTheTurnAbortedByAFatalError() async throws {
        let h = try RecordedHarness()
        h.ask(until: 1750)                                     // SPECULATIVE
        let service = h.service
        let run = Task { try await service.run() }
        run.cancel()                                           // what the service group does when a service throws
        _ = try? await run.value
        #expect(h.service.current.lastTurn?.status == .aborted && h.service.current.lastTurn?.cause == .fatalError)
        let rows = try await h.finish()
        #expect(rows.turns.map(\.status) == ["aborted"])
        #expect(rows.turns.first?.statesJSON.contains("\"cause\":\"fatal_error\"") == true)
    }

    @Test func goingOfflineDuringTheSpeculationCancelsTheCallWithThatReason() async throws {
        let h = try RecordedHarness()
        h.ask(until: 1750)                                     // SPECULATIVE: call 1 running
        h.service.goOffline()
        h.clock.runUntilIdle()
        let rows = try await h.finish()
        #expect(rows.turns.map(\.status) == ["aborted"])
        #expect(rows.llmCalls.map(\.status) == ["canceled"] && rows.llmCalls.first?.reason == "offline")
    }

    @Test func aSpeculativeCallThatFinishedIsStoredCancelledWithItsReason() async throws {
        // A fast model: call 1 ("Sunny.") has finished 10 ms into the commit hold (1700-1900).
        let h = try RecordedHarness(replies: ["Sunny.", "Rainy in Paris."], timeToFirstToken: .milliseconds(10))
        h.ask(until: 1800)
        h.service.speech(.speechStarted, from: .speechToText)  // ...then the user goes on, before the commit
        h.clock.advance(to: .milliseconds(2300))
        h.service.speech(.final(text: "in Paris", confidence: 0.9, start: 2, end: 2.3), from: .speechToText)
        h.service.speech(.speechEnded, from: .speechToText)
        h.clock.runUntilIdle()
        let rows = try await h.finish()
        #expect(rows.llmCalls.map(\.status) == ["canceled", "completed"])
        #expect(rows.llmCalls.first?.reason == "new_speech" && rows.llmCalls.first?.tokens == 1)
        #expect(h.service.current.telemetry.tokensWasted == 1)
    }

    @Test func everyTurnLineOfTheServiceAndTheControllerCarriesSessionAndTurnOnce() async throws {
        let h = try RecordedHarness(failingCalls: [1])
        h.ask(until: 1300)
        h.clock.runUntilIdle()
        _ = try await h.finish()
        let entries = h.logs.entries
        #expect(!entries.isEmpty)
        for entry in entries {
            #expect(entry["session"] == "s-1", "\(entry.message)")
            #expect(entry["turn"] != nil, "\(entry.message)")
        }
        // One line per fact: the failed turn once, as failed; each transition once.
        let turnLines = entries.filter { $0.message.hasPrefix("turn ") }
        #expect(turnLines.map { $0["event"] } == ["turn_failed"])
        let transitions = entries.filter { $0.message == "transition" }
        #expect(transitions.count == h.service.current.recentTransitions.count)
    }
}
