import Testing
import VoiceTesting
@testable import VoiceCore

@Suite struct WatchdogPolicyTests {
    let window = Duration.seconds(10)

    @Test func everyLoopCountsAsAliveForOneWindowAfterTheStart() {
        let policy = WatchdogPolicy(loops: ["capture", "controller"], window: window, start: .milliseconds(500))
        #expect(policy.decision(at: .milliseconds(500)) == .ping)
        #expect(policy.decision(at: .milliseconds(10_500)) == .ping)  // exactly one window: still alive
        #expect(policy.decision(at: .milliseconds(10_501)) == .withhold(stalled: ["capture", "controller"]))
    }

    @Test func progressKeepsALoopAliveAndSilenceStallsIt() {
        var policy = WatchdogPolicy(loops: ["capture", "controller"], window: window, start: .zero)
        policy.progress("capture", at: .seconds(8))
        policy.progress("controller", at: .seconds(9))
        #expect(policy.decision(at: .seconds(18)) == .ping)
        policy.progress("controller", at: .seconds(17))
        #expect(policy.decision(at: .milliseconds(18_001)) == .withhold(stalled: ["capture"]))
        #expect(policy.stalledLoops(at: .seconds(30)) == ["capture", "controller"])
        // A stalled loop that makes progress again is alive again.
        policy.progress("capture", at: .seconds(30))
        policy.progress("controller", at: .seconds(30))
        #expect(policy.decision(at: .seconds(31)) == .ping)
    }

    @Test func anOlderProgressReportChangesNothing() {
        var policy = WatchdogPolicy(loops: ["capture"], window: window, start: .zero)
        policy.progress("capture", at: .seconds(20))
        policy.progress("capture", at: .seconds(5))
        #expect(policy.lastProgress["capture"] == .seconds(20))
    }

    @Test func loopsCanJoinAndLeave() {
        var policy = WatchdogPolicy(loops: [], window: window, start: .zero)
        #expect(policy.decision(at: .seconds(100)) == .ping)  // nothing watched: the process itself answers
        policy.register("sync", at: .seconds(100))
        #expect(policy.decision(at: .seconds(111)) == .withhold(stalled: ["sync"]))
        policy.unregister("sync")
        #expect(policy.decision(at: .seconds(111)) == .ping)
        policy.progress("telemetry", at: .seconds(111))  // an unknown loop is watched from its first report
        #expect(policy.decision(at: .seconds(122)) == .withhold(stalled: ["telemetry"]))
    }

    @Test func heartbeatsFromAnyThreadOnAManualClock() async {
        let clock = ManualClock()
        let heartbeats = LoopHeartbeats(loops: ["capture", "controller"], window: .seconds(10), clock: clock)
        let capture = heartbeats.heartbeat(for: "capture")
        let controller = heartbeats.heartbeat(for: "controller")
        clock.advance(to: .seconds(9))
        await withTaskGroup(of: Void.self) { group in
            group.addTask { capture.beat() }
            group.addTask { controller.beat() }
        }
        clock.advance(to: .seconds(19))
        #expect(heartbeats.decision() == .ping)
        capture.beat()
        clock.advance(to: .seconds(20))
        #expect(heartbeats.decision() == .withhold(stalled: ["controller"]))
        #expect(controller.loop == "controller")
        #expect(heartbeats.window == .seconds(10))
    }
}

extension VoiceInstant {
    fileprivate static func seconds(_ seconds: Int64) -> VoiceInstant { .milliseconds(seconds * 1000) }
}
