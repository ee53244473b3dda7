import VoiceControl
import VoiceCore

/// How many clients the control socket serves and how long it waits for an idle one.
public struct ControlLimits: Sendable, Equatable {
    /// Clients served at once, watchers included (documented in docs/operations.md).
    public static let defaultMaxClients = 16
    /// How long a client that is not watching may go without a complete request.
    public static let defaultIdleTimeout: Duration = .seconds(10)

    public var maxClients: Int
    public var idleTimeout: Duration

    public init(maxClients: Int = ControlLimits.defaultMaxClients, idleTimeout: Duration = ControlLimits.defaultIdleTimeout) {
        self.maxClients = max(1, maxClients)
        self.idleTimeout = idleTimeout
    }
}

/// Which clients the control socket keeps: a pure value fed with what happens and when, so the
/// policy is tested on a manual clock.
///
/// - At most `maxClients` at once. A newcomer past the cap takes the place of the client that
///   has gone longest without a request, unless every client is watching: then the newcomer is
///   refused. So idle connections never keep `voicectl status` out, and watchers are never cut.
/// - A client that is not watching is closed `idleTimeout` after it connected or last completed
///   a request (half a line does not count).
public struct ControlClientTable: Sendable {
    public enum Admission: Equatable, Sendable {
        case admitted
        /// Admitted in the place of this client, which must be closed.
        case admittedEvicting(Int)
        /// Every place is taken by a watcher.
        case refused
    }

    private struct Entry: Sendable {
        var lastRequest: VoiceInstant
        var watching: Bool
    }

    public let limits: ControlLimits
    private var entries: [Int: Entry] = [:]

    public init(limits: ControlLimits) { self.limits = limits }

    /// The clients kept now.
    public var count: Int { entries.count }

    public func contains(_ id: Int) -> Bool { entries[id] != nil }

    public func isWatching(_ id: Int) -> Bool { entries[id]?.watching ?? false }

    /// A client connected.
    public mutating func admit(_ id: Int, at now: VoiceInstant) -> Admission {
        var admission = Admission.admitted
        if entries.count >= limits.maxClients {
            let idlest = entries.filter { !$0.value.watching }
                .min { ($0.value.lastRequest, $0.key) < ($1.value.lastRequest, $1.key) }
            guard let idlest else { return .refused }
            entries[idlest.key] = nil
            admission = .admittedEvicting(idlest.key)
        }
        entries[id] = Entry(lastRequest: now, watching: false)
        return admission
    }

    /// The client completed a request (one line).
    public mutating func requested(_ id: Int, at now: VoiceInstant) {
        entries[id]?.lastRequest = now
    }

    /// The client is now watching: it is never timed out or evicted.
    public mutating func startedWatching(_ id: Int) {
        entries[id]?.watching = true
    }

    /// The client went away.
    public mutating func remove(_ id: Int) {
        entries[id] = nil
    }

    /// Removes and returns (in id order) the clients that are idle too long at `now`.
    public mutating func expire(at now: VoiceInstant) -> [Int] {
        let expired = entries.filter { !$0.value.watching && $0.value.lastRequest + limits.idleTimeout <= now }.keys.sorted()
        for id in expired { entries[id] = nil }
        return expired
    }

    /// When the next client will be idle too long, if any may be.
    public var nextExpiry: VoiceInstant? {
        entries.values.filter { !$0.watching }.map(\.lastRequest).min().map { $0 + limits.idleTimeout }
    }
}
