import Foundation
import Testing
import VoiceTelemetry

/// The real daemon closes its session in the local store: at a clean stop, and after a crash at
/// the next start.
@Suite struct SessionEndTests {
    func sessions(_ d: DaemonHarness) throws -> [SessionRow] {
        try TelemetryStore(path: d.directory + "/voiced.sqlite").nextBatch(limit: 1000).sessions.sorted { $0.startedAt < $1.startedAt }
    }

    @Test func aCleanStopEndsTheSession() throws {
        let d = try DaemonHarness()
        usleep(500_000)
        d.stopDaemon()
        #expect(d.daemonExitStatus == 0)
        let rows = try sessions(d)
        #expect(rows.count == 1)
        #expect(rows.allSatisfy { $0.endedAt != nil && $0.status == "ended" }, "\(rows)")
    }

    @Test func aCrashedSessionIsClosedAsCrashedAtTheNextStart() throws {
        let d = try DaemonHarness()
        usleep(500_000)
        d.killDaemon()
        try d.startDaemon()
        usleep(500_000)
        d.stopDaemon()
        let rows = try sessions(d)
        #expect(rows.map(\.status) == ["crashed", "ended"], "\(rows)")
        #expect(rows.allSatisfy { $0.endedAt != nil })
        #expect(d.log.contains("recorded as crashed"))
    }
}
