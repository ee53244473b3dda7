import Foundation
import Testing
import VoiceCore
import VoiceTesting
@testable import VoiceTelemetry

/// A session's end reaches the fleet even when the session was uploaded while it ran.
@Suite(.serialized, .timeLimit(.minutes(3))) struct PostgresSessionEndTests {
    @Test func theEndOfASessionAlreadyUploadedIsUploadedOnceWhetherCleanOrCrashed() async throws {
        let database = try TestDatabase.create()
        let device = try database.provisionDevice("ends")
        let dir = try TemporaryDirectory()
        let config = TelemetryWriterConfiguration(databasePath: dir.file("t.sqlite"))
        let up = PostgresUpstream(configuration: upstream(device.url))
        let store = try TelemetryStore(path: config.databasePath)
        func sync() throws {
            let batch = try store.nextBatch(limit: 5000)
            try up.upload(batch)
            try store.markSynced(through: batch.throughSeq)
        }
        func session(_ label: String) throws -> [String?] {
            let result = try database.admin().execute("""
                SELECT status, (extract(epoch FROM ended_at) * 1000)::bigint::text, total_turns::text
                FROM voiced.sessions WHERE device_id = $1 AND label = $2
                """, [device.id, label])
            #expect(result.rowCount == 1, "session \(label) upstream \(result.rowCount) times")
            return [result.value(0, 0), result.value(0, 1), result.value(0, 2)]
        }

        // A run that crashes after one turn; uploaded while it ran.
        let first = try TelemetryWriter(configuration: config, origin: Fixtures.origin)
        first.sessionStarted("crashing", at: .zero)
        first.turnFinished(Fixtures.turn(1), sessionID: "crashing")
        await first.stop()
        let stale = try store.nextBatch(limit: 5000)
        try sync()
        #expect(try session("crashing") == ["open", nil, "1"])

        // The next start closes it as crashed; that run ends cleanly.
        let commits = AsyncStream<Void>.makeStream()
        let second = try TelemetryWriter(configuration: config, origin: Fixtures.origin.addingTimeInterval(60),
                                         onCommit: { _ in commits.continuation.yield() })
        var committed = commits.stream.makeAsyncIterator()
        second.start()
        second.sessionStarted("clean", at: .zero)
        _ = await committed.next()
        try sync()                                                     // "clean" is uploaded open...
        #expect(try session("clean") == ["open", nil, "0"])
        second.sessionEnded("clean", at: .milliseconds(4000))
        await second.stop()
        try sync()                                                     // ...then its end

        #expect(try session("crashing") == ["crashed", String(Fixtures.originMillis + 1900), "1"])
        #expect(try session("clean") == ["ended", String(Fixtures.originMillis + 64_000), "0"])
        // A stale re-upload (a crash between upload and markSynced) changes nothing.
        try up.upload(stale)
        #expect(try session("crashing") == ["crashed", String(Fixtures.originMillis + 1900), "1"])
        #expect(try database.count("sessions", device: device) == 2)
        #expect(try database.count("turns", device: device) == 1)
    }
}
