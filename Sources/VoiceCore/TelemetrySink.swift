/// Where the daemon sends what it wants kept: sessions, finished turns, telemetry snapshots,
/// the adaptive debounce and single metric samples.
///
/// Every method must return at once and never block: the daemon calls them from the turn
/// engine's draining thread. An implementation queues the event (the SQLite store's writer
/// service does) and may drop telemetry samples under pressure, but never turns or sessions.
/// Times are instants of the daemon's ``VoiceClock``; the sink turns them into wall-clock time.
public protocol TelemetrySink: Sendable {
    /// A session (a run of the daemon's conversation, identified as in ``TelemetryTracker``) began.
    func sessionStarted(_ sessionID: String, at instant: VoiceInstant)
    /// The session ended (shutdown, or the daemon starts a new one).
    func sessionEnded(_ sessionID: String, at instant: VoiceInstant)
    /// A turn finished (``TurnAction/turnFinished(_:)``), with its LLM calls.
    func turnFinished(_ record: TurnRecord, sessionID: String)
    /// The tracker's figures at `instant` (each becomes one telemetry sample per figure).
    func snapshot(_ snapshot: TelemetrySnapshot, at instant: VoiceInstant)
    /// The adaptive debounce now in force; the store keeps the last value across restarts.
    func debounceChanged(to value: Duration, sessionID: String?, at instant: VoiceInstant)
    /// One metric sample (`name` is dotted, e.g. `audio.xruns`).
    func sample(_ name: String, value: Double, sessionID: String?, at instant: VoiceInstant)
}

/// A sink that keeps nothing (telemetry switched off, and tests that do not look).
public struct DiscardingTelemetrySink: TelemetrySink {
    public init() {}
    public func sessionStarted(_ sessionID: String, at instant: VoiceInstant) {}
    public func sessionEnded(_ sessionID: String, at instant: VoiceInstant) {}
    public func turnFinished(_ record: TurnRecord, sessionID: String) {}
    public func snapshot(_ snapshot: TelemetrySnapshot, at instant: VoiceInstant) {}
    public func debounceChanged(to value: Duration, sessionID: String?, at instant: VoiceInstant) {}
    public func sample(_ name: String, value: Double, sessionID: String?, at instant: VoiceInstant) {}
}
