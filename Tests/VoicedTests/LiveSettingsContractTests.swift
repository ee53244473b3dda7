import Foundation
import Testing
import VoiceCore
import VoiceTesting

/// The contract of live settings: every key the schema marks live is changed with voicectl on one
/// running daemon (WAV capture of bursts of "speech", the fake cloud), and the change is seen in
/// what the daemon does next: the requests the fake cloud receives, the daemon's log, its state
/// transitions (`voicectl watch`), what it plays. A key marked live with no check here fails.
@Suite(.serialized) struct LiveSettingsContractTests {
    /// Where a check looks. Phases run in this order, each after its keys are set.
    enum Phase: Int, CaseIterable, Comparable {
        /// Microphone muted, a wake that hears nothing.
        case mutedWake
        /// A turn whose LLM call fails (the fake cloud's first chat request): the apology, in the fallback voice.
        case fallbackTurn
        /// A turn answered by the cloud.
        case answerTurn
        /// A turn with no speculation and no history by turns.
        case atCommitTurn
        /// A turn with no history by characters, barge-in by the button only, and a follow-up.
        case buttonOnlyTurn
        /// A turn with the voice detector's threshold out of reach.
        case deafDetectorTurn
        /// No wake: speech alone starts listening.
        case alwaysListening
        /// A notice played through the speaker.
        case say
        /// The component the daemon gives the key to is not present in this harness; its own
        /// test observes the change through the method the daemon calls.
        case component

        static func < (a: Phase, b: Phase) -> Bool { a.rawValue < b.rawValue }
    }

    /// What a phase left behind.
    struct Evidence {
        var events: [[String: Any]] = []
        var daemonLog = ""
        var cloudLog = ""
        var stateWhenLLMSeen: String?
        var stateWhenTTSSeen: String?
        var playedBefore: [Int16] = []
        var playedDuring: [Int16] = []
        var status: [String: Any] = [:]

        var transitions: [(t: Int, from: String, to: String, cause: String)] {
            events.compactMap { e in
                guard e["type"] as? String == "state", let t = e["t_ms"] as? Int, let from = e["from"] as? String,
                      let to = e["to"] as? String, let cause = e["cause"] as? String else { return nil }
                return (t, from, to, cause)
            }
        }

        /// Milliseconds from the first transition into `from`-state `a` to the next transition out of it.
        func time(in state: String) -> Int? {
            let list = transitions
            guard let enter = list.firstIndex(where: { $0.to == state }),
                  let leave = list[(enter + 1)...].first(where: { $0.from == state }) else { return nil }
            return leave.t - list[enter].t
        }

        /// What the daemon said it speaks (`speaking` events).
        var spoken: [String] { events.filter { $0["type"] as? String == "speaking" }.compactMap { $0["text"] as? String } }

        func cloudRequests(_ service: String) -> [String] {
            cloudLog.split(separator: "\n").map(String.init).filter { $0.contains("request") && $0.contains("service=\(service)") }
        }

        var bargedIn: Bool { transitions.contains { $0.cause == "barge_in" } }
    }

    struct Check: Sendable {
        var value: String
        var phase: Phase
        /// What should be seen, for the failure message.
        var expected: String
        var observed: @Sendable (Evidence) -> Bool
    }

    static let tone: [Int16] = (0..<(16_000 * 6 / 10)).map { Int16(30_000 * sin(2 * Double.pi * 300 * Double($0) / 16_000)) }

