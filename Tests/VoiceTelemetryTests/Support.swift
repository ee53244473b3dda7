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
            LLMCallRecord(
                call: n * 10 + index, status: index + 1 < calls ? .canceled : .completed,
                reason: index + 1 < calls ? "new_speech" : nil, tokens: 5 + index, promptTokens: 120,
                startedAt: start + .milliseconds(100), endedAt: start + .milliseconds(400),
                firstTokenAt: start + .milliseconds(250))
        }
        return TurnRecord(
            turn: n, userText: userText ?? "turn \(n)", spokenText: "answer \(n)",
            states: [
                TransitionEvent(time: start, from: .idle, to: .listening, cause: .buttonWake, turn: n),
                TransitionEvent(time: start + .milliseconds(600), from: .listening, to: .speculative,
                                cause: .debounceElapsed, turn: n),
            ],
            startedAt: start, endedAt: start + .milliseconds(900), interrupted: false, status: .completed,
            llmCalls: llmCalls, latencies: TurnLatencies(speechEndToFirstAudioMs: 700), debounceMs: 400)
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

/// A manual clock for the sync service's loop: it records every deadline slept until, so a test
/// can wait until the service is asleep before it moves time (moving it earlier would race the
/// service), and, unlike `ManualClock`, a sleep ends when its task is cancelled, so a cancelled
/// service cannot stay asleep past the test's last advance.
final class RecordingClock: VoiceClock, @unchecked Sendable {
    // @unchecked: all state is behind `lock`; continuations are resumed outside it.
    private struct Sleeper {
        var id: Int
        var deadline: VoiceInstant
        var continuation: CheckedContinuation<Void, Error>
    }

    private let lock = NSLock()
    private var _now = VoiceInstant.zero
    private var _deadlines: [VoiceInstant] = []
    private var sleepers: [Sleeper] = []
    private var nextID = 0

    var deadlines: [VoiceInstant] { lock.withLock { _deadlines } }
    var now: VoiceInstant { lock.withLock { _now } }

    func sleep(until deadline: VoiceInstant) async throws {
        let id = lock.withLock { () -> Int in
            nextID += 1
            _deadlines.append(deadline)
            return nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
                let outcome: Result<Void, Error>? = lock.withLock {
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if deadline <= _now { return .success(()) }
                    sleepers.append(Sleeper(id: id, deadline: deadline, continuation: continuation))
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let sleeper = lock.withLock { () -> Sleeper? in
                guard let index = sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return sleepers.remove(at: index)
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    func advance(to instant: VoiceInstant) {
        let due = lock.withLock { () -> [Sleeper] in
            if _now < instant { _now = instant }
            let due = sleepers.filter { $0.deadline <= _now }
            sleepers.removeAll { $0.deadline <= _now }
            return due
        }
        for sleeper in due { sleeper.continuation.resume() }
    }
}
