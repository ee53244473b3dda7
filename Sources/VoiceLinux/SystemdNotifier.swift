import CSystemd
import Glibc
import Logging
import VoiceCore

/// An sd_notify call failed.
public struct SystemdError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The libsystemd function that failed.
    public let call: String
    /// What was being sent, e.g. `READY=1`.
    public let message: String
    /// The (positive) errno it returned.
    public let code: Int32

    public var description: String {
        "\(call)(\(message)) failed: \(errnoDescription(code)); is $NOTIFY_SOCKET reachable (RestrictAddressFamilies= must allow AF_UNIX)?"
    }
}

/// Tells systemd how voiced is doing, through `sd_notify` (`Type=notify` in the unit).
///
/// Without `NOTIFY_SOCKET` (not started by systemd) every call does nothing. A message that fails
/// to send is logged at warning and otherwise ignored: a missed notification must not stop the
/// speaker.
///
/// - READY=1 once audio and GPIO are open (``ready(status:)``), not before: systemd then counts
///   the start as done, and `systemctl start voiced` returns.
/// - STATUS= with the state in words (``status(_:)-swift.method``), shown by `systemctl status voiced`.
/// - WATCHDOG=1 (``watchdog()``) from ``SystemdWatchdogService`` only, at half of `WATCHDOG_USEC`.
/// - STOPPING=1 when shutdown begins (``stopping(status:)``).
public final class SystemdNotifier: Sendable {
    /// Whether systemd listens (`NOTIFY_SOCKET` was set when the notifier was made).
    public let isActive: Bool
    /// `WatchdogSec=` of the unit, from `sd_watchdog_enabled` (nil: no watchdog).
    public let watchdogTimeout: Duration?
    private let logger: Logger

    /// Reads `NOTIFY_SOCKET` and, through `sd_watchdog_enabled`, `WATCHDOG_USEC` / `WATCHDOG_PID`.
    public convenience init(logger: Logger) {
        var microseconds: UInt64 = 0
        let enabled = sd_watchdog_enabled(0, &microseconds)
        if enabled < 0 {
            logger.warning("WATCHDOG_USEC is set but invalid; running without the systemd watchdog", metadata: [
                "error": "\(errnoDescription(-enabled))",
            ])
        }
        self.init(
            isActive: getenv("NOTIFY_SOCKET") != nil,
            watchdogTimeout: enabled > 0 && microseconds > 0 ? .microseconds(Int64(clamping: microseconds)) : nil,
            logger: logger
        )
    }

    /// A notifier with its environment given (tests; or a daemon that reads it itself).
    public init(isActive: Bool, watchdogTimeout: Duration?, logger: Logger) {
        self.isActive = isActive
        self.watchdogTimeout = watchdogTimeout
        self.logger = logger
    }

    /// How often to send WATCHDOG=1: half the watchdog timeout, as sd_watchdog_enabled(3) advises.
    public var watchdogPingInterval: Duration? { watchdogTimeout.map { $0 / 2 } }

    /// Sends `assignments` (e.g. `["READY=1", "STATUS=Listening"]`) in one datagram. Returns false
    /// when systemd is not listening; throws when the send failed.
    @discardableResult
    public func send(_ assignments: [String]) throws(SystemdError) -> Bool {
        guard isActive else { return false }
        let message = assignments.joined(separator: "\n")
        let result = sd_notify(0, message)
        if result < 0 { throw SystemdError(call: "sd_notify", message: message, code: -result) }
        return result > 0
    }

    /// READY=1, with a status line: audio and GPIO are open and voiced is serving.
    public func ready(status: String? = nil) {
        sendLogged(["READY=1"] + (status.map { ["STATUS=\(Self.singleLine($0))"] } ?? []))
    }

    /// STATUS= with free text (one line).
    public func status(_ text: String) {
        sendLogged(["STATUS=\(Self.singleLine(text))"])
    }

    /// STATUS= with the indicator state in words.
    public func status(_ state: IndicatorState) {
        status(Self.statusText(for: state))
    }

    /// WATCHDOG=1: voiced is alive. Only ``SystemdWatchdogService`` should call this, and only
    /// while every watched loop is making progress.
    public func watchdog() {
        sendLogged(["WATCHDOG=1"])
    }

    /// STOPPING=1: shutdown has begun (systemd stops enforcing the watchdog, and TimeoutStopSec=
    /// bounds the rest).
    public func stopping(status: String? = "Shutting down") {
        sendLogged(["STOPPING=1"] + (status.map { ["STATUS=\(Self.singleLine($0))"] } ?? []))
    }

    /// RELOADING=1 while SIGHUP rereads the config; follow with ``ready(status:)`` when done.
    public func reloading() {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let microseconds = Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000
        // MONOTONIC_USEC lets systemd tell this reload from an older one (required by Type=notify-reload).
        sendLogged(["RELOADING=1", "MONOTONIC_USEC=\(microseconds)", "STATUS=Reloading the configuration"])
    }

    /// The words shown by `systemctl status voiced` for each state.
    public static func statusText(for state: IndicatorState) -> String {
        switch state {
        case .idle: "Idle: waiting for the button"
        case .listening: "Listening"
        case .speculative: "Listening; preparing an answer"
        case .committed: "Answering"
        case .speaking: "Speaking"
        case .error: "Error: the last turn failed"
        case .offline: "Offline: the cloud services cannot be reached"
        case .muted: "Microphone muted: no audio leaves the device"
        }
    }

    private func sendLogged(_ assignments: [String]) {
        do {
            try send(assignments)
        } catch {
            logger.warning("systemd notification failed", metadata: ["error": "\(error)"])
        }
    }

    /// A newline would start a new assignment: status text is kept to one line.
    static func singleLine(_ text: String) -> String {
        String(text.map { $0.isNewline ? " " : $0 })
    }
}
