import Synchronization

/// Runs timers on a real clock: each scheduled action waits in its own task until its deadline.
///
/// The controller's tickets make a superseded timer harmless (it fires into a ticket that no
/// longer matches), so a timer the controller cancels is left to expire; each task ends at its
/// deadline. `cancelAll()` cancels every timer still waiting: the turn service calls it when it
/// stops, so no timer outlives its owner.
public final class TaskTimerScheduler: TimerScheduler, Sendable {
    private let clock: any VoiceClock
    private struct Pending {
        var tasks: [Int: Task<Void, Never>] = [:]
        var nextID = 0
        var cancelled = false
    }
    private let pending = Mutex(Pending())

    public init(clock: any VoiceClock) { self.clock = clock }

    /// Timers waiting for their deadline.
    public var waiting: Int { pending.withLock { $0.tasks.count } }

    public func schedule(at instant: VoiceInstant, _ action: @escaping @Sendable () -> Void) {
        let clock = self.clock
        pending.withLock { pending in
            guard !pending.cancelled else { return }
            let id = pending.nextID
            pending.nextID += 1
            pending.tasks[id] = Task { [weak self] in
                defer { self?.finished(id) }
                do {
                    try await clock.sleep(until: instant)
                } catch {
                    return  // cancelled with its owner
                }
                action()
            }
        }
    }

    /// Cancels every waiting timer; later schedules are ignored.
    public func cancelAll() {
        let tasks = pending.withLock { pending -> [Task<Void, Never>] in
            pending.cancelled = true
            defer { pending.tasks = [:] }
            return Array(pending.tasks.values)
        }
        for task in tasks { task.cancel() }
    }

    private func finished(_ id: Int) { _ = pending.withLock { $0.tasks.removeValue(forKey: id) } }
}
