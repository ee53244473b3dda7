// voiced-telemetry-tool: the telemetry store's crash-test writer and its benchmark.
//
//   voiced-telemetry-tool crash-writer --db PATH [--postgres-url URL]
//       Writes turns and samples through the real writer service (and syncs them when a URL
//       is given) until killed. After each COMMIT returns it prints `C <table> <uuid>` per row.
//   voiced-telemetry-tool sync-drain --db PATH --postgres-url URL
//       Uploads everything pending, prints `drained <rows>` and exits.
//   voiced-telemetry-tool bench --db-dir DIR --postgres-url URL [--turns N] [--calls N] [--samples N]
//       A busy day written locally, then synced; prints rows per second (release build).
//
// A URL may leave out the password: it is then read from the systemd credential
// `postgres_password` in $CREDENTIALS_DIRECTORY, as in the daemon.
import Foundation
import Logging
import VoiceCore
import VoiceTelemetry

struct Arguments {
    var command: String
    var options: [String: String] = [:]

    init(_ argv: [String]) throws {
        guard argv.count >= 2 else { throw ToolError.usage }
        command = argv[1]
        var index = 2
        while index < argv.count {
            let key = argv[index]
            guard key.hasPrefix("--"), index + 1 < argv.count else { throw ToolError.usage }
            options[String(key.dropFirst(2))] = argv[index + 1]
            index += 2
        }
    }

    func string(_ key: String) throws -> String {
        guard let value = options[key] else { throw ToolError.missing(key) }
        return value
    }

    func int(_ key: String, default value: Int) throws -> Int {
        guard let text = options[key] else { return value }
        guard let number = Int(text) else { throw ToolError.missing(key) }
        return number
    }
}

enum ToolError: Error, CustomStringConvertible {
    case usage
    case missing(String)
    case failed(String)

    var description: String {
        switch self {
        case .usage: "usage: voiced-telemetry-tool crash-writer|sync-drain|bench --option value ..."
        case .missing(let key): "missing or bad --\(key)"
        case .failed(let message): message
        }
    }
}

/// Writes `text` to stdout with one write(2), unbuffered: what was printed is in the pipe even if
/// the process is killed the next instant.
func emit(_ text: String) {
    var bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeMutableBytes { buffer -> Int in
            guard let base = buffer.baseAddress else { return -1 }
            return write(1, base + offset, buffer.count - offset)
        }
        if written <= 0 { return }
        offset += written
    }
}

func upstream(_ url: String) -> PostgresUpstreamConfiguration {
    var configuration = PostgresUpstreamConfiguration(url: url)
    // The URL names the test CA (sslrootcert) and sslmode=verify-full itself.
    configuration.rootCertificatePath = nil
    return configuration
}

/// Synthetic but realistic records: 4 LLM calls per turn (3 cancelled speculations and the answer).
struct SyntheticTurns {
    let userTexts = ["what's the weather like tomorrow", "set a timer for \"ten\" minutes", "play some jazz\nplease",
                     "wie spät ist es?", "remind me to call mom \\ at six"]

    func turn(_ n: Int, at start: VoiceInstant) -> TurnRecord {
        let calls = (1...4).map { call in
            LLMCallRecord(
                call: n * 4 + call, status: call < 4 ? .canceled : .completed, reason: call < 4 ? "new_speech" : nil,
                tokens: 12 * call, promptTokens: 300, startedAt: start + .milliseconds(Int64(100 * call)),
                endedAt: start + .milliseconds(Int64(100 * call + 250)),
                firstTokenAt: start + .milliseconds(Int64(100 * call + 80)))
        }
        let states = [
            TransitionEvent(time: start, from: .idle, to: .listening, cause: .buttonWake, turn: n),
            TransitionEvent(time: start + .milliseconds(900), from: .listening, to: .speculative, cause: .debounceElapsed, turn: n),
        ]
        return TurnRecord(
            turn: n, userText: userTexts[n % userTexts.count], spokenText: "Here is the answer number \(n).",
            states: states, startedAt: start, endedAt: start + .milliseconds(2500), interrupted: n % 7 == 0,
            status: n % 7 == 0 ? .interrupted : .completed, llmCalls: calls,
            latencies: TurnLatencies(speechEndToLLMStartMs: 10, speechEndToFirstTokenMs: 300, speechEndToFirstAudioMs: 650 + Int64(n % 50)),
            debounceMs: 400)
    }
}

