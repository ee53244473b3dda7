#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import VoiceCore

/// Settings of the Deepgram live speech-to-text client: where to connect, what to ask for, and
/// the timing rules of the stream (frames, keep-alive, reconnect backoff, outage replay).
///
/// The defaults are the production values; tests shorten the durations.
public struct DeepgramConfiguration: Sendable, Equatable {
    /// The audio format the client streams: 16 kHz mono little-endian 16-bit PCM (`linear16`).
    public static let sampleRate = 16_000
    /// Deepgram's production endpoint.
    public static let defaultBaseURL = "wss://api.deepgram.com/v1/listen"

    /// The listen endpoint, without query. `wss://` anywhere; `ws://` only for loopback hosts.
    public var baseURL: String
    /// `model` query parameter.
    public var model: String
    /// `language` query parameter.
    public var language: String
    /// `endpointing`: the silence after which Deepgram finalises (sent in ms); nil sends `false`.
    public var endpointing: Duration?
    /// `utterance_end_ms`: the word gap after which Deepgram sends `UtteranceEnd` (sent in ms).
    public var utteranceEnd: Duration
    /// The length of each binary audio frame: 20 to 50 ms.
    public var frameDuration: Duration
    /// How often the client looks at the ring buffer while audio flows (at most `frameDuration`).
    /// By default once per frame: polling twice per 40 ms frame doubled the pump's wake-ups
    /// (issue 15's streaming CPU) for nothing but half a frame of latency on partials; a turn's
    /// end does not wait for it (a `Finalize` wakes the pump at once and flushes what is left).
    public var pollInterval: Duration
    /// A `KeepAlive` goes out when no audio has been sent for this long (Deepgram closes an idle
    /// stream after about 10 s).
    public var keepAliveInterval: Duration
    /// The delays before each connection attempt after a loss or failure; when every one has
    /// failed, the client reports offline.
    public var reconnectDelays: [Duration]
    /// Once offline, the client retries this often until a connection succeeds.
    public var offlineRetryInterval: Duration
    /// A connection that lasted less than this counts as a failed attempt, so a server that
    /// accepts and drops at once cannot make the client reconnect in a tight loop.
    public var stableConnection: Duration
    /// While disconnected, the ring buffer keeps at most this much audio (older audio is dropped).
    public var outageBufferLimit: Duration
    /// After a reconnect, held audio younger than this is sent; older audio is dropped.
    public var replayMaxAge: Duration
    /// Server messages larger than this are counted as oversized and skipped.
    public var maxMessageBytes: Int
    /// Frames or messages larger than this make the WebSocket library close the connection
    /// (the client reconnects). Between `maxMessageBytes` and this, the connection survives.
    public var connectionMessageLimitBytes: Int
    /// After `CloseStream`, how long to wait for the server's last results before closing.
    public var closeTimeout: Duration
    /// An attempt whose WebSocket is not open after this long (TCP, TLS and upgrade) is abandoned
    /// and counts as failed.
    public var connectTimeout: Duration
    /// WebSocket pings at this period detect a dead connection (no pong by the next ping closes
    /// it, and the client reconnects); nil turns them off.
    public var pingInterval: Duration?

