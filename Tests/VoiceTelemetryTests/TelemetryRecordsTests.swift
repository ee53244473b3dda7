import Foundation
import Logging
import Testing
import VoiceCore
import VoiceTesting
@testable import VoiceTelemetry

/// Turns, calls and sessions are never silently lost, and every session ends.
@Suite struct TelemetryRecordsTests {
    /// A real SQLite failure on demand: a trigger refuses turns while `refuse_turns` holds a row.
    static func breakTurns(at path: String) throws -> TelemetryStore {
        let other = try TelemetryStore(path: path)
        try other.db.execute("""
            CREATE TABLE refuse_turns (x);
            INSERT INTO refuse_turns VALUES (1);
            CREATE TRIGGER refuse BEFORE INSERT ON turns WHEN EXISTS (SELECT 1 FROM refuse_turns)
            BEGIN SELECT RAISE(ABORT, 'disk says no'); END;
            """)
        return other
    }

    /// The outcome of each write attempt, in order.
    final class Attempts: Sendable {
        let stream: AsyncStream<Bool>
        let continuation: AsyncStream<Bool>.Continuation
        init() { (stream, continuation) = AsyncStream.makeStream() }
    }

    static func next(_ iterator: inout AsyncStream<Bool>.Iterator, _ outcome: Bool) async {
        while let result = await iterator.next(), result != outcome {}
    }

    @Test func aFailedWriteKeepsTheTurnAndWritesItOnTheRetry() async throws {
        let dir = try TemporaryDirectory()
        var config = TelemetryWriterConfiguration(databasePath: dir.file("t.sqlite"))
        config.retryInterval = .milliseconds(5)
        let logs = InMemoryLogHandler.Store()
        let writer = try TelemetryWriter(configuration: config, origin: Fixtures.origin,
                                         logger: InMemoryLogHandler.logger(label: "voiced.telemetry", store: logs))
        let broken = try Self.breakTurns(at: config.databasePath)
        let attempts = Attempts()
        writer.attemptObserver = { attempts.continuation.yield($0) }
        var outcomes = attempts.stream.makeAsyncIterator()
        writer.start()
        writer.sessionStarted("s", at: .zero)
        writer.turnFinished(Fixtures.turn(1), sessionID: "s")
        await Self.next(&outcomes, false)
        #expect(try broken.count("turns") == 0)
        try broken.db.execute("DELETE FROM refuse_turns")     // the disk recovers
        await Self.next(&outcomes, true)
        await writer.stop()

        #expect(try broken.count("turns") == 1)
        #expect(try broken.count("llm_calls") == 2)
        let stats = writer.statistics
        #expect(stats.failedWrites >= 1 && stats.retriedWrites >= 1)
        #expect(stats.lostEvents == 0 && stats.pendingRetry == 0)
        #expect(try broken.db.scalarInt("SELECT total_turns FROM sessions") == 1)
        #expect(writer.statistics.statusFields.map(\.0).contains("lost_events"))
    }

    @Test func aFullRetryQueueLosesTheOldestTurnAndLogsItWithTheCause() async throws {
        let dir = try TemporaryDirectory()
        var config = TelemetryWriterConfiguration(databasePath: dir.file("t.sqlite"))
        config.retryCapacity = 2
        config.retryInterval = .seconds(600)                    // attempts come only with new events here
        let logs = InMemoryLogHandler.Store()
        let writer = try TelemetryWriter(configuration: config, origin: Fixtures.origin,
                                         logger: InMemoryLogHandler.logger(label: "voiced.telemetry", store: logs))
        let broken = try Self.breakTurns(at: config.databasePath)
        let attempts = Attempts()
        writer.attemptObserver = { attempts.continuation.yield($0) }
        var outcomes = attempts.stream.makeAsyncIterator()
        writer.start()
        writer.sessionStarted("s", at: .zero)
        await Self.next(&outcomes, true)
        for n in 1...3 {
            writer.turnFinished(Fixtures.turn(n), sessionID: "s")
            await Self.next(&outcomes, false)
        }
        #expect(writer.statistics.lostEvents == 1)
        #expect(writer.statistics.pendingRetry == 2)
        let loss = try #require(logs.entries.first { $0.message == "telemetry lost a turn" })
        #expect(loss.level == .error && loss["turn"] == "1" && loss["session"] == "s")
        #expect(loss["cause"]?.contains("disk says no") == true)

        try broken.db.execute("DELETE FROM refuse_turns")
        writer.sample("level", value: 1, sessionID: "s", at: .zero)
        await Self.next(&outcomes, true)
        await writer.stop()
        #expect(try broken.count("turns") == 2)
        #expect(try broken.db.scalarInt("SELECT min(turn_number) FROM turns") == 2)
    }

