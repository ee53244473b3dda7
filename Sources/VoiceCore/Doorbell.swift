import Synchronization

/// A wake-up for one waiting task: ``ring()`` releases the waiter, or, when nobody waits, the
/// next ``wait()`` returns at once. Each wait consumes the rings before it. A loop that has
/// nothing to do sleeps on it (with a deadline, see ``sleep(until:clock:)``) instead of polling,
/// and whoever gives it work rings.
public final class Doorbell: Sendable {
    private struct State {
        var rung = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    public init() {}

    /// Wakes the waiter, or the next one to wait.
    public func ring() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.rung = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns when rung (now or earlier) or when the task is cancelled. One waiter at a time.
    public func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    // Checked under the lock: a cancellation handler that ran before this point
                    // found nothing to resume, so this must not wait.
                    if state.rung || Task.isCancelled {
                        state.rung = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
    }

    /// Sleeps until `deadline` on `clock`, or less when rung (or when the task is cancelled).
    public func sleep(until deadline: VoiceInstant, clock: any VoiceClock) async {
        guard deadline > clock.now else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await clock.sleep(until: deadline) }
            group.addTask { await self.wait() }
            _ = await group.next()
            group.cancelAll()
        }
    }
}
