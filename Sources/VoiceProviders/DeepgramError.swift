/// What can go wrong when setting up or running the Deepgram live client.
///
/// Each description says what to do about it. None ever contains the API key.
public enum DeepgramError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The base URL could not be parsed.
    case invalidURL(String)
    /// The base URL's scheme is neither `wss` nor `ws`.
    case unsupportedScheme(String)
    /// Plain `ws://` to a host that is not loopback: audio and key would travel unencrypted.
    case insecureRemoteURL(host: String)
    /// An IPv6 literal host, which the WebSocket client's URL parser cannot connect to.
    case unsupportedIPv6Literal(host: String)
    /// A configuration value is out of range.
    case invalidConfiguration(String)
    /// The API key is empty.
    case missingAPIKey
    /// The API key cannot be sent in a header (the reason never quotes the key).
    case invalidAPIKey(reason: String)
    /// ``DeepgramLiveClient/run()`` was called while it was already running.
    case alreadyRunning

    public var description: String {
        switch self {
        case .invalidURL(let url):
            "Invalid Deepgram URL \"\(url)\": expected something like wss://api.deepgram.com/v1/listen."
        case .unsupportedScheme(let scheme):
            "Unsupported scheme \"\(scheme)\" in the Deepgram URL: use wss:// (or ws:// for a loopback test server)."
        case .insecureRemoteURL(let host):
            "Refusing plain ws:// to \(host): the audio and the API key would cross the network unencrypted. "
                + "Use wss:// (ws:// is accepted only for loopback hosts: 127.0.0.0/8, ::1, localhost)."
        case .unsupportedIPv6Literal(let host):
            "The Deepgram URL names the IPv6 literal \(host), which the WebSocket client cannot connect to: "
                + "use a host name (localhost for loopback) or an IPv4 address."
        case .invalidConfiguration(let message):
            "Invalid Deepgram configuration: \(message)"
        case .missingAPIKey:
            "The Deepgram API key is empty: set it in the daemon's credentials."
        case .invalidAPIKey(let reason):
            "The Deepgram API key is unusable because \(reason): set it again in the daemon's credentials."
        case .alreadyRunning:
            "The Deepgram live client is already running: start one run() per client."
        }
    }
}
