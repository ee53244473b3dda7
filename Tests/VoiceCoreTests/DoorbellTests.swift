import Testing
import VoiceCore
import VoiceTesting

/// The wake-up that replaces polling: a ring is never lost, and a sleep ends at its deadline or
/// at the ring, whichever comes first. On a manual clock: no real waiting.
@Suite struct DoorbellTests {
    @Test func aRingBeforeTheWaitIsNotLostAndIsConsumedOnce() async {
        let doorbell = Doorbell()
        let clock = ManualClock()
        doorbell.ring()
        doorbell.ring()
        // Returns at once: the deadline is an hour away and the manual clock never moves.
        await doorbell.sleep(until: clock.now + .seconds(3_600), clock: clock)
        #expect(clock.now == .zero)
        // Both rings were consumed: this sleep lasts until its deadline.
        let sleeper = Task { await doorbell.sleep(until: clock.now + .seconds(1), clock: clock) }
        await Task.yield()
        clock.advance(by: .seconds(1))
        await sleeper.value
    }

    @Test func aRingEndsASleepBeforeItsDeadline() async {
        let doorbell = Doorbell()
        let clock = ManualClock()
        let sleeper = Task { await doorbell.sleep(until: clock.now + .seconds(3_600), clock: clock) }
        await Task.yield()
        doorbell.ring()
        await sleeper.value  // would hang (and the suite time out) if only the deadline ended it
        #expect(clock.now == .zero)
    }

    @Test func cancellingTheSleeperEndsTheSleep() async {
        let doorbell = Doorbell()
        let clock = ManualClock()
        let sleeper = Task { await doorbell.sleep(until: clock.now + .seconds(3_600), clock: clock) }
        sleeper.cancel()
        await sleeper.value
        #expect(clock.now == .zero)
    }
}
