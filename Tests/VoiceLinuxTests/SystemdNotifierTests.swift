import Glibc
import Logging
import ServiceLifecycle
import ServiceLifecycleTestKit
import Testing
import VoiceCore
import VoiceTesting
@testable import VoiceLinux

/// A real AF_UNIX datagram socket in a temporary directory, set as `NOTIFY_SOCKET` (and
/// `WATCHDOG_USEC=2000000`) for the whole test process, once: sd_notify reads the environment, and
/// setting it once, before any notifier exists, keeps setenv away from concurrent readers.
final class NotifySocket: Sendable {
    static let shared = NotifySocket()

    let path: String
    let fd: Int32

    private init() {
        var template = Array("/tmp/voiced-notify-XXXXXX".utf8CString)
        let directory = template.withUnsafeMutableBufferPointer { buffer -> String in
            guard let base = buffer.baseAddress, let made = mkdtemp(base) else { return "/tmp" }
            return String(cString: made)
        }
        path = directory + "/notify.sock"
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8.prefix(raw.count - 1))
            raw.copyBytes(from: bytes)
        }
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        setenv("NOTIFY_SOCKET", path, 1)
        setenv("WATCHDOG_USEC", "2000000", 1)
    }

    /// The next datagram if one is queued now; nil otherwise (never waits: sd_notify's sendmsg has
    /// queued the datagram by the time it returns).
    func receiveNow() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        guard count >= 0 else { return nil }
        return String(decoding: buffer[0..<count], as: UTF8.self)
    }

    /// The next datagram, awaited without blocking a concurrency thread (bounded).
    func next(timeout: Duration = .seconds(5)) async -> String? {
        var message: String?
        _ = await eventually(timeout: timeout) {
            message = receiveNow()
            return message != nil
        }
        return message
    }

    /// Every datagram queued now.
    func drain() -> [String] {
        var all: [String] = []
        while let message = receiveNow() { all.append(message) }
        return all
    }
}

/// sd_notify against a real datagram socket. Serialized: the tests share the one socket.
@Suite(.serialized) struct SystemdNotifierTests {
    let socket = NotifySocket.shared
    let log = LogRecorder()

    init() { _ = NotifySocket.shared.drain() }

    @Test func theNotifierReadsTheSocketAndTheWatchdogIntervalFromTheEnvironment() {
        let notifier = SystemdNotifier(logger: log.logger())
        #expect(notifier.isActive)
        #expect(notifier.watchdogTimeout == .seconds(2))
        #expect(notifier.watchdogPingInterval == .seconds(1))  // half of WATCHDOG_USEC
    }

    @Test func readyStatusWatchdogAndStoppingArriveAsDatagrams() throws {
        let notifier = SystemdNotifier(logger: log.logger())
        notifier.ready(status: "Idle: waiting for the button")
        #expect(socket.receiveNow() == "READY=1\nSTATUS=Idle: waiting for the button")
        notifier.status(.muted)
        #expect(socket.receiveNow() == "STATUS=Microphone muted: no audio leaves the device")
        notifier.status("two\nlines")
        #expect(socket.receiveNow() == "STATUS=two lines")
        notifier.watchdog()
        #expect(socket.receiveNow() == "WATCHDOG=1")
        notifier.stopping()
        #expect(socket.receiveNow() == "STOPPING=1\nSTATUS=Shutting down")
        notifier.reloading()
        let reloading = try #require(socket.receiveNow())
        #expect(reloading.hasPrefix("RELOADING=1\nMONOTONIC_USEC="))
        #expect(socket.drain().isEmpty)
        #expect(log.messages(at: .warning).isEmpty)
    }

    @Test func everyStateHasWords() {
        let states: [IndicatorState] = [.idle, .listening, .speculative, .committed, .speaking, .error, .offline, .muted]
        let words = Set(states.map(SystemdNotifier.statusText(for:)))
        #expect(words.count == states.count)
    }

    @Test func withoutNotifySocketNothingIsSent() throws {
        let notifier = SystemdNotifier(isActive: false, watchdogTimeout: nil, logger: log.logger())
        #expect(try notifier.send(["READY=1"]) == false)
        notifier.ready()
        notifier.watchdog()
        notifier.stopping()
        #expect(socket.drain().isEmpty)
        #expect(notifier.watchdogPingInterval == nil)
    }

