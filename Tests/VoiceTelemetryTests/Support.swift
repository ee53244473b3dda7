import Foundation
import VoiceCore
import VoiceTesting
@testable import VoiceTelemetry

/// A fresh directory for one test's database files, removed when released.
final class TemporaryDirectory {
    let path: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.path
        path = base + "/voiced-telemetry-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }
}

/// Test records: turn `n` with `calls` LLM calls, starting `n` seconds after the clock's origin.
enum Fixtures {
    static func turn(_ n: Int, calls: Int = 2, userText: String? = nil) -> TurnRecord {
        let start = VoiceInstant.milliseconds(Int64(n) * 1000)
        let llmCalls = (0..<calls).map { index in
            LLMCallRecord.make(
                call: n * 10 + index, status: index + 1 < calls ? .canceled : .completed,
                reason: index + 1 < calls ? "new_speech" : nil, tokens: 5 + index, promptTokens: 120,
                startedAt: start + .milliseconds(100), endedAt: start + .milliseconds(400),
                firstTokenAt: start + .milliseconds(250))
        }
        return TurnRecord.make(
            turn: n, userText: userText ?? "turn \(n)", spokenText: "answer \(n)",
            states: [
                TransitionEvent(time: start, from: .idle, to: .listening, cause: .buttonWake, turn: n),
                TransitionEvent(time: start + .milliseconds(600), from: .listening, to: .speculative,
                                cause: .debounceElapsed, turn: n),
            ],
            startedAt: start, endedAt: start + .milliseconds(900), interrupted: false, status: .completed,
            llmCalls: llmCalls, latencies: .make(speechEndToFirstAudioMs: 700), debounceMs: 400)
    }

    static func sample(_ n: Int, name: String = "test.metric") -> SampleRow {
        SampleRow(id: UUID().uuidString.lowercased(), sessionID: nil, name: name, value: Double(n), recordedAt: Int64(n))
    }

    /// The epoch of every test writer: 2026-09-21T14:13:20Z.
    static let origin = Date(timeIntervalSince1970: 1_790_000_000)
    static let originMillis: Int64 = 1_790_000_000_000
}

/// An upstream in memory that can be switched off.
final class FakeUpstream: TelemetryUpstream, @unchecked Sendable {
    // @unchecked: every field is behind `lock`.
    private let lock = NSLock()
    private var _online = true
    private var _rows: [String: Int] = [:]
    private var _attempts = 0
    private var _batches: [SyncBatch] = []

    var online: Bool {
        get { lock.withLock { _online } }
        set { lock.withLock { _online = newValue } }
    }
    var attempts: Int { lock.withLock { _attempts } }
    var batches: [SyncBatch] { lock.withLock { _batches } }
    /// Distinct rows held, keyed by id (a re-upload does not add).
    var rowCount: Int { lock.withLock { _rows.count } }
    /// How many times each id was received.
    var receipts: [String: Int] { lock.withLock { _rows } }

    func upload(_ batch: SyncBatch) throws {
        try lock.withLock {
            _attempts += 1
            guard _online else { throw PostgresError(kind: .connection, message: "offline", sqlState: nil) }
            _batches.append(batch)
            let ids = batch.sessions.map(\.id) + batch.turns.map(\.id) + batch.llmCalls.map(\.id) + batch.samples.map(\.id)
            for id in ids { _rows[id, default: 0] += 1 }
        }
    }

    func disconnect() {}
}

/// Waits (on real time, for another thread's I/O) until `condition` holds, at most `seconds`.
func eventually(seconds: Double = 10, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return try await condition()
}

/// A manual clock that also records every deadline slept until, so a test can wait until the
/// service under test is asleep before it moves time (moving it earlier would race the service).
final class RecordingClock: VoiceClock, @unchecked Sendable {
    // @unchecked: `_deadlines` is behind `lock`; `manual` is thread-safe.
    let manual = ManualClock()
    private let lock = NSLock()
    private var _deadlines: [VoiceInstant] = []

    var deadlines: [VoiceInstant] { lock.withLock { _deadlines } }
    var now: VoiceInstant { manual.now }

    func sleep(until deadline: VoiceInstant) async throws {
        lock.withLock { _deadlines.append(deadline) }
        try await manual.sleep(until: deadline)
    }

    func advance(to instant: VoiceInstant) { manual.advance(to: instant) }
}
