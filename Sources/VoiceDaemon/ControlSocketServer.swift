import FoundationEssentials
import Logging
import Synchronization
import VoiceControl
import VoiceCore
import VoiceLinux
import VoiceSupport
#if canImport(Glibc)
import Glibc
#endif

/// What answers the control socket's requests (the daemon).
///
/// Both methods are called on the control socket's one thread, which serves every client: they
/// must not block (answer from state at hand; `watch` only registers the connection).
public protocol ControlHandling: AnyObject, Sendable {
    /// Answers one command. `connection` is the asking client, for `watch`.
    func handle(_ command: ControlCommand, from connection: ControlConnection) -> Result<JSONValue, ControlError>
    /// The client went away.
    func disconnected(_ connection: ControlConnection)
}

/// One client of the control socket. `send` queues a line and wakes the socket's thread, which
/// writes it when the client can take it, so a client that stops reading never blocks the daemon:
/// past `maxQueuedLines` it is disconnected.
public final class ControlConnection: @unchecked Sendable, Hashable {
    // @unchecked: `outbox` is a Mutex; `descriptor`, `framer` and `pausedForOutput` belong to
    // the server's thread.
    public let id: Int
    public static let maxQueuedLines = 1024

    struct Outbox {
        var lines: [[UInt8]] = []
        /// How much of `lines[0]` is written.
        var written = 0
        var closed = false
        var overflowed = false
    }

    let descriptor: Int32
    let outbox = Mutex(Outbox())
    var framer = LineFramer(limit: ControlProtocol.maxRequestBytes)
    private let waker: Waker

    init(id: Int, descriptor: Int32, waker: Waker) {
        self.id = id
        self.descriptor = descriptor
        self.waker = waker
    }

    public static func == (lhs: ControlConnection, rhs: ControlConnection) -> Bool { lhs === rhs }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }

    /// Lines dropped when the client was disconnected for not reading.
    public var overflowed: Bool { outbox.withLock { $0.overflowed } }

    /// Queues a line for the client; never blocks. Returns false when the client is gone.
    @discardableResult
    public func send(_ reply: ControlReply) -> Bool {
        var bytes = Array(reply.line.utf8)
        bytes.append(UInt8(ascii: "\n"))
        let (accepted, wake) = outbox.withLock { box -> (Bool, Bool) in
            guard !box.closed else { return (false, false) }
            guard box.lines.count < Self.maxQueuedLines else {
                box.overflowed = true
                box.closed = true
                return (false, true)
            }
            box.lines.append(bytes)
            return (true, box.lines.count == 1)
        }
        if wake { waker.wake() }
        return accepted
    }

    /// Whether lines wait for the client.
    var hasOutput: Bool { outbox.withLock { !$0.lines.isEmpty } }

    /// Whether the connection was closed by `send` (the client stopped reading).
    var closeRequested: Bool { outbox.withLock { $0.closed } }

    /// Writes what the socket takes without blocking. Returns false when the client is gone.
    func flush() -> Bool {
        outbox.withLock { box in
            while let first = box.lines.first {
                let n = first[box.written...].withUnsafeBytes {
                    Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
                }
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno == EAGAIN || errno == EWOULDBLOCK
                }
                box.written += n
                if box.written == first.count {
                    box.lines.removeFirst()
                    box.written = 0
                }
            }
            return true
        }
    }

    /// Stops queueing; what is queued is dropped.
    func markClosed() {
        outbox.withLock {
            $0.closed = true
            $0.lines = []
        }
    }
}

func setNonBlockingAndCloseOnExec(_ fd: Int32) {
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
}

/// The daemon's control socket: a Unix stream socket, mode 0660, group-owned by the configured
/// group, speaking newline-delimited JSON (see `ControlProtocol`).
///
/// One thread ("voiced-control") serves every client with `poll`, so clients cost no threads:
/// the daemon's thread count does not depend on them, and the turn path never waits for the
/// control socket. `ControlClientTable` decides whom it keeps: at most `limits.maxClients`, and
/// clients that are not watching are closed after `limits.idleTimeout` without a request.
/// Requests of one client are answered in order; a client that does not read its replies is not
/// read from until it does.
public final class ControlSocketServer: @unchecked Sendable {
    // @unchecked: the thread is set by `start` and taken by `stop`, under `lifecycle`; everything the
    // thread uses (connections, table) belongs to the thread.
    public let path: String
    public let limits: ControlLimits
    private let group: String
    private let handler: any ControlHandling
    private let logger: Logger
    private let clock: any VoiceClock
    private let lifecycle = Mutex<(thread: DedicatedThread?, waker: Waker?)>((nil, nil))
    private let stopping = Atomic<Bool>(false)
    private let count = Atomic<Int>(0)

