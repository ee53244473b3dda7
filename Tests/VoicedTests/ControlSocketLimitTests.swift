import Foundation
import Testing
import VoiceCore

/// A pids cgroup holding at most `limit` tasks (threads), like the unit's `TasksMax=`: cgroup v1's
/// pids hierarchy or cgroup v2, whichever this machine lets us write.
final class PidsCgroup {
    let directory: String

    init(limit: Int) throws {
        let name = "voiced-test-\(UUID().uuidString.prefix(8))"
        for root in ["/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"] {
            let directory = root + "/" + name
            guard mkdir(directory, 0o755) == 0 else { continue }
            if FileManager.default.fileExists(atPath: directory + "/pids.max"),
               (try? "\(limit)\n".write(toFile: directory + "/pids.max", atomically: false, encoding: .utf8)) != nil {
                self.directory = directory
                return
            }
            rmdir(directory)
        }
        throw CgroupUnavailable()
    }

    struct CgroupUnavailable: Error, CustomStringConvertible {
        var description: String { "no writable pids cgroup (tried /sys/fs/cgroup/pids, /sys/fs/cgroup/unified, /sys/fs/cgroup): this test needs root and a pids controller" }
    }

    func move(_ pid: Int32) throws { try "\(pid)\n".write(toFile: directory + "/cgroup.procs", atomically: false, encoding: .utf8) }

    var current: Int { Int((try? String(contentsOfFile: directory + "/pids.current", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? -1 }

    /// Removes the cgroup once its processes are gone.
    func remove() {
        for _ in 0..<100 where rmdir(directory) != 0 { usleep(50_000) }
    }
}

/// The control socket under the unit's task limit: idle clients must not take the threads the
/// daemon needs for its turns (issue 12, item 2).
@Suite(.serialized) struct ControlSocketLimitTests {
    /// The daemon's `TasksMax=` in systemd/voiced.service.
    static let tasksMax = 64

    /// voicectl with a deadline: nil when it did not answer in time (it is killed).
    func voicectl(_ d: DaemonHarness, _ arguments: [String], within seconds: Double = 10) throws -> (status: Int32, stdout: String)? {
        let output = d.directory + "/voicectl-\(UUID().uuidString.prefix(6)).out"
        let process = DaemonHarness.process("voicectl", arguments + ["--socket", d.socket], log: output)
        try process.run()
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        process.waitUntilExit()
        return (process.terminationStatus, (try? String(contentsOfFile: output, encoding: .utf8)) ?? "")
    }

    /// A connection that connects and then says nothing.
    func idleConnection(_ path: String) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: Array(path.utf8))
            raw[path.utf8.count] = 0
        }
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        return fd
    }

    /// A second of a loud tone every five seconds, for 90 s: the fake cloud hears an utterance in each.
    static func speechEveryFiveSeconds() -> [Int16] {
        (0..<(16_000 * 90)).map { i in
            let second = Double(i) / 16_000
            guard second >= 2, second.truncatingRemainder(dividingBy: 5) < 1 else { return 0 }
            return Int16(8000 * sin(2 * Double.pi * 440 * second))
        }
    }

    static func turns(in json: String) -> [[String: Any]] {
        let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        return object?["turns"] as? [[String: Any]] ?? []
    }

    @Test func idleClientsUnderTheUnitsTaskLimitLeaveStatusAndTurnsWorking() throws {
        let d = try DaemonHarness(capture: Self.speechEveryFiveSeconds())
        for _ in 0..<200 where !d.log.contains("voiced ready") { usleep(50_000) }
        guard let pid = d.daemonPID else {
            Issue.record("voiced is not running: \(d.log)")
            return
        }
        // Speech alone starts a turn (the harness has no button).
        #expect(try voicectl(d, ["settings", "set", "always_listening", "true"])?.status == 0)
        let cgroup = try PidsCgroup(limit: Self.tasksMax)
        defer {
            d.stopDaemon()
            cgroup.remove()
        }
        try cgroup.move(pid)
        let threadsBefore = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task").count) ?? -1
        let before = try #require(try voicectl(d, ["status", "--json"]), "voicectl status did not answer before the idle clients")
        let object = try JSONSerialization.jsonObject(with: Data(before.stdout.utf8)) as? [String: Any]
        let turnBefore = object?["turn"] as? Int ?? 0

        let idle = (0..<100).map { _ in idleConnection(d.socket) }
        defer { for fd in idle { close(fd) } }
        usleep(500_000)  // let the daemon take them all in
        let threadsAfter = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task").count) ?? -1
        print("voiced under pids.max=\(Self.tasksMax): \(threadsBefore) threads before 100 idle clients, \(threadsAfter) after; cgroup pids.current \(cgroup.current)")

        let names = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []).compactMap {
            try? String(contentsOfFile: "/proc/\(pid)/task/\($0)/comm", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(names.filter { $0.hasPrefix("voiced-control") } == ["voiced-control"], "threads: \(names)")

        let status = try voicectl(d, ["status"])
        #expect(status?.status == 0, "voicectl status with 100 idle clients: \(status.map { "\($0)" } ?? "no answer within 10 s")")

        // A turn that starts after the idle clients still reaches the LLM (the fake cloud answers).
        var reached = false
        let deadline = Date().addingTimeInterval(40)
        while !reached && Date() < deadline && d.daemonPID != nil {
            if let history = try voicectl(d, ["history", "--json", "-n", "20"]) {
                reached = Self.turns(in: history.stdout).contains { turn in
                    (turn["turn"] as? Int ?? 0) > turnBefore && !((turn["llm_calls"] as? [Any]) ?? []).isEmpty
                }
            }
            if !reached { usleep(500_000) }
        }
        #expect(reached, "no turn reached the LLM after the idle clients; log:\n\(d.log.suffix(3000))")
        #expect(d.daemonPID != nil, "voiced died: \(d.log.suffix(3000))")
    }
}
