import Foundation
import Testing
import VoiceCore
import VoiceTesting
@testable import VoiceTelemetry

@Suite struct BackoffTests {
    @Test func delaysDoubleFromOneSecondUpToFiveMinutes() {
        let backoff = Backoff()
        let delays = (1...11).map { backoff.delay(afterFailures: $0, random: 0) }
        #expect(delays == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300].map { Duration.seconds($0) })
    }

    @Test func jitterStretchesADelayByAtMostAFifthAndNeverPastTheCap() {
        let backoff = Backoff()
        #expect(backoff.delay(afterFailures: 1, random: 0.999) < .milliseconds(1200))
        #expect(backoff.delay(afterFailures: 1, random: 0.5) == .milliseconds(1100))
        #expect(backoff.delay(afterFailures: 30, random: 0.999) == .seconds(300))
    }
}

@Suite struct SyncScheduleTests {
    func schedule(now: VoiceInstant = .zero) -> SyncSchedule {
        SyncSchedule(minBatch: 500, flushInterval: .seconds(5), pollInterval: .seconds(1), backoff: Backoff(), now: now)
    }

    @Test func whatIsPendingAtStartGoesUpAtOnce() {
        #expect(schedule().decide(pending: 1, now: .zero) == .upload)
    }

    @Test func aFullBatchGoesUpAtOnceAndASmallOneWaitsForTheFlushInterval() {
        var s = schedule()
        s.uploaded(now: .milliseconds(10_000))
        #expect(s.decide(pending: 500, now: .milliseconds(10_100)) == .upload)
        #expect(s.decide(pending: 3, now: .milliseconds(10_100)) == .wait(until: .milliseconds(11_100)))
        #expect(s.decide(pending: 3, now: .milliseconds(14_500)) == .wait(until: .milliseconds(15_000)))
        #expect(s.decide(pending: 3, now: .milliseconds(15_000)) == .upload)
        #expect(s.decide(pending: 0, now: .milliseconds(20_000)) == .wait(until: .milliseconds(21_000)))
    }

    @Test func afterAFullBatchTheRestOfABackfillGoesUpAtOnce() {
        var s = schedule()
        s.uploaded(now: .milliseconds(10000), more: true)
        #expect(s.decide(pending: 3, now: .milliseconds(10000)) == .upload)
    }

    @Test func failuresBackOffAndASuccessResets() {
        var s = schedule()
        #expect(s.failed(now: .zero, random: 0) == .seconds(1))
        #expect(s.decide(pending: 10_000, now: .milliseconds(500)) == .wait(until: .milliseconds(1000)))
        #expect(s.decide(pending: 1, now: .milliseconds(1000)) == .upload)  // retries whatever is pending
        #expect(s.failed(now: .milliseconds(1000), random: 0) == .seconds(2))
        #expect(s.failed(now: .milliseconds(3000), random: 0) == .seconds(4))
        s.uploaded(now: .milliseconds(7000))
        #expect(!s.isBackingOff)
        #expect(s.failed(now: .milliseconds(8000), random: 0) == .seconds(1))
    }
}

@Suite struct PayloadTests {
    @Test func stringsAreEscapedAndNULCannotReachPostgres() throws {
        let text = "quote \" backslash \\ newline \n tab \t bell \u{7} nul \u{0} é 🎵"
        let json = JSONText.string(text)
        #expect(!json.contains("\\u0000"))
        let decoded = try JSONSerialization.jsonObject(with: Data("[\(json)]".utf8)) as? [String]
        #expect(decoded?.first == text.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}"))
    }

    @Test func aBatchIsOneJSONArrayPerTable() throws {
        let builder = RowBuilder(originMillis: 0, makeID: { UUID().uuidString.lowercased() })
        let (turn, calls) = builder.turn(Fixtures.turn(1, userText: "say \"hi\""), sessionID: "s")
        let batch = SyncBatch(sessions: [SessionRow(id: "s", seq: 1, label: "l", startedAt: 5)], turns: [turn],
                              llmCalls: calls, samples: [Fixtures.sample(1)], throughSeq: 9)
        let payload = UpstreamPayload.arrays(batch)
        func parse(_ text: String) throws -> [[String: Any]] {
            try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
        }
        #expect(try parse(payload.sessions).count == 1)
        #expect(try parse(payload.sessions).first?["ended_ms"] is NSNull)
        #expect(try parse(payload.turns).first?["user_text"] as? String == "say \"hi\"")
        #expect((try parse(payload.turns).first?["states"] as? [Any])?.count == 2)
        #expect(try parse(payload.llmCalls).count == 2)
        #expect(try parse(payload.telemetry).first?["value"] as? Double == 1)
        #expect(try parse(UpstreamPayload.arrays(SyncBatch(throughSeq: 0)).turns).isEmpty)
    }
}

