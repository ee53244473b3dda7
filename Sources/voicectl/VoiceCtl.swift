import ArgumentParser
import FoundationEssentials
import Glibc
import VoiceControl
import VoiceCore
import VoiceSupport

/// Exit codes scripts can rely on (documented in docs/operations.md).
enum Exit {
    static let daemonError: Int32 = 1
    static let unreachable: Int32 = 3
    static let badArgument: Int32 = 4
    static let notPermitted: Int32 = 5
}

struct Connection: ParsableArguments {
    @Option(help: "The daemon's control socket (default: $VOICED_SOCKET or /run/voiced/control.sock).")
    var socket: String = ProcessInfo.processInfo.environment["VOICED_SOCKET"] ?? "/run/voiced/control.sock"

    @Flag(help: "Print the daemon's JSON reply instead of text, for scripts.")
    var json = false

    func client() throws -> ControlClient {
        do {
            return try ControlClient(path: socket)
        } catch {
            Printf.write("voicectl: cannot reach the daemon at \(socket): \(error.description) (is voiced running, and are you in its group?)\n", to: STDERR_FILENO)
            throw ExitCode(Exit.unreachable)
        }
    }

    /// Sends one command and prints the result with `render` (or as JSON with --json).
    func run(_ command: ControlCommand, render: (JSONValue) -> String) throws {
        let client = try client()
        do {
            let result = try client.request(command)
            print(json ? result.serialized(indent: 2) : render(result))
        } catch let error as ControlError {
            Printf.write("voicectl: \(error.message)\n", to: STDERR_FILENO)
            switch error.code {
            case .badArgument, .unknownCommand: throw ExitCode(Exit.badArgument)
            case .notPermitted: throw ExitCode(Exit.notPermitted)
            case .unavailable: throw ExitCode(Exit.unreachable)
            default: throw ExitCode(Exit.daemonError)
            }
        }
    }
}

@main
struct VoiceCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "voicectl",
        abstract: "See and steer a running voiced: status, live settings, history, metrics and control.",
        discussion: """
        Exit codes: 0 done; 1 the daemon failed the request; 3 the daemon cannot be reached;
        4 a bad argument (the message says the allowed range); 5 not permitted in the current state;
        64 a usage error.
        """,
        subcommands: ControlCommand.Name.allCases.map(subcommand(for:)).reduce(into: []) { list, command in
            if !list.contains(where: { $0 == command }) { list.append(command) }
        }
    )

    /// The subcommand that sends each control command: a new command has no voicectl until it has a line here.
    static func subcommand(for name: ControlCommand.Name) -> any ParsableCommand.Type {
        switch name {
        case .status: Status.self
        case .watch: Watch.self
        case .settingsGet, .settingsSet, .settingsReset: Settings.self
        case .history: History.self
        case .metrics: Metrics.self
        case .wake: Wake.self
        case .interrupt: Interrupt.self
        case .say: Say.self
        case .mute: Mute.self
        }
    }
}

func text(_ value: JSONValue?) -> String {
    switch value {
    case .string(let s)?: Escaping.escaped(s, as: .terminal)  // what the daemon heard or said, from outside
    case .int(let i)?: String(i)
    case .double(let d)?: d == d.rounded() ? String(Int64(d)) : Printf.format("%.3g", d)
    case .bool(let b)?: b ? "yes" : "no"
    case .array(let items)?: items.map { text($0) }.joined(separator: ", ")
    case .null?, nil: "-"
    case .object?: value?.serialized() ?? "-"
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "State, session, uptime, providers, audio devices, microphone, ring buffer, debounce and the last transitions.")
    @OptionGroup var connection: Connection
    func run() throws {
        try connection.run(.status) { r in
            var lines = [
                "state        \(text(r["state"]).uppercased())\(r["turn"].map { $0 == .null ? "" : "  (turn \(text($0)))" } ?? "")",
                "session      \(text(r["session_id"]))",
                "uptime       \(text(r["uptime_s"])) s",
                "microphone   \(r["muted"] == .bool(true) ? "MUTED" : "live")",
                "debounce     \(text(r["debounce_ms"])) ms",
            ]
            if case .object(let providers)? = r["providers"] {
                lines.append("providers    " + providers.map { "\($0.0) \(text($0.1))" }.joined(separator: ", "))
            }
            if case .object(let devices)? = r["devices"] {
                for (_, status) in devices { lines.append("device       " + text(status)) }
            }
            if let ring = r["ring_buffer"], ring != .null {
                let ratio = { if case .double(let d)? = ring["fill_ratio"] { Int(d * 100) } else { 0 } }()
                lines.append("ring buffer  \(ratio)% full, \(text(ring["dropped_samples"])) samples dropped in \(text(ring["overflows"])) overflows")
            }
            if let loop = r["turn_loop"], loop != .null {
                lines.append("turn loop    \(text(loop["handled"])) inputs handled, \(text(loop["dropped"])) dropped (queue full)")
            }
            if case .object(let store)? = r["telemetry"], !store.isEmpty {
                lines.append("telemetry    \(text(r["telemetry"]?["failed_writes"])) failed writes, \(text(r["telemetry"]?["retried_writes"])) retried, "
                             + "\(text(r["telemetry"]?["pending_retry"])) waiting, \(text(r["telemetry"]?["lost_events"])) lost")
            }
            if case .array(let transitions)? = r["transitions"], !transitions.isEmpty {
                lines.append("last transitions:")
                for t in transitions {
                    lines.append(Printf.format("  %8.3fs  ", Double(text(t["t_ms"])).map { $0 / 1000 } ?? 0)
                                 + "\(text(t["from"]).uppercased()) → \(text(t["to"]).uppercased())  (\(text(t["cause"])))")
                }
            }
            return lines.joined(separator: "\n")
        }
    }
}

