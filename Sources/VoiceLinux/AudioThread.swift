import Glibc
import Synchronization

/// A flag one thread raises and another waits for, with a timeout.
final class WakeSignal: @unchecked Sendable {
    // @unchecked: `raised` and `latched` are only touched with `mutex` locked. The pthread mutex
    // and condition live at fixed addresses of their own, as pthread requires.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var raised = false
    private var latched = false

    init() {
        mutex.initialize(to: pthread_mutex_t())
        _ = pthread_mutex_init(mutex, nil)
        // Timed waits measure on the monotonic clock, so a change of the wall clock (NTP after
        // boot) neither cuts nor stretches them.
        var attributes = pthread_condattr_t()
        _ = pthread_condattr_init(&attributes)
        _ = pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        condition.initialize(to: pthread_cond_t())
        _ = pthread_cond_init(condition, &attributes)
        _ = pthread_condattr_destroy(&attributes)
    }

    deinit {
        _ = pthread_cond_destroy(condition)
        _ = pthread_mutex_destroy(mutex)
        condition.deinitialize(count: 1)
        condition.deallocate()
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Wakes the waiter (or the next one to wait). `permanently` keeps it raised for good.
    func raise(permanently: Bool = false) {
        _ = pthread_mutex_lock(mutex)
        raised = true
        if permanently { latched = true }
        _ = pthread_cond_broadcast(condition)
        _ = pthread_mutex_unlock(mutex)
    }

    /// Waits until raised or until `timeout` has passed; returns whether it was raised, and
    /// lowers it again (unless raised permanently).
    @discardableResult
    func wait(timeout: Duration) -> Bool {
        _ = pthread_mutex_lock(mutex)
        defer { _ = pthread_mutex_unlock(mutex) }
        if !raised {
            var deadline = timespec()
            _ = clock_gettime(CLOCK_MONOTONIC, &deadline)
            let (seconds, attoseconds) = max(timeout, .zero).components
            let nanoseconds = Int64(deadline.tv_nsec) + attoseconds / 1_000_000_000
            deadline.tv_sec += Int(seconds) + Int(nanoseconds / 1_000_000_000)
            deadline.tv_nsec = Int(nanoseconds % 1_000_000_000)
            // Until raised or timed out (a spurious wake-up waits on).
            while !raised, pthread_cond_timedwait(condition, mutex, &deadline) == 0 {}
        }
        let was = raised
        if !latched { raised = false }
        return was
    }

    /// Waits until raised, however long it takes.
    func waitForever() {
        _ = pthread_mutex_lock(mutex)
        defer { _ = pthread_mutex_unlock(mutex) }
        while !raised { _ = pthread_cond_wait(condition, mutex) }
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
