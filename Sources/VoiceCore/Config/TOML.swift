/// A value of the TOML subset voiced's configuration uses.
public enum TOMLValue: Equatable, Sendable {
    case string(String)
    case integer(Int64)
    case float(Double)
    case boolean(Bool)
    case array([TOMLValue])

    /// The type's name as a person reads it in an error.
    public var typeName: String {
        switch self {
        case .string: "a string"
        case .integer: "an integer"
        case .float: "a number"
        case .boolean: "true or false"
        case .array: "a list"
        }
    }
}

/// One `key = value` of a TOML document, with where it was written.
public struct TOMLEntry: Equatable, Sendable {
    /// The table (`turn` for `[turn]`), empty for keys before the first table.
    public var table: String
    public var key: String
    public var value: TOMLValue
    /// 1-based line of the key.
    public var line: Int

    /// `table.key`, or `key` at the top level.
    public var path: String { table.isEmpty ? key : "\(table).\(key)" }
}

/// A document that is not valid TOML (of the subset we read), with its line.
public struct TOMLSyntaxError: Error, Equatable, Sendable, CustomStringConvertible {
    public var line: Int
    public var message: String
    public var description: String { "line \(line): \(message)" }
}

/// A small TOML reader for configuration files: tables (`[name]`), `key = value` with bare or
/// quoted keys, basic and literal strings (and `"""` multi-line basic strings), integers
/// (underscores, sign, 0x/0o/0b), floats, booleans, and arrays of those (over several lines,
/// trailing comma allowed), and comments. Dates, inline tables, arrays of tables and dotted keys
/// are refused with a message. Every entry keeps its line, so configuration errors can name it.
///
/// We read TOML ourselves because no mirrored package reports source lines for values, and
/// "the key and its line" is what a person fixing /etc/voiced/voiced.toml needs.
public enum TOMLParser {
    public static func parse(_ text: String) throws(TOMLSyntaxError) -> [TOMLEntry] {
        var reader = Reader(Array(text.unicodeScalars))
        return try reader.document()
    }

    private struct Reader {
        let s: [Unicode.Scalar]
        var i = 0
        var line = 1

        init(_ scalars: [Unicode.Scalar]) { s = scalars }

        var atEnd: Bool { i >= s.count }
        var peek: Unicode.Scalar? { i < s.count ? s[i] : nil }

        func fail(_ message: String) -> TOMLSyntaxError { TOMLSyntaxError(line: line, message: message) }

        mutating func advance() {
            if s[i] == "\n" { line += 1 }
            i += 1
        }

        mutating func skipSpaces() {
            while let c = peek, c == " " || c == "\t" { advance() }
        }

        mutating func skipComment() {
            if peek == "#" { while let c = peek, c != "\n" { advance() } }
        }

        /// Spaces, a comment, then a newline or the end.
        mutating func endOfLine() throws(TOMLSyntaxError) {
            skipSpaces()
            skipComment()
            if peek == "\r" { advance() }
            guard atEnd || peek == "\n" else {
                throw fail("unexpected '\(String(peek ?? " "))' after the value (one key = value per line)")
            }
            if !atEnd { advance() }
        }

        mutating func document() throws(TOMLSyntaxError) -> [TOMLEntry] {
            var entries: [TOMLEntry] = []
            var table = ""
            var seen: Set<String> = []
            var tables: Set<String> = []
            while !atEnd {
                skipSpaces()
                guard let c = peek else { break }
                if c == "\n" || c == "\r" || c == "#" {
                    try endOfLine()
                    continue
                }
                if c == "[" {
                    advance()
                    if peek == "[" { throw fail("arrays of tables ([[...]]) are not used in this file") }
                    skipSpaces()
                    let name = try key()
                    skipSpaces()
                    guard peek == "]" else { throw fail("expected ']' to close the table name") }
                    advance()
                    guard tables.insert(name).inserted else { throw fail("table [\(name)] is defined twice") }
                    table = name
                    try endOfLine()
                    continue
                }
                let keyLine = line
                let name = try key()
                skipSpaces()
                if peek == "." { throw fail("dotted keys are not used in this file; write [\(name)] as a table") }
                guard peek == "=" else { throw fail("expected '=' after the key '\(name)'") }
                advance()
                skipSpaces()
                let value = try self.value()
                let path = table.isEmpty ? name : "\(table).\(name)"
                guard seen.insert(path).inserted else {
                    throw TOMLSyntaxError(line: keyLine, message: "key '\(path)' is set twice")
                }
                entries.append(TOMLEntry(table: table, key: name, value: value, line: keyLine))
                try endOfLine()
            }
            return entries
        }

        mutating func key() throws(TOMLSyntaxError) -> String {
            if peek == "\"" { return try basicString() }
            if peek == "'" { return try literalString() }
            var out = ""
            while let c = peek, c.properties.isASCIIHexDigit || ("a"..."z").contains(c) || ("A"..."Z").contains(c)
                    || ("0"..."9").contains(c) || c == "_" || c == "-" {
                out.unicodeScalars.append(c)
                advance()
            }
            guard !out.isEmpty else { throw fail("expected a key name") }
            return out
        }

