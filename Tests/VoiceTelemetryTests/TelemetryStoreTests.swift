import Foundation
import Testing
import VoiceCore
@testable import VoiceTelemetry

@Suite struct SQLiteWrapperTests {
    @Test func openingInAMissingDirectoryThrowsATypedError() throws {
        let error = #expect(throws: SQLiteError.self) {
            _ = try SQLiteDatabase(path: "/nonexistent-voiced-dir/x.sqlite")
        }
        #expect(error?.primaryCode == 14)  // SQLITE_CANTOPEN
        #expect(error?.operation.contains("open") == true)
    }

    @Test func badSQLReportsSQLitesMessage() throws {
        let directory = try TemporaryDirectory()
        let db = try SQLiteDatabase(path: directory.file("x.sqlite"))
        let error = #expect(throws: SQLiteError.self) { try db.execute("SELEC 1") }
        #expect(error?.message.contains("syntax error") == true)
    }

    @Test func aFailedTransactionRollsBack() throws {
        let directory = try TemporaryDirectory()
        let db = try SQLiteDatabase(path: directory.file("x.sqlite"))
        try db.execute("CREATE TABLE t (x INTEGER)")
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try db.transaction {
                try db.execute("INSERT INTO t VALUES (1)")
                throw Boom()
            }
        }
        #expect(try db.scalarInt("SELECT count(*) FROM t") == 0)
    }
}

@Suite struct TelemetryStoreTests {
    @Test func aNewStoreIsMigratedToTheCurrentVersionInWALMode() throws {
        let directory = try TemporaryDirectory()
        let store = try TelemetryStore(path: directory.file("t.sqlite"))
        #expect(try store.userVersion() == TelemetryStore.schemaVersion)
        let mode = try store.db.prepare("PRAGMA journal_mode")
        #expect(try mode.step())
        #expect(mode.text(0) == "wal")
        // Reopening does not migrate again.
        let again = try TelemetryStore(path: directory.file("t.sqlite"))
        #expect(try again.userVersion() == TelemetryStore.schemaVersion)
    }

