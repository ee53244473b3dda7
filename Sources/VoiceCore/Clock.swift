/// A point in time on a voiced clock: the time elapsed since the clock's origin.
///
/// The controller never reads the wall clock itself; it is handed a ``VoiceClock`` so that tests
/// and `voiced simulate` can run on virtual time.
public struct VoiceInstant: Comparable, Hashable, Sendable, Codable, CustomStringConvertible {
    /// Time since the clock's origin.
    public var sinceOrigin: Duration

    public init(sinceOrigin: Duration) { self.sinceOrigin = sinceOrigin }

    /// The clock's origin.
    public static let zero = VoiceInstant(sinceOrigin: .zero)

    /// An instant `milliseconds` after the origin.
    public static func milliseconds(_ milliseconds: Int64) -> VoiceInstant {
        VoiceInstant(sinceOrigin: .milliseconds(milliseconds))
    }

    /// Whole milliseconds since the origin (rounded toward zero).
    public var milliseconds: Int64 { sinceOrigin.wholeMilliseconds }

    public static func < (lhs: VoiceInstant, rhs: VoiceInstant) -> Bool { lhs.sinceOrigin < rhs.sinceOrigin }
    public static func + (lhs: VoiceInstant, rhs: Duration) -> VoiceInstant { VoiceInstant(sinceOrigin: lhs.sinceOrigin + rhs) }
    public static func - (lhs: VoiceInstant, rhs: VoiceInstant) -> Duration { lhs.sinceOrigin - rhs.sinceOrigin }

    public var description: String { "t+\(milliseconds)ms" }
}

/// The time source of the controller and its timers.
///
/// The daemon uses ``SystemVoiceClock``; tests and the simulator use a manual clock that they
/// advance, so no test sleeps.
public protocol VoiceClock: Sendable {
    /// The current instant.
    var now: VoiceInstant { get }
    /// Suspends until `deadline` (or throws `CancellationError` when the task is cancelled).
    func sleep(until deadline: VoiceInstant) async throws
}

/// The monotonic system clock (`ContinuousClock`), with its origin at the moment it was created.
public struct SystemVoiceClock: VoiceClock {
    private let clock = ContinuousClock()
    private let origin: ContinuousClock.Instant

    public init() { origin = clock.now }

    public var now: VoiceInstant { VoiceInstant(sinceOrigin: clock.now - origin) }

    public func sleep(until deadline: VoiceInstant) async throws {
        try await clock.sleep(until: origin + deadline.sinceOrigin, tolerance: nil)
    }
}

extension Duration {
    /// Whole milliseconds in this duration (rounded toward zero).
    public var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// Whole microseconds in this duration (rounded toward zero).
    public var wholeMicroseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000 + attoseconds / 1_000_000_000_000
    }

    /// This duration in seconds, as a floating-point number.
    public var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