        mutating func value() throws(TOMLSyntaxError) -> TOMLValue {
            guard let c = peek else { throw fail("expected a value after '='") }
            switch c {
            case "\"":
                if i + 2 < s.count, s[i + 1] == "\"", s[i + 2] == "\"" { return .string(try multilineString()) }
                return .string(try basicString())
            case "'":
                return .string(try literalString())
            case "[":
                return try array()
            case "{":
                throw fail("inline tables are not used in this file")
            case "t", "f":
                var word = ""
                while let c = peek, ("a"..."z").contains(c) {
                    word.unicodeScalars.append(c)
                    advance()
                }
                if word == "true" { return .boolean(true) }
                if word == "false" { return .boolean(false) }
                throw fail("'\(word)' is not a value (strings need quotes)")
            default:
                return try number()
            }
        }

        mutating func number() throws(TOMLSyntaxError) -> TOMLValue {
            var raw = ""
            while let c = peek, !(c == " " || c == "\t" || c == "\n" || c == "\r" || c == "#" || c == "," || c == "]") {
                raw.unicodeScalars.append(c)
                advance()
            }
            guard !raw.isEmpty else { throw fail("expected a value") }
            if raw.contains(":") || (raw.filter { $0 == "-" }.count >= 2 && !raw.contains("e")) {
                throw fail("dates and times are not used in this file")
            }
            let digits = raw.replacingUnderscores()
            for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] where digits.hasPrefix(prefix) {
                guard let value = Int64(digits.dropFirst(2), radix: radix) else { throw fail("'\(raw)' is not a valid number") }
                return .integer(value)
            }
            if let value = Int64(digits) { return .integer(value) }
            if ["inf", "+inf", "-inf", "nan", "+nan", "-nan"].contains(digits) {
                throw fail("'\(raw)' is not a usable number here")
            }
            if let value = Double(digits), digits.contains(where: { $0.isNumber }) { return .float(value) }
            throw fail("'\(raw)' is not a value (strings need quotes)")
        }

        mutating func array() throws(TOMLSyntaxError) -> TOMLValue {
            advance()  // [
            var items: [TOMLValue] = []
            while true {
                skipBlanks()
                if peek == "]" {
                    advance()
                    return .array(items)
                }
                guard !atEnd else { throw fail("the list is not closed with ']'") }
                items.append(try value())
                skipBlanks()
                if atEnd { throw fail("the list is not closed with ']'") }
                if peek == "," {
                    advance()
                } else if peek == "]" {
                    advance()
                    return .array(items)
                } else {
                    throw fail("expected ',' or ']' in the list")
                }
            }
        }

        /// White space, newlines and comments inside a list.
        mutating func skipBlanks() {
            while let c = peek {
                if c == " " || c == "\t" || c == "\n" || c == "\r" { advance() } else if c == "#" { skipComment() } else { break }
            }
        }

        mutating func basicString() throws(TOMLSyntaxError) -> String {
            advance()
            var out = ""
            while true {
                guard let c = peek, c != "\n" else { throw fail("the string is not closed with '\"'") }
                advance()
                if c == "\"" { return out }
                if c == "\\" { out.unicodeScalars.append(try escape()) } else { out.unicodeScalars.append(c) }
            }
        }

        mutating func multilineString() throws(TOMLSyntaxError) -> String {
            i += 3
            if peek == "\n" { advance() }  // a newline right after the opening quotes is trimmed
            var out = ""
            while true {
                guard let c = peek else { throw fail("the multi-line string is not closed with '\"\"\"'") }
                if c == "\"", i + 2 < s.count, s[i + 1] == "\"", s[i + 2] == "\"" {
                    i += 3
                    return out
                }
                advance()
                if c == "\\" {
                    if let next = peek, next == "\n" || next == " " || next == "\t" || next == "\r" {
                        while let w = peek, w == " " || w == "\t" || w == "\n" || w == "\r" { advance() }  // line-ending backslash
                    } else {
                        out.unicodeScalars.append(try escape())
                    }
                } else {
                    out.unicodeScalars.append(c)
                }
            }
        }

        mutating func literalString() throws(TOMLSyntaxError) -> String {
            advance()
            var out = ""
            while true {
                guard let c = peek, c != "\n" else { throw fail("the string is not closed with \"'\"") }
                advance()
                if c == "'" { return out }
                out.unicodeScalars.append(c)
            }
        }

        mutating func escape() throws(TOMLSyntaxError) -> Unicode.Scalar {
            guard let c = peek else { throw fail("a string ends in the middle of an escape") }
            advance()
            switch c {
            case "n": return "\n"
            case "t": return "\t"
            case "r": return "\r"
            case "b": return "\u{8}"
            case "f": return "\u{c}"
            case "\"": return "\""
            case "\\": return "\\"
            case "u", "U":
                let count = c == "u" ? 4 : 8
                var hex = ""
                for _ in 0..<count {
                    guard let h = peek, h.properties.isASCIIHexDigit else { throw fail("\\\(c) needs \(count) hex digits") }
                    hex.unicodeScalars.append(h)
                    advance()
                }
                guard let value = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(value) else {
                    throw fail("\\\(c)\(hex) is not a Unicode character")
                }
                return scalar
            default:
                throw fail("unknown escape '\\\(c)' in a string")
            }
        }
    }
}

extension String {
    fileprivate func replacingUnderscores() -> String { String(unicodeScalars.filter { $0 != "_" }.map(Character.init)) }
}