    @Test func watchdogIsSentWhileEveryLoopIsAliveAndStopsWhenOneStalls() {
        let clock = ManualClock()
        let heartbeats = LoopHeartbeats(loops: ["capture", "controller"], window: .seconds(3), clock: clock)
        let service = SystemdWatchdogService(notifier: SystemdNotifier(logger: log.logger()), heartbeats: heartbeats, clock: clock, logger: log.logger())

        #expect(service.tick() == .ping)
        #expect(socket.receiveNow() == "WATCHDOG=1")

        // Both loops report: pings go on.
        clock.advance(to: .milliseconds(2000))
        heartbeats.beat("capture")
        heartbeats.beat("controller")
        clock.advance(to: .milliseconds(4000))
        #expect(service.tick() == .ping)
        #expect(socket.receiveNow() == "WATCHDOG=1")

        // The capture loop stalls; the controller keeps going.
        heartbeats.beat("controller")
        clock.advance(to: .milliseconds(5001))
        #expect(service.tick() == .withhold(stalled: ["capture"]))
        #expect(socket.receiveNow() == nil)
        clock.advance(to: .milliseconds(6000))
        #expect(service.tick() == .withhold(stalled: ["capture"]))
        #expect(socket.receiveNow() == nil)
        #expect(log.entries.filter { $0.level == .error }.map { $0.metadata["stalled"] } == ["capture"])  // logged once

        // It recovers: pings resume.
        heartbeats.beat("capture")
        #expect(service.tick() == .ping)
        #expect(socket.receiveNow() == "WATCHDOG=1")
        #expect(log.messages(at: .notice) == ["watched loops make progress again; watchdog pings resume"])
    }

    @Test func theServicePingsAtHalfTheIntervalAndAnnouncesTheShutdown() async throws {
        let clock = ManualClock()
        let heartbeats = LoopHeartbeats(loops: ["capture", "controller"], window: .seconds(3), clock: clock)
        let notifier = SystemdNotifier(logger: log.logger())
        let service = SystemdWatchdogService(notifier: notifier, heartbeats: heartbeats, clock: clock, logger: log.logger())
        let socket = self.socket
        let log = self.log

        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await service.run() }

                // The first ping goes out at once; then one per second (WATCHDOG_USEC 2 s / 2).
                #expect(await socket.next() == "WATCHDOG=1")
                for second in 1...4 {
                    heartbeats.beat("capture")
                    if second <= 2 { heartbeats.beat("controller") }  // last at 1 s
                    clock.advance(to: .milliseconds(Int64(second) * 1000))
                    #expect(await socket.next() == "WATCHDOG=1", "at \(second) s")
                }

                // At 5 s the controller has not reported for more than its 3 s window: no ping.
                heartbeats.beat("capture")
                clock.advance(to: .milliseconds(5000))
                #expect(await eventually { log.entries.contains { $0.level == .error } })
                #expect(socket.drain().isEmpty)

                // SIGTERM: STOPPING=1 goes out and the service ends. The manual clock's sleep is
                // not cancellable, so the clock moves on until the loop has seen the cancellation
                // (no ping can slip in meanwhile: both loops are stalled by now).
                trigger.triggerGracefulShutdown()
                var stopping: String?
                for _ in 0..<100 where stopping == nil {
                    clock.advance(by: .seconds(1))
                    stopping = await socket.next(timeout: .milliseconds(50))
                }
                #expect(stopping == "STOPPING=1\nSTATUS=Shutting down")
                try await group.waitForAll()
            }
        }
        #expect(socket.drain().isEmpty)
    }

    @Test func withoutWatchdogSecTheServiceOnlyAnnouncesTheShutdown() async throws {
        let notifier = SystemdNotifier(isActive: true, watchdogTimeout: nil, logger: log.logger())
        let service = SystemdWatchdogService(
            notifier: notifier, heartbeats: LoopHeartbeats(loops: ["capture"], window: .seconds(1), clock: ManualClock()),
            clock: ManualClock(), logger: log.logger()
        )
        try await testGracefulShutdown { trigger in
            async let run: Void = service.run()
            #expect(await eventually { log.messages(at: .info).contains("systemd watchdog off: the unit sets no WatchdogSec=") })
            trigger.triggerGracefulShutdown()
            try await run
        }
        #expect(socket.drain() == ["STOPPING=1\nSTATUS=Shutting down"])
    }

    @Test func aFailedSendSaysWhatToCheck() {
        let error = SystemdError(call: "sd_notify", message: "WATCHDOG=1", code: ECONNREFUSED)
        #expect(error.description == "sd_notify(WATCHDOG=1) failed: Connection refused (ECONNREFUSED); is $NOTIFY_SOCKET reachable (RestrictAddressFamilies= must allow AF_UNIX)?")
    }
}
