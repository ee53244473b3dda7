import Synchronization
import VoiceCore

/// A clock that moves only when told to, for tests and the simulator.
///
/// Work can be scheduled on it at an instant; ``advance(to:)`` runs what falls due, in time
/// order (and in scheduling order for equal times), moving `now` to each one's instant as it
/// runs. Async code may also `sleep(until:)` on it: sleepers resume when the clock passes their
/// deadline.
public final class ManualClock: VoiceClock, TimerScheduler, @unchecked Sendable {
    // @unchecked: all mutable state is behind `state`'s mutex; actions run outside the lock.

    /// A handle to cancel scheduled work.
    public struct Handle: Hashable, Sendable { let id: UInt64 }

    private typealias Entry = ManualClockEntry

    private struct State {
        var now: VoiceInstant
        var nextID: UInt64 = 0
        /// Scheduled work, a binary min-heap on (instant, id): taking the next entry costs
        /// O(log n), so a simulation of n events runs in O(n log n), not O(n²).
        var entries = EntryHeap()
        var sleepers: [(id: UInt64, deadline: VoiceInstant, continuation: CheckedContinuation<Void, Error>)] = []
        var nextSleeper: UInt64 = 0
        var cancelledSleepers: Set<UInt64> = []
    }

    private let lock = Mutex(())
    private var unsafeState: State

    public init(now: VoiceInstant = .zero) { unsafeState = State(now: now) }

    private func withState<R>(_ body: (inout State) -> R) -> R {
        lock.withLock { _ in body(&unsafeState) }
    }

    public var now: VoiceInstant { withState { $0.now } }

    /// Schedules `action` at `instant` (at once on the next advance if the instant has passed).
    public func schedule(at instant: VoiceInstant, _ action: @escaping @Sendable () -> Void) {
        _ = scheduleCancellable(at: instant, action)
    }

    /// Schedules `action`, which need not be `Sendable`: the clock runs it on the thread that advances it.
    public func run(at instant: VoiceInstant, _ action: @escaping () -> Void) {
        _ = scheduleCancellable(at: instant, action)
    }

    /// Schedules `action` at `instant`, returning a handle to cancel it.
    @discardableResult
    public func scheduleCancellable(at instant: VoiceInstant, _ action: @escaping () -> Void) -> Handle {
        withState { state in
            state.nextID += 1
            state.entries.insert(Entry(at: instant, id: state.nextID, action: action))
            return Handle(id: state.nextID)
        }
    }

    /// Schedules `action` `delay` after now.
    @discardableResult
    public func schedule(after delay: Duration, _ action: @escaping () -> Void) -> Handle {
        scheduleCancellable(at: now + delay, action)
    }

    /// Cancels scheduled work that has not run yet.
    public func cancel(_ handle: Handle) {
        withState { $0.entries.remove(id: handle.id) }
    }

    /// The instant of the earliest scheduled work, if any.
    public var nextDeadline: VoiceInstant? { withState { $0.entries.first?.at } }

    /// Runs everything due up to `instant`, in order, then sets now to `instant`.
    /// Work scheduled while advancing runs too if it falls due by `instant`.
    public func advance(to instant: VoiceInstant) {
        while let entry = popDue(by: instant) {
            entry.action()
        }
        let woken = withState { state -> [CheckedContinuation<Void, Error>] in
            if state.now < instant { state.now = instant }
            return takeSleepers(&state)
        }
        for continuation in woken { continuation.resume() }
    }

    /// Advances by `duration`.
    public func advance(by duration: Duration) { advance(to: now + duration) }

    /// Runs all scheduled work, however far in the future, until none is left or `limit` is reached.
    public func runUntilIdle(limit: VoiceInstant = .milliseconds(86_400_000)) {
        while let next = nextDeadline, next <= limit { advance(to: next) }
    }

    /// Suspends until the clock passes `deadline`; a cancelled task is resumed at once with
    /// `CancellationError`, as with a real clock.
    public func sleep(until deadline: VoiceInstant) async throws {
        let id = withState { state -> UInt64 in
            state.nextSleeper += 1
            return state.nextSleeper
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
                let outcome = withState { state -> Result<Void, Error>? in
                    if state.cancelledSleepers.remove(id) != nil { return .failure(CancellationError()) }
                    if deadline <= state.now { return .success(()) }
                    state.sleepers.append((id, deadline, continuation))
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let waiting = withState { state -> CheckedContinuation<Void, Error>? in
                if let index = state.sleepers.firstIndex(where: { $0.id == id }) {
                    return state.sleepers.remove(at: index).continuation
                }
                state.cancelledSleepers.insert(id)  // cancelled before it started waiting
                return nil
            }
            waiting?.resume(throwing: CancellationError())
        }
    }

    private func popDue(by instant: VoiceInstant) -> Entry? {
        let (entry, woken) = withState { state -> (Entry?, [CheckedContinuation<Void, Error>]) in
            guard let first = state.entries.first, first.at <= instant, let entry = state.entries.popFirst() else { return (nil, []) }
            if state.now < entry.at { state.now = entry.at }
            return (entry, takeSleepers(&state))
        }
        for continuation in woken { continuation.resume() }
        return entry
    }

    private func takeSleepers(_ state: inout State) -> [CheckedContinuation<Void, Error>] {
        let due = state.sleepers.filter { $0.deadline <= state.now }.map(\.continuation)
        state.sleepers.removeAll { $0.deadline <= state.now }
        return due
    }
}

private struct ManualClockEntry {
    var at: VoiceInstant
    var id: UInt64
    var action: () -> Void
}

/// The manual clock's scheduled work: a binary min-heap on (instant, scheduling order), with
/// cancelled entries dropped lazily when they reach the top.
private struct EntryHeap {
    private var heap: [ManualClockEntry] = []
    private var live: Set<UInt64> = []

    typealias Entry = ManualClockEntry

    /// The earliest live entry.
    var first: Entry? {
        mutating get {
            dropCancelledTop()
            return heap.first
        }
    }

    mutating func insert(_ entry: Entry) {
        live.insert(entry.id)
        heap.append(entry)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.before(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func remove(id: UInt64) { live.remove(id) }

    mutating func popFirst() -> Entry? {
        dropCancelledTop()
        guard let top = heap.first else { return nil }
        live.remove(top.id)
        removeTop()
        return top
    }

    private mutating func dropCancelledTop() {
        while let top = heap.first, !live.contains(top.id) { removeTop() }
    }

    private mutating func removeTop() {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count, Self.before(heap[left], heap[smallest]) { smallest = left }
            if right < heap.count, Self.before(heap[right], heap[smallest]) { smallest = right }
            if smallest == parent { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }

    private static func before(_ a: Entry, _ b: Entry) -> Bool { (a.at, a.id) < (b.at, b.id) }
}
