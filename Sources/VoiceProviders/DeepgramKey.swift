/// A Deepgram API key that never prints itself.
///
/// `description`, `debugDescription`, string interpolation, `dump` and mirrors all show
/// `DeepgramKey(redacted)`, so a key that ends up in a log line, an error or a test failure by
/// mistake stays secret. Only the client reads the value, to build the `Authorization` header.
public struct DeepgramKey: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The secret itself: internal, read by the client for the `Authorization` header only.
    let value: String

    /// Wraps `value`, refusing an empty key or one that cannot travel in an HTTP header.
    ///
    /// The error never contains the key.
    public init(_ value: String) throws(DeepgramError) {
        let trimmed = value.trimmingUnicodeWhiteSpace()
        guard !trimmed.isEmpty else { throw .missingAPIKey }
        // A header value must not hold control characters (CR/LF would split the request).
        guard trimmed.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) else {
            throw .invalidAPIKey(reason: "it contains control characters (a pasted line break?)")
        }
        self.value = trimmed
    }

    /// The `Authorization` header value Deepgram expects: `Token <key>`.
    var authorizationHeaderValue: String { "Token \(value)" }

    public var description: String { "DeepgramKey(redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
