import Foundation
import Synchronization
import Testing
import VoiceCore
@testable import VoiceTelemetry

@Suite struct WriterQueueTests {
    @Test func aFullQueueDropsAndCountsSamplesButNeverTurnsOrSessions() {
        var queue = WriterQueue(capacity: 2)
        let accepted = [
            queue.offer(.sample("a", 1, sessionID: nil, .zero)),
            queue.offer(.sample("b", 2, sessionID: nil, .zero)),
            queue.offer(.sample("c", 3, sessionID: nil, .zero)),
            queue.offer(.snapshot(TelemetryTracker(sessionID: "s").snapshot, .zero)),
            queue.offer(.turn(Fixtures.turn(1), sessionID: "s")),
            queue.offer(.sessionStarted("s", .zero)),
            queue.offer(.debounce(.milliseconds(500), sessionID: nil, .zero)),
        ]
        #expect(accepted == [true, true, false, false, true, true, true])
        #expect(queue.events.count == 5)
        let drained = queue.drain()
        #expect(drained.events.count == 5)
        #expect(drained.dropped == 2)
        #expect(queue.events.isEmpty)
        #expect(queue.dropped == 0)
    }
}

@Suite struct DurabilityTimerTests {
    @Test func aDurabilityPointFallsDueOneIntervalAfterTheFirstUndurableCommit() {
        var timer = DurabilityTimer(interval: .seconds(1))
        #expect(!timer.isDue(at: .seconds(100)))
        timer.committed(at: .milliseconds(200))
        timer.committed(at: .milliseconds(900))  // a later commit does not push the point back
        #expect(!timer.isDue(at: .milliseconds(1199)))
        #expect(timer.isDue(at: .milliseconds(1200)))
        timer.madeDurable()
        #expect(timer.deadline == nil)
    }
}

@Suite struct TelemetryWriterTests {
    @Test func everythingTheSinkIsToldIsWrittenWithWallClockTimes() async throws {
        let directory = try TemporaryDirectory()
        let commits = Mutex<[TelemetryCommit]>([])
        let writer = try TelemetryWriter(
            configuration: TelemetryWriterConfiguration(databasePath: directory.file("t.sqlite")),
            origin: Fixtures.origin, onCommit: { commit in commits.withLock { $0.append(commit) } })
        writer.sessionStarted("s", at: .zero)
        writer.turnFinished(Fixtures.turn(1, calls: 3), sessionID: "s")
        var tracker = TelemetryTracker(sessionID: "s")
        tracker.recordCompletedTurn(latency: .milliseconds(700), debounce: .milliseconds(400))
        writer.snapshot(tracker.snapshot, at: .milliseconds(2000))
        writer.sample("audio.xruns", value: 2, sessionID: "s", at: .milliseconds(2500))
        writer.sessionEnded("s", at: .milliseconds(3000))
        writer.start()
        await writer.stop()

        let store = try TelemetryStore(path: directory.file("t.sqlite"))
        let batch = try store.nextBatch(limit: 1000)
        #expect(batch.sessions.count == 1)
        #expect(batch.sessions.first?.startedAt == Fixtures.originMillis)
        #expect(batch.sessions.first?.endedAt == Fixtures.originMillis + 3000)
        #expect(batch.sessions.first?.totalTurns == 1)
        #expect(batch.turns.count == 1)
        #expect(batch.turns.first?.sessionID == batch.sessions.first?.id)
        #expect(batch.turns.first?.startedAt == Fixtures.originMillis + 1000)
        #expect(batch.llmCalls.count == 3)
        #expect(batch.llmCalls.allSatisfy { $0.turnID == batch.turns.first?.id })
        #expect(batch.llmCalls.map(\.status).sorted() == ["canceled", "canceled", "completed"])
        let xruns = batch.samples.first { $0.name == "audio.xruns" }
        #expect(xruns?.value == 2)
        #expect(xruns?.recordedAt == Fixtures.originMillis + 2500)
        #expect(xruns?.sessionID == batch.sessions.first?.id)
        #expect(batch.samples.contains { $0.name == "turns.latency_ms.mean" && $0.value == 700 })
        // Every committed id was reported, and only committed ids.
        let reported = commits.withLock { $0 }
        #expect(Set(reported.flatMap(\.turns)) == Set(batch.turns.map(\.id)))
        #expect(Set(reported.flatMap(\.llmCalls)) == Set(batch.llmCalls.map(\.id)))
        #expect(Set(reported.flatMap(\.samples)) == Set(batch.samples.map(\.id)))
        #expect(writer.statistics.committedRows == reported.map(\.count).reduce(0, +))
    }

