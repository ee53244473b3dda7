import Foundation
import Logging
import Synchronization
import Testing
import VoiceControl
import VoiceCore
import VoiceSupport
import VoiceTesting
@testable import VoiceDaemon

/// A daemon's control surface on a manual clock: the turn service with scripted providers,
/// the settings store in a temporary state directory, and the real socket server.
final class ControlHarness {
    let h = Harness()
    let directory: String
    let settings: SettingsStore
    let control: DaemonControl
    let server: ControlSocketServer
    let muted = Locked(false)
    let applied = Locked<[VoicedConfig]>([])

    var socketPath: String { server.path }

    init(limits: ControlLimits = ControlLimits()) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("voiced-ctl-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        settings = SettingsStore(base: VoicedConfig(), file: directory + "/settings.toml")
        let ring = AudioRingBuffer(capacity: 1600)
        let muted = self.muted
        let applied = self.applied
        let probes = DaemonProbes(
            sessionID: "session-1", clock: h.clock, providers: { ["stt": "connected", "llm": "ok", "tts": "ok"] },
            ringBuffer: { ring.statistics }, isMuted: { muted.withLock { $0 } }, setMuted: { on in muted.withLock { $0 = on } },
            apply: { config in applied.withLock { $0.append(config) } })
        control = DaemonControl(turns: h.service, settings: settings, probes: probes)
        server = ControlSocketServer(path: directory + "/control.sock", group: "root", handler: control, logger: Logger(label: "test"),
                                     limits: limits)
        try server.start()
    }

    deinit {
        server.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    func client() throws -> ControlClient { try ControlClient(path: socketPath) }

    func request(_ command: String, _ arguments: [String: JSONValue] = [:]) throws -> JSONValue {
        try client().request(command, arguments)
    }

    func error(_ command: String, _ arguments: [String: JSONValue] = [:]) -> ControlError? {
        do {
            _ = try request(command, arguments)
            return nil
        } catch let error as ControlError {
            return error
        } catch {
            return nil
        }
    }
}

/// A connected socket whose reads give up after 10 s, so a broken server fails a test instead of hanging it.
func patientSocket(_ path: String) throws -> LineSocket {
    let socket = try LineSocket.connect(path: path)
    var timeout = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(socket.descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    return socket
}

/// The threads of this process now.
func threadCount() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? 0 }

@Suite(.serialized) struct ControlSocketTests {
    @Test func theSocketIsMode0660AndOwnedByTheGroup() throws {
        let c = try ControlHarness()
        let attributes = try FileManager.default.attributesOfItem(atPath: c.socketPath)
        #expect((attributes[.posixPermissions] as? Int) == 0o660)
        #expect((attributes[.groupOwnerAccountName] as? String) == "root")
        #expect((attributes[.type] as? FileAttributeType) == .typeSocket)
    }

    @Test func statusTellsStateSessionProvidersMicrophoneRingAndDebounce() throws {
        let c = try ControlHarness()
        c.h.askAndAdvance(to: 2400)
        let status = try c.request("status")
        #expect(status["state"] == .string("speaking"))
        #expect(status["turn"] == .int(1))
        #expect(status["session_id"] == .string("session-1"))
        #expect(status["providers"]?["stt"] == .string("connected"))
        #expect(status["muted"] == .bool(false))
        #expect(status["ring_buffer"]?["capacity"] == .int(1600))
        #expect(status["debounce_ms"] == .int(400))
        #expect(status["turn_loop"]?["dropped"] == .int(0))
        guard case .int(let handled)? = status["turn_loop"]?["handled"], handled > 5 else {
            Issue.record("the turn loop's handled count is missing or did not move: \(String(describing: status["turn_loop"]))")
            return
        }
        guard case .array(let transitions)? = status["transitions"] else { Issue.record("no transitions"); return }
        #expect(transitions.count == 4)
    }

    @Test func settingsAreValidatedAppliedAndPersisted() throws {
        let c = try ControlHarness()
        let set = try c.request("settings.set", ["key": .string("debounce_ms"), "value": .string("600")])
        #expect(set["debounce_ms"] == .int(600))
        #expect(c.applied.withLock { $0.last?.turn.debounce } == .milliseconds(600))
        let rate = try c.request("settings.set", ["key": .string("cancel_rate_raise_above"), "value": .string("40%")])
        #expect(rate["cancel_rate_raise_above"] == .double(0.4))
        let error = c.error("settings.set", ["key": .string("debounce_ms"), "value": .string("300")])
        #expect(error?.code == .badArgument)
        #expect(error?.message == "debounce_ms: 300 is out of range 400…1200 (allowed: 400…1200 ms)")
        #expect(c.error("settings.set", ["key": .string("nonsense"), "value": .string("1")])?.message.hasPrefix("unknown setting 'nonsense'") == true)
        #expect(c.error("settings.set", ["key": .string("speculation"), "value": .string("eager")])?.code == .badArgument)
        // A restart: a new store over the same state directory sees the change.
        let reloaded = SettingsStore(base: VoicedConfig(), file: c.settings.file)
        #expect(reloaded.effective.turn.debounce == .milliseconds(600))
        #expect(reloaded.problems.isEmpty)
        let all = try c.request("settings.get")
        #expect(all["debounce_ms"]?["source"] == .string("voicectl"))
        #expect(all["volume"]?["source"] == .string("default"))
        _ = try c.request("settings.reset", ["key": .string("debounce_ms")])
        #expect(try c.request("settings.get", ["key": .string("debounce_ms")])["debounce_ms"] == .int(400))
        #expect(SettingsStore(base: VoicedConfig(), file: c.settings.file).effective.turn.debounce == .milliseconds(400))
    }

