import Foundation
import Testing
import VoiceTesting

/// Every voicectl command against a running daemon on the demo's WAV and fake-cloud backends.
@Suite(.serialized) struct VoiceCtlTests {
    @Test func statusShowsTheDaemon() throws {
        let d = try DaemonHarness()
        let text = try d.voicectl(["status"])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("state        IDLE"))
        #expect(text.stdout.contains("microphone   live"))
        #expect(text.stdout.contains("providers    stt "))
        let json = try d.voicectl(["status", "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(object?["state"] as? String == "idle")
        #expect((object?["ring_buffer"] as? [String: Any])?["capacity"] as? Int == 160_000)
        // The telemetry writer's retries and losses (docs/telemetry.md).
        #expect(text.stdout.contains("telemetry    0 failed writes, 0 retried, 0 waiting, 0 lost"))
        let store = object?["telemetry"] as? [String: Any]
        #expect(store?["lost_events"] as? Int == 0 && store?["retried_writes"] as? Int == 0)
    }

    @Test func settingsAreValidatedAppliedAndSurviveARestart() throws {
        let d = try DaemonHarness()
        let bad = try d.voicectl(["settings", "set", "debounce_ms", "300"])
        #expect(bad.status == 4)
        #expect(bad.stderr.contains("debounce_ms: 300 is out of range 400…1200"))
        let rate = try d.voicectl(["settings", "set", "cancel_rate_raise_above", "60%"])
        #expect(rate.status == 4)
        #expect(rate.stderr.contains("out of range 0.1…0.5"))
        #expect(try d.voicectl(["settings", "set", "debounce_ms", "650"]).status == 0)
        #expect(try d.voicectl(["status", "--json"]).stdout.contains("\"debounce_ms\": 650"))
        #expect(try d.voicectl(["settings", "set", "correction_markers", "hold on,scratch that"]).status == 0)
        d.stopDaemon()
        try d.startDaemon()
        let get = try d.voicectl(["settings", "get"])
        #expect(get.status == 0)
        #expect(get.stdout.contains("debounce_ms") && get.stdout.contains("650") && get.stdout.contains("(voicectl)"))
        #expect(get.stdout.contains("hold on, scratch that"))
        #expect(try d.voicectl(["settings", "reset"]).status == 0)
        #expect(try d.voicectl(["settings", "get", "debounce_ms"]).stdout.contains("debounce_ms = 400"))
    }

    @Test func wakeInterruptSayAndMuteRespectTheState() throws {
        let d = try DaemonHarness()
        #expect(try d.voicectl(["interrupt"]).status == 5)
        let wake = try d.voicectl(["wake"])
        #expect(wake.status == 0 && wake.stdout.contains("LISTENING"))
        let again = try d.voicectl(["wake"])
        #expect(again.status == 5 && again.stderr.contains("not idle"))
        #expect(try d.voicectl(["say", "hello"]).status == 5)
        usleep(1_500_000)  // the wake hears nothing and times out (listen_timeout_ms = 1000)
        #expect(try d.voicectl(["say", "Hello from voicectl."]).status == 0)
        #expect(try d.voicectl(["mute", "on"]).stdout.contains("muted"))
        #expect(try d.voicectl(["status"]).stdout.contains("MUTED"))
        #expect(try d.voicectl(["mute", "off"]).stdout.contains("live"))
        #expect(try d.voicectl(["mute", "maybe"]).status == 64)
    }

    /// Not listening (IDLE without `always_listening`, or muted), the microphone stands by: nothing
    /// is captured, and `voicectl status` says so. A wake starts it before the wake returns.
    @Test func theIdleMicrophoneStandsByUntilAWake() throws {
        let d = try DaemonHarness()
        func written() throws -> Int {
            let json = try d.voicectl(["status", "--json"])
            let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
            return try #require((object?["ring_buffer"] as? [String: Any])?["written_samples"] as? Int, "\(json.stdout)")
        }
        let idle = try d.voicectl(["status"])
        #expect(idle.stdout.contains("device       microphone: WAV file") && idle.stdout.contains("standing by"), "\(idle.stdout)")
        let before = try written()
        usleep(300_000)
        #expect(try written() == before, "the idle microphone captured audio")

        #expect(try d.voicectl(["wake"]).status == 0)
        let listening = try d.voicectl(["status"])
        #expect(!listening.stdout.contains("standing by"), "\(listening.stdout)")
        usleep(300_000)  // listen_timeout_ms = 1000: still LISTENING
        #expect(try written() >= before + 3 * 320, "no audio captured after the wake")

        usleep(1_500_000)  // the wake heard nothing and timed out: IDLE again
        #expect(try d.voicectl(["status"]).stdout.contains("standing by"))
    }

    @Test func historyMetricsAndWatch() throws {
        let d = try DaemonHarness()
        #expect(try d.voicectl(["history", "-n", "5"]).stdout.contains("no turns yet"))
        #expect(try d.voicectl(["history", "-n", "0"]).status == 64)
        let metrics = try d.voicectl(["metrics"])
        #expect(metrics.status == 0 && metrics.stdout.contains("cancellation rate") && metrics.stdout.contains("debounce            400 ms"))
        // watch: start it, wake the speaker, and read the state change it prints. The watcher may
        // connect after a first wake (a busy machine), so wake again until it has seen one.
        let seen = try d.watch(until: "IDLE → LISTENING") { _ = try d.voicectl(["wake"]) }
        #expect(seen.contains("IDLE → LISTENING  (button_wake)"))
    }

    @Test func aStoppedDaemonIsReportedWithExitCode3() throws {
        let d = try DaemonHarness()
        d.stopDaemon()
        #expect(d.daemonExitStatus == 0)
        let out = try d.voicectl(["status"])
        #expect(out.status == 3)
        #expect(out.stderr.contains("cannot reach the daemon"))
    }

    @Test(arguments: ["status", "watch", "settings", "history", "metrics", "wake", "interrupt", "say", "mute"])
    func everyCommandHasHelp(command: String) throws {
        let process = DaemonHarness.process("voicectl", [command, "--help"])
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(text.contains("USAGE: voicectl \(command)"))
    }
}

@Suite struct DaemonTests {
    @Test func theDaemonStopsGracefullyOnSIGTERMAndSaysWhereItIs() throws {
        let d = try DaemonHarness()
        usleep(500_000)
        d.stopDaemon()
        #expect(d.daemonExitStatus == 0)
        #expect(d.log.contains("voiced ready"))
        #expect(d.log.contains("voiced stopped"))
        #expect(!d.log.contains("k\""))  // no key in the log
    }

