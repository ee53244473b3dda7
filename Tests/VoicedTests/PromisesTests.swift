import Foundation
import Testing
import VoiceFakeCloud
import VoiceTesting

/// What voiced promises its owner, checked on the real daemon: mute, the watchdog, devices that
/// are missing, READY=1, and errors in `voicectl watch`.
@Suite(.serialized) struct PromisesTests {
    static func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("voiced-notify-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func wait(_ seconds: TimeInterval, until condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(50_000)
        }
        return condition()
    }

    static func json(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    /// With `WATCHDOG_USEC` set and the microphone muted, WATCHDOG=1 keeps coming (the loops are
    /// alive); the mute survives a restart; and no audio reaches speech-to-text while muted.
    @Test func muteKeepsTheWatchdogFedSurvivesARestartAndSendsNoAudio() throws {
        let notify = try NotifyListener(directory: try Self.temporaryDirectory())
        let cloud = FakeCloud(script: .instant)
        let d = try DaemonHarness(turnConfig: "always_listening = true",
                                  environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "2000000"], cloud: cloud)
        func sttBytes() -> Int { cloud.records(.stt).reduce(0) { $0 + $1.audioBytes } }
        #expect(Self.wait(15) { sttBytes() > 0 }, "always listening: audio streams before the mute")

        let mute = try d.voicectl(["mute", "on"])
        #expect(mute.status == 0, "\(mute.stderr)")
        let mutedAt = Date()
        usleep(700_000)  // what was already on the wire
        let before = sttBytes()
        Thread.sleep(forTimeInterval: 12.5)  // longer than the 10 s progress window
        #expect(sttBytes() == before, "no audio leaves the process while muted")
        let late = notify.times(of: "WATCHDOG=1").filter { $0 > mutedAt.addingTimeInterval(10.5) }
        #expect(!late.isEmpty, "WATCHDOG=1 stopped while muted: systemd would kill the daemon")
        #expect(d.daemonExitStatus == nil)

        d.stopDaemon()
        try d.startDaemon()
        let status = Self.json(try d.voicectl(["status", "--json"]).stdout)
        #expect(status["muted"] as? Bool == true, "the restarted daemon is still muted")
        Thread.sleep(forTimeInterval: 3)
        #expect(sttBytes() == before, "no audio after the restart either")

        #expect(try d.voicectl(["mute", "off"]).status == 0)
        #expect(Self.wait(15) { sttBytes() > before }, "audio streams again after unmuting")
        d.stopDaemon()
        try d.startDaemon()
        #expect(Self.json(try d.voicectl(["status", "--json"]).stdout)["muted"] as? Bool == false)
    }

    /// A microphone and a speaker that are not there at startup: voiced says READY=1 once it
    /// has tried them, with STATUS= naming both, keeps the watchdog fed while it retries, and
    /// reports them in `voicectl status`.
    @Test func missingDevicesAtStartupAreAStateTheDaemonLivesIn() throws {
        let notify = try NotifyListener(directory: try Self.temporaryDirectory())
        let missing = "hw:CARD=voicedNoSuchCard"
        let d = try DaemonHarness(audioConfig: """
            capture_backend = "alsa"
            capture_device = "\(missing)"
            playback_backend = "alsa"
            playback_device = "\(missing)"
            """, environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "2000000"])
        let ready = try #require(notify.waitFor("READY=1"), "no READY=1: \(d.log)")
        let statusLine = ready.split(separator: "\n").first { $0.hasPrefix("STATUS=") } ?? ""
        #expect(statusLine.contains("microphone \(missing) unavailable"), "READY=1 came with \(ready)")
        #expect(statusLine.contains("speaker \(missing) unavailable"), "READY=1 came with \(ready)")
        #expect(statusLine.hasPrefix("STATUS=Error: "))

        let startedAt = Date()
        Thread.sleep(forTimeInterval: 12.5)
        let late = notify.times(of: "WATCHDOG=1").filter { $0 > startedAt.addingTimeInterval(10.5) }
        #expect(!late.isEmpty, "WATCHDOG=1 stopped while the devices are missing")
        #expect(d.daemonExitStatus == nil)

        let status = Self.json(try d.voicectl(["status", "--json"]).stdout)
        let devices = status["devices"] as? [String: String] ?? [:]
        #expect(devices["microphone"]?.contains("unavailable") == true, "\(status)")
        #expect(devices["speaker"]?.contains("unavailable") == true, "\(status)")
        #expect(try d.voicectl(["status"]).stdout.contains("device       microphone \(missing) unavailable"))
    }

    /// A provider failure reaches `voicectl watch` as an error line.
    @Test func watchStreamsProviderErrors() throws {
        var script = FakeCloudScript.instant
        script.faults = [FakeCloudScript.Fault(service: .tts, requests: nil, kind: .status)]
        let d = try DaemonHarness(cloud: FakeCloud(script: script))
        let seen = try d.watch(until: "ERROR:") { _ = try d.voicectl(["say", "Hello there."]) }
        #expect(seen.contains("ERROR:"), "watch printed: \(seen)")
    }
}
