import VoiceSupport

/// A connection to the daemon's control socket, for voicectl and tests.
public final class ControlClient {
    private let socket: LineSocket
    /// The longest reply line read (a `history` of 200 turns is far below it).
    private static let replyLimit = 16 * 1024 * 1024
    private var nextID: Int64 = 1

    public init(path: String) throws(SocketError) { socket = try LineSocket.connect(path: path) }

    /// Sends a command and returns its result, or throws the daemon's error.
    public func request(_ command: ControlCommand) throws -> JSONValue {
        try send(command.request(id: .int(nextID)))
    }

    /// Sends a request in its wire form, as it is (for tests of what the daemon refuses), and
    /// returns its result, or throws the daemon's error.
    public func request(_ command: String, _ arguments: [String: JSONValue] = [:]) throws -> JSONValue {
        try send(ControlRequest(id: .int(nextID), command: command, arguments: arguments))
    }

    private func send(_ request: ControlRequest) throws -> JSONValue {
        let id = request.id
        nextID += 1
        guard socket.write(line: request.line) else {
            // The daemon may have said why before it closed (too many clients, idle too long).
            if case .line(let bytes) = socket.readLine(limit: Self.replyLimit),
               case .failure(_, let error)? = try? ControlReply.parse(bytes) {
                throw error
            }
            throw ControlError(.unavailable, "the daemon closed the connection")
        }
        while true {
            switch socket.readLine(limit: Self.replyLimit) {
            case .end: throw ControlError(.unavailable, "the daemon closed the connection")
            case .tooLong: throw ControlError(.malformed, "the daemon's reply is too long")
            case .line(let bytes):
                switch try ControlReply.parse(bytes) {
                case .success(let replyID, let result) where replyID == id: return result
                case .failure(let replyID, let error) where replyID == id || replyID == .null: throw error
                default: continue  // an event, or a reply to something else
                }
            }
        }
    }

    /// Starts a watch and calls `onEvent` for every event until the daemon closes or `onEvent` returns false.
    public func watch(_ onEvent: (JSONValue) -> Bool) throws {
        _ = try request(.watch)
        while true {
            switch socket.readLine(limit: Self.replyLimit) {
            case .end: return
            case .tooLong: continue
            case .line(let bytes):
                if case .event(let event) = try ControlReply.parse(bytes), !onEvent(event) { return }
            }
        }
    }
}
