/// Text that comes from outside (a transcript, an LLM's reply) is cleaned once, where it enters:
/// control characters and invisible direction overrides never reach the voice, the database or
/// a terminal.
public enum ExternalText {
    /// `text` without C0/C1 control characters (tab and newline become a space), DEL, and the
    /// Unicode bidirectional controls (U+061C, U+200E/F, U+202A–U+202E, U+2066–U+2069) that
    /// can make a log line or a terminal read differently from what it holds.
    public static func clean(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isUnwanted) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar == "\t" || scalar == "\n" || scalar == "\r" {
                out.append(" ")
            } else if !isUnwanted(scalar) {
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// `text` safe to print on a terminal: what ``clean(_:)`` removes is shown as `\u{…}`
    /// instead, so nothing is hidden and nothing moves the cursor or rings the bell.
    public static func escapedForTerminal(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isUnwanted) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            if isUnwanted(scalar) {
                out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func isUnwanted(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F: true
        case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }
}
