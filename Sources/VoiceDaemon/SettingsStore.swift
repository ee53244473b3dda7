import Foundation
import Synchronization
import VoiceControl
import VoiceCore
import VoiceSupport

/// The settings `voicectl settings` may change while the daemon runs: short names for
/// configuration keys. Changes apply at once and persist in the state directory
/// (`settings.toml`), layered over the configuration file.
public final class SettingsStore: Sendable {
    /// voicectl's names and the configuration keys they change.
    public static let names: [(name: String, path: String)] = [
        ("debounce_ms", "turn.debounce_ms"),
        ("cancel_rate_raise_above", "turn.cancel_rate_raise_above"),
        ("cancel_rate_lower_below", "turn.cancel_rate_lower_below"),
        ("adaptive_debounce", "turn.adaptive_debounce"),
        ("commit_hold_ms", "turn.commit_hold_ms"),
        ("speculation", "turn.speculation"),
        ("preemptive_tts", "turn.preemptive_tts"),
        ("voice", "tts.voice_id"),
        ("llm_model", "llm.model"),
        ("correction_markers", "turn.correction_markers"),
        ("volume", "audio.volume"),
        ("follow_up_ms", "turn.follow_up_ms"),
        ("barge_in", "audio.barge_in"),
        ("always_listening", "turn.always_listening"),
    ]

    private struct State {
        var base: VoicedConfig
        var overrides: [String: TOMLValue]   // config path → value
        var effective: VoicedConfig
    }

    public let file: String
    private let state: Mutex<State>

