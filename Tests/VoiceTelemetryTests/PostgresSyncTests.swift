import Foundation
import Synchronization
import Testing
import VoiceCore
import VoiceTesting
@testable import VoiceTelemetry

/// A database of its own on the throwaway server that scripts/with-postgres.sh starts, with the
/// central schema applied by scripts/db-migrate.sh.
struct TestDatabase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    let name: String
    let server: URLComponents

    /// Fails the test (never skips it) when the server is missing.
    static func create() throws -> TestDatabase {
        let url = try #require(
            ProcessInfo.processInfo.environment["VOICED_TEST_POSTGRES_URL"],
            "VOICED_TEST_POSTGRES_URL is not set: run the tests through scripts/with-postgres.sh, e.g. `scripts/with-postgres.sh swift test`")
        let server = try #require(URLComponents(string: url), "VOICED_TEST_POSTGRES_URL is not a URL")
        let database = TestDatabase(name: "t_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: ""),
                                    server: server)
        let admin = try PostgresConnection(url: url)
        try admin.execute("CREATE DATABASE \(database.name)")
        let migrate = try run("/bin/bash", [repository + "/scripts/db-migrate.sh", database.adminURL])
        try #require(migrate.status == 0, "db-migrate.sh failed: \(migrate.output)")
        return database
    }

    /// The superuser's URL to this database.
    var adminURL: String { url(user: server.user ?? "postgres", password: server.password) }

    func url(user: String, password: String?, rootCertificate: String? = nil) -> String {
        var components = server
        components.user = user
        components.password = password
        components.path = "/" + name
        if let rootCertificate {
            components.queryItems = (components.queryItems ?? []).filter { $0.name != "sslrootcert" }
                + [URLQueryItem(name: "sslrootcert", value: rootCertificate)]
        }
        return components.string ?? ""
    }

    func admin() throws -> PostgresConnection { try PostgresConnection(url: adminURL) }

    /// A provisioned device: its role, password and upstream URL.
    struct Device {
        var id: String
        var role: String
        var password: String
        var url: String
    }

    func provisionDevice(_ label: String = "device") throws -> Device {
        let role = "\(label)_\(UUID().uuidString.prefix(8).lowercased())"
        let password = UUID().uuidString
        let id = try admin().execute("SELECT voiced.provision_device($1, $2, $3)", [role, label, password]).value(0, 0)
        return Device(id: try #require(id), role: role, password: password, url: url(user: role, password: password))
    }

    /// The ids upstream of `table` for `device`, with duplicates (there must be none).
    func ids(_ table: String, device: Device) throws -> [String] {
        try admin().execute("SELECT id::text FROM voiced.\(table) WHERE device_id = $1", [device.id]).firstColumn
    }

    func count(_ table: String, device: Device) throws -> Int { try ids(table, device: device).count }

    @discardableResult
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws
        -> (status: Int32, output: String)
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

func upstream(_ url: String) -> PostgresUpstreamConfiguration {
    var configuration = PostgresUpstreamConfiguration(url: url)
    configuration.rootCertificatePath = nil  // the URL names the test CA
    configuration.passwordCredential = nil
    return configuration
}

/// A real upstream that can be cut off, as a network would be.
final class SwitchableUpstream: TelemetryUpstream, @unchecked Sendable {
    // @unchecked: `online` is atomic; `inner` is used by the sync's worker only.
    let inner: PostgresUpstream
    let online = Atomic<Bool>(false)
    let attempts = Atomic<Int>(0)

    init(_ inner: PostgresUpstream) { self.inner = inner }

    func upload(_ batch: SyncBatch) throws {
        attempts.add(1, ordering: .relaxed)
        guard online.load(ordering: .relaxed) else {
            throw PostgresError(kind: .connection, message: "network down", sqlState: nil)
        }
        try inner.upload(batch)
    }

    func disconnect() { inner.disconnect() }
}

/// Against a real PostgreSQL on loopback: run through scripts/with-postgres.sh.
@Suite(.serialized, .timeLimit(.minutes(3))) struct PostgresSyncTests {
    func writeDay(_ path: String, turns: Int, samplesPerTurn: Int = 3) async throws {
        let writer = try TelemetryWriter(configuration: TelemetryWriterConfiguration(databasePath: path), origin: Fixtures.origin)
        writer.start()
        writer.sessionStarted("day", at: .zero)
        for n in 1...turns {
            writer.turnFinished(Fixtures.turn(n, calls: 4), sessionID: "day")
            for k in 0..<samplesPerTurn { writer.sample("level", value: Double(k), sessionID: "day", at: .milliseconds(Int64(n) * 1000)) }
        }
        await writer.stop()
    }

    @Test func everyTableIsSyncedWithItsValues() async throws {
        let db = try TestDatabase.create()
        let device = try db.provisionDevice()
        let directory = try TemporaryDirectory()
        let path = directory.file("t.sqlite")
        let writer = try TelemetryWriter(configuration: TelemetryWriterConfiguration(databasePath: path), origin: Fixtures.origin)
        writer.start()
        writer.sessionStarted("kitchen", at: .zero)
        writer.turnFinished(Fixtures.turn(1, calls: 3, userText: "it's \"quoted\", \\ and ünïcode 🎵\nnext line"), sessionID: "kitchen")
        writer.turnFinished(Fixtures.turn(2, calls: 1), sessionID: "kitchen")
        var tracker = TelemetryTracker(sessionID: "kitchen")
        tracker.recordCancellation(tokensWasted: 4)
        writer.snapshot(tracker.snapshot, at: .milliseconds(2500))
        writer.debounceChanged(to: .milliseconds(550), sessionID: "kitchen", at: .milliseconds(2600))
        writer.sessionEnded("kitchen", at: .milliseconds(5000))
        await writer.stop()

        let sync = try TelemetrySync(configuration: .init(databasePath: path), postgres: upstream(device.url), clock: ManualClock())
        let local = try TelemetryStore(path: path)
        let pending = try local.pendingCount()
        #expect(try await sync.drain() == pending)

        let admin = try db.admin()
        let session = try admin.execute("""
            SELECT label, (extract(epoch FROM started_at) * 1000)::bigint, (extract(epoch FROM ended_at) * 1000)::bigint, total_turns
            FROM voiced.sessions WHERE device_id = $1
            """, [device.id])
        #expect(session.rowCount == 1)
        #expect(session.value(0, 0) == "kitchen")
        #expect(session.value(0, 1) == String(Fixtures.originMillis))
        #expect(session.value(0, 2) == String(Fixtures.originMillis + 5000))
        #expect(session.value(0, 3) == "2")

        let turns = try admin.execute("""
            SELECT user_text, jsonb_array_length(states), (extract(epoch FROM started_at) * 1000)::bigint, latency_ms, status
            FROM voiced.turns WHERE device_id = $1 ORDER BY turn_number
            """, [device.id])
        #expect(turns.rowCount == 2)
        #expect(turns.value(0, 0) == "it's \"quoted\", \\ and ünïcode 🎵\nnext line")
        #expect(turns.value(0, 1) == "2")
        #expect(turns.value(0, 2) == String(Fixtures.originMillis + 1000))
        #expect(turns.value(0, 3) == "700")
        #expect(turns.value(0, 4) == "completed")
        #expect(try db.count("llm_calls", device: device) == 4)
        let debounce = try admin.execute(
            "SELECT value FROM voiced.telemetry WHERE device_id = $1 AND name = 'debounce_ms'", [device.id])
        #expect(debounce.firstColumn == ["550"])
        let localSamples = try local.count("telemetry")
        #expect(try db.count("telemetry", device: device) == localSamples)

        // The fleet view: one day, two turns, one cancellation against two answered turns.
        let daily = try admin.execute(
            "SELECT turns, llm_calls, cancellations, round(cancellation_rate::numeric, 3) FROM voiced.fleet_daily WHERE device_id = $1",
            [device.id])
        #expect(daily.rowCount == 1)
        #expect(daily.value(0, 0) == "2")
        #expect(daily.value(0, 1) == "4")
        #expect(daily.value(0, 2) == "2")
        #expect(daily.value(0, 3) == "0.500")
    }

    @Test func aRestartedSyncResumesWhereItStopped() async throws {
        let db = try TestDatabase.create()
        let device = try db.provisionDevice()
        let directory = try TemporaryDirectory()
        let path = directory.file("t.sqlite")
        try await writeDay(path, turns: 150)  // 151 session versions collapse to 1: 1 + 150 + 600 + 450 rows
        var configuration = TelemetrySyncConfiguration(databasePath: path)
        configuration.maxBatch = 500
        let local = try TelemetryStore(path: path)
        let total = try local.pendingCount()
        #expect(total == 1201)
        var first = 0
        do {
            let sync = try TelemetrySync(configuration: configuration, postgres: upstream(device.url), clock: ManualClock())
            first = try await sync.uploadBatch()
        }
        #expect(first > 400 && first <= 500)
        #expect(try local.pendingCount() == total - first)
        let restarted = try TelemetrySync(configuration: configuration, postgres: upstream(device.url), clock: ManualClock())
        #expect(try await restarted.drain() == total - first)
        for table in TelemetryStore.tables {
            let ids = try db.ids(table, device: device)
            #expect(ids.count == Set(ids).count)
            #expect(Set(ids) == Set(try local.allIDs(table)), "table \(table)")
        }
    }

    @Test func reuploadingAnAlreadySyncedBatchCreatesNoDuplicates() async throws {
        let db = try TestDatabase.create()
        let device = try db.provisionDevice()
        let directory = try TemporaryDirectory()
        let path = directory.file("t.sqlite")
        try await writeDay(path, turns: 20)
        let sync = try TelemetrySync(configuration: .init(databasePath: path), postgres: upstream(device.url), clock: ManualClock())
        let total = try await sync.drain()
        let before = try TelemetryStore.tables.map { try db.count($0, device: device) }

        // A crash after the upstream commit but before the local mark: the whole batch goes again.
        let local = try TelemetryStore(path: path)
        try local.db.execute("UPDATE meta SET value = 0 WHERE key = 'synced_seq'")
        #expect(try await sync.drain() == total)
        // And the same batch object twice, straight to the server.
        try local.db.execute("UPDATE meta SET value = 0 WHERE key = 'synced_seq'")
        let batch = try local.nextBatch(limit: 10_000)
        let direct = PostgresUpstream(configuration: upstream(device.url))
        try direct.upload(batch)
        try direct.upload(batch)

        let after = try TelemetryStore.tables.map { try db.count($0, device: device) }
        #expect(after == before)
        #expect(after.reduce(0, +) == total)
    }

    @Test func offlineRowsAreBackfilledWhenTheServerComesBack() async throws {
        let db = try TestDatabase.create()
        let device = try db.provisionDevice()
        let directory = try TemporaryDirectory()
        let path = directory.file("t.sqlite")
        try await writeDay(path, turns: 100)
        let pending = try TelemetryStore(path: path).pendingCount()

        // Nothing listens on port 1: a real connection failure, and nothing is marked synced.
        var unreachable = upstream("postgresql://\(device.role)@127.0.0.1:1/\(db.name)?sslmode=disable")
        unreachable.connectTimeoutSeconds = 2
        let offline = try TelemetrySync(configuration: .init(databasePath: path), postgres: unreachable, clock: ManualClock())
        let error = await #expect(throws: PostgresError.self) { try await offline.uploadBatch() }
        #expect(error?.kind == .connection)
        #expect(try await offline.pendingCount() == pending)

        // The service backs off while the network is down, then backfills everything.
        let clock = RecordingClock()
        let link = SwitchableUpstream(PostgresUpstream(configuration: upstream(device.url)))
        var configuration = TelemetrySyncConfiguration(databasePath: path)
        configuration.maxBatch = 200
        let sync = try TelemetrySync(configuration: configuration, upstream: link, clock: clock, random: { 0 })
        let service = Task { try await sync.run() }
        // Each time, wait until the service sleeps before moving time (1 s, then 2 s more).
        #expect(await eventually { clock.deadlines.last == .milliseconds(1000) })
        clock.advance(to: .milliseconds(1000))
        #expect(await eventually { clock.deadlines.last == .milliseconds(3000) })
        #expect(link.attempts.load(ordering: .relaxed) == 2)
        #expect(try db.count("turns", device: device) == 0)
        link.online.store(true, ordering: .relaxed)
        clock.advance(to: .milliseconds(3000))
        #expect(await eventually(seconds: 30) { (try? await sync.pendingCount()) == 0 })
        service.cancel()
        clock.advance(to: .milliseconds(100_000))
        try await service.value
        let uploaded = try TelemetryStore.tables.map { try db.count($0, device: device) }.reduce(0, +)
        #expect(uploaded == pending)
    }

    @Test func aDeviceCanAddItsOwnRowsAndNothingElse() async throws {
        let db = try TestDatabase.create()
        let kitchen = try db.provisionDevice("kitchen")
        let hall = try db.provisionDevice("hall")
        let directory = try TemporaryDirectory()
        let path = directory.file("t.sqlite")
        try await writeDay(path, turns: 3)
        let batch = try TelemetryStore(path: path).nextBatch(limit: 1000)
        try PostgresUpstream(configuration: upstream(kitchen.url)).upload(batch)

        let device = try PostgresConnection(url: hall.url)
        func denied(_ sql: String, _ sourceLocation: SourceLocation = #_sourceLocation) {
            let error = #expect(throws: PostgresError.self, sourceLocation: sourceLocation) { try device.execute(sql) }
            #expect(error?.sqlState == "42501", "\(sql): \(error?.message ?? "")", sourceLocation: sourceLocation)
        }
        denied("SELECT count(*) FROM voiced.turns")
        denied("SELECT * FROM voiced.telemetry WHERE device_id = '\(kitchen.id)'")
        denied("SELECT * FROM voiced.devices")
        denied("SELECT * FROM voiced.fleet_daily")
        denied("UPDATE voiced.turns SET status = 'x'")
        denied("UPDATE voiced.sessions SET total_turns = 0 WHERE device_id = '\(hall.id)'")
        denied("DELETE FROM voiced.telemetry")
        denied("DELETE FROM voiced.sessions WHERE device_id = '\(hall.id)'")
        denied("INSERT INTO voiced.telemetry (device_id, id, seq, name, value, recorded_at) VALUES ('\(kitchen.id)', gen_random_uuid(), 1, 'x', 1, now())")
        denied("CREATE TEMP TABLE staging (x int)")
        denied("CREATE TABLE public.mine (x int)")
        denied("SELECT voiced.provision_device('evil', 'evil')")

        // The same row ids sent by the hall land as the hall's rows; the kitchen's are untouched.
        var forged = batch
        forged.turns = forged.turns.map { var t = $0; t.userText = "forged"; return t }
        try PostgresUpstream(configuration: upstream(hall.url)).upload(forged)
        let texts = try db.admin().execute(
            "SELECT DISTINCT user_text FROM voiced.turns WHERE device_id = $1", [kitchen.id]).firstColumn
        #expect(!texts.contains("forged"))
        #expect(try db.count("turns", device: hall) == 3)

        // A role in voiced_device that was never provisioned (or was disabled) cannot ingest.
        try db.admin().execute("UPDATE voiced.devices SET disabled = true WHERE device_id = $1", [hall.id])
        let refused = #expect(throws: PostgresError.self) { try PostgresUpstream(configuration: upstream(hall.url)).upload(batch) }
        #expect(refused?.sqlState == "42501")
    }

    @Test func theServerCertificateIsVerified() throws {
        let db = try TestDatabase.create()
        let device = try db.provisionDevice()
        // The system's CAs did not sign the test server's certificate.
        let wrongCA = db.url(user: device.role, password: device.password, rootCertificate: "/etc/ssl/certs/ca-certificates.crt")
        let error = #expect(throws: PostgresError.self) { _ = try PostgresConnection(url: wrongCA) }
        #expect(error?.kind == .connection)
        #expect(error?.message.contains("certificate") == true)
        // verify-full is what the daemon asks for when the URL says nothing: with the system's
        // CAs the test server is refused, with the test CA it is accepted, over TLS.
        var bare = db.server
        bare.user = device.role
        bare.password = device.password
        bare.path = "/" + db.name
        bare.queryItems = nil
        var configuration = PostgresUpstreamConfiguration(url: bare.string ?? "")
        configuration.passwordCredential = nil
        #expect(throws: PostgresError.self) {
            _ = try PostgresConnection(parameters: try configuration.connectionParameters(environment: [:]))
        }
        configuration.rootCertificatePath = ProcessInfo.processInfo.environment["VOICED_TEST_POSTGRES_CA"]
        let connection = try PostgresConnection(parameters: try configuration.connectionParameters(environment: [:]))
        #expect(try connection.execute("SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()").value(0, 0) == "true")
    }

    @Test func theProvisioningScriptMakesADeviceThatCanUpload() async throws {
        let db = try TestDatabase.create()
        let role = "script_\(UUID().uuidString.prefix(8).lowercased())"
        let result = try TestDatabase.run("/bin/bash", [TestDatabase.repository + "/scripts/db-provision-device.sh", db.adminURL, role, "Script"])
        try #require(result.status == 0, "\(result.output)")
        let password = try #require(result.output.split(separator: "\n").first { $0.hasPrefix("password=") }?.dropFirst(9))
        let id = try #require(result.output.split(separator: "\n").first { $0.hasPrefix("device_id=") }?.dropFirst(10))
        let directory = try TemporaryDirectory()
        try await writeDay(directory.file("t.sqlite"), turns: 2)
        let batch = try TelemetryStore(path: directory.file("t.sqlite")).nextBatch(limit: 100)
        try PostgresUpstream(configuration: upstream(db.url(user: role, password: String(password)))).upload(batch)
        let device = TestDatabase.Device(id: String(id), role: role, password: String(password), url: "")
        #expect(try db.count("turns", device: device) == 2)
        // Migrations are idempotent: a second run applies nothing.
        let again = try TestDatabase.run("/bin/bash", [TestDatabase.repository + "/scripts/db-migrate.sh", db.adminURL])
        #expect(again.output.contains("0 migration(s) applied"))
    }

    /// The crash test: a helper process writes turns and samples through the writer service and
    /// syncs them, and is killed with SIGKILL at random moments, ten times. Afterwards every row it
    /// reported committed is in the local store, and upstream holds exactly the local rows, once.
    @Test func killingTheWriterAndTheSyncLosesNothingAndDuplicatesNothing() async throws {
        let db = try TestDatabase.create()
        let device = try db.provisionDevice()
        let directory = try TemporaryDirectory()
        let path = directory.file("crash.sqlite")
        // The password reaches the helper as the daemon's does: a systemd credential.
        let credentials = directory.file("credentials")
        try FileManager.default.createDirectory(atPath: credentials, withIntermediateDirectories: true)
        try device.password.write(toFile: credentials + "/postgres_password", atomically: true, encoding: .utf8)
        var environment = ProcessInfo.processInfo.environment
        environment["CREDENTIALS_DIRECTORY"] = credentials
        let url = db.url(user: device.role, password: nil)
        let tool = try toolPath()

        var reported: [String: Set<String>] = [:]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<10 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: tool)
            process.arguments = ["crash-writer", "--db", path, "--postgres-url", url]
            process.environment = environment
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let reader = Task.detached { pipe.fileHandleForReading.readDataToEndOfFile() }
            try await Task.sleep(for: .milliseconds(Int.random(in: 150...450, using: &generator)))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal)
            let output = String(decoding: await reader.value, as: UTF8.self)
            // Only whole lines count: the last one may have been cut by the kill.
            for line in output.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
                let parts = line.split(separator: " ")
                guard parts.count == 3, parts[0] == "C" else { continue }
                reported[String(parts[1]), default: []].insert(String(parts[2]))
            }
        }
        let syncedMidway = try TelemetryStore.tables.map { try db.count($0, device: device) }.reduce(0, +)
        #expect((reported["turns"]?.count ?? 0) > 0)
        #expect(syncedMidway > 0, "the helper never synced before it was killed")

        print("crash test: 10 SIGKILLs; \(reported.values.map(\.count).reduce(0, +)) rows reported committed, "
            + "\(syncedMidway) uploaded before the final drain")
        let drain = try TestDatabase.run(tool, ["sync-drain", "--db", path, "--postgres-url", url], environment: environment)
        try #require(drain.status == 0, "\(drain.output)")

        let local = try TelemetryStore(path: path)
        #expect(try local.pendingCount() == 0)
        for table in TelemetryStore.tables {
            let localIDs = Set(try local.allIDs(table))
            let missing = (reported[table] ?? []).subtracting(localIDs)
            #expect(missing.isEmpty, "\(table): \(missing.count) committed rows missing locally")
            let upstreamIDs = try db.ids(table, device: device)
            #expect(upstreamIDs.count == Set(upstreamIDs).count, "\(table): duplicates upstream")
            #expect(Set(upstreamIDs) == localIDs, "\(table): upstream differs from the local store")
        }
    }

    /// The helper built beside this test bundle (`swift build` builds both).
    func toolPath() throws -> String {
        if let path = ProcessInfo.processInfo.environment["VOICED_TELEMETRY_TOOL"] { return path }
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        var directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
        // The test binary may sit inside a bundle directory.
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("voiced-telemetry-tool").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory.deleteLastPathComponent()
        }
        Issue.record("voiced-telemetry-tool not found beside \(executable); run `swift build` first")
        throw CancellationError()
    }
}