    /// Every live key: the value set, and the behaviour that shows it took effect.
    static let checks: [String: Check] = [
        // Muted wake.
        "turn.listen_timeout_ms": Check(value: "5000", phase: .mutedWake, expected: "a wake that hears nothing stays LISTENING 5 s, not 1 s") {
            ($0.time(in: "listening") ?? 0) >= 4800
        },
        "audio.earcons": Check(value: "false", phase: .mutedWake, expected: "no wake chime played") { $0.playedDuring.isEmpty },
        // The failed turn.
        "log.level": Check(value: "debug", phase: .fallbackTurn, expected: "debug lines in the log") { $0.daemonLog.contains(" debug voiced.") },
        "turn.apology": Check(value: "Live apology seven.", phase: .fallbackTurn, expected: "the new apology spoken") {
            $0.spoken.contains("Live apology seven.")
        },
        "fallback_tts.voice": Check(value: "en-029", phase: .fallbackTurn, expected: "espeak-ng synthesising with voice en-029") {
            $0.daemonLog.split(separator: "\n").contains { $0.contains("espeak-ng synthesis") && $0.contains("voice=en-029") }
        },
        "fallback_tts.words_per_minute": Check(value: "333", phase: .fallbackTurn, expected: "espeak-ng synthesising at 333 wpm") {
            $0.daemonLog.split(separator: "\n").contains { $0.contains("espeak-ng synthesis") && $0.contains("words_per_minute=333") }
        },
        // The answered turn.
        "llm.model": Check(value: "live-model-7", phase: .answerTurn, expected: "the chat request names model live-model-7") {
            $0.cloudRequests("llm").contains { $0.contains("\"model\":\"live-model-7\"") }
        },
        "llm.max_tokens": Check(value: "77", phase: .answerTurn, expected: "the chat request asks max_tokens 77") {
            $0.cloudRequests("llm").contains { $0.contains("\"max_tokens\":77") }
        },
        "llm.temperature": Check(value: "0.25", phase: .answerTurn, expected: "the chat request asks temperature 0.25") {
            $0.cloudRequests("llm").contains { $0.contains("\"temperature\":0.25") }
        },
        "turn.system_prompt": Check(value: "Live prompt seven.", phase: .answerTurn, expected: "the chat request's system message") {
            $0.cloudRequests("llm").contains { $0.contains("Live prompt seven.") }
        },
        "tts.voice_id": Check(value: "liveVoice7", phase: .answerTurn, expected: "the speech request for voice liveVoice7") {
            $0.cloudRequests("tts").contains { $0.contains("path=/v1/text-to-speech/liveVoice7/stream") }
        },
        "tts.model_id": Check(value: "live_tts_model_7", phase: .answerTurn, expected: "the speech request names model live_tts_model_7") {
            $0.cloudRequests("tts").contains { $0.contains("\"model_id\":\"live_tts_model_7\"") }
        },
        "turn.commit_hold_ms": Check(value: "1500", phase: .answerTurn, expected: "SPECULATIVE held 1.5 s before COMMITTED") {
            ($0.time(in: "speculative") ?? 0) >= 1400
        },
        "turn.debounce_ms": Check(value: "800", phase: .answerTurn, expected: "the debounce in force is 800 ms") {
            $0.status["debounce_ms"] as? Int == 800
        },
        "turn.preemptive_tts": Check(value: "true", phase: .answerTurn, expected: "the speech request made while still SPECULATIVE") {
            $0.stateWhenTTSSeen == "speculative"
        },
        // No speculation, no history by turns.
        "turn.speculation": Check(value: "at_commit", phase: .atCommitTurn, expected: "the chat request made only once COMMITTED") {
            ["committed", "speaking"].contains($0.stateWhenLLMSeen ?? "")
        },
        "turn.history_max_turns": Check(value: "0", phase: .atCommitTurn, expected: "no past turn in the chat request") {
            let requests = $0.cloudRequests("llm")
            return !requests.isEmpty && !requests.contains { $0.contains("\"role\":\"assistant\"") }
        },
        // Button-only barge-in, no history by characters, a follow-up.
        "turn.history_max_chars": Check(value: "0", phase: .buttonOnlyTurn, expected: "no past turn in the chat request") {
            let requests = $0.cloudRequests("llm")
            return !requests.isEmpty && !requests.contains { $0.contains("\"role\":\"assistant\"") }
        },
        "audio.barge_in": Check(value: "button_only", phase: .buttonOnlyTurn, expected: "speech while SPEAKING (over 4.5 s) does not barge in") {
            ($0.time(in: "speaking") ?? 0) >= 4500 && !$0.bargedIn
        },
        "turn.follow_up_ms": Check(value: "4000", phase: .buttonOnlyTurn, expected: "SPEAKING → LISTENING after the answer") {
            $0.transitions.contains { $0.from == "speaking" && $0.to == "listening" && $0.cause == "playback_finished" }
        },
        // The voice detector's threshold.
        "audio.vad_threshold_db": Check(value: "0", phase: .deafDetectorTurn, expected: "speech while SPEAKING (over 4.5 s) does not barge in") {
            ($0.time(in: "speaking") ?? 0) >= 4500 && !$0.bargedIn
        },
        // Speech alone wakes.
        "turn.always_listening": Check(value: "true", phase: .alwaysListening, expected: "IDLE → LISTENING on speech, with no wake") {
            $0.transitions.contains { $0.from == "idle" && $0.to == "listening" && $0.cause == "speech_started" }
        },
        // The volume of a notice.
        "audio.volume": Check(value: "10", phase: .say, expected: "the notice played at a tenth of the level of earlier answers") {
            let before = $0.playedBefore.map { abs(Int($0)) }.max() ?? 0
            let now = $0.playedDuring.map { abs(Int($0)) }.max() ?? 0
            return now > 0 && before > 0 && now * 4 < before
        },
        // Components this harness has no instance of, or whose effect needs many turns: the key's
        // own test drives the method the daemon's apply calls (LiveSettings.wiring), and here the
        // daemon only has to report it applied.
        "gpio.long_press_ms": Check(value: "3000", phase: .component,
                                    expected: "applied (GPIOButtonTests.aLongPressTimeChangedLiveAppliesToThePressInProgress)") {
            $0.daemonLog.contains("settings: applied key=gpio.long_press_ms")
        },
        "turn.wait_cue_ms": Check(value: "1500", phase: .component,
                                  expected: "applied (TurnControllerScenarioTests.theStallBudgetAndTheCueAreSettings, through TurnSettings)") {
            $0.daemonLog.contains("settings: applied key=turn.wait_cue_ms")
        },
        "turn.stall_budget_ms": Check(value: "5000", phase: .component,
                                      expected: "applied (LiveStallSettingsTests.aStallBudgetChangedLiveRulesTheNextTurn)") {
            $0.daemonLog.contains("settings: applied key=turn.stall_budget_ms")
        },
        "turn.max_answer_ms": Check(value: "30000", phase: .component,
                                    expected: "applied (LiveStallSettingsTests.anAnswerCapChangedLiveRulesTheNextTurn)") {
            $0.daemonLog.contains("settings: applied key=turn.max_answer_ms")
        },
        "turn.correction_markers": Check(value: "banana split", phase: .component,
                                         expected: "applied (LiveTurnSettingsTests.correctionMarkersChangedLiveCancelTheHeldAnswer)") {
            $0.daemonLog.contains("settings: applied key=turn.correction_markers")
        },
        "turn.adaptive_debounce": Check(value: "false", phase: .component,
                                        expected: "applied (LiveTurnSettingsTests.adaptiveSettingsChangedLiveRuleTheNextAdjustment)") {
            $0.daemonLog.contains("settings: applied key=turn.adaptive_debounce")
        },
        "turn.cancel_rate_raise_above": Check(value: "45%", phase: .component,
                                              expected: "applied (LiveTurnSettingsTests.adaptiveSettingsChangedLiveRuleTheNextAdjustment)") {
            $0.daemonLog.contains("settings: applied key=turn.cancel_rate_raise_above")
        },
        "turn.cancel_rate_lower_below": Check(value: "12%", phase: .component,
                                              expected: "applied (LiveTurnSettingsTests.adaptiveSettingsChangedLiveRuleTheNextAdjustment)") {
            $0.daemonLog.contains("settings: applied key=turn.cancel_rate_lower_below")
        },
    ]

