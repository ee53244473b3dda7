#if canImport(Glibc)
import Glibc

// A named OS thread without Foundation's `Thread` (the daemon links FoundationEssentials only):
// the one place voiced creates and names its threads. Detached here for the HTTP loop of
// VoiceProviders and the telemetry writer of VoiceTelemetry; joinable through VoiceLinux's
// `DedicatedThread` for the audio, LED, button, turn and control-socket loops.

/// Starts threads that nobody joins: like Foundation's `Thread.start()`, the thread is detached,
/// and ends when its body returns.
public enum NamedThread {
    private final class Context {
        let name: String
        let body: @Sendable () -> Void
        init(name: String, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }

    /// Runs `body` on a new detached thread whose OS name is `name` (`top -H`, `ps -L`,
    /// /proc/PID/task/TID/comm; Linux keeps its first 15 bytes).
    public static func detach(name: String, _ body: @escaping @Sendable () -> Void) throws(NamedThreadError) {
        _ = try create(name: name, detached: true, body)
    }

    /// Runs `body` on a new joinable thread named `name`; whoever keeps the handle joins it (or
    /// detaches it). VoiceLinux's `DedicatedThread` is that owner.
    public static func start(name: String, _ body: @escaping @Sendable () -> Void) throws(NamedThreadError) -> pthread_t {
        try create(name: name, detached: false, body)
    }

    /// pthread_create with `body`, named on the new thread before it runs.
    private static func create(name: String, detached: Bool, _ body: @escaping @Sendable () -> Void) throws(NamedThreadError) -> pthread_t {
        let context = Unmanaged.passRetained(Context(name: name, body: body)).toOpaque()
        var attributes = pthread_attr_t()
        _ = pthread_attr_init(&attributes)
        defer { _ = pthread_attr_destroy(&attributes) }
        _ = pthread_attr_setdetachstate(&attributes, Int32(detached ? PTHREAD_CREATE_DETACHED : PTHREAD_CREATE_JOINABLE))
        var thread = pthread_t()
        let result = pthread_create(&thread, &attributes, { raw in
            guard let raw else { return nil }
            let context = Unmanaged<Context>.fromOpaque(raw).takeRetainedValue()
            NamedThread.setCurrentThreadName(context.name)
            context.body()
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<Context>.fromOpaque(context).release()
            throw NamedThreadError(name: name, code: result)
        }
        return thread
    }

    /// Names the calling OS thread (Linux keeps 15 bytes: a longer name is cut there rather than
    /// refused, as pthread_setname_np would). Glibc's module does not export
    /// `pthread_setname_np`; writing the thread's `comm` does the same.
    public static func setCurrentThreadName(_ name: String) {
        let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let bytes = Array(name.utf8.prefix(15))
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }
}

/// A thread could not be started (the system is out of threads or memory).
public struct NamedThreadError: Error, Hashable, CustomStringConvertible {
    /// The thread's name.
    public let name: String
    /// The error number pthread_create returned.
    public let code: Int32

    public var description: String {
        let text = strerror(code).map { String(cString: $0) } ?? "error \(code)"
        return "pthread_create(\(name)) failed: \(text); the system is out of threads or memory"
    }
}
#endif
