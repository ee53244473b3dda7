import Testing
import VoiceCore
import VoiceTesting
@testable import VoiceDaemon

/// The control socket's policy on a manual clock: the cap, who gives way, and the idle timeout.
@Suite struct ControlClientTableTests {
    let clock = ManualClock()

    @Test func pastTheCapTheClientIdleLongestGivesWay() {
        var table = ControlClientTable(limits: ControlLimits(maxClients: 3, idleTimeout: .seconds(10)))
        for id in 1...3 {
            #expect(table.admit(id, at: clock.now) == .admitted)
            clock.advance(by: .seconds(1))
        }
        table.requested(1, at: clock.now)  // 1 asked something just now; 2 has been idle longest
        #expect(table.admit(4, at: clock.now) == .admittedEvicting(2))
        #expect(table.count == 3)
        #expect(!table.contains(2) && table.contains(4))
    }

    @Test func watchersNeverGiveWayAndAHouseOfWatchersRefusesNewcomers() {
        var table = ControlClientTable(limits: ControlLimits(maxClients: 2, idleTimeout: .seconds(10)))
        #expect(table.admit(1, at: clock.now) == .admitted)
        #expect(table.admit(2, at: clock.now) == .admitted)
        table.startedWatching(1)
        #expect(table.admit(3, at: clock.now) == .admittedEvicting(2))
        table.startedWatching(3)
        #expect(table.admit(4, at: clock.now) == .refused)
        #expect(table.count == 2 && table.isWatching(1) && table.isWatching(3))
    }

    @Test func aClientWithoutARequestForTheTimeoutIsClosedButAWatcherIsNot() {
        var table = ControlClientTable(limits: ControlLimits(idleTimeout: .seconds(10)))
        _ = table.admit(1, at: clock.now)
        _ = table.admit(2, at: clock.now)
        _ = table.admit(3, at: clock.now)
        table.startedWatching(3)
        #expect(table.nextExpiry == .milliseconds(10_000))
        clock.advance(by: .seconds(6))
        table.requested(2, at: clock.now)
        #expect(table.expire(at: clock.now).isEmpty)
        clock.advance(to: .milliseconds(9_999))
        #expect(table.expire(at: clock.now).isEmpty)
        clock.advance(to: .milliseconds(10_000))
        #expect(table.expire(at: clock.now) == [1])
        #expect(table.nextExpiry == .milliseconds(16_000))
        clock.advance(by: .seconds(600))
        #expect(table.expire(at: clock.now) == [2])
        #expect(table.nextExpiry == nil)
        #expect(table.contains(3))
    }

    @Test func theDefaultsAreSixteenClientsAndTenSeconds() {
        #expect(ControlLimits().maxClients == 16)
        #expect(ControlLimits().idleTimeout == .seconds(10))
    }
}