    @Test func aStoreFromANewerVoicedIsRefused() throws {
        let directory = try TemporaryDirectory()
        do {
            let store = try TelemetryStore(path: directory.file("t.sqlite"))
            try store.db.execute("PRAGMA user_version = 99")
        }
        #expect(throws: TelemetryStoreError.newerSchema(found: 99, known: TelemetryStore.schemaVersion)) {
            _ = try TelemetryStore(path: directory.file("t.sqlite"))
        }
    }

    @Test func sequenceNumbersAreOneCounterAcrossTablesAndSurviveReopening() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("t.sqlite")
        var seqs: [Int64] = []
        do {
            let store = try TelemetryStore(path: path)
            try store.write { store in
                seqs.append(try store.upsert(SessionRow(id: "s1", label: "a", startedAt: 1)))
                seqs.append(try store.insert(Fixtures.sample(1)))
            }
        }
        let store = try TelemetryStore(path: path)
        try store.write { store in seqs.append(try store.insert(Fixtures.sample(2))) }
        #expect(seqs == [1, 2, 3])
    }

    @Test func aRolledBackWriteGivesItsSequenceNumbersBack() throws {
        let directory = try TemporaryDirectory()
        let store = try TelemetryStore(path: directory.file("t.sqlite"))
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try store.write { store in
                try store.insert(Fixtures.sample(1))
                throw Boom()
            }
        }
        let seq = try store.write { store in try store.insert(Fixtures.sample(2)) }
        #expect(seq == 1)
        #expect(try store.count("telemetry") == 1)
    }

    @Test func batchesComeInSequenceOrderAndCoverEverythingUpToTheirLastSequence() throws {
        let directory = try TemporaryDirectory()
        let store = try TelemetryStore(path: directory.file("t.sqlite"))
        try store.write { store in
            try store.upsert(SessionRow(id: "s1", label: "a", startedAt: 1))
            for n in 1...5 { try store.insert(Fixtures.sample(n)) }
        }
        let first = try store.nextBatch(limit: 4)
        #expect(first.count == 4)
        #expect(first.sessions.count == 1)
        #expect(first.samples.map(\.seq) == [2, 3, 4])
        #expect(first.throughSeq == 4)
        try store.markSynced(through: first.throughSeq)
        #expect(try store.pendingCount() == 2)
        let second = try store.nextBatch(limit: 4)
        #expect(second.samples.map(\.seq) == [5, 6])
        #expect(second.throughSeq == 6)
        #expect(first.hasMore)
        #expect(!second.hasMore)
    }

    @Test func syncedNeverMovesBackwards() throws {
        let directory = try TemporaryDirectory()
        let store = try TelemetryStore(path: directory.file("t.sqlite"))
        try store.markSynced(through: 10)
        try store.markSynced(through: 4)
        #expect(try store.syncedSeq() == 10)
    }

    @Test func anUpdatedSessionIsPendingAgainWithANewSequenceNumber() throws {
        let directory = try TemporaryDirectory()
        let store = try TelemetryStore(path: directory.file("t.sqlite"))
        var session = SessionRow(id: "s1", label: "a", startedAt: 1)
        try store.write { try $0.upsert(session) }
        try store.markSynced(through: try store.nextBatch(limit: 10).throughSeq)
        #expect(try store.pendingCount() == 0)
        session.endedAt = 99
        session.totalTurns = 3
        try store.write { try $0.upsert(session) }
        let batch = try store.nextBatch(limit: 10)
        #expect(batch.sessions == [SessionRow(id: "s1", seq: 2, label: "a", startedAt: 1, endedAt: 99, totalTurns: 3)])
        #expect(try store.count("sessions") == 1)
    }

    @Test func sequenceNumbersStayAboveTheSyncedMarkEvenWhenEveryRowWasEvicted() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("t.sqlite")
        do {
            let store = try TelemetryStore(path: path)
            try store.write { store in for n in 1...3 { try store.insert(Fixtures.sample(n)) } }
            try store.markSynced(through: 3)
            try store.db.execute("DELETE FROM telemetry")
        }
        let store = try TelemetryStore(path: path)
        let seq = try store.write { try $0.insert(Fixtures.sample(4)) }
        #expect(seq == 4)
        #expect(try store.pendingCount() == 1)
    }

    @Test func theSizeBoundRemovesSyncedRowsFirstThenUnsyncedSamplesAndKeepsUnsyncedTurns() throws {
        let directory = try TemporaryDirectory()
        let store = try TelemetryStore(path: directory.file("t.sqlite"))
        let builder = RowBuilder(originMillis: 0, makeID: { UUID().uuidString.lowercased() })
        let padding = String(repeating: "x", count: 300)
        // Old, uploaded: 400 samples. Then, not uploaded: 50 turns and 2,000 samples.
        try store.write { store in for n in 1...400 { try store.insert(Fixtures.sample(n, name: "old.\(padding)")) } }
        try store.markSynced(through: 400)
        try store.write { store in
            for n in 1...50 {
                let (turn, calls) = builder.turn(Fixtures.turn(n, userText: padding), sessionID: "s")
                try store.insert(turn)
                for call in calls { try store.insert(call) }
            }
            for n in 1...2000 { try store.insert(Fixtures.sample(n, name: "new.\(padding)")) }
        }
        let used = try store.usedBytes()
        // A bound that the turns fit in, but not all the samples.
        let limit = used / 3
        let report = try store.enforceSizeLimit(limit, chunk: 100)
        #expect(report.syncedRows == 400)
        #expect(report.unsyncedSamples > 0)
        #expect(report.unsyncedSamples < 2000)
        #expect(!report.stillOverLimit)
        #expect(try store.usedBytes() <= limit)
        #expect(try store.count("turns") == 50)
        #expect(try store.count("llm_calls") == 100)
        // The oldest unsynced samples went first: what is left is the newest.
        let remaining = try store.nextBatch(limit: 10_000).samples.map(\.value)
        #expect(remaining == remaining.sorted())
        #expect(remaining.last == 2000)
        #expect(try store.counter("evicted_unsynced_samples") == Int64(report.unsyncedSamples))
        // The file gave the pages back.
        let fileSize = (try FileManager.default.attributesOfItem(atPath: directory.file("t.sqlite"))[.size] as? Int) ?? 0
        #expect(Int64(fileSize) <= limit + limit / 2)
    }

    @Test func underTheBoundNothingIsRemoved() throws {
        let directory = try TemporaryDirectory()
        let store = try TelemetryStore(path: directory.file("t.sqlite"))
        try store.write { store in for n in 1...10 { try store.insert(Fixtures.sample(n)) } }
        #expect(try store.enforceSizeLimit(64 << 20).isEmpty)
        #expect(try store.db.scalarInt("PRAGMA auto_vacuum") == 2)  // INCREMENTAL
        #expect(try store.count("telemetry") == 10)
    }

    @Test func nonFiniteSamplesAreRefused() throws {
        let directory = try TemporaryDirectory()
        let store = try TelemetryStore(path: directory.file("t.sqlite"))
        var sample = Fixtures.sample(1)
        sample.value = .nan
        #expect(throws: TelemetryStoreError.nonFiniteValue("test.metric")) { try store.write { try $0.insert(sample) } }
    }
}