    public init(path: String, group: String, handler: any ControlHandling, logger: Logger,
                limits: ControlLimits = ControlLimits(), clock: any VoiceClock = SystemVoiceClock()) {
        self.path = path
        self.group = group
        self.handler = handler
        self.logger = logger
        self.limits = limits
        self.clock = clock
    }

    /// Creates the socket (replacing a stale one) with mode 0660 and the group, and starts serving.
    public func start() throws(SocketError) {
        let directory = PathText.directory(of: path)
        if !directory.isEmpty { try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
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
        guard listen(fd, 64) == 0 else {
            let error = errno
            close(fd)
            throw SocketError(call: "listen", path: path, errno: error)
        }
        let waker: Waker
        do {
            waker = try Waker()
        } catch {
            close(fd)
            throw SocketError(call: "pipe", path: path, errno: error.code)
        }
        stopping.store(false, ordering: .sequentiallyConsistent)
        let thread: DedicatedThread
        do {
            thread = try DedicatedThread.start(name: "voiced-control") { [self] in serve(listener: fd, waker: waker) }
        } catch {
            close(fd)
            throw SocketError(call: "pthread_create", path: path, errno: error.code)
        }
        lifecycle.withLock { $0 = (thread, waker) }
    }

    /// Closes the socket and every connection, and waits for the thread to end.
    public func stop() {
        let (thread, waker) = lifecycle.withLock { state in
            defer { state = (nil, nil) }
            return state
        }
        guard let thread, let waker else { return }
        stopping.store(true, ordering: .sequentiallyConsistent)
        waker.wake()
        thread.join()  // detaches instead when called from the thread itself
        unlink(path)
    }

    /// The clients connected now.
    public var connectionCount: Int { count.load(ordering: .sequentiallyConsistent) }

    // MARK: - The thread

    private func serve(listener: Int32, waker: Waker) {
        var table = ControlClientTable(limits: limits)
        var connections: [Int: ControlConnection] = [:]
        var nextID = 1
        var acceptPausedUntil: VoiceInstant?

        func drop(_ connection: ControlConnection, saying message: String? = nil) {
            if let message {
                _ = connection.flush()
                connection.markClosed()
                Self.sayAndForget(message, on: connection.descriptor)
            } else {
                connection.markClosed()
            }
            close(connection.descriptor)
            connections[connection.id] = nil
            table.remove(connection.id)
            count.store(connections.count, ordering: .sequentiallyConsistent)
            handler.disconnected(connection)
        }

        while !stopping.load(ordering: .sequentiallyConsistent) {
            // What to wait for.
            let now = clock.now
            if let until = acceptPausedUntil, until <= now { acceptPausedUntil = nil }
            let order = connections.keys.sorted().compactMap { connections[$0] }
            var fds = [pollfd(fd: waker.fd, events: Int16(POLLIN), revents: 0)]
            fds.append(pollfd(fd: acceptPausedUntil == nil ? listener : -1, events: Int16(POLLIN), revents: 0))
            for connection in order {
                // A client with replies it has not taken is not read from until it takes them.
                let events = connection.hasOutput ? Int16(POLLOUT) : Int16(POLLIN)
                fds.append(pollfd(fd: connection.descriptor, events: events, revents: 0))
            }
            let deadline = [table.nextExpiry, acceptPausedUntil].compactMap { $0 }.min()
            let timeout = deadline.map { Self.milliseconds($0 - now) } ?? -1
            let ready = fds.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), timeout) }
            if ready < 0 && errno != EINTR {
                logger.error("control socket poll failed; closing the control socket", metadata: ["errno": "\(errno)"])
                break
            }
            if stopping.load(ordering: .sequentiallyConsistent) { break }
            if fds[0].revents != 0 { waker.drain() }

