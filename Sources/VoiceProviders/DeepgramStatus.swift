/// The state of the speech-to-text connection, for the daemon's offline indicator.
///
/// Reported through the client's `onStatus` callback on each change. On ``offline(retryInterval:)``
/// the daemon shows the offline indicator, says a short notice and goes IDLE; on ``online`` it
/// clears the indicator.
public enum SpeechToTextStatus: Equatable, Sendable {
    /// A connection is open and audio streams.
    case online
    /// The connection failed or was lost; attempt `attempt` of the backoff schedule starts after `delay`.
    case reconnecting(attempt: Int, delay: Duration)
    /// Every attempt of the backoff schedule failed. The client keeps retrying every
    /// `retryInterval` and reports ``online`` when one succeeds.
    case offline(retryInterval: Duration)
    /// The client has stopped (shutdown or cancellation).
    case stopped
}

/// Counters of a ``DeepgramLiveClient``, readable from any thread.
public struct DeepgramStatistics: Equatable, Sendable {
    /// Text messages received from the server (valid or not).
    public var messages = 0
    /// Messages that were not valid Deepgram JSON, and binary messages (Deepgram sends none).
    public var invalidMessages = 0
    /// Messages over the size limit, skipped (plus any that made the library drop the connection).
    public var oversizedMessages = 0
    /// Messages of a type the client does not know, ignored.
    public var unknownMessages = 0
    /// `Error` messages from the server.
    public var serverErrors = 0
    /// Connection attempts, the first included.
    public var connectionAttempts = 0
    /// Attempts that failed before the WebSocket opened.
    public var failedAttempts = 0
    /// WebSocket connections opened.
    public var connections = 0
    /// Connections opened after the first one (successful reconnects).
    public var reconnects = 0
    /// Binary audio frames sent.
    public var audioFramesSent = 0
    /// Audio samples sent.
    public var audioSamplesSent = 0
    /// Audio samples dropped because of an outage: beyond the outage buffer, too old to replay
    /// after a reconnect, or read for a send that failed as the connection broke.
    public var outageSamplesDropped = 0
    /// Audio samples discarded while muted (never sent).
    public var mutedSamplesDiscarded = 0
    /// `KeepAlive` messages sent.
    public var keepAlivesSent = 0
    /// `Finalize` messages sent.
    public var finalizesSent = 0
    /// `CloseStream` messages sent.
    public var closeStreamsSent = 0

    public init() {}
}
