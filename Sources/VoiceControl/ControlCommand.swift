import VoiceSupport

/// Every request voicectl can make of the daemon, with its arguments: the one list both sides use.
///
/// The wire form is a request's `"cmd"` and `"args"` (``ControlRequest``); ``init(name:arguments:)``
/// reads it and ``name`` / ``arguments`` write it. Adding a command means a case here, its line in
/// each `switch` below (the compiler lists them), its answer in `DaemonControl.answer`, and its
/// subcommand in voicectl.
public enum ControlCommand: Equatable, Sendable {
    /// State, session, providers, devices, ring buffer, debounce, the last transitions.
    case status
    /// Events from now on, until the client disconnects.
    case watch
    /// Every live setting with its value and source, or one (`key`).
    case settingsGet(key: String?)
    /// Changes a live setting; `value` is its text (`"600"`, `"30%"`, `"a, b"`).
    case settingsSet(key: String, value: String)
    /// Back to the configuration file's value: one setting, or all (`key` nil).
    case settingsReset(key: String?)
    /// The last `count` finished turns (1 to ``historyLimit``).
    case history(count: Int)
    /// Cancellation rate, latencies, tokens wasted.
    case metrics
    /// Starts listening, as a short press while idle.
    case wake
    /// Stops the answer, as a short press while speaking.
    case interrupt
    /// Speaks `text` (1 to ``maxSayCharacters`` characters, not only white space).
    case say(text: String)
    /// Mutes (`on`) or unmutes the microphone.
    case mute(on: Bool)

    /// The commands' names on the wire.
    public enum Name: String, CaseIterable, Sendable {
        case status, watch
        case settingsGet = "settings.get", settingsSet = "settings.set", settingsReset = "settings.reset"
        case history, metrics, wake, interrupt, say, mute

        /// The names of the arguments the command takes.
        public var argumentNames: [String] {
            switch self {
            case .status, .watch, .metrics, .wake, .interrupt: []
            case .settingsGet, .settingsReset: ["key"]
            case .settingsSet: ["key", "value"]
            case .history: ["n"]
            case .say: ["text"]
            case .mute: ["on"]
            }
        }
    }

    /// The most turns `history` returns (the daemon keeps as many).
    public static let historyLimit = 200
    /// How many turns `history` returns when `n` is not given.
    public static let defaultHistoryCount = 10
    /// The longest text `say` takes, in characters.
    public static let maxSayCharacters = 2000

    public var name: Name {
        switch self {
        case .status: .status
        case .watch: .watch
        case .settingsGet: .settingsGet
        case .settingsSet: .settingsSet
        case .settingsReset: .settingsReset
        case .history: .history
        case .metrics: .metrics
        case .wake: .wake
        case .interrupt: .interrupt
        case .say: .say
        case .mute: .mute
        }
    }

    /// The `"args"` of the wire form, in a fixed order.
    public var arguments: [(String, JSONValue)] {
        switch self {
        case .status, .watch, .metrics, .wake, .interrupt: []
        case .settingsGet(let key), .settingsReset(let key): key.map { [("key", .string($0))] } ?? []
        case .settingsSet(let key, let value): [("key", .string(key)), ("value", .string(value))]
        case .history(let count): [("n", .int(Int64(count)))]
        case .say(let text): [("text", .string(text))]
        case .mute(let on): [("on", .bool(on))]
        }
    }

    /// The command as a request with `id`.
    public func request(id: JSONValue = .null) -> ControlRequest {
        ControlRequest(id: id, command: name.rawValue, arguments: Dictionary(arguments, uniquingKeysWith: { _, last in last }))
    }

    /// Reads a request's command and arguments. Unknown commands, unknown or missing arguments and
    /// arguments of the wrong type or range are refused with an error that says what is expected.
    public init(name: String, arguments: [String: JSONValue]) throws(ControlError) {
        guard let known = Name(rawValue: name) else {
            throw ControlError(.unknownCommand, "unknown command '\(name)' (commands: \(Name.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        var reader = ArgumentReader(command: known, arguments: arguments)
        switch known {
        case .status: self = .status
        case .watch: self = .watch
        case .metrics: self = .metrics
        case .wake: self = .wake
        case .interrupt: self = .interrupt
        case .settingsGet: self = .settingsGet(key: try reader.optionalKey())
        case .settingsReset: self = .settingsReset(key: try reader.optionalKey())
        case .settingsSet:
            guard case .string(let key)? = reader.take("key") else { throw ControlError(.badArgument, "settings.set needs \"key\"") }
            guard let raw = reader.take("value") else { throw ControlError(.badArgument, "settings.set needs \"value\"") }
            // A value may come as JSON (600, true); the settings store reads its text.
            if case .string(let text) = raw { self = .settingsSet(key: key, value: text) } else { self = .settingsSet(key: key, value: raw.serialized()) }
        case .history:
            var count = Self.defaultHistoryCount
            if let raw = reader.take("n") {
                guard case .int(let n) = raw, n >= 1, n <= Int64(Self.historyLimit) else {
                    throw ControlError(.badArgument, "n must be a whole number from 1 to \(Self.historyLimit)")
                }
                count = Int(n)
            }
            self = .history(count: count)
        case .say:
            guard case .string(let text)? = reader.take("text"), !text.allSatisfy(\.isWhitespace) else {
                throw ControlError(.badArgument, "say needs a non-empty \"text\"")
            }
            guard text.count <= Self.maxSayCharacters else {
                throw ControlError(.badArgument, "text of \(text.count) characters; at most \(Self.maxSayCharacters)")
            }
            self = .say(text: text)
        case .mute:
            guard case .bool(let on)? = reader.take("on") else { throw ControlError(.badArgument, "mute needs \"on\": true or false") }
            self = .mute(on: on)
        }
        try reader.finish()
    }

    /// Reads a request line's command: the envelope (``ControlRequest/parse(_:)``), then the command.
    /// The rejection carries the request's id when it could be read.
    public static func parse(_ line: some Collection<UInt8>) -> Result<(id: JSONValue, command: ControlCommand), RequestRejection> {
        switch ControlRequest.parse(line) {
        case .failure(let rejection): return .failure(rejection)
        case .success(let request):
            do throws(ControlError) {
                return .success((request.id, try ControlCommand(name: request.command, arguments: request.arguments)))
            } catch {
                return .failure(RequestRejection(id: request.id, error: error))
            }
        }
    }
}

/// Takes a request's arguments one by one, so that what is left over can be refused by name.
private struct ArgumentReader {
    let command: ControlCommand.Name
    var left: [String: JSONValue]

    init(command: ControlCommand.Name, arguments: [String: JSONValue]) {
        self.command = command
        self.left = arguments
    }

    mutating func take(_ name: String) -> JSONValue? { left.removeValue(forKey: name) }

    /// `key` for settings.get and settings.reset: absent or null means every setting.
    mutating func optionalKey() throws(ControlError) -> String? {
        switch take("key") {
        case nil, .null?: return nil
        case .string(let key)?: return key
        case let other?: throw ControlError(.badArgument, "\(command.rawValue)'s \"key\" must be a setting's name in quotes, not \(other.serialized())")
        }
    }

    func finish() throws(ControlError) {
        guard let extra = left.keys.sorted().first else { return }
        let known = command.argumentNames
        let takes = known.isEmpty ? "takes no arguments" : "takes only " + known.map { "\"\($0)\"" }.joined(separator: ", ")
        throw ControlError(.badArgument, "\(command.rawValue) \(takes); \"\(extra)\" is not one of them")
    }
}
