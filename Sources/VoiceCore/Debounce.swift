/// A one-shot timer as a value: start, cancel, restart; it fires exactly once per start, and a
/// cancelled or superseded start never fires.
///
/// It holds no thread and no task. Whoever runs the clock (the controller's driver, a manual
/// clock in tests) asks ``fire(_:now:)`` with the ticket that ``start(at:)`` returned.
public struct DebounceTimer: Equatable, Sendable {
    /// One start of the timer: compare tickets to tell a current start from a stale one.
    public struct Ticket: Hashable, Sendable {
        public let generation: UInt64
        public let deadline: VoiceInstant
    }

    /// How long after a start the timer fires.
    public var duration: Duration
    /// The running start, if any.
    public private(set) var pending: Ticket?
    private var generation: UInt64 = 0

    public init(duration: Duration) { self.duration = duration }

    /// Whether a start is pending.
    public var isRunning: Bool { pending != nil }

    /// Starts the timer, superseding any running start. Returns the ticket to schedule.
    @discardableResult
    public mutating func start(at now: VoiceInstant) -> Ticket {
        generation &+= 1
        let ticket = Ticket(generation: generation, deadline: now + duration)
        pending = ticket
        return ticket
    }

    /// Cancels the running start; its ticket will never fire.
    public mutating func cancel() { pending = nil }

    /// Fires `ticket` if it is the running start and its deadline has come: true exactly once.
    public mutating func fire(_ ticket: Ticket, now: VoiceInstant) -> Bool {
        guard pending == ticket, now >= ticket.deadline else { return false }
        pending = nil
        return true
    }

    /// Fires the running start if its deadline has come (for callers that poll rather than schedule).
    public mutating func poll(now: VoiceInstant) -> Bool {
        guard let ticket = pending else { return false }
        return fire(ticket, now: now)
    }
}
