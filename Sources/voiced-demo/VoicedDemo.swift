import ArgumentParser
import Foundation
import VoiceControl
import VoiceCore
import VoiceEspeak
import VoiceSupport
import VoiceTelemetry
import VoiceTesting

/// The README's main job: a three-turn conversation through the real daemon, with no
/// microphone, no GPIO and no API keys. The user's speech is made with espeak-ng, captured
/// through the paced WAV backend in the room harness (the microphone also hears the speaker, through
/// an echo path); the cloud is `voiced-fakecloud` on loopback. It prints a readable timeline and
/// writes the agent's audio to a WAV file.
@main
struct VoicedDemo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "voiced-demo",
        abstract: "Run a three-turn conversation through the real voiced daemon against the loopback fake cloud.",
        discussion: """
        Turn 1: a plain question. Turn 2: a booking, corrected in the next breath ("actually, make it
        Tuesday"), so the held answer is cancelled silently. Turn 3: a long answer interrupted by the
        user's voice in the middle, heard over the answer's own echo (the room harness: echo at −10 dB,
        60 ms away). Exit status 0 when all three went as designed.
        """
    )

    @Option(help: "Where the demo writes its files (user and agent audio, configuration, logs, database).")
    var out = "demo-output"

    @Option(help: "Where the voiced and voiced-fakecloud binaries are (default: beside this one).")
    var bin: String?

    @Flag(help: "Print a JSON summary at the end (for tests).")
    var json = false

    struct Utterance {
        var text: String
        var offset: Duration
        var samples: [Int16]
    }

    func run() async throws {
        let outDirectory = URL(fileURLWithPath: out).standardizedFileURL.path
        let binDirectory = bin ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
        try? FileManager.default.removeItem(atPath: outDirectory)
        try FileManager.default.createDirectory(atPath: outDirectory + "/state", withIntermediateDirectories: true)
        let say = Printer(json: json)

        // 1. The user's voice, made with espeak-ng (another voice than the assistant's).
        say.line("demo: synthesising the user's speech with espeak-ng")
        let texts = [
            "What's the weather like today?",
            "Book a table for four on Monday.",
            "Actually, make it Tuesday.",
            "Tell me about the Eiffel Tower.",
            "Stop, thank you. What time is it?",
        ]
        var utterances: [Utterance] = []
        for text in texts {
            let samples = try await EspeakEngine.shared.synthesizeAll(text, voice: "en-us", wordsPerMinute: 165)
            utterances.append(Utterance(text: text, offset: .zero, samples: samples))
        }
        func seconds(_ samples: [Int16]) -> Duration { PlaybackChunk.duration(ofSamples: samples.count) }
        utterances[0].offset = .seconds(1)
        utterances[1].offset = .seconds(12)
        // The correction starts 0.75 s after the booking ends: after the debounce, before any audio.
        utterances[2].offset = utterances[1].offset + seconds(utterances[1].samples) + .milliseconds(750)
        utterances[3].offset = utterances[2].offset + seconds(utterances[2].samples) + .seconds(10)
        // The interruption: 5 s after the question ends, a few seconds into the long answer.
        utterances[4].offset = utterances[3].offset + seconds(utterances[3].samples) + .seconds(5)
        var timeline: [Int16] = []
        for utterance in utterances {
            let start = Int(utterance.offset.wholeMilliseconds) * PlaybackChunk.sampleRate / 1000
            if timeline.count < start { timeline += [Int16](repeating: 0, count: start - timeline.count) }
            timeline += utterance.samples
        }
        timeline += [Int16](repeating: 0, count: PlaybackChunk.sampleRate * 2)
        let userWAV = outDirectory + "/user.wav"
        try Data(WAV.encode(timeline)).write(to: URL(fileURLWithPath: userWAV))

        // 2. The fake cloud's script: what it hears and what the LLM answers, request by request.
        let script: JSONValue = .object([
            ("stt", .object([
                ("utterances", .array(texts.map(JSONValue.string))),
                ("latency_ms", .int(50)),
                ("interim_interval_ms", .int(250)),
            ])),
            ("llm", .object([
                ("replies", .array([
                    "It's sunny and twenty two degrees. A light breeze comes in this afternoon.",
                    "Booked for Monday at seven.",
                    "Done. Your table for four is booked for Tuesday.",
                    "The Eiffel Tower was finished in 1889 for the World's Fair in Paris. It is three hundred and thirty metres tall. For forty one years it was the tallest structure in the world. Millions of people visit it every year.",
                    "It is seven in the evening.",
                ].map(JSONValue.string))),
                ("first_token_delay_ms", .int(300)),
                ("token_interval_ms", .int(30)),
            ])),
            ("tts", .object([("first_byte_delay_ms", .int(120)), ("speed", .double(4))])),
        ])
        try script.serialized(indent: 2).write(toFile: outDirectory + "/fakecloud.json", atomically: true, encoding: .utf8)

        // 3. The fake cloud on loopback.
        let portFile = outDirectory + "/fakecloud.port"
        let fakecloud = try Child(binDirectory + "/voiced-fakecloud",
                                  ["--script", outDirectory + "/fakecloud.json", "--port", "0", "--port-file", portFile],
                                  log: outDirectory + "/fakecloud.log")
        defer { fakecloud.stop() }
        guard let port = await waitFor(seconds: 20, { (try? String(contentsOfFile: portFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) }),
              !port.isEmpty else {
            throw DemoFailure("voiced-fakecloud did not start; see \(outDirectory)/fakecloud.log")
        }
        say.line("demo: fake cloud on 127.0.0.1:\(port)")

        // 4. The daemon, configured for a machine with no sound card, no GPIO and no keys.
        let socket = outDirectory + "/control.sock"
        let config = """
        # voiced-demo: the WAV backends in the room harness, console LEDs, the fake cloud on loopback.
        [turn]
        always_listening = true
        [audio]
        capture_backend = "wav"
        capture_wav = "\(userWAV)"
        playback_backend = "wav"
        playback_wav = "\(outDirectory)/agent.wav"
        earcons = false
        barge_in = "voice"
        room = true
        room_echo_gain_db = -10.0
        room_delay_ms = 60
        room_noise_dbfs = -60.0
        [gpio]
        backend = "console_no_stdin"
        [stt]
        base_url = "ws://127.0.0.1:\(port)/v1/listen"
        [llm]
        base_url = "http://127.0.0.1:\(port)/v1"
        [tts]
        base_url = "http://127.0.0.1:\(port)"
        [telemetry]
        database = "\(outDirectory)/voiced.sqlite"
        [control]
        socket = "\(socket)"
        state_directory = "\(outDirectory)/state"
        [log]
        level = "info"
        """
        try config.write(toFile: outDirectory + "/voiced.toml", atomically: true, encoding: .utf8)
        let daemon = try Child(binDirectory + "/voiced", ["run", "--config", outDirectory + "/voiced.toml"],
                               log: outDirectory + "/voiced.log",
                               environment: ["DEEPGRAM_API_KEY": "demo-key", "OPENAI_API_KEY": "demo-key", "ELEVENLABS_API_KEY": "demo-key"])
        defer { daemon.stop() }
        let started = ContinuousClock.now
        guard let watcher = await waitFor(seconds: 20, { try? ControlClient(path: socket) }) else {
            throw DemoFailure("voiced did not open its control socket; see \(outDirectory)/voiced.log")
        }
        say.line("demo: voiced is running (log: \(outDirectory)/voiced.log); the user starts talking at 1 s\n")

        // 5. Watch and print the timeline; the user's voice interrupts the third answer.
        // A connection per request, as voicectl makes: the daemon closes idle control clients.
        func control(_ command: ControlCommand) throws -> JSONValue {
            try ControlClient(path: socket).request(command)
        }
        let turns = Locked<[JSONValue]>([])
        let events = Locked<[JSONValue]>([])
        let deadline = ContinuousClock.now + .seconds(90)
        let watchTask = Task.detached {
            try? watcher.watch { event in
                let t = ContinuousClock.now - started
                say.event(event, at: t)
                if ControlEventType(of: event) == .turn { turns.withLock { $0.append(event) } }
                events.withLock { $0.append(event) }
                return turns.value.count < 3 && ContinuousClock.now < deadline
            }
        }
        say.line(String(format: "demo: the user interrupts at %.2f s of the capture (\"%@\")", utterances[4].offset.seconds, utterances[4].text))
        while turns.value.count < 3 && ContinuousClock.now < deadline && daemon.isRunning {
            try await Task.sleep(for: .milliseconds(20))
        }
        watchTask.cancel()
        let history = (try? control(.history(count: 10)))?["turns"]
        let metrics = try? control(.metrics)
        daemon.stop()
        fakecloud.stop()

        // 6. What happened, checked.
        let stored = (try? TelemetryStore(path: outDirectory + "/voiced.sqlite"))
        let storedTurns = (try? stored?.count("turns")) ?? 0
        let storedCalls = (try? stored?.count("llm_calls")) ?? 0
        let agentBytes = (try? Data(contentsOf: URL(fileURLWithPath: outDirectory + "/agent.wav")))?.count ?? 44
        let agentSeconds = Double(max(0, agentBytes - 44)) / 32000
        var problems: [String] = []
        let finished = turns.value
        let statuses = finished.map { text($0["status"]) }
        if statuses != ["completed", "completed", "interrupted"] { problems.append("turn statuses are \(statuses), expected completed, completed, interrupted") }
        if storedTurns < finished.count { problems.append("the local database holds \(storedTurns) turns, expected \(finished.count)") }
        let secondAnswer = finished.count > 1 ? text(finished[1]["agent_text"]) : ""
        let correction = secondAnswer.contains("Tuesday") && !secondAnswer.contains("Monday")
        if !correction { problems.append("turn 2 did not answer the corrected request (Tuesday) alone") }
        let secondCalls: [JSONValue] = {
            if finished.count > 1, case .array(let calls)? = finished[1]["llm_calls"] { return calls }
            return []
        }()
        if !secondCalls.contains(where: { text($0["status"]) == "canceled" && text($0["reason"]) == "correction_marker" }) {
            problems.append("turn 2's first LLM call was not recorded as cancelled by a correction")
        }
        let states = events.value.filter { ControlEventType(of: $0) == .state }
        if !states.contains(where: { text($0["from"]) == "speaking" && text($0["cause"]) == "barge_in" }) {
            problems.append("the third answer was not interrupted by the user's voice (no barge-in out of SPEAKING)")
        }
        for (index, state) in states.enumerated() where text(state["to"]) == "speaking" {
            if index == 0 || text(states[index - 1]["to"]) != "committed" {
                problems.append("audio started without the turn being COMMITTED first")
            }
        }

        say.summary(events: events.value, turns: finished, history: history, metrics: metrics, agentWAV: outDirectory + "/agent.wav", agentSeconds: agentSeconds,
                    storedTurns: storedTurns, storedCalls: storedCalls, problems: problems)
        if !problems.isEmpty { throw ExitCode(1) }
    }
}