@Suite struct UpstreamConfigurationTests {
    @Test func verifyFullIsTheDefaultAndTheURLMayOverrideIt() throws {
        let configuration = PostgresUpstreamConfiguration(url: "postgresql://d@db/voiced?sslmode=require")
        let parameters = try configuration.connectionParameters(environment: [:])
        let keys = parameters.map(\.0)
        #expect(parameters.first { $0.0 == "sslmode" }?.1 == "verify-full")
        #expect(parameters.first { $0.0 == "sslrootcert" }?.1 == "/etc/ssl/certs/ca-certificates.crt")
        // libpq takes the last value of a keyword: the URL (dbname) comes after our defaults.
        let dbname = try #require(keys.firstIndex(of: "dbname"))
        #expect(dbname > (keys.firstIndex(of: "sslmode") ?? .max))
        #expect(!keys.contains("password"))
    }

    @Test func thePasswordComesFromTheSystemdCredentialAndOverridesTheURL() throws {
        let directory = try TemporaryDirectory()
        try "s3cret\n".write(toFile: directory.file("postgres_password"), atomically: true, encoding: .utf8)
        let configuration = PostgresUpstreamConfiguration(url: "postgresql://d:old@db/voiced")
        let parameters = try configuration.connectionParameters(environment: ["CREDENTIALS_DIRECTORY": directory.path])
        #expect(parameters.last?.0 == "password")
        #expect(parameters.last?.1 == "s3cret")
    }

    @Test func aMissingCredentialIsNoPassword() throws {
        let directory = try TemporaryDirectory()
        #expect(try SystemdCredentials.read("nope", environment: ["CREDENTIALS_DIRECTORY": directory.path]) == nil)
        #expect(try SystemdCredentials.read("nope", environment: [:]) == nil)
        #expect(throws: TelemetrySyncError.badCredentialName("../x")) {
            try SystemdCredentials.read("../x", environment: ["CREDENTIALS_DIRECTORY": directory.path])
        }
    }
}

@Suite(.timeLimit(.minutes(1))) struct TelemetrySyncTests {
    func makeStore(_ directory: TemporaryDirectory, samples: Int) throws -> String {
        let path = directory.file("t.sqlite")
        let store = try TelemetryStore(path: path)
        try store.write { store in for n in 1...samples { try store.insert(Fixtures.sample(n)) } }
        return path
    }

    @Test func rowsAreMarkedSyncedOnlyAfterTheUpstreamAcceptedThem() async throws {
        let directory = try TemporaryDirectory()
        let path = try makeStore(directory, samples: 30)
        let upstream = FakeUpstream()
        var configuration = TelemetrySyncConfiguration(databasePath: path)
        configuration.maxBatch = 10
        let sync = try TelemetrySync(configuration: configuration, upstream: upstream, clock: ManualClock())

        upstream.online = false
        await #expect(throws: PostgresError.self) { try await sync.uploadBatch() }
        #expect(try await sync.pendingCount() == 30)

        upstream.online = true
        #expect(try await sync.drain() == 30)
        #expect(upstream.batches.map(\.count) == [10, 10, 10])
        #expect(try await sync.pendingCount() == 0)
        #expect(upstream.rowCount == 30)
        #expect(sync.statistics.failedAttempts == 1)
    }

    @Test func theServiceBacksOffWhileOfflineThenBackfills() async throws {
        let directory = try TemporaryDirectory()
        let path = try makeStore(directory, samples: 1200)
        let upstream = FakeUpstream()
        upstream.online = false
        let clock = RecordingClock()
        var configuration = TelemetrySyncConfiguration(databasePath: path)
        configuration.maxBatch = 500
        let sync = try TelemetrySync(configuration: configuration, upstream: upstream, clock: clock, random: { 0 })
        let service = Task { try await sync.run() }

        // The first attempt (at 0) fails; the service sleeps until 1 s.
        #expect(await eventually { clock.deadlines.last == .milliseconds(1000) })
        #expect(upstream.attempts == 1)
        clock.advance(to: .milliseconds(999))
        #expect(upstream.attempts == 1)
        clock.advance(to: .milliseconds(1000))
        // The second fails too: two seconds more.
        #expect(await eventually { clock.deadlines.last == .milliseconds(3000) })
        #expect(upstream.attempts == 2)

        upstream.online = true
        clock.advance(to: .milliseconds(3000))
        #expect(await eventually { upstream.rowCount == 1200 })
        #expect(upstream.batches.map(\.count) == [500, 500, 200])
        #expect(await eventually { (try? await sync.pendingCount()) == 0 })

        service.cancel()
        clock.advance(to: .milliseconds(100_000))  // the manual clock's sleep wakes only when it moves
        try await service.value
    }

    @Test func aRestartedSyncResumesAfterTheLastCommittedBatch() async throws {
        let directory = try TemporaryDirectory()
        let path = try makeStore(directory, samples: 25)
        let upstream = FakeUpstream()
        var configuration = TelemetrySyncConfiguration(databasePath: path)
        configuration.maxBatch = 10
        do {
            let sync = try TelemetrySync(configuration: configuration, upstream: upstream, clock: ManualClock())
            #expect(try await sync.uploadBatch() == 10)
        }
        let restarted = try TelemetrySync(configuration: configuration, upstream: upstream, clock: ManualClock())
        #expect(try await restarted.drain() == 15)
        #expect(upstream.receipts.values.allSatisfy { $0 == 1 })
        #expect(upstream.rowCount == 25)
    }
}