    @Test func everyLiveKeyHasACheck() {
        let live = VoicedConfig.schema.filter(\.live).map(\.path)
        let missing = live.filter { Self.checks[$0] == nil }
        #expect(missing.isEmpty, """
            live keys with no contract check: \(missing). Wire each in LiveSettings.wiring (what it changes in the \
            running daemon) and add its check to LiveSettingsContractTests.checks, or mark it live: false in the schema.
            """)
        let stale = Self.checks.keys.filter { key in !live.contains(key) }
        #expect(stale.isEmpty, "checks for keys that are not live: \(stale.sorted())")
    }

    @Test func everyLiveKeyChangesWhatTheRunningDaemonDoes() throws {
        // 0.6 s of "speech" every 4 s, for 6 minutes; each utterance is long, and the fake LLM
        // echoes it, so an answer (about 9 s) lasts longer than the gap between two utterances.
        var capture: [Int16] = []
        for _ in 0..<90 { capture += Self.tone + [Int16](repeating: 0, count: 16_000 * 4 - Self.tone.count) }
        let utterance = "Please tell me a long story about the river, the old mill, the miller and his three sons, "
            + "and how the youngest one found the key to the tower by the bridge."
        let script = """
            {"stt": {"utterances": ["\(utterance)"]},
             "llm": {"first_token_delay_ms": 100, "token_interval_ms": 10},
             "faults": [{"service": "llm", "requests": [1], "kind": "status", "status": 400}]}
            """
        let d = try DaemonHarness(capture: capture, fakeCloudScript: script)
        for _ in 0..<100 where !d.log.contains("voiced ready") { usleep(50_000) }
        let watch = Watcher(socket: d.socket)
        defer { watch.stop() }
        try watch.start()
        var bargedInWithDefaults = false

        let live = VoicedConfig.schema.filter(\.live).map(\.path)
        for phase in Phase.allCases {
            let keys = live.filter { Self.checks[$0]?.phase == phase }
            guard !keys.isEmpty else { continue }
            try settle(d)
            let logStart = d.log.count, cloudStart = d.fakeCloudLog.count, eventStart = watch.count
            for key in keys {
                let set = try d.voicectl(["settings", "set", key, Self.checks[key]!.value])
                #expect(set.status == 0, "\(key): \(set.stderr)")
            }
            var evidence = Evidence()
            evidence.playedBefore = d.played
            try run(phase, d, watch: watch, evidence: &evidence, since: eventStart, cloudStart: cloudStart)
            evidence.events = watch.events(from: eventStart)
            evidence.daemonLog = String(d.log.dropFirst(logStart))
            evidence.cloudLog = String(d.fakeCloudLog.dropFirst(cloudStart))
            evidence.status = try status(d)
            if evidence.playedDuring.isEmpty { evidence.playedDuring = Array(d.played.dropFirst(evidence.playedBefore.count)) }
            if phase == .answerTurn || phase == .atCommitTurn { bargedInWithDefaults = bargedInWithDefaults || evidence.bargedIn }
            for key in keys {
                let check = Self.checks[key]!
                let seen = check.observed(evidence)
                #expect(seen, """
                    \(key) = \(check.value) was accepted but not seen: expected \(check.expected). \
                    transitions: \(evidence.transitions.map { "\($0.from)→\($0.to)(\($0.cause))@\($0.t)" })
                    """)
            }
        }
        // The control for the two barge-in checks: with the default settings a tone while SPEAKING barges in.
        #expect(bargedInWithDefaults, "no barge-in with the default settings: the barge-in checks prove nothing")
        #expect(!d.log.contains("not wired"))
    }

    /// Does what shows the phase's keys at work.
    private func run(_ phase: Phase, _ d: DaemonHarness, watch: Watcher, evidence: inout Evidence, since: Int, cloudStart: Int) throws {
        func idle() -> Bool { (try? status(d)["state"] as? String) == "idle" }
        func turnFinished() -> Bool { watch.events(from: since).contains { $0["type"] as? String == "turn" } }
        func wake() throws {
            // The wake is refused while a previous answer is still ending; try until it is taken.
            for _ in 0..<40 {
                if try d.voicectl(["wake"]).status == 0 { return }
                usleep(250_000)
            }
            Issue.record("the daemon never went idle for a wake")
        }
        /// Polls until the fake cloud has a request of `service`; returns the daemon's state then.
        func stateWhenRequested(_ service: String) -> String? {
            for _ in 0..<400 {
                if String(d.fakeCloudLog.dropFirst(cloudStart)).contains("service=\(service)") {
                    return try? status(d)["state"] as? String
                }
                usleep(25_000)
            }
            return nil
        }
        switch phase {
        case .mutedWake:
            #expect(try d.voicectl(["mute", "on"]).status == 0)
            try wake()
            _ = eventually(seconds: 12) { watch.events(from: since).contains { $0["cause"] as? String == "listen_timeout" } }
            usleep(300_000)
            evidence.playedDuring = Array(d.played.dropFirst(evidence.playedBefore.count))
            #expect(try d.voicectl(["mute", "off"]).status == 0)
        case .fallbackTurn, .deafDetectorTurn:
            try wake()
            _ = eventually(seconds: 30) { turnFinished() }
            _ = eventually(seconds: 15) { idle() }
        case .answerTurn:
            try wake()
            evidence.stateWhenTTSSeen = stateWhenRequested("tts")
            _ = eventually(seconds: 30) { turnFinished() }
            _ = eventually(seconds: 15) { idle() }
        case .atCommitTurn:
            try wake()
            evidence.stateWhenLLMSeen = stateWhenRequested("llm")
            _ = eventually(seconds: 30) { turnFinished() }
            _ = eventually(seconds: 15) { idle() }
            // The next phases want the defaults back for these.
            #expect(try d.voicectl(["settings", "reset", "turn.history_max_turns"]).status == 0)
        case .buttonOnlyTurn:
            try wake()
            _ = eventually(seconds: 40) {
                watch.events(from: since).contains { $0["from"] as? String == "speaking" && $0["to"] as? String == "listening" }
            }
            #expect(try d.voicectl(["settings", "reset", "turn.follow_up_ms"]).status == 0)
            #expect(try d.voicectl(["settings", "reset", "barge_in"]).status == 0)
        case .alwaysListening:
            _ = eventually(seconds: 10) { watch.events(from: since).contains { $0["cause"] as? String == "speech_started" } }
            #expect(try d.voicectl(["settings", "reset", "always_listening"]).status == 0)
        case .say:
            let before = d.played.count
            evidence.playedBefore = d.played
            #expect(try d.voicectl(["say", "Volume check, one two three."]).status == 0)
            _ = eventually(seconds: 10) { d.played.count > before + 16_000 }
            usleep(1_500_000)
            evidence.playedDuring = Array(d.played.dropFirst(before))
        case .component:
            break
        }
    }

    /// Ends whatever conversation is going on (a barge-in starts the next turn, which the next
    /// burst of speech answers...): with barge-in by the button only, every answer plays to its
    /// end and the speaker goes idle. (Muting instead could cut an utterance before its final.)
    private func settle(_ d: DaemonHarness) throws {
        func state() -> String { (try? status(d)["state"] as? String) ?? "?" }
        guard state() != "idle" else { return }
        #expect(try d.voicectl(["settings", "set", "barge_in", "button_only"]).status == 0)
        let idle = eventually(seconds: 90) { state() == "idle" }
        #expect(try d.voicectl(["settings", "reset", "barge_in"]).status == 0)
        if !idle { Issue.record("the speaker did not go idle; it is \(state())") }
    }

    private func status(_ d: DaemonHarness) throws -> [String: Any] {
        let out = try d.voicectl(["status", "--json"])
        return (try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any]) ?? [:]
    }

    /// 24 `voicectl settings set` at once, as separate processes: every one succeeds, and the
    /// saved settings hold every change.
    @Test func concurrentSetsAllSucceedAndAllArePersisted() throws {
        let d = try DaemonHarness()
        let sets: [(String, String)] = [
            ("debounce_ms", "650"), ("commit_hold_ms", "900"), ("follow_up_ms", "1500"), ("turn.listen_timeout_ms", "4000"),
            ("volume", "55"), ("llm.max_tokens", "99"), ("llm_model", "m-24"), ("voice", "v24"), ("tts.model_id", "tm24"),
            ("fallback_tts.words_per_minute", "222"), ("fallback_tts.voice", "en-gb"), ("gpio.long_press_ms", "3000"),
            ("audio.vad_threshold_db", "-30"), ("audio.earcons", "false"), ("log.level", "notice"), ("llm.temperature", "0.5"),
            ("turn.history_max_turns", "3"), ("turn.history_max_chars", "900"), ("turn.apology", "Sorry twenty-four."),
            ("turn.system_prompt", "Prompt 24."), ("speculation", "at_final"), ("preemptive_tts", "true"),
            ("correction_markers", "no wait"), ("barge_in", "button_only"),
        ]
        #expect(sets.count == 24)
        let processes = sets.map { key, value in
            let process = DaemonHarness.process("voicectl", ["settings", "set", "--socket", d.socket, "--", key, value])
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            return process
        }
        for process in processes { try process.run() }
        for process in processes { process.waitUntilExit() }
        let statuses = processes.map(\.terminationStatus)
        #expect(statuses.allSatisfy { $0 == 0 }, "exit statuses: \(statuses)")
        let saved = try String(contentsOfFile: d.directory + "/state/settings.toml", encoding: .utf8)
        let get = try d.voicectl(["settings", "get", "--json"])
        for (key, value) in sets {
            let leaf = VoicedConfig.schema.first { $0.path == key || $0.shortName == key }.map { String($0.path.split(separator: ".")[1]) } ?? key
            #expect(saved.contains("\(leaf) = "), "\(key) is missing from settings.toml:\n\(saved)")
            #expect(get.stdout.contains("\"source\": \"voicectl\""), "\(key) = \(value)")
        }
        let reloaded = try VoicedConfig.parse(saved, file: "settings.toml")
        #expect(reloaded.turn.debounce == .milliseconds(650) && reloaded.audio.volume == 55 && reloaded.llm.model == "m-24")
        #expect(reloaded.tts.voiceID == "v24" && reloaded.log.level == "notice" && reloaded.audio.bargeIn == .buttonOnly)
        #expect(reloaded.turn.correctionMarkers == ["no wait"] && reloaded.gpio.longPress == .milliseconds(3000))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: d.directory + "/state")
        #expect(leftovers == ["settings.toml"], "temporary files left: \(leftovers)")
    }

    @Test func aKeyThatIsNotLiveIsRefusedAsTakingEffectAfterRestart() throws {
        let d = try DaemonHarness()
        let out = try d.voicectl(["settings", "set", "gpio.chip", "gpiochip4"])
        #expect(out.status == 4)
        #expect(out.stderr.contains("gpio.chip takes effect after restart"), "\(out.stderr)")
        let list = try d.voicectl(["settings"])
        #expect(list.status == 0)
        for key in VoicedConfig.schema {
            #expect(list.stdout.contains(key.settingName + " ") == key.live, "\(key.path) in `voicectl settings`: \(key.live)")
        }
    }
}

/// `voicectl watch --json` in the background: every event the daemon sends, parsed.
final class Watcher: @unchecked Sendable {
    private let process: Process
    private let pipe = Pipe()
    private let lines = Locked<[String]>([])
    private let partial = Locked("")

    init(socket: String) {
        process = DaemonHarness.process("voicectl", ["watch", "--json", "--socket", socket])
        process.standardOutput = pipe
    }

    func start() throws {
        pipe.fileHandleForReading.readabilityHandler = { [lines, partial] handle in
            let text = String(decoding: handle.availableData, as: UTF8.self)
            let complete = partial.withLock { rest -> [String] in
                rest += text
                var parts = rest.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                rest = parts.removeLast()
                return parts
            }
            lines.withLock { $0 += complete }
        }
        try process.run()
        // The watcher is connected once it sees the first transition; a wake right away may come first.
        usleep(500_000)
    }

    var count: Int { lines.value.count }

    func events(from index: Int) -> [[String: Any]] {
        lines.value.dropFirst(index).compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
    }

    func stop() {
        pipe.fileHandleForReading.readabilityHandler = nil
        // SIGKILL: a child of the test runner may inherit a mask that blocks SIGTERM.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// Polls `condition` every 50 ms for up to `seconds`.
@discardableResult
func eventually(seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(50_000)
    }
    return condition()
}
