import Foundation
import Testing
import VoiceCore
import VoiceFakeCloud
import VoiceTesting

/// A real voiced daemon against the real fake cloud, in a temporary directory: WAV capture of
/// silence, WAV playback, console LEDs, the control socket in the directory.
final class DaemonHarness {
    let directory: String
    let socket: String
    private var fakecloud: Process?
    private var daemon: Process?
    private(set) var port = ""
    var extraConfig: String
    /// Lines for the [turn] table.
    var turnConfig: String
    /// Lines for the [audio] table, replacing the WAV backends when set.
    var audioConfig: String?
    /// The daemon's extra environment (NOTIFY_SOCKET, WATCHDOG_USEC...).
    var environment: [String: String]
    /// A fake cloud in this process, whose records a test reads; else a voiced-fakecloud process.
    let cloud: FakeCloud?
    let ttsConfig: (String) -> String

    /// - Parameters:
    ///   - capture: what the microphone "hears" (default: 60 s of silence).
    ///   - fakeCloudScript: the fake cloud's script (JSON), if not its defaults (a process fake cloud only).
    ///   - ttsConfig: the `[tts]` table's keys, given the fake cloud's port (default: ElevenLabs at the fake).
    init(extraConfig: String = "", turnConfig: String = "", audioConfig: String? = nil, environment: [String: String] = [:],
         cloud: FakeCloud? = nil, capture: [Int16]? = nil, fakeCloudScript: String? = nil,
         ttsConfig: @escaping (String) -> String = { "base_url = \"http://127.0.0.1:\($0)\"" }) throws {
        self.ttsConfig = ttsConfig
        self.turnConfig = turnConfig
        self.audioConfig = audioConfig
        self.environment = environment
        self.cloud = cloud
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("voiced-it-\(UUID().uuidString.prefix(8))").path
        socket = directory + "/control.sock"
        self.extraConfig = extraConfig
        try FileManager.default.createDirectory(atPath: directory + "/state", withIntermediateDirectories: true)
        // What the microphone hears, from a WAV file.
        try Data(WAV.encode(capture ?? [Int16](repeating: 0, count: 16_000 * 60))).write(to: URL(fileURLWithPath: directory + "/silence.wav"))
        if let cloud {
            let bound = Locked<Result<Int, FakeCloudError>?>(nil)
            Task {
                do throws(FakeCloudError) {
                    let port = try await cloud.start()
                    bound.withLock { $0 = .success(port) }
                } catch {
                    bound.withLock { $0 = .failure(error) }
                }
            }
            for _ in 0..<400 where bound.value == nil { usleep(10_000) }
            port = String(try (bound.value ?? .failure(.startFailed("timed out"))).get())
        } else {
            if let fakeCloudScript { try fakeCloudScript.write(toFile: directory + "/script.json", atomically: true, encoding: .utf8) }
            try startFakeCloud(script: fakeCloudScript == nil ? nil : directory + "/script.json")
        }
        try startDaemon()
    }

    deinit {
        stopDaemon()
        fakecloud?.terminate()
        fakecloud?.waitUntilExit()
        if let cloud { Task { await cloud.stop() } }
        try? FileManager.default.removeItem(atPath: directory)
    }

    static func process(_ name: String, _ arguments: [String], environment: [String: String] = [:], log: String? = nil) -> Process {
        let process = Process()
        process.executableURL = VoicedBinary.url.deletingLastPathComponent().appendingPathComponent(name)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        if let log {
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let handle = FileHandle(forWritingAtPath: log)
            process.standardOutput = handle
            process.standardError = handle
        }
        process.standardInput = FileHandle.nullDevice
        return process
    }

