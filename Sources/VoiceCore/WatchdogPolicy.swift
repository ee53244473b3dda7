import Synchronization

// The systemd watchdog should restart voiced when it hangs, not merely when the process dies.
// A timer thread that sends WATCHDOG=1 would keep a daemon alive whose capture loop is stuck in a
// driver or whose turn controller deadlocked; so each loop that matters reports progress, and
// WATCHDOG=1 goes out only while every one of them has reported within the window.
//
// A loop must report even when it has nothing to do: capture reports per chunk (the microphone
// always delivers), and the turn controller must be given a periodic no-op (a ping it drains like
// any event) so an idle controller still shows it is draining.

/// What the watchdog sender should do now.
public enum WatchdogDecision: Hashable, Sendable {
    /// Every loop made progress within the window: send WATCHDOG=1.
    case ping
    /// These loops (sorted by name) made no progress within the window: send nothing, so systemd
    /// restarts the daemon once `WatchdogSec` passes.
    case withhold(stalled: [String])
}

/// Which named loops are alive: each must report progress within `window` of now.
public struct WatchdogPolicy: Hashable, Sendable {
    /// How recent a loop's last progress must be for the loop to count as alive.
    public var window: Duration
    /// The last progress of each watched loop (registration counts as progress).
    public private(set) var lastProgress: [String: VoiceInstant]

    /// Watches `loops`, each counted as alive from `start` (a grace period of one window).
    public init(loops: [String], window: Duration, start: VoiceInstant) {
        self.window = window
        lastProgress = Dictionary(loops.map { ($0, start) }, uniquingKeysWith: { first, _ in first })
    }

    /// Starts watching `loop`, counting it alive from `instant`.
    public mutating func register(_ loop: String, at instant: VoiceInstant) {
        lastProgress[loop] = instant
    }

    /// Stops watching `loop` (one that ended on purpose).
    public mutating func unregister(_ loop: String) {
        lastProgress[loop] = nil
    }

    /// `loop` made progress at `instant`. An unknown loop is watched from now on. An instant
    /// earlier than the one recorded changes nothing.
    public mutating func progress(_ loop: String, at instant: VoiceInstant) {
        if let last = lastProgress[loop], last >= instant { return }
        lastProgress[loop] = instant
    }

    /// The loops whose last progress is more than `window` before `now`, sorted by name.
    public func stalledLoops(at now: VoiceInstant) -> [String] {
        lastProgress.filter { now - $0.value > window }.map(\.key).sorted()
    }

    /// Whether to send WATCHDOG=1 at `now`.
    public func decision(at now: VoiceInstant) -> WatchdogDecision {
        let stalled = stalledLoops(at: now)
        return stalled.isEmpty ? .ping : .withhold(stalled: stalled)
    }
}

/// A thread-safe ``WatchdogPolicy`` on a clock: loops call ``beat(_:)`` from any thread, the
/// watchdog sender asks ``decision()``.
public final class LoopHeartbeats: Sendable {
    private let clock: any VoiceClock
    private let policy: Mutex<WatchdogPolicy>

    /// Watches `loops` from now, each needing progress within `window`.
    public init(loops: [String], window: Duration, clock: any VoiceClock) {
        self.clock = clock
        policy = Mutex(WatchdogPolicy(loops: loops, window: window, start: clock.now))
    }

    /// `loop` made progress now.
    public func beat(_ loop: String) {
        let now = clock.now
        policy.withLock { $0.progress(loop, at: now) }
    }

    /// Starts watching `loop` from now.
    public func register(_ loop: String) {
        let now = clock.now
        policy.withLock { $0.register(loop, at: now) }
    }

    /// Stops watching `loop`.
    public func unregister(_ loop: String) {
        policy.withLock { $0.unregister(loop) }
    }

    /// A handle for one loop to report with, without knowing the others.
    public func heartbeat(for loop: String) -> Heartbeat { Heartbeat(heartbeats: self, loop: loop) }

    /// Whether to send WATCHDOG=1 now.
    public func decision() -> WatchdogDecision {
        let now = clock.now
        return policy.withLock { $0.decision(at: now) }
    }

    /// The progress window.
    public var window: Duration { policy.withLock { $0.window } }
}

/// One loop's way to report progress.
public struct Heartbeat: Sendable {
    let heartbeats: LoopHeartbeats
    /// The loop's name, as shown in the log when it stalls.
    public let loop: String

    /// The loop made progress now.
    public func beat() { heartbeats.beat(loop) }
}