            // Clients first, then newcomers: a newcomer displaces the client idle longest.
            for (index, connection) in order.enumerated() where connections[connection.id] != nil {
                let id = connection.id
                if connection.closeRequested {
                    logger.warning("control client stopped reading; disconnected", metadata: ["client": "\(id)"])
                    drop(connection)
                    continue
                }
                let revents = fds[index + 2].revents
                if revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 && !connection.hasOutput {
                    if !read(connection, table: &table) {
                        drop(connection)
                        continue
                    }
                }
                if connection.hasOutput && !connection.flush() {
                    drop(connection)
                    continue
                }
                // Requests read while earlier replies waited.
                if !connection.hasOutput && connection.framer.hasPartialLine {
                    if !answer(connection, table: &table) || !connection.flush() { drop(connection) }
                }
            }
            // Lines queued by other threads (watch events) for clients that had nothing to say.
            for connection in connections.values where connection.hasOutput {
                if !connection.flush() { drop(connection) }
            }
            if fds[1].revents != 0 {
                accepting: for _ in 0..<64 {
                    let fd = accept(listener, nil, nil)
                    if fd < 0 {
                        switch errno {
                        case EINTR, ECONNABORTED: continue
                        case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                            logger.warning("control socket cannot accept a client; pausing for a second", metadata: ["errno": "\(errno)"])
                            acceptPausedUntil = clock.now + .seconds(1)
                        default: break
                        }
                        break accepting
                    }
                    setNonBlockingAndCloseOnExec(fd)
                    let connection = ControlConnection(id: nextID, descriptor: fd, waker: waker)
                    nextID += 1
                    switch table.admit(connection.id, at: clock.now) {
                    case .refused:
                        logger.notice("control socket full of watchers; refused a client", metadata: ["clients": "\(limits.maxClients)"])
                        Self.sayAndForget("the daemon serves \(limits.maxClients) control clients at once and all of them are watching; try again later", on: fd)
                        close(fd)
                        continue
                    case .admittedEvicting(let id):
                        if let idle = connections[id] {
                            logger.info("control socket full; closed the client idle longest", metadata: ["client": "\(id)"])
                            drop(idle, saying: "closed: \(limits.maxClients) control clients were connected and this one was idle the longest")
                        }
                    case .admitted: break
                    }
                    connections[connection.id] = connection
                    count.store(connections.count, ordering: .sequentiallyConsistent)
                }
            }
            for id in table.expire(at: clock.now) {
                guard let connection = connections[id] else { continue }
                logger.debug("control client idle; closed", metadata: ["client": "\(id)"])
                drop(connection, saying: "closed after \(Self.words(limits.idleTimeout)) without a request")
            }
        }
        for connection in connections.values { drop(connection) }
        close(listener)
    }

    /// Reads what the client sent and answers the complete requests. Returns false when it is gone.
    private func read(_ connection: ControlConnection, table: inout ControlClientTable) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        // A bounded amount per turn of the loop, so one client cannot starve the others.
        for _ in 0..<8 {
            let n = chunk.withUnsafeMutableBytes { recv(connection.descriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { break }
                return false
            }
            if n == 0 {
                // The client is done sending: answer what it asked, then let it go.
                _ = answer(connection, table: &table)
                _ = connection.flush()
                return false
            }
            connection.framer.append(chunk[..<n])
            if !answer(connection, table: &table) { return false }
            if connection.hasOutput { break }
        }
        return true
    }

    /// Answers complete requests until the client has replies it has not taken. Returns false when it is gone.
    private func answer(_ connection: ControlConnection, table: inout ControlClientTable) -> Bool {
        while let read = connection.framer.next() {
            switch read {
            case .end:
                return false
            case .tooLong:
                table.requested(connection.id, at: clock.now)
                connection.send(.failure(id: .null, error: ControlError(.tooLarge, "request longer than \(ControlProtocol.maxRequestBytes) bytes")))
            case .line(let bytes):
                if bytes.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) { continue }
                table.requested(connection.id, at: clock.now)
                switch ControlCommand.parse(bytes) {
                case .failure(let rejection):
                    connection.send(.failure(id: rejection.id, error: rejection.error))
                case .success(let (id, command)):
                    switch handler.handle(command, from: connection) {
                    case .success(let result):
                        if command == .watch { table.startedWatching(connection.id) }
                        connection.send(.success(id: id, result: result))
                    case .failure(let error):
                        connection.send(.failure(id: id, error: error))
                    }
                }
            }
            if !connection.flush() { return false }
            if connection.hasOutput { return true }
        }
        return true
    }

    /// Tells a client why it is being closed, if its socket takes the line at once.
    private static func sayAndForget(_ message: String, on fd: Int32) {
        let line = Array((ControlReply.failure(id: .null, error: ControlError(.unavailable, message)).line + "\n").utf8)
        _ = line.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT)) }
    }

    private static func milliseconds(_ duration: Duration) -> Int32 {
        guard duration > .zero else { return 0 }
        let ms = duration.wholeMilliseconds + 1  // never wake a hair early
        return Int32(clamping: ms)
    }

    private static func words(_ duration: Duration) -> String {
        let ms = duration.wholeMilliseconds
        return ms % 1000 == 0 ? "\(ms / 1000) s" : "\(ms) ms"
    }
}
