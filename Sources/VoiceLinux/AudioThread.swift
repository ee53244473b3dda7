import Foundation
import Synchronization

/// A flag one thread raises and another waits for, with a timeout.
final class WakeSignal: @unchecked Sendable {
    // @unchecked: `raised` and `latched` are only touched with `condition` locked.
    private let condition = NSCondition()
    private var raised = false
    private var latched = false

    /// Wakes the waiter (or the next one to wait). `permanently` keeps it raised for good.
    func raise(permanently: Bool = false) {
        condition.lock()
        raised = true
        if permanently { latched = true }
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until raised or until `timeout` has passed; returns whether it was raised, and
    /// lowers it again (unless raised permanently).
    @discardableResult
    func wait(timeout: Duration) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if !raised {
            _ = condition.wait(until: Date(timeIntervalSinceNow: max(0, timeout.seconds)))
        }
        let was = raised
        if !latched { raised = false }
        return was
    }

    /// Waits until raised, however long it takes.
    func waitForever() {
        condition.lock()
        defer { condition.unlock() }
        while !raised { condition.wait() }
        if !latched { raised = false }
    }
}

/// The start-once, stop-and-join life of an audio loop's thread (capture, playback), and the
/// service-group `run()` around it.
final class AudioLoopThread: Sendable {
    private let thread = Mutex<DedicatedThread?>(nil)
    private let stopping = Atomic<Bool>(false)
    private let name: String

    init(name: String) { self.name = name }

    /// Whether the loop has been asked to stop (the loop checks it between steps).
    var isStopping: Bool { stopping.load(ordering: .relaxed) }

    /// Starts `loop` on its thread, once; later calls do nothing until ``stop(wake:)``.
    func start(_ loop: @escaping @Sendable () -> Void) throws(ThreadStartError) {
        try thread.withLock { (thread: inout DedicatedThread?) throws(ThreadStartError) in
            guard thread == nil else { return }
            stopping.store(false, ordering: .relaxed)
            thread = try DedicatedThread.start(name: name, loop)
        }
    }

    /// Asks the loop to stop, calls `wake` so it notices at once, and waits for its thread.
    func stop(wake: () -> Void) {
        let running = thread.withLock { thread -> DedicatedThread? in
            defer { thread = nil }
            return thread
        }
        guard let running else { return }
        stopping.store(true, ordering: .relaxed)
        wake()
        running.join()
    }

    /// Starts, waits until the task is cancelled (a service group shutting down), then stops.
    static func run(start: () throws(ThreadStartError) -> Void, stop: () -> Void) async throws {
        try start()
        let (stream, continuation) = AsyncStream<Never>.makeStream()
        await withTaskCancellationHandler {
            for await _ in stream {}
        } onCancel: {
            continuation.finish()
        }
        stop()
    }
}