struct DemoFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A string or number of an event, as text.
func text(_ value: JSONValue?) -> String {
    switch value {
    case .string(let s)?: s
    case .int(let i)?: String(i)
    case .bool(let b)?: String(b)
    default: "-"
    }
}

/// Polls `value` every 50 ms until it is non-nil or `seconds` have passed.
func waitFor<T>(seconds: Int, _ value: () -> T?) async -> T? {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        if let result = value() { return result }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return nil
}

/// A child process with its output in a log file; stopped with SIGTERM (then SIGKILL).
final class Child: @unchecked Sendable {
    private let process = Process()

    init(_ path: String, _ arguments: [String], log: String, environment: [String: String] = [:]) throws {
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw DemoFailure("\(path) is not built (run scripts/setup.sh, or pass --bin)")
        }
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        try process.run()
    }

    var isRunning: Bool { process.isRunning }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

/// Prints the timeline as a person reads it (or collects a JSON summary).
final class Printer: Sendable {
    let json: Bool
    init(json: Bool) { self.json = json }

    func line(_ text: String) {
        guard !json else { return }
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    static let leds: [String: String] = [
        "idle": "off", "listening": "blue, solid", "speculative": "yellow, blinking", "committed": "green, solid",
        "speaking": "purple, pulsing", "error": "red, fast blink", "offline": "red, slow blink", "muted": "red, solid",
    ]

    func event(_ event: JSONValue, at t: Duration) {
        func s(_ key: String) -> String {
            switch event[key] {
            case .string(let v)?: v
            case .int(let v)?: String(v)
            default: "-"
            }
        }
        let time = String(format: "%7.2fs  ", t.seconds)
        switch ControlEventType(of: event) {
        case .state?:
            line(time + "\(s("from").uppercased()) → \(s("to").uppercased())  (\(s("cause")))   LED: \(Self.leds[s("to")] ?? "?")")
        case .final?: line(time + "  heard: \"\(s("text"))\"")
        case .speaking?: line(time + "  says:  \"\(s("text"))\"")
        case .turn?:
            line(time + "turn \(s("turn")) \(s("status")): speech end → first audio \(s("latency_ms")) ms\n")
        default: break
        }
    }

    func summary(events: [JSONValue], turns: [JSONValue], history: JSONValue?, metrics: JSONValue?, agentWAV: String, agentSeconds: Double,
                 storedTurns: Int, storedCalls: Int, problems: [String]) {
        if json {
            let document: JSONValue = .object([
                ("timeline", .array(events)), ("turns", .array(turns)), ("metrics", metrics ?? .null), ("agent_wav", .string(agentWAV)),
                ("agent_audio_seconds", .double((agentSeconds * 10).rounded() / 10)),
                ("stored_turns", .int(Int64(storedTurns))), ("stored_llm_calls", .int(Int64(storedCalls))),
                ("problems", .array(problems.map(JSONValue.string))),
            ])
            FileHandle.standardOutput.write(Data((document.serialized(indent: 2) + "\n").utf8))
            return
        }
        line("summary:")
        for turn in turns {
            func s(_ key: String) -> String {
                switch turn[key] {
                case .string(let v)?: v
                case .int(let v)?: String(v)
                case .bool(let v)?: String(v)
                default: "-"
                }
            }
            line("  turn \(s("turn")) [\(s("status"))] latency \(s("latency_ms")) ms")
            line("    heard: \"\(s("user_text"))\"")
            line("    said:  \"\(s("agent_text"))\"")
            if case .array(let calls)? = turn["llm_calls"] {
                for call in calls where text(call["status"]) == "canceled" {
                    line("    LLM call \(text(call["call"])) cancelled silently: \(text(call["reason"]))")
                }
            }
        }
        if let metrics {
            line("  cancellation rate \(metrics["cancellation_rate"]?.serialized() ?? "-"), average latency \(metrics["avg_turn_latency_ms"]?.serialized() ?? "-") ms")
        }
        line("  the agent's audio: \(agentWAV) (\(String(format: "%.1f", agentSeconds)) s; play it with aplay or any audio player)")
        line("  the local database holds \(storedTurns) turns and \(storedCalls) LLM calls")
        if problems.isEmpty {
            line("demo: OK")
        } else {
            line("demo: FAILED")
            for problem in problems { line("  - \(problem)") }
        }
    }
}