    private func startFakeCloud(script: String?) throws {
        let portFile = directory + "/port"
        // At info it logs each request's path and body.
        let process = Self.process("voiced-fakecloud", ["--port", "0", "--port-file", portFile, "--log-level", "info"]
                                   + (script.map { ["--script", $0] } ?? []), log: directory + "/fakecloud.log")
        try process.run()
        fakecloud = process
        for _ in 0..<400 {
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8), !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                port = text.trimmingCharacters(in: .whitespacesAndNewlines)
                return
            }
            usleep(50_000)
        }
        Issue.record("the fake cloud did not start")
    }

    func startDaemon() throws {
        try writeConfig()
        unlink(socket)
        let process = Self.process("voiced", ["run", "--config", directory + "/voiced.toml"],
                                   environment: ["DEEPGRAM_API_KEY": "k", "OPENAI_API_KEY": "k", "ELEVENLABS_API_KEY": "k"]
                                       .merging(environment) { $1 },
                                   log: directory + "/voiced.log")
        try process.run()
        daemon = process
        for _ in 0..<400 where !FileManager.default.fileExists(atPath: socket) { usleep(50_000) }
        #expect(FileManager.default.fileExists(atPath: socket), "voiced did not open its socket: \(log)")
    }

    func writeConfig() throws {
        let config = """
        [turn]
        listen_timeout_ms = 1000
        \(turnConfig)
        [audio]
        \(audioConfig ?? """
        capture_backend = "wav"
        capture_wav = "\(directory)/silence.wav"
        playback_backend = "wav"
        playback_wav = "\(directory)/agent.wav"
        """)
        [gpio]
        backend = "console_no_stdin"
        [stt]
        base_url = "ws://127.0.0.1:\(port)/v1/listen"
        [llm]
        base_url = "http://127.0.0.1:\(port)/v1"
        [tts]
        \(ttsConfig(port))
        [telemetry]
        database = "\(directory)/voiced.sqlite"
        [control]
        socket = "\(socket)"
        group = "root"
        state_directory = "\(directory)/state"
        \(extraConfig)
        """
        try config.write(toFile: directory + "/voiced.toml", atomically: true, encoding: .utf8)
    }

    func stopDaemon() {
        guard let daemon, daemon.isRunning else { return }
        daemon.terminate()
        daemon.waitUntilExit()
    }

    /// Edits the configuration file (each pair: text to find, text to put instead) and sends SIGHUP.
    func reload(_ edits: [(String, String)]) throws {
        let path = directory + "/voiced.toml"
        var text = try String(contentsOfFile: path, encoding: .utf8)
        for (old, new) in edits { text = text.replacingOccurrences(of: old, with: new) }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        if let pid = daemon?.processIdentifier { kill(pid, SIGHUP) }
    }

    var daemonPID: Int32? { daemon.flatMap { $0.isRunning ? $0.processIdentifier : nil } }

    /// Kills the daemon with SIGKILL, as a crash or the OOM killer would.
    func killDaemon() {
        guard let daemon, daemon.isRunning else { return }
        kill(daemon.processIdentifier, SIGKILL)
        daemon.waitUntilExit()
    }

    var daemonExitStatus: Int32? { daemon.flatMap { $0.isRunning ? nil : $0.terminationStatus } }

    var log: String { (try? String(contentsOfFile: directory + "/voiced.log", encoding: .utf8)) ?? "" }

    /// Runs `voicectl watch` and does `action` (up to 10 times, 2 s apart: the watcher may connect
    /// after the first one on a busy machine) until the watcher has printed `expected`; returns
    /// what it printed.
    func watch(until expected: String, _ action: () throws -> Void) throws -> String {
        let watch = Self.process("voicectl", ["watch", "--socket", socket])
        let out = Pipe()
        watch.standardOutput = out
        let seen = Locked("")
        out.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            seen.withLock { $0 += String(decoding: data, as: UTF8.self) }
        }
        try watch.run()
        for _ in 0..<10 where !seen.value.contains(expected) {
            try action()
            let deadline = Date().addingTimeInterval(2)
            while !seen.value.contains(expected) && Date() < deadline { usleep(50_000) }
        }
        out.fileHandleForReading.readabilityHandler = nil
        // SIGKILL: a child of the test runner may inherit a mask that blocks SIGTERM.
        kill(watch.processIdentifier, SIGKILL)
        watch.waitUntilExit()
        return seen.value
    }

    /// What the fake cloud logged: a line per request with its path and body.
    var fakeCloudLog: String { (try? String(contentsOfFile: directory + "/fakecloud.log", encoding: .utf8)) ?? "" }

    /// The samples played so far (the playback WAV after its header).
    var played: [Int16] {
        guard let data = FileManager.default.contents(atPath: directory + "/agent.wav"), data.count > 44 else { return [] }
        return data.dropFirst(44).withUnsafeBytes { raw in
            stride(from: 0, to: raw.count - 1, by: 2).map { Int16(bitPattern: UInt16(raw[$0]) | UInt16(raw[$0 + 1]) << 8) }
        }
    }

    /// Runs voicectl against this daemon.
    func voicectl(_ arguments: [String]) throws -> VoicedBinary.Output {
        let process = Self.process("voicectl", arguments + ["--socket", socket])
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return VoicedBinary.Output(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                                   stderr: String(decoding: stderr, as: UTF8.self))
    }
}