    @Test func theDebounceValueSurvivesARestart() async throws {
        let directory = try TemporaryDirectory()
        let configuration = TelemetryWriterConfiguration(databasePath: directory.file("t.sqlite"))
        do {
            let writer = try TelemetryWriter(configuration: configuration, origin: Fixtures.origin)
            #expect(writer.persistedDebounce == nil)
            writer.start()
            writer.debounceChanged(to: .milliseconds(500), sessionID: nil, at: .zero)
            writer.debounceChanged(to: .milliseconds(650), sessionID: nil, at: .milliseconds(10))
            await writer.stop()
        }
        let restarted = try TelemetryWriter(configuration: configuration, origin: Fixtures.origin)
        #expect(restarted.persistedDebounce == .milliseconds(650))
        // And each change is a sample for the fleet.
        let store = try TelemetryStore(path: configuration.databasePath)
        #expect(try store.nextBatch(limit: 10).samples.filter { $0.name == "debounce_ms" }.map(\.value) == [500, 650])
    }

    @Test func samplesDroppedOnAFullQueueAreCountedAndReported() async throws {
        let directory = try TemporaryDirectory()
        var configuration = TelemetryWriterConfiguration(databasePath: directory.file("t.sqlite"))
        configuration.queueCapacity = 3
        let writer = try TelemetryWriter(configuration: configuration, origin: Fixtures.origin)
        // Not started: nothing drains, so the queue fills.
        for n in 0..<10 { writer.sample("x", value: Double(n), sessionID: nil, at: .zero) }
        writer.turnFinished(Fixtures.turn(1), sessionID: "s")
        await writer.stop()  // never started: stop() still writes what is queued
        #expect(writer.statistics.droppedSamples == 7)
        let store = try TelemetryStore(path: configuration.databasePath)
        let batch = try store.nextBatch(limit: 100)
        #expect(batch.turns.count == 1)
        #expect(batch.samples.filter { $0.name == "x" }.count == 3)
        #expect(batch.samples.first { $0.name == "telemetry.dropped_samples" }?.value == 7)
        #expect(try store.counter("dropped_samples") == 7)
    }

    @Test func runWritesWhatIsQueuedOnCancellation() async throws {
        let directory = try TemporaryDirectory()
        let writer = try TelemetryWriter(
            configuration: TelemetryWriterConfiguration(databasePath: directory.file("t.sqlite")), origin: Fixtures.origin)
        let service = Task { try await writer.run() }
        for n in 1...20 { writer.turnFinished(Fixtures.turn(n), sessionID: "s") }
        service.cancel()
        try await service.value
        let store = try TelemetryStore(path: directory.file("t.sqlite"))
        #expect(try store.count("turns") == 20)
    }

    @Test func underSynchronousNormalTheWriterMakesADurabilityPoint() async throws {
        let directory = try TemporaryDirectory()
        var configuration = TelemetryWriterConfiguration(databasePath: directory.file("t.sqlite"))
        configuration.durability = .normal(durabilityInterval: .milliseconds(1))
        let writer = try TelemetryWriter(configuration: configuration, origin: Fixtures.origin)
        writer.start()
        writer.turnFinished(Fixtures.turn(1), sessionID: "s")
        await writer.stop()
        let store = try TelemetryStore(path: configuration.databasePath)
        #expect(try store.meta("durable_at") != nil)
        #expect(try store.count("turns") == 1)
    }
}