// MARK: - crash-writer

func crashWriter(_ arguments: Arguments) async throws {
    let path = try arguments.string("db")
    var writerConfiguration = TelemetryWriterConfiguration(databasePath: path)
    writerConfiguration.queueCapacity = 100_000
    let writer = try TelemetryWriter(configuration: writerConfiguration, origin: Date(), logger: Logger(label: "crash")) { commit in
        var lines = ""
        for id in commit.sessions { lines += "C sessions \(id)\n" }
        for id in commit.turns { lines += "C turns \(id)\n" }
        for id in commit.llmCalls { lines += "C llm_calls \(id)\n" }
        for id in commit.samples { lines += "C telemetry \(id)\n" }
        emit(lines)
    }
    writer.start()
    var sync: TelemetrySync?
    if let url = arguments.options["postgres-url"] {
        var configuration = TelemetrySyncConfiguration(databasePath: path)
        configuration.minBatch = 50
        configuration.maxBatch = 400
        configuration.flushInterval = .milliseconds(50)
        configuration.pollInterval = .milliseconds(20)
        configuration.backoff.initial = .milliseconds(50)
        configuration.backoff.maximum = .milliseconds(200)
        sync = try TelemetrySync(configuration: configuration, postgres: upstream(url), clock: SystemVoiceClock())
    }
    emit("started\n")
    let syncTask = Task { [sync] in try await sync?.run() }
    let clock = SystemVoiceClock()
    let session = "crash-\(getpid())"
    writer.sessionStarted(session, at: clock.now)
    let synthetic = SyntheticTurns()
    var n = 0
    while true {
        n += 1
        writer.turnFinished(synthetic.turn(n, at: clock.now), sessionID: session)
        for k in 0..<5 { writer.sample("crash.sample", value: Double(n * 10 + k), sessionID: session, at: clock.now) }
        try await Task.sleep(for: .milliseconds(2))
        if Task.isCancelled { break }
    }
    syncTask.cancel()
}

func syncDrain(_ arguments: Arguments) async throws {
    let configuration = TelemetrySyncConfiguration(databasePath: try arguments.string("db"))
    let sync = try TelemetrySync(configuration: configuration, postgres: upstream(try arguments.string("postgres-url")),
                                 clock: SystemVoiceClock())
    let rows = try await sync.drain()
    emit("drained \(rows)\n")
}

// MARK: - bench

func rate(_ rows: Int, _ elapsed: Duration) -> String {
    String(format: "%.0f rows/s", Double(rows) / max(elapsed.seconds, 1e-9))
}

/// Writes the busy day through the writer service; returns the rows written and the time taken.
func writeDay(path: String, durability: TelemetryDurability, turns: Int, samples: Int) async throws -> (Int, Duration) {
    var configuration = TelemetryWriterConfiguration(databasePath: path)
    configuration.durability = durability
    configuration.queueCapacity = samples + 1
    let writer = try TelemetryWriter(configuration: configuration, origin: Date(timeIntervalSince1970: 1_790_000_000))
    let synthetic = SyntheticTurns()
    let samplesPerTurn = max(1, samples / max(1, turns))
    // A day, squeezed: a turn every 40 s of virtual time, samples in between.
    let clock = ContinuousClock()
    let start = clock.now
    writer.start()
    writer.sessionStarted("bench", at: .zero)
    var written = 1
    for n in 1...turns {
        let at = VoiceInstant.milliseconds(Int64(n) * 40_000)
        let record = synthetic.turn(n, at: at)
        writer.turnFinished(record, sessionID: "bench")
        written += 1 + record.llmCalls.count
        for k in 0..<samplesPerTurn {
            writer.sample("audio.level_db", value: -30 + Double(k % 20), sessionID: "bench", at: at + .milliseconds(Int64(k) * 100))
        }
        written += samplesPerTurn
    }
    await writer.stop()
    let elapsed = clock.now - start
    let stats = writer.statistics
    guard stats.droppedSamples == 0, stats.failedWrites == 0 else {
        throw ToolError.failed("the writer dropped \(stats.droppedSamples) samples, \(stats.failedWrites) failed writes")
    }
    return (written, elapsed)
}