    @Test func sighupAppliesLiveKeysAndLogsThoseThatNeedARestart() throws {
        let d = try DaemonHarness()
        for _ in 0..<100 where !d.log.contains("voiced ready") { usleep(50_000) }
        try d.reload([("listen_timeout_ms = 1000", "listen_timeout_ms = 1000\ndebounce_ms = 700"),
                      ("backend = \"console_no_stdin\"", "backend = \"console_no_stdin\"\nchip = \"gpiochip9\"")])
        var applied = false
        for _ in 0..<100 where !applied {
            usleep(50_000)
            applied = d.log.contains("reload: changed; takes effect after restart")
        }
        #expect(applied, "\(d.log)")
        #expect(d.log.contains("reload: applied key=turn.debounce_ms"))
        #expect(d.log.contains("reload: changed; takes effect after restart key=gpio.chip"))
        #expect(try d.voicectl(["status", "--json"]).stdout.contains("\"debounce_ms\": 700"))
        // A broken file is refused and the running configuration kept.
        try d.reload([("debounce_ms = 700", "debounce_ms = 5")])
        for _ in 0..<100 where !d.log.contains("reload: the configuration is not usable") { usleep(50_000) }
        #expect(d.log.contains("reload: the configuration is not usable"))
        #expect(try d.voicectl(["status"]).status == 0)
        // So is a provider the next start would refuse: it is said now, not at the next boot.
        try d.reload([("debounce_ms = 5", "debounce_ms = 700"), ("[tts]\n", "[tts]\nprovider = \"acme\"\n")])
        for _ in 0..<100 where !d.log.contains("unknown provider 'acme'") { usleep(50_000) }
        #expect(d.log.contains("reload: the configuration is not usable") && d.log.contains("unknown provider 'acme'"), "\(d.log)")
        #expect(try d.voicectl(["status"]).status == 0)
    }

    @Test func aMissingKeyStopsTheDaemonWithExitCode78() throws {
        let process = DaemonHarness.process("voiced", ["run", "--config", "config/voiced.toml"])
        process.currentDirectoryURL = VoicedBinary.repository
        var environment = ProcessInfo.processInfo.environment
        environment["DEEPGRAM_API_KEY"] = nil
        environment["CREDENTIALS_DIRECTORY"] = nil
        process.environment = environment
        let err = Pipe()
        process.standardError = err
        process.standardOutput = Pipe()
        try process.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 78)
        #expect(text.contains("no Deepgram API key: set the systemd credential deepgram_api_key or DEEPGRAM_API_KEY"))
    }
}
