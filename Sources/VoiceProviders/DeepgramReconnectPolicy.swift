import VoiceCore

/// When to connect next: the reconnect backoff as a pure state machine on injected instants.
///
/// The rules (durations from ``DeepgramConfiguration``):
/// - The first attempt starts at once.
/// - After a failed attempt, or a connection lost within `stableConnection` of opening (which
///   counts as a failure, so a server that accepts and drops cannot cause a tight loop), attempt
///   *n + 1* waits `reconnectDelays[n]`: 0, 1, 2, 4, 8 s by default.
/// - A connection that stayed up at least `stableConnection` resets the count: attempt 1 of the
///   schedule (delay 0) follows its loss.
/// - When every delay of the schedule has been used and the last attempt failed too, the client
///   is offline: it says so once and then retries every `offlineRetryInterval` (30 s) until a
///   connection opens.
///
/// The client feeds outcomes in and sleeps until the instant each ``Decision`` names.
public struct DeepgramReconnectPolicy: Sendable, Equatable {
    /// What to do after an outcome.
    public enum Decision: Equatable, Sendable {
        /// Attempt number `attempt` of the schedule (1-based), at `at` (`delay` from now).
        case reconnect(attempt: Int, delay: Duration, at: VoiceInstant)
        /// The schedule is exhausted: report offline, and try again at `retryAt`.
        case offline(retryAt: VoiceInstant)
        /// Still offline: try again at `retryAt`, without reporting anything new.
        case retryOffline(retryAt: VoiceInstant)

        /// The instant of the next attempt.
        public var instant: VoiceInstant {
            switch self {
            case .reconnect(_, _, let at), .offline(let at), .retryOffline(let at): at
            }
        }
    }

    /// The delays before attempts 1, 2, ... after a loss.
    public let delays: [Duration]
    /// The retry period once offline.
    public let offlineRetryInterval: Duration
    /// How long a connection must last for its loss not to count as a failure.
    public let stableConnection: Duration

    /// Failed attempts since the last stable connection.
    public private(set) var consecutiveFailures = 0
    /// Whether the schedule has been exhausted (and offline reported).
    public private(set) var isOffline = false

    public init(delays: [Duration], offlineRetryInterval: Duration, stableConnection: Duration) {
        self.delays = delays.isEmpty ? [.zero] : delays
        self.offlineRetryInterval = offlineRetryInterval
        self.stableConnection = stableConnection
    }

    /// The policy with the configuration's schedule.
    public init(configuration: DeepgramConfiguration) {
        self.init(
            delays: configuration.reconnectDelays, offlineRetryInterval: configuration.offlineRetryInterval,
            stableConnection: configuration.stableConnection)
    }

    /// The first attempt: at once.
    public func start(at now: VoiceInstant) -> Decision {
        .reconnect(attempt: 1, delay: .zero, at: now)
    }

    /// A connection opened. Returns whether the client was offline (so it can say it is back).
    /// The failure count is kept until the connection proves stable (see ``connectionLost(openedAt:at:)``).
    @discardableResult
    public mutating func connected() -> Bool {
        let wasOffline = isOffline
        isOffline = false
        return wasOffline
    }

    /// An attempt failed before the connection opened.
    public mutating func attemptFailed(at now: VoiceInstant) -> Decision {
        consecutiveFailures += 1
        return next(at: now)
    }

    /// A connection opened at `openedAt` ended at `now`.
    public mutating func connectionLost(openedAt: VoiceInstant, at now: VoiceInstant) -> Decision {
        if now - openedAt >= stableConnection {
            consecutiveFailures = 0
            isOffline = false
            return next(at: now)
        }
        return attemptFailed(at: now)
    }

    private mutating func next(at now: VoiceInstant) -> Decision {
        if consecutiveFailures < delays.count {
            let delay = delays[consecutiveFailures]
            return .reconnect(attempt: consecutiveFailures + 1, delay: delay, at: now + delay)
        }
        if isOffline { return .retryOffline(retryAt: now + offlineRetryInterval) }
        isOffline = true
        return .offline(retryAt: now + offlineRetryInterval)
    }
}