@Suite struct RowBuilderTests {
    @Test func wallClockTimeIsTheOriginPlusTheInstant() {
        let builder = RowBuilder(originMillis: Fixtures.originMillis, makeID: { "id" })
        let (turn, calls) = builder.turn(Fixtures.turn(3), sessionID: "s")
        #expect(turn.startedAt == Fixtures.originMillis + 3000)
        #expect(turn.completedAt == Fixtures.originMillis + 3900)
        #expect(turn.latencyMs == 700)
        #expect(calls.map(\.createdAt) == [Fixtures.originMillis + 3100, Fixtures.originMillis + 3100])
        #expect(calls.map(\.latencyMs) == [300, 300])
        #expect(calls.map(\.firstTokenMs) == [150, 150])
    }

    @Test func theStateHistoryIsJSONWithWallClockTimes() throws {
        let builder = RowBuilder(originMillis: 1000, makeID: { "id" })
        let (turn, _) = builder.turn(Fixtures.turn(1), sessionID: "s")
        let parsed = try JSONSerialization.jsonObject(with: Data(turn.statesJSON.utf8)) as? [[String: Any]]
        #expect(parsed?.count == 2)
        #expect(parsed?.first?["at"] as? Int == 2000)
        #expect(parsed?.first?["to"] as? String == "listening")
        #expect(parsed?.last?["cause"] as? String == "debounce_elapsed")
        let latencies = try JSONSerialization.jsonObject(with: Data(turn.latenciesJSON.utf8)) as? [String: Any]
        #expect(latencies?["speech_end_to_first_audio_ms"] as? Int == 700)
    }

    @Test func aSnapshotBecomesOneSamplePerKnownFigure() {
        let builder = RowBuilder(originMillis: 0, makeID: { "id" })
        var tracker = TelemetryTracker(sessionID: "s")
        tracker.recordCancellation(tokensWasted: 7)
        let samples = builder.samples(tracker.snapshot, sessionID: "s", at: .milliseconds(5))
        let names = Set(samples.map(\.name))
        #expect(names.contains("turns.cancellations"))
        #expect(names.contains("llm.tokens_wasted"))
        #expect(!names.contains("turns.latency_ms.mean"))  // unknown before the first completed turn
        #expect(samples.allSatisfy { $0.recordedAt == 5 })
    }
}