    /// Loads the overrides kept in `file` (if any) over `base`. Overrides that no longer apply
    /// (an unknown key, a value now out of range) are dropped and reported in `problems`.
    public init(base: VoicedConfig, file: String) {
        self.file = file
        var overrides: [String: TOMLValue] = [:]
        var problems: [String] = []
        if let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) {
            do {
                for entry in try TOMLParser.parse(text) {
                    if Self.names.contains(where: { $0.path == entry.path }) {
                        overrides[entry.path] = entry.value
                    } else {
                        problems.append("\(file):\(entry.line): \(entry.path) is not a live setting; ignored")
                    }
                }
            } catch {
                problems.append("\(file): \(error.description); the saved settings are ignored")
            }
        }
        var effective = base
        for (path, value) in overrides {
            if let key = VoicedConfig.key(path), let problem = key.set(value, in: &effective) {
                problems.append("\(file): \(path): \(problem); ignored")
                overrides[path] = nil
            }
        }
        state = Mutex(State(base: base, overrides: overrides, effective: effective))
        self.problems = problems
    }

    /// What was wrong with the saved settings when they were loaded.
    public let problems: [String]

    /// The configuration in force: the file's, with the live settings over it.
    public var effective: VoicedConfig { state.withLock { $0.effective } }

    /// Every live setting: name, value, and where it comes from (`default`, `config`, `voicectl`).
    public func all() -> [(name: String, value: TOMLValue, source: String)] {
        state.withLock { state in
            Self.names.compactMap { name, path in
                guard let key = VoicedConfig.key(path) else { return nil }
                let source: String
                if state.overrides[path] != nil { source = "voicectl" }
                else if key.value(in: state.base) != key.value(in: VoicedConfig()) { source = "config" }
                else { source = "default" }
                return (name, key.value(in: state.effective), source)
            }
        }
    }

    /// The configuration key for a voicectl name (or a full `table.key` path).
    public static func key(named name: String) throws(ControlError) -> ConfigKey {
        let path = names.first { $0.name == name }?.path ?? (names.contains { $0.path == name } ? name : nil)
        guard let path, let key = VoicedConfig.key(path) else {
            throw ControlError(.badArgument, "unknown setting '\(name)' (settings: \(names.map(\.name).joined(separator: ", ")))")
        }
        return key
    }

    /// Reads a value typed on a command line: TOML (`600`, `true`, `"x"`), a bare word as a
    /// string, `30%` as 0.30, and `a,b,c` as a list where the setting is a list.
    public static func value(from text: String, for key: ConfigKey) -> TOMLValue {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasSuffix("%"), let percent = Double(trimmed.dropLast()) { return .float(percent / 100) }
        if case .array = key.value(in: VoicedConfig()) {
            if trimmed.hasPrefix("["), let entry = try? TOMLParser.parse("v = \(trimmed)").first { return entry.value }
            return .array(trimmed.split(separator: ",").map { .string($0.trimmingCharacters(in: .whitespaces)) }.filter { $0 != .string("") })
        }
        if case .string = key.value(in: VoicedConfig()) {
            if trimmed.hasPrefix("\""), let entry = try? TOMLParser.parse("v = \(trimmed)").first { return entry.value }
            return .string(trimmed)
        }
        if let entry = try? TOMLParser.parse("v = \(trimmed)").first { return entry.value }
        return .string(trimmed)
    }

    /// Changes a setting; returns the configuration in force afterwards.
    @discardableResult
    public func set(_ name: String, to text: String) throws(ControlError) -> VoicedConfig {
        let key = try Self.key(named: name)
        let value = Self.value(from: text, for: key)
        let result: Result<VoicedConfig, ControlError> = state.withLock { state in
            var candidate = state.effective
            if let problem = key.set(value, in: &candidate) {
                return .failure(ControlError(.badArgument, "\(name): \(problem) (allowed: \(key.allowed))"))
            }
            do throws(ConfigError) {
                try candidate.validate(file: "settings")
            } catch {
                return .failure(ControlError(.badArgument, "\(name): \(error.message)"))
            }
            state.overrides[key.path] = key.value(in: candidate)
            state.effective = candidate
            return .success(candidate)
        }
        let config = try result.get()
        try save()
        return config
    }

    /// Returns one setting (or all, with nil) to the configuration file's value.
    @discardableResult
    public func reset(_ name: String?) throws(ControlError) -> VoicedConfig {
        let path = try name.map { name throws(ControlError) in try Self.key(named: name).path }
        let config = state.withLock { state -> VoicedConfig in
            if let path { state.overrides[path] = nil } else { state.overrides = [:] }
            state.effective = Self.apply(state.overrides, to: state.base)
            return state.effective
        }
        try save()
        return config
    }

    /// A reloaded configuration file: the live settings stay over it.
    @discardableResult
    public func rebase(on base: VoicedConfig) -> VoicedConfig {
        state.withLock { state in
            state.base = base
            state.effective = Self.apply(state.overrides, to: base)
            return state.effective
        }
    }

    private static func apply(_ overrides: [String: TOMLValue], to base: VoicedConfig) -> VoicedConfig {
        var config = base
        for (path, value) in overrides { _ = VoicedConfig.key(path)?.set(value, in: &config) }
        return config
    }

    private func save() throws(ControlError) {
        let body = renderedOverrides()
        let directory = (file as NSString).deletingLastPathComponent
        do {
            if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
            let temporary = file + ".tmp"
            try body.write(toFile: temporary, atomically: false, encoding: .utf8)
            if rename(temporary, file) != 0 { throw CocoaError(.fileWriteUnknown) }
        } catch {
            throw ControlError(.unavailable, "the setting applies now but could not be saved to \(file): \(error.localizedDescription)")
        }
    }

    private func renderedOverrides() -> String {
        state.withLock { state in
            var lines = ["# Live settings changed with voicectl; they override the configuration file."]
            var table = ""
            for path in state.overrides.keys.sorted() {
                guard let value = state.overrides[path] else { continue }
                let parts = path.split(separator: ".", maxSplits: 1).map(String.init)
                if parts[0] != table {
                    table = parts[0]
                    lines.append("[\(table)]")
                }
                lines.append("\(parts[1]) = \(value.tomlText)")
            }
            return lines.joined(separator: "\n") + "\n"
        }
    }
}
