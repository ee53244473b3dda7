import Glibc
import Logging
import Synchronization
import VoiceCore
import VoiceSupport

// Blocking reads (a GPIO event fd, stdin) and the LED refresh loop each run on a thread of their
// own, so they never hold a cooperative-pool thread of Swift concurrency. A thread sleeps in
// poll() on its fds plus a `Waker`, which other threads signal to make it look at its state again
// (a new LED state, a stop request) without waiting for its timeout.

/// An OS thread running one closure, joined by ``join()``.
public final class DedicatedThread: @unchecked Sendable {
    // @unchecked: `thread` is written once in `start` before the object is shared, then only read.
    private let thread: pthread_t
    private let joined = Mutex(false)

    private init(thread: pthread_t) { self.thread = thread }

    /// Starts `body` on a new thread; `name` identifies it in errors and is the OS thread's name
    /// (`top -H`, `ps -L`, /proc/PID/task/TID/comm; Linux keeps its first 15 bytes).
    public static func start(name: String, _ body: @escaping @Sendable () -> Void) throws(ThreadStartError) -> DedicatedThread {
        DedicatedThread(thread: try NamedThread.start(name: name, body))
    }

    /// Waits for the thread to end; later calls return at once. Called from the thread itself
    /// (its owner's deinit can run there when the thread held the last reference), it detaches
    /// the thread instead, which then ends as soon as it returns.
    public func join() {
        let first = joined.withLock { joined in
            defer { joined = true }
            return !joined
        }
        guard first else { return }
        if pthread_equal(thread, pthread_self()) != 0 {
            _ = pthread_detach(thread)
        } else {
            _ = pthread_join(thread, nil)
        }
    }
}

/// A thread could not be started (the system is out of threads or memory).
public typealias ThreadStartError = NamedThreadError

/// A self-pipe that wakes a thread sleeping in poll() (the button, the LEDs, the control socket).
/// (eventfd would do with one fd, but the Glibc module does not export it.)
public final class Waker: Sendable {
    /// The end to poll for POLLIN.
    public let fd: Int32
    private let writeEnd: Int32

    public init() throws(WakerError) {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw WakerError(code: errno) }
        for end in ends {
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
        }
        fd = ends[0]
        writeEnd = ends[1]
    }

    deinit {
        close(fd)
        close(writeEnd)
    }

    /// Makes ``fd`` readable until ``drain()``. Never blocks (a full pipe is already readable).
    public func wake() {
        var byte: UInt8 = 1
        _ = write(writeEnd, &byte, 1)
    }

    /// Clears every wake-up so far.
    public func drain() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(fd, &buffer, buffer.count) > 0 {}
    }
}

/// pipe() failed (out of file descriptors).
public struct WakerError: Error, Hashable, CustomStringConvertible {
    /// The errno of pipe().
    public let code: Int32
    public var description: String {
        "pipe() failed: \(errnoDescription(code)); the process is out of file descriptors (raise LimitNOFILE=)"
    }
}

/// "No such file or directory (ENOENT)" for an errno value.
func errnoDescription(_ code: Int32) -> String {
    let text = strerror(code).map { String(cString: $0) } ?? "error"
    return "\(text) (\(errnoName(code)))"
}

/// The symbolic name of the errno values voiced reports, or "errno N".
func errnoName(_ code: Int32) -> String {
    switch code {
    case EPERM: "EPERM"
    case ENOENT: "ENOENT"
    case EINTR: "EINTR"
    case EIO: "EIO"
    case ENXIO: "ENXIO"
    case EBADF: "EBADF"
    case EAGAIN: "EAGAIN"
    case ENOMEM: "ENOMEM"
    case EACCES: "EACCES"
    case EBUSY: "EBUSY"
    case ENODEV: "ENODEV"
    case EINVAL: "EINVAL"
    case EMFILE: "EMFILE"
    case ENOTSUP: "ENOTSUP"
    case ECONNREFUSED: "ECONNREFUSED"
    case ENOTCONN: "ENOTCONN"
    default: "errno \(code)"
    }
}

/// Waits in poll() on `fds` (all for POLLIN) for at most `timeout` (nil: until one is ready).
/// Returns the revents of each fd, all zero on timeout. EINTR counts as a timeout.
func pollReadable(_ fds: [Int32], timeout: Duration?) -> [Int16] {
    var entries = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
    let milliseconds: Int32
    if let timeout {
        // Round up so a deadline is never missed by a truncated wait.
        let ms = (timeout.seconds * 1000).rounded(.up)
        milliseconds = Int32(min(max(ms, 0), Double(Int32.max)))
    } else {
        milliseconds = -1
    }
    let result = entries.withUnsafeMutableBufferPointer { buffer in
        poll(buffer.baseAddress, nfds_t(buffer.count), milliseconds)
    }
    guard result > 0 else { return Array(repeating: 0, count: fds.count) }
    return entries.map(\.revents)
}

/// The start-once, stop-and-join life of a reading thread that feeds one `AsyncStream`: shared by
/// the GPIO button and the stdin button.
final class ReaderThreadControl: Sendable {
    private struct State {
        var started = false
        var stopped = false
        var thread: DedicatedThread?
    }

    private let state = Mutex(State())
    /// Signalled on stop: the thread polls it beside its own fd.
    let waker: Waker

    init() throws(WakerError) { waker = try Waker() }

    /// Claims the one start: true the first time (and not after a stop), false afterwards.
    func claim() -> Bool {
        state.withLock { state -> Bool in
            defer { state.started = true }
            return !state.started && !state.stopped
        }
    }

    /// Starts `body` on a new thread; call once, after a successful ``claim()``.
    func launch(name: String, _ body: @escaping @Sendable () -> Void) throws(ThreadStartError) {
        let thread = try DedicatedThread.start(name: name, body)
        state.withLock { $0.thread = thread }
    }

    /// Claims the start and runs `body` on a new thread, feeding `continuation`: a second call
    /// finishes its own stream at once (and leaves the running reader alone); cancelling the
    /// stream's consumer stops the reader.
    func start<Element>(
        name: String, continuation: AsyncStream<Element>.Continuation, logger: Logger,
        _ body: @escaping @Sendable () -> Void
    ) {
        guard claim() else {
            logger.error("a reader's stream was asked for twice, or after stop; this stream ends at once", metadata: ["reader": "\(name)"])
            continuation.finish()
            return
        }
        continuation.onTermination = { [self] _ in requestStop() }
        do {
            try launch(name: name, body)
        } catch {
            logger.error("a reader thread cannot start", metadata: ["reader": "\(name)", "error": "\(error)"])
            continuation.finish()
        }
    }

    /// Asks the thread to end, without waiting (safe from any context, e.g. a stream's onTermination).
    func requestStop() {
        state.withLock { $0.stopped = true }
        waker.wake()
    }

    /// Whether a stop was asked for.
    var isStopped: Bool { state.withLock { $0.stopped } }

    /// Asks the thread to end and waits until it has.
    func stop() {
        requestStop()
        let thread = state.withLock { $0.thread }
        thread?.join()
    }
}