/// One transaction per turn (the writer under a light load): the cost of a commit under each setting.
func commitsPerSecond(path: String, durability: TelemetryDurability, count: Int) throws -> Double {
    let store = try TelemetryStore(path: path, durability: durability)
    let clock = ContinuousClock()
    let start = clock.now
    for n in 1...count {
        try store.write { store in
            try store.insert(SampleRow(id: UUID().uuidString.lowercased(), sessionID: nil, name: "t", value: Double(n),
                                       recordedAt: Int64(n)))
        }
    }
    return Double(count) / max((clock.now - start).seconds, 1e-9)
}

func bench(_ arguments: Arguments) async throws {
    let directory = try arguments.string("db-dir")
    let url = try arguments.string("postgres-url")
    let turns = try arguments.int("turns", default: 2000)
    let samples = try arguments.int("samples", default: 100_000)
    try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    func fresh(_ name: String) -> String {
        let path = directory + "/" + name
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        return path
    }

    print("telemetry bench: \(turns) turns, \(turns * 4) LLM calls, \(samples) telemetry samples")
    // Durability: the price of one commit (one fsync of the WAL under FULL, none under NORMAL).
    let fullCommits = try commitsPerSecond(path: fresh("commit-full.sqlite"), durability: .full, count: 500)
    let normalCommits = try commitsPerSecond(path: fresh("commit-normal.sqlite"), durability: .normal(durabilityInterval: .seconds(1)), count: 500)
    print(String(format: "single-row commits, synchronous=FULL:   %8.0f commits/s (%.2f ms each)", fullCommits, 1000 / fullCommits))
    print(String(format: "single-row commits, synchronous=NORMAL: %8.0f commits/s (%.3f ms each)", normalCommits, 1000 / normalCommits))

    let (normalRows, normalTime) = try await writeDay(path: fresh("day-normal.sqlite"), durability: .normal(durabilityInterval: .seconds(1)),
                                                      turns: turns, samples: samples)
    print("local write (writer service), synchronous=NORMAL: \(normalRows) rows in \(String(format: "%.2f", normalTime.seconds)) s = \(rate(normalRows, normalTime))")
    let dayPath = fresh("day-full.sqlite")
    let (rows, writeTime) = try await writeDay(path: dayPath, durability: .full, turns: turns, samples: samples)
    print("local write (writer service), synchronous=FULL:   \(rows) rows in \(String(format: "%.2f", writeTime.seconds)) s = \(rate(rows, writeTime))")

    var configuration = TelemetrySyncConfiguration(databasePath: dayPath)
    configuration.maxBatch = try arguments.int("batch", default: 5000)
    let sync = try TelemetrySync(configuration: configuration, postgres: upstream(url), clock: SystemVoiceClock())
    let pending = try await sync.pendingCount()
    let clock = ContinuousClock()
    let start = clock.now
    let uploaded = try await sync.drain()
    let syncTime = clock.now - start
    print("sync to PostgreSQL (batches of \(configuration.maxBatch), TLS): \(uploaded) rows (\(pending) pending) in \(String(format: "%.2f", syncTime.seconds)) s = \(rate(uploaded, syncTime))")
    let again = try await sync.drain()
    print("second sync: \(again) rows (nothing left)")
}

// MARK: - main

do {
    let arguments = try Arguments(CommandLine.arguments)
    switch arguments.command {
    case "crash-writer": try await crashWriter(arguments)
    case "sync-drain": try await syncDrain(arguments)
    case "bench": try await bench(arguments)
    default: throw ToolError.usage
    }
} catch {
    FileHandle.standardError.write(Data("voiced-telemetry-tool: \(error)\n".utf8))
    exit(1)
}
