import VoiceCore

/// What happens to the microphone audio waiting in the ring buffer: a pure state machine that
/// the client steps with the ring's fill level and the time of its injected clock, and that
/// returns the actions to carry out, in order. While audio flows the client steps it every poll
/// interval; otherwise only when ``nextWake(after:idleSlack:)`` says or something changes.
///
/// The rules (durations from ``DeepgramConfiguration``):
/// - Connected: audio leaves in binary frames of exactly `frameDuration` (20 to 50 ms); a shorter
///   remainder waits for more audio, except on `Finalize` and `CloseStream`, where a remainder of
///   at least 20 ms is flushed first.
/// - When no audio has been sent for `keepAliveInterval` (4 s), a `KeepAlive` goes out.
/// - Muted: everything in the ring is discarded, connected or not; nothing counts as sent, and
///   keep-alives continue so the stream stays open.
/// - Disconnected: audio stays in the ring, but only the newest `outageBufferLimit` (5 s);
///   older samples are dropped.
/// - On (re)connect: the ring holds samples in capture order and the capture thread writes in
///   real time, so the oldest sample is `fill / 16 kHz` old. Audio older than `replayMaxAge`
///   (3 s) is dropped; the rest is sent at once.
public struct DeepgramAudioPump: Sendable, Equatable {
    /// Why samples were thrown away.
    public enum DiscardReason: String, Equatable, Sendable {
        /// The microphone is muted: nothing may leave the device.
        case muted
        /// Disconnected, and the audio is older than the outage buffer limit.
        case outageOverflow
        /// At reconnect, the audio is older than the replay max age.
        case tooOldToReplay
    }

    /// One thing to do, in order.
    public enum Action: Equatable, Sendable {
        /// Read this many of the oldest samples from the ring and send them as one binary frame.
        case sendAudio(samples: Int)
        /// Read this many of the oldest samples from the ring and drop them.
        case discard(samples: Int, reason: DiscardReason)
        /// Send `{"type":"KeepAlive"}`.
        case sendKeepAlive
        /// Send `{"type":"Finalize"}`.
        case sendFinalize
        /// Send `{"type":"CloseStream"}`; nothing more goes on this connection.
        case sendCloseStream
    }

    /// What the client observed at one poll.
    public struct Input: Equatable, Sendable {
        /// The injected clock's time.
        public var now: VoiceInstant
        /// Samples waiting in the ring buffer.
        public var fill: Int
        /// Whether the mute switch is on.
        public var muted: Bool
        /// Whether a connection is open.
        public var connected: Bool
        /// The daemon asked for `Finalize` since the last poll.
        public var finalize: Bool
        /// The client is shutting down: flush and send `CloseStream`.
        public var close: Bool

        public init(now: VoiceInstant, fill: Int, muted: Bool = false, connected: Bool, finalize: Bool = false, close: Bool = false) {
            self.now = now
            self.fill = fill
            self.muted = muted
            self.connected = connected
            self.finalize = finalize
            self.close = close
        }
    }

    /// Samples per full frame.
    public let frameSamples: Int
    /// The shortest frame ever sent (20 ms).
    public let minimumFrameSamples: Int
    /// Samples kept while disconnected.
    public let outageLimitSamples: Int
    /// Samples young enough to send after a reconnect.
    public let replaySamples: Int
    /// Idle time before a keep-alive.
    public let keepAliveInterval: Duration

    private var wasConnected = false
    private var closeSent = false
    private var lastSent: VoiceInstant

    public init(configuration: DeepgramConfiguration, now: VoiceInstant) {
        frameSamples = DeepgramConfiguration.samples(in: configuration.frameDuration)
        minimumFrameSamples = min(frameSamples, DeepgramConfiguration.samples(in: .milliseconds(20)))
        outageLimitSamples = DeepgramConfiguration.samples(in: configuration.outageBufferLimit)
        replaySamples = DeepgramConfiguration.samples(in: configuration.replayMaxAge)
        keepAliveInterval = configuration.keepAliveInterval
        lastSent = now
    }

    /// When the client should step the pump again.
    public enum Wake: Equatable, Sendable {
        /// Audio flows (connected, not muted): step again one poll interval later.
        case poll
        /// Nothing flows (muted, disconnected, or the stream closed): step again at `deadline`,
        /// or sooner when something changes (mute, finalize, a connection, shutdown). The
        /// deadline is the next keep-alive when connected, and at most `idleSlack` away, so the
        /// ring is still drained (muted) or trimmed to the outage limit (disconnected) in time.
        case idle(until: VoiceInstant)
    }

    /// What to do after a ``step(_:)`` with `input`: on a speaker that is not listening (the
    /// daemon mutes speech-to-text while IDLE) this is what keeps the client from waking 50
    /// times a second for nothing.
    public func nextWake(after input: Input, idleSlack: Duration) -> Wake {
        let open = input.connected && !closeSent
        if open && !input.muted { return .poll }
        var deadline = input.now + idleSlack
        if open {
            let keepAlive = lastSent + keepAliveInterval
            if keepAlive < deadline { deadline = keepAlive }
        }
        return .idle(until: deadline)
    }

    /// One poll: what to do with the ring's `input.fill` samples and the connection.
    public mutating func step(_ input: Input) -> [Action] {
        var actions: [Action] = []
        var remaining = max(0, input.fill)
        let justConnected = input.connected && !wasConnected
        if input.connected != wasConnected {
            wasConnected = input.connected
            closeSent = false
            if input.connected { lastSent = input.now }  // the keep-alive clock starts with the connection
        }

        if input.muted {
            if remaining > 0 { actions.append(.discard(samples: remaining, reason: .muted)) }
            remaining = 0
        } else if !input.connected {
            if remaining > outageLimitSamples {
                actions.append(.discard(samples: remaining - outageLimitSamples, reason: .outageOverflow))
            }
            return actions
        } else if justConnected, remaining > replaySamples {
            actions.append(.discard(samples: remaining - replaySamples, reason: .tooOldToReplay))
            remaining = replaySamples
        }
        guard input.connected, !closeSent else { return actions }

        var sentAudio = false
        while remaining >= frameSamples {
            actions.append(.sendAudio(samples: frameSamples))
            remaining -= frameSamples
            sentAudio = true
        }
        let flush = input.finalize || input.close
        if flush, remaining >= minimumFrameSamples {
            actions.append(.sendAudio(samples: remaining))
            sentAudio = true
        }
        if sentAudio {
            lastSent = input.now
        } else if !input.close, input.now - lastSent >= keepAliveInterval {
            actions.append(.sendKeepAlive)
            lastSent = input.now
        }
        if input.finalize { actions.append(.sendFinalize) }
        if input.close {
            actions.append(.sendCloseStream)
            closeSent = true
        }
        return actions
    }
}
