import FoundationEssentials
import Glibc
import Logging
import Synchronization
import VoiceControl
import VoiceCore
import VoiceProviders
import VoiceSupport

/// The settings `voicectl settings` may change while the daemon runs: the configuration keys
/// marked live in the schema (`VoicedConfig.schema`, the one place that says so), by their
/// short name or their path. Changes apply at once and persist in the state directory
/// (`settings.toml`), layered over the configuration file.
public final class SettingsStore: Sendable {
    /// voicectl's names and the configuration keys they change: every live key of the schema.
    public static let names: [(name: String, path: String)] = VoicedConfig.schema.filter(\.live).map { ($0.settingName, $0.path) }

    private struct State {
        var base: VoicedConfig
        var overrides: [String: TOMLValue]   // config path → value
        var effective: VoicedConfig
    }

    public let file: String
    private let state: Mutex<State>
    /// One writer at a time renders and replaces the file, so the last rename holds the latest
    /// state (concurrent `voicectl settings set` lose nothing).
    private let writer = Mutex<Int>(0)
    private let logger: Logger

    /// Loads the overrides kept in `file` (if any) over `base`. Overrides that no longer apply
    /// (an unknown key, a value now out of range) are dropped and reported in `problems`.
    public init(base: VoicedConfig, file: String, logger: Logger = Logger(label: "voiced.settings")) {
        self.file = file
        self.logger = logger
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

    /// The configuration key for a voicectl name (or a full `table.key` path). A key that is not
    /// live is refused with "takes effect after restart".
    public static func key(named name: String) throws(ControlError) -> ConfigKey {
        if let path = names.first(where: { $0.name == name || $0.path == name })?.path, let key = VoicedConfig.key(path) {
            return key
        }
        if VoicedConfig.key(name) != nil {
            throw ControlError(.badArgument, "\(name) takes effect after restart: change it in the configuration file and restart voiced")
        }
        throw ControlError(.badArgument, "unknown setting '\(name)' (settings: \(names.map(\.name).joined(separator: ", ")))")
    }

    /// Reads a value typed on a command line: TOML (`600`, `true`, `"x"`), a bare word as a
    /// string, `30%` as 0.30, and `a,b,c` as a list where the setting is a list.
    public static func value(from text: String, for key: ConfigKey) -> TOMLValue {
        let trimmed = text.trimmingWhitespaces()
        if trimmed.hasSuffix("%"), let percent = Double(trimmed.dropLast()) { return .float(percent / 100) }
        if case .array = key.value(in: VoicedConfig()) {
            if trimmed.hasPrefix("["), let entry = try? TOMLParser.parse("v = \(trimmed)").first { return entry.value }
            return .array(trimmed.split(separator: ",").map { .string($0.trimmingWhitespaces()) }.filter { $0 != .string("") })
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
        save()
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
        save()
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

    /// Writes the overrides to a temporary file of its own and renames it over `file`, one writer
    /// at a time. The setting is already in force: a failure to save is logged, not reported as a
    /// failure of the change.
    private func save() {
        writer.withLock { count in
            count += 1
            let body = renderedOverrides()
            let directory = PathText.directory(of: file)
            let temporary = "\(file).\(getpid()).\(count).tmp"
            let failure: String?
            do {
                if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
                try body.write(toFile: temporary, atomically: false, encoding: .utf8)
                if rename(temporary, file) == 0 {
                    failure = nil
                } else {
                    failure = String(cString: strerror(errno))
                    unlink(temporary)
                }
            } catch {
                failure = FileErrorText.describe(error)
            }
            if let failure {
                logger.error("the setting applies now but could not be saved; it is lost at the next restart",
                             metadata: ["file": "\(file)", "error": "\(failure)"])
            }
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
