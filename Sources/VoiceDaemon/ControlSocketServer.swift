import Foundation
import Logging
import Synchronization
import VoiceControl
import VoiceSupport
#if canImport(Glibc)
import Glibc
#endif

/// What answers the control socket's requests (the daemon).
public protocol ControlHandling: AnyObject, Sendable {
    /// Answers one request. `connection` is the asking client, for `watch`.
    func handle(_ request: ControlRequest, from connection: ControlConnection) -> Result<JSONValue, ControlError>
    /// The client went away.
    func disconnected(_ connection: ControlConnection)
}

/// One client of the control socket. Replies and events are queued and written by the
/// connection's own thread, so a client that stops reading never blocks the daemon: past
/// `maxQueuedLines` it is disconnected.
public final class ControlConnection: @unchecked Sendable, Hashable {
    // @unchecked: `queue` and `closed` are guarded by `condition`; the socket is only written by
    // the writer thread and read by the reader thread.
    public let id: Int
    public static let maxQueuedLines = 1024
    private let socket: LineSocket
    private let condition = NSCondition()
    private var queue: [String] = []
    private var closed = false
    /// Lines dropped when the client was disconnected for not reading.
    public private(set) var overflowed = false

    init(id: Int, socket: LineSocket) {
        self.id = id
        self.socket = socket
    }

    public static func == (lhs: ControlConnection, rhs: ControlConnection) -> Bool { lhs === rhs }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }

    /// Queues a line for the client; never blocks. Returns false when the client is gone.
    @discardableResult
    public func send(_ reply: ControlReply) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !closed else { return false }
        guard queue.count < Self.maxQueuedLines else {
            overflowed = true
            closed = true
            socket.shutdownConnection()
            condition.signal()
            return false
        }
        queue.append(reply.line)
        condition.signal()
        return true
    }

    func close() {
        condition.lock()
        closed = true
        condition.signal()
        condition.unlock()
        socket.shutdownConnection()
    }

    var isClosed: Bool {
        condition.lock()
        defer { condition.unlock() }
        return closed
    }

    /// The writer thread's loop.
    func writeLoop() {
        while true {
            condition.lock()
            while queue.isEmpty && !closed { condition.wait() }
            if queue.isEmpty && closed {
                condition.unlock()
                return
            }
            let line = queue.removeFirst()
            condition.unlock()
            if !socket.write(line: line) {
                close()
                return
            }
        }
    }

    func readLine() -> LineSocket.LineRead { socket.readLine(limit: ControlProtocol.maxRequestBytes) }
}

/// The daemon's control socket: a Unix stream socket, mode 0660, group-owned by the configured
/// group, speaking newline-delimited JSON (see `ControlProtocol`). Each client gets a reader and
/// a writer thread; requests of one client are answered in order.
public final class ControlSocketServer: @unchecked Sendable {
    // @unchecked: `listener`, `connections` and `nextID` are guarded by `state`.
    public let path: String
    private let group: String
    private let handler: any ControlHandling
    private let logger: Logger
    private let state = Mutex<(listener: Int32, connections: Set<ControlConnection>, nextID: Int)>((-1, [], 1))

    public init(path: String, group: String, handler: any ControlHandling, logger: Logger) {
        self.path = path
        self.group = group
        self.handler = handler
        self.logger = logger
    }

    /// Creates the socket (replacing a stale one) with mode 0660 and the group, and starts accepting.
    public func start() throws(SocketError) {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError(call: "socket", path: path, errno: errno) }
        var address = sockaddr_un()
        guard LineSocket.fillAddress(&address, path: path) else {
            close(fd)
            throw SocketError(call: "bind", path: path, errno: ENAMETOOLONG)
        }
        // Bind with a umask that leaves no window in which others could connect.
        let oldMask = umask(0o117)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        umask(oldMask)
        guard bound == 0 else {
            let error = errno
            close(fd)
            throw SocketError(call: "bind", path: path, errno: error)
        }
        if let entry = getgrnam(group) {
            if chown(path, geteuid(), entry.pointee.gr_gid) != 0 {
                logger.warning("cannot give the control socket to its group", metadata: ["group": "\(group)", "errno": "\(errno)"])
            }
        } else {
            logger.notice("control socket group does not exist; only the daemon's own group may connect", metadata: ["group": "\(group)"])
        }
        chmod(path, 0o660)
        guard listen(fd, 16) == 0 else {
            let error = errno
            close(fd)
            throw SocketError(call: "listen", path: path, errno: error)
        }
        state.withLock { $0.listener = fd }
        let thread = Thread { [self] in acceptLoop(fd) }
        thread.name = "voiced-control"
        thread.start()
    }

    /// Closes the socket and every connection.
    public func stop() {
        let (fd, connections) = state.withLock { state -> (Int32, Set<ControlConnection>) in
            let result = (state.listener, state.connections)
            state.listener = -1
            state.connections = []
            return result
        }
        if fd >= 0 {
            shutdown(fd, Int32(SHUT_RDWR))
            close(fd)
        }
        unlink(path)
        for connection in connections { connection.close() }
    }

    /// The clients connected now.
    public var connectionCount: Int { state.withLock { $0.connections.count } }

    private func acceptLoop(_ listener: Int32) {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return  // closed by stop()
            }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            let connection = state.withLock { state -> ControlConnection in
                let connection = ControlConnection(id: state.nextID, socket: LineSocket(descriptor: fd))
                state.nextID += 1
                state.connections.insert(connection)
                return connection
            }
            let writer = Thread { connection.writeLoop() }
            writer.name = "voiced-control-w\(connection.id)"
            writer.start()
            let reader = Thread { [self] in readLoop(connection) }
            reader.name = "voiced-control-r\(connection.id)"
            reader.start()
        }
    }

    private func readLoop(_ connection: ControlConnection) {
        defer {
            connection.close()
            _ = state.withLock { $0.connections.remove(connection) }
            handler.disconnected(connection)
        }
        while !connection.isClosed {
            switch connection.readLine() {
            case .end:
                return
            case .tooLong:
                connection.send(.failure(id: .null, error: ControlError(.tooLarge, "request longer than \(ControlProtocol.maxRequestBytes) bytes")))
            case .line(let bytes):
                if bytes.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) { continue }
                switch ControlRequest.parse(bytes) {
                case .failure(let rejection):
                    connection.send(.failure(id: rejection.id, error: rejection.error))
                case .success(let request):
                    switch handler.handle(request, from: connection) {
                    case .success(let result): connection.send(.success(id: request.id, result: result))
                    case .failure(let error): connection.send(.failure(id: request.id, error: error))
                    }
                }
            }
        }
    }
}
