import VoiceCore

/// Why one attempt of a provider call failed.
public enum AttemptFailure: Equatable, Sendable, CustomStringConvertible {
    /// The server answered with an error status. `retryAfter` comes from `Retry-After`; `detail`
    /// is the server's own message (with any key redacted).
    case status(code: Int, retryAfter: Duration?, detail: String)
    /// Connection refused or reset, closed mid-stream, TLS failure, stalled transfer.
    case network(String)
    /// No byte of the response body within the first-byte timeout.
    case firstByteTimeout(Duration)
    /// The response broke the protocol: wrong content type, an error body, an oversized event.
    case invalidResponse(String)
    /// The request could not be made at all (a refused URL, a libcurl setup error).
    case setup(String)

    public var description: String {
        switch self {
        case .status(let code, _, let detail): detail.isEmpty ? "HTTP \(code)" : "HTTP \(code): \(detail)"
        case .network(let message): "network error: \(message)"
        case .firstByteTimeout(let limit): "no response within \(limit.wholeMilliseconds) ms"
        case .invalidResponse(let message): "invalid response: \(message)"
        case .setup(let message): "cannot make the request: \(message)"
        }
    }

    var isRateLimit: Bool { if case .status(429, _, _) = self { true } else { false } }
    var isServerError: Bool { if case .status(let code, _, _) = self { (500...599).contains(code) } else { false } }
    var isNetwork: Bool { if case .network = self { true } else { false } }
    var isFirstByteTimeout: Bool { if case .firstByteTimeout = self { true } else { false } }
    /// 401 or 403: the key is missing, wrong or not allowed.
    var isAuthentication: Bool { if case .status(let code, _, _) = self { code == 401 || code == 403 } else { false } }
}

/// What to do after a failed attempt.
public enum RetryDecision: Equatable, Sendable {
    case retry(after: Duration)
    case giveUp
}

/// When a provider call is tried again: a pure value, so the rules are tested without a network
/// or a clock.
///
/// - 429: back off, honouring `Retry-After` (else `rateLimitBackoff`, doubling), at most
///   `rateLimitAttempts` tries, all within `rateLimitWindow` of the call's start.
/// - 5xx, network errors, no first byte in time: `serverErrorRetries`, `networkRetries`,
///   `firstByteTimeoutRetries` more tries each.
/// - 401/403 and every other status or broken response: no retry.
/// - Never once output (a token, a sample) has reached the caller: a retry would repeat it.
public struct RetryPolicy: Equatable, Sendable {
    public var rateLimitAttempts = 3
    public var rateLimitWindow: Duration = .seconds(10)
    public var rateLimitBackoff: Duration = .seconds(1)
    public var serverErrorRetries = 1
    public var networkRetries = 1
    public var firstByteTimeoutRetries = 1
    /// Wait before retrying a 5xx, a network error or a timeout.
    public var retryDelay: Duration = .zero
    /// Attempts in all, whatever the reasons.
    public var maxAttempts = 4

    public init() {}

    /// The chat-completions rules of the issue: 429 up to 3 tries within 10 s, one retry each for
    /// 5xx, network errors and a missing first byte.
    public static let chat = RetryPolicy()

    /// The text-to-speech rules: one retry for a network error, a 5xx or a missing first byte;
    /// a 429 is not waited for, since the fallback voice can speak at once.
    public static var speech: RetryPolicy {
        var policy = RetryPolicy()
        policy.rateLimitAttempts = 1
        return policy
    }

    /// Decides after the latest failure.
    /// - Parameters:
    ///   - failures: every failed attempt of this call so far, the latest last.
    ///   - elapsed: time since the call started.
    ///   - outputDelivered: whether any output already reached the caller.
    public func decide(failures: [AttemptFailure], elapsed: Duration, outputDelivered: Bool) -> RetryDecision {
        guard let latest = failures.last, !outputDelivered, failures.count < maxAttempts else { return .giveUp }
        if latest.isRateLimit {
            let tries = failures.filter(\.isRateLimit).count
            guard tries < rateLimitAttempts else { return .giveUp }
            var wait = rateLimitBackoff * (1 << min(tries - 1, 16))
            if case .status(_, let retryAfter?, _) = latest { wait = max(.zero, retryAfter) }
            guard elapsed + wait <= rateLimitWindow else { return .giveUp }
            return .retry(after: wait)
        }
        if latest.isServerError {
            return failures.filter(\.isServerError).count <= serverErrorRetries ? .retry(after: retryDelay) : .giveUp
        }
        if latest.isNetwork {
            return failures.filter(\.isNetwork).count <= networkRetries ? .retry(after: retryDelay) : .giveUp
        }
        if latest.isFirstByteTimeout {
            return failures.filter(\.isFirstByteTimeout).count <= firstByteTimeoutRetries ? .retry(after: retryDelay) : .giveUp
        }
        return .giveUp
    }
}

/// The `Retry-After` header: delta-seconds (`120`) or an HTTP-date (`Wed, 21 Oct 2015 07:28:00 GMT`).
public enum RetryAfter {
    /// The wait the header asks for, or nil if it does not parse. A date in the past is zero.
    /// - Parameter now: the current time in seconds since 1970 (only used for the date form).
    public static func parse(_ value: String, now: Double) -> Duration? {
        let text = value.trimmingWhitespaces()
        if !text.isEmpty, text.allSatisfy(\.isASCIIDigit) {
            guard let seconds = Int64(text.prefix(9)) else { return nil }
            return .seconds(seconds)
        }
        guard let date = httpDate(text) else { return nil }
        return .milliseconds(max(0, Int64(((Double(date) - now) * 1000).rounded(.up))))
    }

    /// Seconds since 1970 of an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form servers send.
    static func httpDate(_ text: String) -> Int64? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[5] == "GMT", let day = Int(parts[1]), let year = Int(parts[3]) else { return nil }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard let monthIndex = months.firstIndex(of: String(parts[2])) else { return nil }
        let time = parts[4].split(separator: ":")
        guard time.count == 3, let hour = Int(time[0]), let minute = Int(time[1]), let second = Int(time[2]),
              (1...31).contains(day), (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second),
              (1970...9999).contains(year) else { return nil }
        let days = daysFromCivil(year: year, month: monthIndex + 1, day: day)
        return Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

/// One provider call as it happened on the wire, for telemetry and logs: every call is recorded,
/// whatever its outcome.
public struct ProviderCallRecord: Equatable, Sendable {
    public enum Service: String, Equatable, Sendable { case llm, tts }
    public enum Outcome: String, Equatable, Sendable { case completed, failed, cancelled }

    public var service: Service
    /// The LLM call id, or the TTS request id.
    public var id: Int
    public var turn: Int
    public var outcome: Outcome
    /// The HTTP status of each attempt (0 when no response arrived).
    public var statuses: [Int]
    public var promptTokens: Int?
    public var completionTokens: Int?
    /// 16 kHz samples delivered (TTS).
    public var samples: Int?
    /// From the call's start to the first byte of the body that was used.
    public var firstByteMs: Int64?
    /// From the call's start to its end.
    public var latencyMs: Int64
    /// Why it failed (never holds a key).
    public var error: String?

    public var attempts: Int { statuses.count }
}
