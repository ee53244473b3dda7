import Logging
import ServiceLifecycle
import Synchronization
import VoiceCore

/// Sends WATCHDOG=1 at half of `WatchdogSec=`, but only while every loop watched by
/// ``LoopHeartbeats`` has made progress within its window: a daemon whose capture loop or turn
/// controller hangs stops pinging, and systemd restarts it (`Restart=on-failure`).
///
/// It also announces the shutdown: when the ``ServiceGroup`` shuts down gracefully (SIGTERM), it
/// sends STOPPING=1 at once and ends. Put it **last** in the group's service list: services are
/// shut down in reverse order, so it is told first, and systemd learns of the shutdown before the
/// other services take their time to stop (systemd stops enforcing the watchdog after STOPPING=1;
/// `TimeoutStopSec=` bounds the rest).
///
/// READY=1 is not its business: the daemon sends it with ``SystemdNotifier/ready(status:)`` once
/// audio and GPIO are open, before running the group.
public final class SystemdWatchdogService: Service, Sendable {
    private let notifier: SystemdNotifier
    private let heartbeats: LoopHeartbeats
    private let clock: any VoiceClock
    private let interval: Duration?
    private let logger: Logger
    /// The loops reported stalled at the last tick (empty when all were alive).
    private let stalled = Mutex<[String]>([])

    /// - Parameters:
    ///   - interval: how often to ping; by default half of `WATCHDOG_USEC` (nil there: no pings).
    public init(
        notifier: SystemdNotifier, heartbeats: LoopHeartbeats, clock: any VoiceClock = SystemVoiceClock(),
        interval: Duration? = nil, logger: Logger
    ) {
        self.notifier = notifier
        self.heartbeats = heartbeats
        self.clock = clock
        self.interval = interval ?? notifier.watchdogPingInterval
        self.logger = logger
    }

    /// Pings every interval until the group shuts down gracefully (or the task is cancelled),
    /// then sends STOPPING=1 and returns.
    public func run() async throws {
        if let interval {
            logger.info("systemd watchdog on", metadata: [
                "interval_ms": "\(interval.wholeMilliseconds)", "window_ms": "\(heartbeats.window.wholeMilliseconds)",
            ])
            // On graceful shutdown the loop's task is cancelled; then STOPPING=1 goes out below.
            try? await cancelWhenGracefulShutdown { [self] in
                var next = clock.now
                while !Task.isCancelled {
                    tick()
                    next = next + interval
                    if next < clock.now { next = clock.now + interval }  // after a stall of the process itself
                    try await clock.sleep(until: next)
                }
            }
        } else {
            logger.info("systemd watchdog off: the unit sets no WatchdogSec=")
            try? await gracefulShutdown()
        }
        notifier.stopping()
        logger.notice("shutting down: told systemd")
    }

    /// Sends WATCHDOG=1 if every loop is alive, and logs when loops stall or recover. Returns
    /// the decision. ``run()`` calls it every interval; tests call it directly.
    @discardableResult
    public func tick() -> WatchdogDecision {
        let decision = heartbeats.decision()
        let now: [String]
        switch decision {
        case .ping:
            notifier.watchdog()
            now = []
        case .withhold(let loops):
            now = loops
        }
        let before = stalled.withLock { stalled in
            defer { stalled = now }
            return stalled
        }
        if now != before {
            if now.isEmpty {
                logger.notice("watched loops make progress again; watchdog pings resume", metadata: ["recovered": "\(before.joined(separator: ","))"])
            } else {
                logger.error(
                    "watched loops made no progress; withholding WATCHDOG=1 so systemd restarts voiced unless they recover",
                    metadata: ["stalled": "\(now.joined(separator: ","))", "window_ms": "\(heartbeats.window.wholeMilliseconds)"]
                )
            }
        }
        return decision
    }
}
