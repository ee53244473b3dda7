import Foundation
import Glibc
import VoiceTesting

/// Stands in for systemd's notification socket: a datagram socket the daemon finds through
/// `NOTIFY_SOCKET`, recording every message with the time it came.
final class NotifyListener: @unchecked Sendable {
    // @unchecked: `fd` is immutable; the reader thread only appends to `messages` (a Locked).
    let path: String
    private let fd: Int32
    let messages = Locked<[(at: Date, text: String)]>([])
    private let stopped = Locked(false)
    private var thread: Thread?

    init(directory: String) throws {
        path = directory + "/notify.sock"
        unlink(path)
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            path.utf8CString.withUnsafeBytes { raw.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0.prefix(raw.count - 1))) }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard fd >= 0, bound == 0 else { throw POSIXError(.EADDRNOTAVAIL) }
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let thread = Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !stopped.value {
                let count = recv(fd, &buffer, buffer.count, 0)
                if count > 0 {
                    let text = String(decoding: buffer[0..<count], as: UTF8.self)
                    messages.withLock { $0.append((Date(), text)) }
                }
            }
        }
        thread.start()
        self.thread = thread
    }

    deinit {
        stopped.withLock { $0 = true }
        usleep(250_000)
        close(fd)
        unlink(path)
    }

    /// The messages holding `assignment` (e.g. "WATCHDOG=1"), with their times.
    func times(of assignment: String) -> [Date] {
        messages.value.filter { $0.text.split(separator: "\n").contains { $0 == assignment } }.map(\.at)
    }

    /// Waits until a message holds `assignment`; returns that message.
    func waitFor(_ assignment: String, timeout: TimeInterval = 20) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let found = messages.value.first(where: { $0.text.split(separator: "\n").contains { $0 == assignment } }) { return found.text }
            usleep(20_000)
        }
        return nil
    }
}
