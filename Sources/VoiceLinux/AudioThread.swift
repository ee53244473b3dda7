import Foundation

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