struct Watch: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Follow states, transcripts, what is spoken and latencies live (Ctrl-C to stop).")
    @OptionGroup var connection: Connection
    func run() throws {
        let client = try connection.client()
        do {
            try client.watch { event in
                if connection.json {
                    emitLine(event.serialized())
                    return true
                }
                let line: String
                switch ControlEventType(of: event) {
                case .state?: line = "\(text(event["from"]).uppercased()) → \(text(event["to"]).uppercased())  (\(text(event["cause"])))"
                case .partial?: line = "  … \(text(event["text"]))"
                case .final?: line = "  heard: \"\(text(event["text"]))\""
                case .speechStarted?: line = "  (speech)"
                case .speechEnded?: line = "  (silence)"
                case .speaking?: line = "  saying: \"\(text(event["text"]))\""
                case .turn?:
                    line = "turn \(text(event["turn"])) \(text(event["status"])): latency \(text(event["latency_ms"])) ms, \"\(text(event["agent_text"]))\""
                case .telemetry?:
                    line = "metrics: cancellation rate \(text(event["cancellation_rate"])), average latency \(text(event["avg_turn_latency_ms"])) ms"
                case .debounce?: line = "debounce \(text(event["old_ms"])) → \(text(event["new_ms"])) ms"
                case .error?: line = "ERROR: \(text(event["message"]))"
                case nil: line = event.serialized()  // from a newer daemon
                }
                emitLine(line)
                return true
            }
        } catch let error as ControlError {
            Printf.write("voicectl: \(error.message)\n", to: STDERR_FILENO)
            throw ExitCode(Exit.daemonError)
        }
    }
}

/// Writes a line at once (unbuffered), so `voicectl watch | …` shows events as they happen.
func emitLine(_ line: String) {
    Printf.write(line + "\n", to: STDOUT_FILENO)
}

struct Settings: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show, change or reset the live settings.",
        discussion: """
        Every configuration key marked (live) in voiced.toml, by its short name (debounce_ms,
        voice, llm_model, volume, ...) or its path (llm.max_tokens, log.level, ...); `voicectl
        settings` lists them all. Changes apply at once (or from the next turn) and persist across
        restarts (in the state directory, over the configuration file). Rates take 30% or 0.3;
        lists are comma-separated. Any other key takes effect after restart: it is refused here
        (exit 4) and changed in the configuration file.
        """,
        subcommands: [Get.self, Set.self, Reset.self],
        defaultSubcommand: Get.self
    )

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show every live setting (or one) and where its value comes from.")
        @OptionGroup var connection: Connection
        @Argument(help: "One setting.") var key: String?
        func run() throws {
            try connection.run(.settingsGet(key: key)) { r in
                guard case .object(let pairs) = r else { return text(r) }
                // Names are padded to the longest (never cut: llm.max_tokens, fallback_tts.words_per_minute).
                let width = max(26, (pairs.map(\.0.count).max() ?? 0) + 1)
                return pairs.map { name, value in
                    if value["source"] != nil {
                        let shown = text(value["value"])
                        return "\(name.paddedWithSpaces(toLength: width)) \(shown.count >= 24 ? shown + " " : shown.paddedWithSpaces(toLength: 24)) (\(text(value["source"])))"
                    }
                    return "\(name) = \(text(value))"
                }.joined(separator: "\n")
            }
        }
    }

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a setting now and keep it across restarts.")
        @OptionGroup var connection: Connection
        @Argument(help: "The setting.") var key: String
        @Argument(help: "The new value (30% and 0.3 both work for rates; lists are comma-separated).") var value: String
        func run() throws {
            try connection.run(.settingsSet(key: key, value: value)) { r in
                guard case .object(let pairs) = r, let first = pairs.first else { return text(r) }
                return "\(first.0) = \(text(first.1))"
            }
        }
    }

    struct Reset: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Return one setting, or all, to the configuration file's value.")
        @OptionGroup var connection: Connection
        @Argument(help: "The setting (all when omitted).") var key: String?
        func run() throws {
            try connection.run(.settingsReset(key: key)) { r in "reset \(text(r["reset"]))" }
        }
    }
}