    public init(
        baseURL: String = DeepgramConfiguration.defaultBaseURL,
        model: String = "nova-3",
        language: String = "en-US",
        endpointing: Duration? = .milliseconds(300),
        utteranceEnd: Duration = .milliseconds(1000),
        frameDuration: Duration = .milliseconds(40),
        pollInterval: Duration = .milliseconds(40),
        keepAliveInterval: Duration = .seconds(4),
        reconnectDelays: [Duration] = [.zero, .seconds(1), .seconds(2), .seconds(4), .seconds(8)],
        offlineRetryInterval: Duration = .seconds(30),
        stableConnection: Duration = .seconds(2),
        outageBufferLimit: Duration = .seconds(5),
        replayMaxAge: Duration = .seconds(3),
        maxMessageBytes: Int = 1 << 20,
        connectionMessageLimitBytes: Int = 4 << 20,
        closeTimeout: Duration = .seconds(2),
        connectTimeout: Duration = .seconds(10),
        pingInterval: Duration? = .seconds(10)
    ) {
        self.baseURL = baseURL
        self.model = model
        self.language = language
        self.endpointing = endpointing
        self.utteranceEnd = utteranceEnd
        self.frameDuration = frameDuration
        self.pollInterval = pollInterval
        self.keepAliveInterval = keepAliveInterval
        self.reconnectDelays = reconnectDelays
        self.offlineRetryInterval = offlineRetryInterval
        self.stableConnection = stableConnection
        self.outageBufferLimit = outageBufferLimit
        self.replayMaxAge = replayMaxAge
        self.maxMessageBytes = maxMessageBytes
        self.connectionMessageLimitBytes = connectionMessageLimitBytes
        self.closeTimeout = closeTimeout
        self.connectTimeout = connectTimeout
        self.pingInterval = pingInterval
    }

    /// Checks every value, throwing an error that names the setting and its allowed range.
    public func validate() throws(DeepgramError) {
        func require(_ condition: Bool, _ message: @autoclosure () -> String) throws(DeepgramError) {
            if !condition { throw .invalidConfiguration(message()) }
        }
        try require(!model.isEmpty, "model is empty")
        try require(!language.isEmpty, "language is empty")
        if let endpointing { try require(endpointing > .zero, "endpointing must be positive (or nil for false)") }
        try require(utteranceEnd > .zero, "utterance_end must be positive")
        try require(
            frameDuration >= .milliseconds(20) && frameDuration <= .milliseconds(50),
            "frame duration must be 20 to 50 ms (is \(frameDuration))")
        try require(
            pollInterval > .zero && pollInterval <= frameDuration,
            "poll interval must be positive and at most the frame duration (is \(pollInterval))")
        try require(keepAliveInterval > .zero, "keep-alive interval must be positive")
        try require(!reconnectDelays.isEmpty, "reconnect delays must hold at least one delay")
        try require(reconnectDelays.allSatisfy { $0 >= .zero }, "reconnect delays must not be negative")
        try require(offlineRetryInterval > .zero, "offline retry interval must be positive")
        try require(stableConnection >= .zero, "stable connection time must not be negative")
        try require(replayMaxAge >= .zero, "replay max age must not be negative")
        try require(outageBufferLimit >= replayMaxAge, "the outage buffer limit must be at least the replay max age")
        try require(maxMessageBytes > 0, "max message size must be positive")
        try require(
            connectionMessageLimitBytes >= maxMessageBytes,
            "the connection message limit must be at least the max message size")
        try require(closeTimeout > .zero, "close timeout must be positive")
        try require(connectTimeout > .zero, "connect timeout must be positive")
        if let pingInterval { try require(pingInterval > .zero, "ping interval must be positive (or nil for none)") }
    }

    /// The query parameters of the listen request, in the order they are sent.
    public var queryItems: [(name: String, value: String)] {
        [
            ("model", model),
            ("language", language),
            ("encoding", "linear16"),
            ("sample_rate", String(Self.sampleRate)),
            ("channels", "1"),
            ("interim_results", "true"),
            ("punctuate", "true"),
            ("endpointing", endpointing.map { String($0.wholeMilliseconds) } ?? "false"),
            ("utterance_end_ms", String(utteranceEnd.wholeMilliseconds)),
            ("vad_events", "true"),
        ]
    }

