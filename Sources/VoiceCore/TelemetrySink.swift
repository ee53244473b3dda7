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

// Public factories, so that stores, tools and tests outside VoiceCore can build records. (The
// synthesized memberwise initializers are internal, and an extension may not redeclare them
// public with the same labels.)
extension TurnRecord {
    public static func make(turn: Int, userText: String, spokenText: String, states: [TransitionEvent],
                            startedAt: VoiceInstant, endedAt: VoiceInstant?, interrupted: Bool, status: TurnStatus,
                            llmCalls: [LLMCallRecord], latencies: TurnLatencies, debounceMs: Int64) -> TurnRecord {
        TurnRecord(turn: turn, userText: userText, spokenText: spokenText, states: states, startedAt: startedAt,
                   endedAt: endedAt, interrupted: interrupted, status: status, llmCalls: llmCalls,
                   latencies: latencies, debounceMs: debounceMs)
    }
}

extension LLMCallRecord {
    public static func make(call: Int, status: Status, reason: String?, tokens: Int, promptTokens: Int?,
                            startedAt: VoiceInstant, endedAt: VoiceInstant?, firstTokenAt: VoiceInstant?) -> LLMCallRecord {
        LLMCallRecord(call: call, status: status, reason: reason, tokens: tokens, promptTokens: promptTokens,
                      startedAt: startedAt, endedAt: endedAt, firstTokenAt: firstTokenAt)
    }
}

extension TurnLatencies {
    public static func make(speechEndToLLMStartMs: Int64? = nil, speechEndToFirstTokenMs: Int64? = nil,
                            speechEndToFirstSentenceMs: Int64? = nil, speechEndToTTSFirstByteMs: Int64? = nil,
                            speechEndToFirstAudioMs: Int64? = nil) -> TurnLatencies {
        TurnLatencies(speechEndToLLMStartMs: speechEndToLLMStartMs, speechEndToFirstTokenMs: speechEndToFirstTokenMs,
                      speechEndToFirstSentenceMs: speechEndToFirstSentenceMs,
                      speechEndToTTSFirstByteMs: speechEndToTTSFirstByteMs, speechEndToFirstAudioMs: speechEndToFirstAudioMs)
    }
}