    @Test func aStoreStillFailingAtShutdownLogsEachLostTurn() async throws {
        let dir = try TemporaryDirectory()
        var config = TelemetryWriterConfiguration(databasePath: dir.file("t.sqlite"))
        config.retryInterval = .seconds(600)
        let logs = InMemoryLogHandler.Store()
        let writer = try TelemetryWriter(configuration: config, origin: Fixtures.origin,
                                         logger: InMemoryLogHandler.logger(label: "voiced.telemetry", store: logs))
        _ = try Self.breakTurns(at: config.databasePath)
        writer.start()
        writer.turnFinished(Fixtures.turn(7), sessionID: "s")
        await writer.stop()
        #expect(writer.statistics.lostEvents >= 1)
        #expect(logs.entries.contains { $0.message == "telemetry lost a turn" && $0["turn"] == "7" && $0["cause"]?.contains("shutdown") == true })
    }

    @Test func aSessionLeftOpenByACrashIsClosedAsCrashedAtTheNextStart() async throws {
        let dir = try TemporaryDirectory()
        let config = TelemetryWriterConfiguration(databasePath: dir.file("t.sqlite"))
        let first = try TelemetryWriter(configuration: config, origin: Fixtures.origin)
        first.sessionStarted("before", at: .zero)
        first.turnFinished(Fixtures.turn(1), sessionID: "before")   // ends 1900 ms after the origin
        first.sessionStarted("clean", at: .milliseconds(5000))
        first.sessionEnded("clean", at: .milliseconds(6000))
        await first.stop()                                          // "before" never ended: as a crash leaves it

        let store = try TelemetryStore(path: config.databasePath)
        #expect(try store.db.scalarInt("SELECT count(*) FROM sessions WHERE ended_at IS NULL") == 1)
        let syncedBefore = try store.nextBatch(limit: 1000).throughSeq
        try store.markSynced(through: syncedBefore)                 // as if everything was upstream already

        let logs = InMemoryLogHandler.Store()
        let second = try TelemetryWriter(configuration: config, origin: Fixtures.origin.addingTimeInterval(60),
                                         logger: InMemoryLogHandler.logger(label: "voiced.telemetry", store: logs))
        second.sessionStarted("after", at: .zero)
        await second.stop()

        let batch = try store.nextBatch(limit: 1000)                // what goes upstream next
        let crashed = try #require(batch.sessions.first { $0.label == "before" })
        #expect(crashed.status == "crashed" && crashed.endedAt == Fixtures.originMillis + 1900 && crashed.totalTurns == 1)
        #expect(!batch.sessions.contains { $0.label == "clean" })  // already closed: untouched
        #expect(try store.db.scalarInt("SELECT count(*) FROM sessions WHERE ended_at IS NULL") == 1)   // "after", running
        #expect(logs.entries.contains { $0.level == .warning && $0["session"] == "before" })
    }

    @Test func aCleanEndIsRecordedAsEnded() async throws {
        let dir = try TemporaryDirectory()
        let config = TelemetryWriterConfiguration(databasePath: dir.file("t.sqlite"))
        let writer = try TelemetryWriter(configuration: config, origin: Fixtures.origin)
        writer.sessionStarted("s", at: .zero)
        writer.sessionEnded("s", at: .milliseconds(3000))
        await writer.stop()
        let row = try #require(try TelemetryStore(path: config.databasePath).nextBatch(limit: 10).sessions.first)
        #expect(row.status == "ended" && row.endedAt == Fixtures.originMillis + 3000)
    }
}