struct History: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Recent turns: time, duration, what was heard and said, interruptions, latency.")
    @OptionGroup var connection: Connection
    @Option(name: .short, help: "How many turns (1–\(ControlCommand.historyLimit)).") var n: Int = ControlCommand.defaultHistoryCount
    func validate() throws {
        guard (1...ControlCommand.historyLimit).contains(n) else { throw ValidationError("-n must be from 1 to \(ControlCommand.historyLimit)") }
    }
    func run() throws {
        try connection.run(.history(count: n)) { r in
            guard case .array(let turns)? = r["turns"], !turns.isEmpty else { return "no turns yet" }
            return turns.map { t in
                let at = Printf.format("%8.1fs", (Double(text(t["started_ms"])) ?? 0) / 1000)
                let duration = Printf.format("%5.1fs", (Double(text(t["duration_ms"])) ?? 0) / 1000)
                let flag = t["interrupted"] == .bool(true) ? " INTERRUPTED" : ""
                return "#\(text(t["turn"])) \(at) \(duration) latency \(text(t["latency_ms"])) ms [\(text(t["status"]))]\(flag)\n"
                    + "    heard: \"\(text(t["user_text"]))\"\n    said:  \"\(text(t["agent_text"]))\""
            }.joined(separator: "\n")
        }
    }
}

/// A text sparkline: one block per value, scaled between the smallest and largest.
func sparkline(_ values: [Int64]) -> String {
    let blocks: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
    guard let low = values.min(), let high = values.max() else { return "" }
    let span = max(1, high - low)
    return String(values.map { blocks[Int((($0 - low) * Int64(blocks.count - 1)) / span)] })
}

struct Metrics: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Cancellation rate, latency, turns, wasted tokens, debounce, and a latency sparkline.")
    @OptionGroup var connection: Connection
    func run() throws {
        try connection.run(.metrics) { r in
            var latencies: [Int64] = []
            if case .array(let items)? = r["recent_latencies_ms"] {
                latencies = items.compactMap { if case .int(let i) = $0 { i } else { nil } }
            }
            let rate = { if case .double(let d)? = r["cancellation_rate"] { Printf.format("%.0f%%", d * 100) } else { "-" } }()
            return [
                "cancellation rate   \(rate) (\(text(r["cancellations"])) cancelled)",
                "turn latency        \(text(r["avg_turn_latency_ms"])) ms average (speech end → first audio)",
                "turns completed     \(text(r["turns_completed"]))",
                "tokens wasted       \(text(r["tokens_wasted"]))",
                "debounce            \(text(r["debounce_ms"])) ms",
                "latency, last \(latencies.count)    \(sparkline(latencies))" + (latencies.isEmpty ? "" : "  (\(latencies.min()!)–\(latencies.max()!) ms)"),
            ].joined(separator: "\n")
        }
    }
}

struct Wake: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Start listening, as a short press of the button does while idle.")
    @OptionGroup var connection: Connection
    func run() throws { try connection.run(.wake) { "now \(text($0["state"]).uppercased())" } }
}

struct Interrupt: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop the answer at once, as a short press of the button does while speaking.")
    @OptionGroup var connection: Connection
    func run() throws { try connection.run(.interrupt) { "now \(text($0["state"]).uppercased())" } }
}

struct Say: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Speak a text through the TTS path (while idle).")
    @OptionGroup var connection: Connection
    @Argument(help: "What to say.") var text: String
    func run() throws { try connection.run(.say(text: text)) { _ in "saying it" } }
}

struct Mute: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Mute or unmute the microphone: while muted no audio leaves the device.")
    enum Switch: String, ExpressibleByArgument { case on, off }
    @OptionGroup var connection: Connection
    @Argument(help: "on or off.") var state: Switch
    func run() throws {
        try connection.run(.mute(on: state == .on)) { $0["muted"] == .bool(true) ? "microphone muted" : "microphone live" }
    }
}