    /// The validated endpoint: the full URL with its query, and whether it uses TLS.
    ///
    /// Refuses plain `ws://` unless the host is loopback (127.0.0.0/8, ::1, localhost).
    public func endpoint() throws(DeepgramError) -> DeepgramEndpoint {
        try validate()
        guard var components = URLComponents(string: baseURL),
              let scheme = components.scheme?.lowercased(),
              let rawHost = components.host, !rawHost.isEmpty
        else { throw .invalidURL(baseURL) }
        guard components.user == nil, components.password == nil else {
            throw .invalidURL("\(scheme)://…@\(rawHost) (credentials do not belong in the URL; the key goes in a header)")
        }
        guard components.fragment == nil else { throw .invalidURL(baseURL) }
        let host = Self.unbracketed(rawHost)
        let usesTLS: Bool
        switch scheme {
        case "wss": usesTLS = true
        case "ws":
            guard Self.isLoopbackHost(host) else { throw .insecureRemoteURL(host: host) }
            usesTLS = false
        default: throw .unsupportedScheme(scheme)
        }
        // swift-websocket's URL parser splits the host at the first ':', so IPv6 literals cannot work.
        guard !host.contains(":") else { throw .unsupportedIPv6Literal(host: host) }
        var items = components.queryItems ?? []
        items += queryItems.map { URLQueryItem(name: $0.name, value: $0.value) }
        components.queryItems = items
        components.scheme = scheme
        guard let url = components.string else { throw .invalidURL(baseURL) }
        return DeepgramEndpoint(url: url, host: host, port: components.port ?? (usesTLS ? 443 : 80), usesTLS: usesTLS)
    }

    /// Whether `host` is a loopback host: `localhost`, an IPv4 address in 127.0.0.0/8, or `::1`.
    /// Anything else, including names that merely start with `127.` or end in `.localhost`, is not.
    public static func isLoopbackHost(_ host: String) -> Bool {
        let host = unbracketed(host).lowercased()
        if host == "localhost" { return true }
        if let octets = ipv4Octets(host) { return octets[0] == 127 }
        if let groups = ipv6Groups(host) { return groups == [0, 0, 0, 0, 0, 0, 0, 1] }
        return false
    }

    /// Audio samples in `duration` at 16 kHz (rounded down).
    public static func samples(in duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return Int(seconds) * sampleRate + Int(attoseconds / (1_000_000_000_000_000_000 / Int64(sampleRate)))
    }

    private static func unbracketed(_ host: String) -> String {
        host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
    }

    /// The four octets of a strict dotted-quad IPv4 address, or nil.
    static func ipv4Octets(_ text: String) -> [Int]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var octets: [Int] = []
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let value = Int(part), value <= 255
            else { return nil }
            octets.append(value)
        }
        return octets
    }

    /// The eight 16-bit groups of an IPv6 address (with at most one `::`), or nil.
    static func ipv6Groups(_ text: String) -> [UInt16]? {
        func groups(_ part: Substring) -> [UInt16]? {
            if part.isEmpty { return [] }
            var result: [UInt16] = []
            for group in part.split(separator: ":", omittingEmptySubsequences: false) {
                guard (1...4).contains(group.count), let value = UInt16(group, radix: 16) else { return nil }
                result.append(value)
            }
            return result
        }
        let halves = text.split(separator: "::", omittingEmptySubsequences: false)
        switch halves.count {
        case 1:
            guard let all = groups(Substring(text)), all.count == 8 else { return nil }
            return all
        case 2:
            guard let left = groups(halves[0]), let right = groups(halves[1]),
                  left.count + right.count <= 7
            else { return nil }
            return left + Array(repeating: 0, count: 8 - left.count - right.count) + right
        default:
            return nil
        }
    }
}

/// A validated Deepgram listen endpoint.
public struct DeepgramEndpoint: Sendable, Equatable {
    /// The full URL, query included (it never contains the key).
    public let url: String
    /// The host, without IPv6 brackets.
    public let host: String
    /// The port (443 or 80 unless given).
    public let port: Int
    /// Whether the connection uses TLS (`wss://`), always with certificate verification.
    public let usesTLS: Bool
}