    @Test func listsAndVoicesAreSettable() throws {
        let c = try ControlHarness()
        let markers = try c.request("settings.set", ["key": .string("correction_markers"), "value": .string("hold on, scratch that")])
        #expect(markers["correction_markers"] == .array([.string("hold on"), .string("scratch that")]))
        let voice = try c.request("settings.set", ["key": .string("voice"), "value": .string("AbC123")])
        #expect(voice["voice"] == .string("AbC123"))
    }

    @Test func wakeInterruptAndSayRespectTheState() throws {
        let c = try ControlHarness()
        #expect(c.error("interrupt")?.code == .notPermitted)
        #expect(try c.request("wake")["state"] == .string("listening"))
        #expect(c.error("wake")?.code == .notPermitted)
        #expect(c.error("say", ["text": .string("hello")])?.code == .notPermitted)
        c.h.clock.advance(to: .milliseconds(9000))   // the wake times out
        #expect(try c.request("say", ["text": .string("Hello there.")])["saying"] == .string("Hello there."))
        #expect(c.h.tts.requests.last?.text == "Hello there.")
        #expect(c.error("say", ["text": .string("  ")])?.code == .badArgument)
    }

    @Test func interruptStopsAnAnswer() throws {
        let c = try ControlHarness()
        c.h.askAndAdvance(to: 2400)
        #expect(try c.request("interrupt")["state"] == .string("listening"))
        #expect(c.h.playback.drops.count == 1)
    }

    @Test func muteIsReportedInStatus() throws {
        let c = try ControlHarness()
        #expect(try c.request("mute", ["on": .bool(true)])["muted"] == .bool(true))
        #expect(try c.request("status")["muted"] == .bool(true))
        #expect(c.error("mute", ["on": .string("yes")])?.code == .badArgument)
    }

    @Test func historyAndMetricsDescribeFinishedTurns() throws {
        let c = try ControlHarness()
        c.h.askAndAdvance(to: 2400)
        c.h.clock.runUntilIdle()
        let history = try c.request("history", ["n": .int(5)])
        guard case .array(let turns)? = history["turns"] else { Issue.record("no turns"); return }
        #expect(turns.count == 1)
        #expect(turns.first?["user_text"] == .string("What is the weather?"))
        #expect(turns.first?["agent_text"] == .string("It is sunny. Enjoy your day!"))
        #expect(turns.first?["interrupted"] == .bool(false))
        #expect(turns.first?["latency_ms"] == .int(1010))
        #expect(c.error("history", ["n": .int(0)])?.code == .badArgument)
        let metrics = try c.request("metrics")
        #expect(metrics["turns_completed"] == .int(1))
        #expect(metrics["avg_turn_latency_ms"] == .int(1010))
        #expect(metrics["recent_latencies_ms"] == .array([.int(1010)]))
    }

