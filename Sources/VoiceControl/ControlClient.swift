import VoiceSupport

/// A connection to the daemon's control socket, for voicectl and tests.
public final class ControlClient {
    private let socket: LineSocket
    private var nextID: Int64 = 1

    public init(path: String) throws(SocketError) { socket = try LineSocket.connect(path: path) }

    /// Sends a request and returns its result, or throws the daemon's error.
    public func request(_ command: String, _ arguments: [String: JSONValue] = [:]) throws -> JSONValue {
        let id = JSONValue.int(nextID)
        nextID += 1
        guard socket.write(line: ControlRequest(id: id, command: command, arguments: arguments).line) else {
            // The daemon may have said why before it closed (too many clients, idle too long).
            if case .line(let bytes) = socket.readLine(limit: 16 * 1024 * 1024),
               case .failure(_, let error)? = try? ControlReply.parse(bytes) {
                throw error
            }
            throw ControlError(.unavailable, "the daemon closed the connection")
        }
        while true {
            switch socket.readLine(limit: 16 * 1024 * 1024) {
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
        _ = try request("watch")
        while true {
            switch socket.readLine(limit: 16 * 1024 * 1024) {
            case .end: return
            case .tooLong: continue
            case .line(let bytes):
                if case .event(let event) = try ControlReply.parse(bytes), !onEvent(event) { return }
            }
        }
    }
}
