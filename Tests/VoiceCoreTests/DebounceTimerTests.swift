import Testing
import VoiceTesting
@testable import VoiceCore

/// The debounce driven the way the controller drives it: tickets scheduled on a manual clock.
final class DebounceHarness {
    let clock = ManualClock()
    var timer = DebounceTimer(duration: .milliseconds(400))
    var fired: [VoiceInstant] = []

    func start() {
        let ticket = timer.start(at: clock.now)
        clock.run(at: ticket.deadline) { [self] in
            if timer.fire(ticket, now: clock.now) { fired.append(clock.now) }
        }
    }
}

@Suite struct DebounceTimerTests {
    @Test func firesOnceAtTheDeadline() {
        let h = DebounceHarness()
        h.start()
        h.clock.advance(by: .milliseconds(399))
        #expect(h.fired.isEmpty)
        h.clock.advance(by: .milliseconds(1))
        #expect(h.fired == [.milliseconds(400)])
        h.clock.advance(by: .seconds(5))
        #expect(h.fired.count == 1)
        #expect(!h.timer.isRunning)
    }

    @Test func aCancelledTimerNeverFires() {
        let h = DebounceHarness()
        h.start()
        h.clock.advance(by: .milliseconds(300))
        h.timer.cancel()
        h.clock.advance(by: .seconds(10))
        #expect(h.fired.isEmpty)
    }

    @Test func restartMovesTheDeadlineAndTheOldStartNeverFires() {
        let h = DebounceHarness()
        h.start()
        h.clock.advance(by: .milliseconds(300))
        h.start()  // restart at 300
        h.clock.advance(by: .milliseconds(200))  // 500: the first start's deadline (400) has passed
        #expect(h.fired.isEmpty)
        h.clock.advance(by: .milliseconds(200))  // 700
        #expect(h.fired == [.milliseconds(700)])
    }

    @Test func firesExactlyOncePerStart() {
        let h = DebounceHarness()
        for _ in 0..<3 {
            h.start()
            h.clock.advance(by: .milliseconds(500))
        }
        #expect(h.fired == [.milliseconds(400), .milliseconds(900), .milliseconds(1400)])
    }

    @Test func aTicketCannotFireEarly() {
        var timer = DebounceTimer(duration: .milliseconds(400))
        let ticket = timer.start(at: .zero)
        let r1 = timer.fire(ticket, now: .milliseconds(399))
        #expect(!r1)
        let r2 = timer.fire(ticket, now: .milliseconds(400))
        #expect(r2)
        let r3 = timer.fire(ticket, now: .milliseconds(401))
        #expect(!r3)
    }

    @Test func pollFiresTheRunningStartOnce() {
        var timer = DebounceTimer(duration: .milliseconds(400))
        timer.start(at: .milliseconds(100))
        let r4 = timer.poll(now: .milliseconds(499))
        #expect(!r4)
        let r5 = timer.poll(now: .milliseconds(500))
        #expect(r5)
        let r6 = timer.poll(now: .milliseconds(900))
        #expect(!r6)
    }
}

@Suite struct ManualClockTests {
    @Test func aSleeperWakesWhenTheClockPassesItsDeadline() async throws {
        let clock = ManualClock()
        let task = Task { try await clock.sleep(until: .milliseconds(100)) }
        for _ in 0..<100 { await Task.yield() }
        clock.advance(to: .milliseconds(100))
        try await task.value
    }

    @Test func aCancelledSleeperThrowsAtOnce() async {
        let clock = ManualClock()
        let task = Task { try await clock.sleep(until: .milliseconds(3_600_000)) }
        for _ in 0..<100 { await Task.yield() }
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
    }
}