    @Test func unknownMalformedAndOversizedRequestsGetErrorsAndTheConnectionSurvives() throws {
        let c = try ControlHarness()
        #expect(c.error("dance")?.code == .unknownCommand)
        let socket = try LineSocket.connect(path: c.socketPath)
        socket.write(line: "{not json")
        socket.write(line: String(repeating: "x", count: 100_000))
        socket.write(line: #"{"v":1,"id":3,"cmd":"status"}"#)
        var replies: [ControlReply] = []
        for _ in 0..<3 {
            guard case .line(let bytes) = socket.readLine(limit: 1 << 20) else { break }
            replies.append(try ControlReply.parse(bytes))
        }
        guard replies.count == 3 else { Issue.record("got \(replies)"); return }
        if case .failure(_, let error) = replies[0] { #expect(error.code == .malformed) } else { Issue.record("\(replies[0])") }
        if case .failure(_, let error) = replies[1] { #expect(error.code == .tooLarge) } else { Issue.record("\(replies[1])") }
        if case .success(let id, _) = replies[2] { #expect(id == .int(3)) } else { Issue.record("\(replies[2])") }
    }

    @Test func severalClientsAtOnce() throws {
        let c = try ControlHarness()
        let clients = try (0..<5).map { _ in try c.client() }
        for client in clients { #expect(try client.request("status")["state"] == .string("idle")) }
        #expect(c.server.connectionCount == 5)
    }

    @Test func aWatcherSeesStatesTranscriptsSpeechAndTurns() throws {
        let c = try ControlHarness()
        let socket = try LineSocket.connect(path: c.socketPath)
        socket.write(line: #"{"v":1,"id":1,"cmd":"watch"}"#)
        _ = socket.readLine(limit: 1 << 20)  // the reply
        c.h.askAndAdvance(to: 2400)
        c.h.clock.runUntilIdle()
        var types: [String] = []
        while types.last != "turn", case .line(let bytes) = socket.readLine(limit: 1 << 20) {
            if case .event(let event) = try ControlReply.parse(bytes), case .string(let type)? = event["type"] { types.append(type) }
        }
        #expect(types.contains("state") && types.contains("final") && types.contains("speaking") && types.last == "turn")
    }

    @Test func aWatcherThatStopsReadingDoesNotStallTheController() throws {
        let c = try ControlHarness()
        let socket = try LineSocket.connect(path: c.socketPath)
        socket.write(line: #"{"v":1,"id":1,"cmd":"watch"}"#)
        _ = socket.readLine(limit: 1 << 20)
        c.h.service.buttonPressed()
        let clock = ContinuousClock()
        let start = clock.now
        for i in 0..<30_000 { c.h.service.speech(.partial("partial number \(i) of a very long utterance"), from: .speechToText) }
        // The controller handled every event; the stuck watcher was cut off instead of blocking it.
        #expect(c.h.service.current.handledEvents >= 30_001)
        #expect(clock.now - start < .seconds(20))
        #expect(try c.request("status")["state"] == .string("listening"))
        _ = socket
    }

    @Test func idleClientsCostTheDaemonNoThreads() throws {
        let c = try ControlHarness()
        #expect(try c.request("status")["state"] == .string("idle"))
        let before = threadCount()
        let idle = try (0..<40).map { _ in try patientSocket(c.socketPath) }
        #expect(try c.request("status")["state"] == .string("idle"))
        // One thread serves every client (other suites' threads come and go meanwhile, hence the slack).
        #expect(threadCount() - before < 20, "threads before \(before), after \(threadCount())")
        _ = idle
    }

    @Test func moreIdleClientsThanTheCapDoNotKeepStatusOut() throws {
        let c = try ControlHarness()
        let cap = 16  // ControlLimits.defaultMaxClients, the documented cap
        let idle = try (0..<(cap + 10)).map { _ in try patientSocket(c.socketPath) }
        #expect(try c.request("status")["state"] == .string("idle"))
        #expect(c.server.connectionCount <= cap)
        // The first ones, idle longest, were closed with a reason.
        guard case .line(let bytes) = idle[0].readLine(limit: 1 << 20), case .failure(_, let error) = try ControlReply.parse(bytes) else {
            Issue.record("the client idle longest was not told why it was closed")
            return
        }
        #expect(error.code == .unavailable)
        #expect(error.message.contains("idle the longest"))
        #expect(idle[0].readLine(limit: 1 << 20) == .end)
    }

    @Test func anIdleClientIsClosedAndAWatcherIsNot() throws {
        let c = try ControlHarness(limits: ControlLimits(idleTimeout: .milliseconds(200)))
        let watcher = try patientSocket(c.socketPath)
        watcher.write(line: #"{"v":1,"id":1,"cmd":"watch"}"#)
        #expect(watcher.readLine(limit: 1 << 20) != .end)
        let idle = try patientSocket(c.socketPath)
        idle.write(line: #"{"v":1,"id":1,"cmd":"status"}"#)
        #expect(idle.readLine(limit: 1 << 20) != .end)
        let half = Array(#"{"v":1,"id":2,"cmd":"sta"#.utf8)  // half a request keeps no one alive
        #expect(half.withUnsafeBytes { send(idle.descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == half.count)
        guard case .line(let bytes) = idle.readLine(limit: 1 << 20), case .failure(_, let error) = try ControlReply.parse(bytes) else {
            Issue.record("the idle client was not told why it was closed")
            return
        }
        #expect(error.message == "closed after 200 ms without a request")
        #expect(idle.readLine(limit: 1 << 20) == .end)
        // The watcher is still served.
        c.h.service.buttonPressed()
        guard case .line(let event) = watcher.readLine(limit: 1 << 20), case .event = try ControlReply.parse(event) else {
            Issue.record("the watcher was closed")
            return
        }
        #expect(c.server.connectionCount == 1)
    }

    @Test func aFullHouseOfWatchersRefusesANewcomerWithAReason() throws {
        let c = try ControlHarness(limits: ControlLimits(maxClients: 2))
        let watchers = try (0..<2).map { _ in try patientSocket(c.socketPath) }
        for watcher in watchers {
            watcher.write(line: #"{"v":1,"id":1,"cmd":"watch"}"#)
            #expect(watcher.readLine(limit: 1 << 20) != .end)
        }
        let error = c.error("status")
        #expect(error?.code == .unavailable)
        #expect(error?.message == "the daemon serves 2 control clients at once and all of them are watching; try again later")
        #expect(c.server.connectionCount == 2)
    }
}
