import VoiceSupport

/// The control socket's protocol: one JSON object per line, both ways, each with `"v": 1`.
///
///     → {"v":1,"id":7,"cmd":"settings.set","args":{"key":"debounce_ms","value":"600"}}
///     ← {"v":1,"id":7,"ok":true,"result":{...}}
///     ← {"v":1,"id":7,"ok":false,"error":{"code":"bad_argument","message":"..."}}
///     ← {"v":1,"event":{...}}                      (after a "watch" request, until disconnect)
///
/// Lines are read with the project's strict JSON reader (``JSONValue/parse(_:)``): a key twice in
/// one object, a trailing comma or nesting deeper than 128 is refused. The commands and their
/// arguments are ``ControlCommand``; see docs/operations.md for every command.
public enum ControlProtocol {
    public static let version: Int64 = 1
    /// The longest request line accepted; longer ones get a `too_large` error.
    public static let maxRequestBytes = 64 * 1024
}

/// What went wrong with a request, as the client sees it.
public struct ControlError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, Equatable {
        case malformed
        case unsupportedVersion = "unsupported_version"
        case unknownCommand = "unknown_command"
        case badArgument = "bad_argument"
        case notPermitted = "not_permitted"
        case tooLarge = "too_large"
        case unavailable
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

/// One request as it travels: its id, command name and arguments, before ``ControlCommand`` reads them.
public struct ControlRequest: Equatable, Sendable {
    public var id: JSONValue
    public var command: String
    public var arguments: [String: JSONValue]

    public init(id: JSONValue = .null, command: String, arguments: [String: JSONValue] = [:]) {
        self.id = id
        self.command = command
        self.arguments = arguments
    }

    /// The request as one line of JSON (without the newline).
    public var line: String {
        var pairs: [(String, JSONValue)] = [("v", .int(ControlProtocol.version))]
        if id != .null { pairs.append(("id", id)) }
        pairs.append(("cmd", .string(command)))
        if !arguments.isEmpty { pairs.append(("args", .object(arguments.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }))) }
        return JSONValue.object(pairs).serialized()
    }

    /// Parses one request line. The error carries the request's id when it could be read.
    public static func parse(_ line: some Collection<UInt8>) -> Result<ControlRequest, RequestRejection> {
        guard line.count <= ControlProtocol.maxRequestBytes else {
            return .failure(RequestRejection(id: JSONValue.null, error: ControlError(.tooLarge, "request of \(line.count) bytes; the limit is \(ControlProtocol.maxRequestBytes)")))
        }
        let value: JSONValue
        do {
            value = try JSONValue.parse(line)
        } catch {
            return .failure(RequestRejection(id: JSONValue.null, error: ControlError(.malformed, "not a JSON object (\(error)): one JSON object per line is expected")))
        }
        guard case .object = value else {
            return .failure(RequestRejection(id: JSONValue.null, error: ControlError(.malformed, "expected a JSON object, e.g. {\"v\":1,\"cmd\":\"status\"}")))
        }
        let id = value["id"] ?? .null
        guard case .int(let version)? = value["v"] else {
            return .failure(RequestRejection(id: id, error: ControlError(.malformed, "missing \"v\": the protocol version (1)")))
        }
        guard version == ControlProtocol.version else {
            return .failure(RequestRejection(id: id, error: ControlError(.unsupportedVersion, "version \(version) is not supported; this daemon speaks version \(ControlProtocol.version)")))
        }
        guard case .string(let command)? = value["cmd"], !command.isEmpty else {
            return .failure(RequestRejection(id: id, error: ControlError(.malformed, "missing \"cmd\": the command name")))
        }
        var arguments: [String: JSONValue] = [:]
        switch value["args"] {
        case nil, .null?: break
        case .object(let pairs)?: for (key, argument) in pairs { arguments[key] = argument }
        default: return .failure(RequestRejection(id: id, error: ControlError(.malformed, "\"args\" must be an object")))
        }
        return .success(ControlRequest(id: id, command: command, arguments: arguments))
    }
}

/// A request that could not be read, with its id when the id could be read.
public struct RequestRejection: Error, Equatable, Sendable {
    public var id: JSONValue
    public var error: ControlError
}

/// What a `watch` client is told about: each event is an object whose `"type"` is one of these,
/// with the fields named here (and in docs/operations.md). The daemon writes them; voicectl and the
/// demo read them.
public enum ControlEventType: String, CaseIterable, Sendable {
    /// A state transition: `from`, `to`, `cause`, `turn`, `t_ms`.
    case state
    /// What speech-to-text heard so far (`text`), and its final transcript (`text`, `confidence`).
    case partial, final
    /// The user started or stopped talking.
    case speechStarted = "speech_started", speechEnded = "speech_ended"
    /// A sentence of the answer being said: `turn`, `text`.
    case speaking
    /// A finished turn, as `history` shows it.
    case turn
    /// The `metrics`, every few turns.
    case telemetry
    /// The adaptive debounce moved: `old_ms`, `new_ms`, `cancellation_rate`.
    case debounce
    /// Something failed: `message` (and `source`, `turn` for a provider).
    case error

    /// The type of `event`, nil for one this version does not know.
    public init?(of event: JSONValue) {
        guard case .string(let name)? = event["type"] else { return nil }
        self.init(rawValue: name)
    }

    /// An event of this type with `fields` (an object) after its `"type"`.
    public func event(_ fields: JSONValue = .object([])) -> JSONValue {
        guard case .object(let pairs) = fields else { return .object([("type", .string(rawValue))]) }
        return .object([("type", .string(rawValue))] + pairs)
    }
}

/// One line from the daemon.
public enum ControlReply: Equatable, Sendable {
    case success(id: JSONValue, result: JSONValue)
    case failure(id: JSONValue, error: ControlError)
    case event(JSONValue)

    public var line: String {
        switch self {
        case .success(let id, let result):
            return JSONValue.object([("v", .int(ControlProtocol.version)), ("id", id), ("ok", .bool(true)), ("result", result)]).serialized()
        case .failure(let id, let error):
            return JSONValue.object([
                ("v", .int(ControlProtocol.version)), ("id", id), ("ok", .bool(false)),
                ("error", .object([("code", .string(error.code.rawValue)), ("message", .string(error.message))])),
            ]).serialized()
        case .event(let event):
            return JSONValue.object([("v", .int(ControlProtocol.version)), ("event", event)]).serialized()
        }
    }

    public static func parse(_ line: some Collection<UInt8>) throws(ControlError) -> ControlReply {
        let value: JSONValue
        do {
            value = try JSONValue.parse(line)
        } catch {
            throw ControlError(.malformed, "the daemon sent a line that is not JSON (\(error))")
        }
        if let event = value["event"] { return .event(event) }
        let id = value["id"] ?? .null
        if case .bool(true)? = value["ok"] { return .success(id: id, result: value["result"] ?? .null) }
        guard let error = value["error"], case .string(let code)? = error["code"], case .string(let message)? = error["message"] else {
            throw ControlError(.malformed, "the daemon's reply has neither a result nor an error")
        }
        return .failure(id: id, error: ControlError(ControlError.Code(rawValue: code) ?? .malformed, message))
    }
}
