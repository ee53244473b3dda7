#if canImport(Glibc)
import Glibc
#endif

/// A failed socket call, with the call and the system's reason.
public struct SocketError: Error, Equatable, Sendable, CustomStringConvertible {
    public var call: String
    public var path: String
    public var errno: Int32
    public var description: String { "\(call) \(path): \(String(cString: strerror(errno)))" }

    public init(call: String, path: String, errno: Int32) {
        self.call = call
        self.path = path
        self.errno = errno
    }
}

/// A connected Unix stream socket that reads and writes lines. Owns its descriptor.
public final class LineSocket: @unchecked Sendable {
    // @unchecked: the descriptor is written by one thread and read by another at most; the
    // framer belongs to the reading thread.
    public let descriptor: Int32
    private var framer: LineFramer?

    public init(descriptor: Int32) { self.descriptor = descriptor }

    /// Connects to the socket at `path`.
    public static func connect(path: String) throws(SocketError) -> LineSocket {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError(call: "socket", path: path, errno: errno) }
        var address = sockaddr_un()
        guard fillAddress(&address, path: path) else {
            close(fd)
            throw SocketError(call: "connect", path: path, errno: ENAMETOOLONG)
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else {
            let error = errno
            close(fd)
            throw SocketError(call: "connect", path: path, errno: error)
        }
        return LineSocket(descriptor: fd)
    }

    public static func fillAddress(_ address: inout sockaddr_un, path: String) -> Bool {
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return true
    }

    /// Writes a line (a newline is added). Returns false when the peer is gone.
    @discardableResult
    public func write(line: String) -> Bool {
        var bytes = Array(line.utf8)
        bytes.append(UInt8(ascii: "\n"))
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += n
        }
        return true
    }

    /// Reads the next line (without its newline), `.end` at the end of the stream. A line longer
    /// than `limit` is returned as `.tooLong` after its end has been skipped.
    public func readLine(limit: Int) -> LineRead {
        if framer == nil || framer?.limit != limit { framer = LineFramer(limit: limit) }
        while true {
            if let line = framer?.next() { return line }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return .end }
            framer?.append(chunk[..<n])
        }
    }

    public enum LineRead: Equatable {
        case line([UInt8])
        case tooLong
        case end
    }

    deinit { close(descriptor) }
}

/// Splits a byte stream into lines, holding at most `limit` bytes of an unfinished line: a longer
/// line is dropped as it arrives and reported as `.tooLong` once its newline comes.
public struct LineFramer: Sendable {
    /// The longest line kept, in bytes (without the newline).
    public let limit: Int
    private var buffer: [UInt8] = []
    /// How far `buffer` is known to hold no newline.
    private var scanned = 0
    private var skipping = false

    public init(limit: Int) { self.limit = limit }

    /// Bytes of an unfinished line held now.
    public var pendingBytes: Int { buffer.count }

    /// Whether part of a line has arrived (kept, or being skipped as too long).
    public var hasPartialLine: Bool { !buffer.isEmpty || skipping }

    public mutating func append(_ bytes: some Collection<UInt8>) { buffer.append(contentsOf: bytes) }

    /// The next complete line (`.line` or `.tooLong`), or nil until one has arrived.
    public mutating func next() -> LineSocket.LineRead? {
        if let newline = buffer[scanned...].firstIndex(of: UInt8(ascii: "\n")) {
            let line = Array(buffer[..<newline])
            buffer.removeSubrange(...newline)
            scanned = 0
            if skipping || line.count > limit {
                skipping = false
                return .tooLong
            }
            return .line(line)
        }
        scanned = buffer.count
        if buffer.count > limit {
            buffer.removeAll(keepingCapacity: true)
            scanned = 0
            skipping = true
        }
        return nil
    }
}
