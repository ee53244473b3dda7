/// The one string escaper: text written where some characters would be misread (a terminal, a
/// log line, JSON, TOML, an error message about binary data), each place with its policy.
public enum Escaping {
    /// Where the text goes, and so what is escaped and whether it is quoted.
    public enum Policy: Sendable, Equatable {
        /// A terminal: C0 and C1 controls, DEL and the Unicode bidirectional controls
        /// (``isControl(_:)``) are shown as `\u{1B}`, so nothing is hidden and nothing moves the
        /// cursor or rings the bell. No quotes.
        case terminal
        /// Text from outside made harmless for a voice, a database or a terminal: tab, newline and
        /// carriage return become a space, and the other characters ``terminal`` shows are removed.
        case clean
        /// A JSON string literal (RFC 8259), in double quotes.
        case json
        /// A JSON string literal for PostgreSQL, whose text cannot hold NUL (`\u0000` would fail
        /// the whole batch, forever): NUL becomes U+FFFD. In double quotes.
        case postgresJSON
        /// A TOML basic string, in double quotes (DEL is escaped too).
        case toml
        /// A logfmt value (`key=value` in a log line): as it is, unless it is empty or has a space,
        /// `"`, `=` or a line break; then in double quotes with `\`, `"` and each line break escaped.
        case logfmt
        /// Bytes, one scalar each (U+0000 to U+00FF), for a message: printable ASCII as it is,
        /// `\\`, `\"`, `\n`, and every other byte as `\xHH`. No quotes.
        case bytes
    }

    /// `text` written for `policy`.
    public static func escaped(_ text: String, as policy: Policy) -> String {
        // Most text needs nothing but its quotes: no scalar by scalar copy then.
        let quoted = needsQuotes(text.unicodeScalars, policy)
        if policy == .logfmt && !quoted { return text }
        let rewritten: Bool
        switch policy {
        case .json, .postgresJSON, .toml:
            // They rewrite ASCII only, so the bytes can be checked (the hot path of a telemetry sync).
            rewritten = text.utf8.contains { $0 < 0x80 && rewrites(Unicode.Scalar($0), policy) }
        default:
            rewritten = text.unicodeScalars.contains { rewrites($0, policy) }
        }
        if !rewritten { return quoted ? "\"" + text + "\"" : text }
        return escaped(text.unicodeScalars, as: policy)
    }

    /// `scalars` written for `policy`.
    public static func escaped(_ scalars: some Collection<Unicode.Scalar>, as policy: Policy) -> String {
        let quoted = needsQuotes(scalars, policy)
        var out = String.UnicodeScalarView()
        out.reserveCapacity(scalars.count + 2)
        if quoted { out.append("\"") }
        var previous: Unicode.Scalar?
        for scalar in scalars {
            if let replacement = replacement(for: scalar, after: previous, policy, inQuotes: quoted) {
                out.append(contentsOf: replacement.unicodeScalars)
            } else {
                out.append(scalar)
            }
            previous = scalar
        }
        if quoted { out.append("\"") }
        return String(out)
    }

    /// The C0 and C1 controls, DEL, and the Unicode bidirectional controls (U+061C, U+200E/F,
    /// U+202A–U+202E, U+2066–U+2069) that can make a log line or a terminal read differently
    /// from what it holds.
    public static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F: true
        case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }

    private static func needsQuotes(_ scalars: some Collection<Unicode.Scalar>, _ policy: Policy) -> Bool {
        switch policy {
        case .terminal, .clean, .bytes: false
        case .json, .postgresJSON, .toml: true
        case .logfmt: scalars.isEmpty || scalars.contains { $0 == " " || $0 == "\"" || $0 == "=" || isLineBreak($0) }
        }
    }

    /// Whether `policy` may write `scalar` differently (a logfmt value is rewritten only in quotes).
    private static func rewrites(_ scalar: Unicode.Scalar, _ policy: Policy) -> Bool {
        replacement(for: scalar, after: nil, policy, inQuotes: true) != nil
    }

    /// What `policy` writes for `scalar`, or nil to keep it.
    private static func replacement(for scalar: Unicode.Scalar, after previous: Unicode.Scalar?, _ policy: Policy, inQuotes: Bool) -> String? {
        switch policy {
        case .terminal:
            return isControl(scalar) ? "\\u{" + hex(scalar.value, digits: 1, uppercase: true) + "}" : nil
        case .clean:
            if scalar == "\t" || scalar == "\n" || scalar == "\r" { return " " }
            return isControl(scalar) ? "" : nil
        case .json, .postgresJSON, .toml:
            switch scalar {
            case "\"": return "\\\""
            case "\\": return "\\\\"
            case "\n": return "\\n"
            case "\r": return "\\r"
            case "\t": return "\\t"
            case "\u{0}" where policy == .postgresJSON: return "\\ufffd"
            default:
                guard scalar.value < 0x20 || (policy == .toml && scalar.value == 0x7F) else { return nil }
                return "\\u" + hex(scalar.value, digits: 4, uppercase: policy == .toml)
            }
        case .logfmt:
            guard inQuotes else { return nil }
            switch scalar {
            case "\\": return "\\\\"
            case "\"": return "\\\""
            case "\n" where previous == "\r": return ""  // CR LF is one line break
            case _ where isLineBreak(scalar): return "\\n"
            default: return nil
            }
        case .bytes:
            switch scalar.value {
            case 0x5C: return "\\\\"
            case 0x22: return "\\\""
            case 0x0A: return "\\n"
            case 0x20...0x7E: return nil
            case 0x00...0xFF: return "\\x" + hex(scalar.value, digits: 2, uppercase: false)
            default: return "\\u{" + hex(scalar.value, digits: 1, uppercase: true) + "}"
            }
        }
    }

    /// The line breaks of `Character.isNewline`: LF, VT, FF, CR, NEL, LS, PS.
    private static func isLineBreak(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x0A...0x0D, 0x85, 0x2028, 0x2029: true
        default: false
        }
    }

    private static func hex(_ value: UInt32, digits: Int, uppercase: Bool) -> String {
        let text = String(value, radix: 16, uppercase: uppercase)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}
