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
    /// `table.key` when the error is in a key's value.
    public var key: String? = nil
    public var description: String { "line \(line): " + (key.map { "\($0): " } ?? "") + message }
}

/// A small TOML reader for configuration files: tables (`[name]`), `key = value` with bare or
/// quoted keys, basic and literal strings (and `"""` multi-line basic strings), integers
/// (underscores between digits, sign, 0x/0o/0b), floats, booleans, and arrays of those (over
/// several lines, trailing comma allowed, nested at most ``maximumNesting`` deep), and comments.
/// Dates, inline tables, arrays of tables and dotted keys are refused with a message. Every entry
/// keeps its line, so configuration errors can name it.
///
/// We read TOML ourselves because no mirrored package reports source lines for values, and
/// "the key and its line" is what a person fixing /etc/voiced/voiced.toml needs.
public enum TOMLParser {
    /// How deep lists may nest. The reader recurses once per level, so without a bound a hostile
    /// file (`x = [[[[…`) overflows the stack; no configuration value needs more than one level.
    public static let maximumNesting = 32

    public static func parse(_ text: String) throws(TOMLSyntaxError) -> [TOMLEntry] {
        var reader = Reader(Array(text.unicodeScalars))
        if reader.peek == "\u{FEFF}" { reader.i += 1 }  // a byte-order mark some editors write
        return try reader.document()
    }

    /// Reads a file's bytes: UTF-8 text (TOML requires it), then TOML. A byte sequence that is not
    /// UTF-8 is an error on its line, naming the key whose value holds it when there is one.
    public static func parse(bytes: some Collection<UInt8>) throws(TOMLSyntaxError) -> [TOMLEntry] {
        try parse(text(of: bytes))
    }

    /// The bytes as UTF-8 text, or an error naming the line (and key) of the first invalid byte.
    public static func text(of bytes: some Collection<UInt8>) throws(TOMLSyntaxError) -> String {
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        var line = 1
        var column = 1
        var offset = 0
        let array = Array(bytes)
        // Find the first invalid byte: validate line by line (a newline byte never occurs inside
        // a multi-byte UTF-8 sequence, so lines can be checked on their own).
        var start = 0
        while start < array.count {
            let end = array[start...].firstIndex(of: 0x0A) ?? array.count
            if String(validating: array[start..<end], as: UTF8.self) == nil {
                offset = start
                var decoder = UTF8()
                var iterator = array[start..<end].makeIterator()
                column = 1
                decode: while true {
                    switch decoder.decode(&iterator) {
                    case .scalarValue(let scalar):
                        offset += UTF8.width(scalar)
                        column += 1
                    case .emptyInput, .error: break decode
                    }
                }
                break
            }
            line += 1
            start = end + 1
        }
        let message = "the file is not UTF-8 text: byte 0x\(String(array[min(offset, array.count - 1)], radix: 16, uppercase: true)) at column \(column)"
        // Name the key on that line: read the file with the bad bytes replaced.
        let entries = (try? parse(String(decoding: array, as: UTF8.self))) ?? []
        throw TOMLSyntaxError(line: line, message: message, key: entries.first(where: { $0.line == line })?.path)
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
                let path = table.isEmpty ? name : "\(table).\(name)"
                let value: TOMLValue
                do {
                    value = try self.value()
                } catch {
                    throw TOMLSyntaxError(line: error.line, message: error.message, key: path)
                }
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

        mutating func value(depth: Int = 0) throws(TOMLSyntaxError) -> TOMLValue {
            guard let c = peek else { throw fail("expected a value after '='") }
            switch c {
            case "\"":
                if i + 2 < s.count, s[i + 1] == "\"", s[i + 2] == "\"" { return .string(try multilineString()) }
                return .string(try basicString())
            case "'":
                return .string(try literalString())
            case "[":
                guard depth < TOMLParser.maximumNesting else {
                    throw fail("lists are nested more than \(TOMLParser.maximumNesting) deep")
                }
                return try array(depth: depth + 1)
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
            if raw.contains(":") || (raw.filter { $0 == "-" }.count >= 2 && !raw.contains("e") && !raw.contains("E")) {
                throw fail("dates and times are not used in this file")
            }
            if ["inf", "+inf", "-inf", "nan", "+nan", "-nan"].contains(raw) {
                throw fail("'\(raw)' is not a usable number here")
            }
            guard let value = TOMLNumber.parse(raw) else {
                throw fail(raw.unicodeScalars.contains { ("0"..."9").contains($0) }
                    ? "'\(raw)' is not a valid number (TOML: no leading zeros; '_' only between digits; digits on both sides of '.')"
                    : "'\(raw)' is not a value (strings need quotes)")
            }
            return value
        }

        mutating func array(depth: Int) throws(TOMLSyntaxError) -> TOMLValue {
            advance()  // [
            var items: [TOMLValue] = []
            while true {
                skipBlanks()
                if peek == "]" {
                    advance()
                    return .array(items)
                }
                guard !atEnd else { throw fail("the list is not closed with ']'") }
                items.append(try value(depth: depth))
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
                if c == "\\" { out.unicodeScalars.append(try escape()) } else { out.unicodeScalars.append(try plain(c)) }
            }
        }

        /// A character written as itself in a string: TOML requires control characters (but tab,
        /// and newlines in multi-line strings) to be escaped.
        func plain(_ c: Unicode.Scalar, multiline: Bool = false) throws(TOMLSyntaxError) -> Unicode.Scalar {
            if (c.value < 0x20 && c != "\t" && !(multiline && (c == "\n" || c == "\r"))) || c.value == 0x7F {
                let hex = String(c.value, radix: 16, uppercase: true)
                throw fail("a control character in a string must be escaped (\\u" + String(repeating: "0", count: 4 - hex.count) + hex + ")")
            }
            return c
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
                    out.unicodeScalars.append(try plain(c, multiline: true))
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
                out.unicodeScalars.append(try plain(c))
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

/// TOML 1.0's number grammar, checked by hand: Swift's `Int64(_:)` and `Double(_:)` accept
/// forms TOML refuses (`01`, `.5`, `5.`, `0x1p3`, `infinity`), and underscores must stand
/// between two digits (`_1`, `1_`, `1__0` are invalid).
enum TOMLNumber {
    static func parse(_ raw: String) -> TOMLValue? {
        let s = Array(raw.unicodeScalars)
        for (prefix, radix) in [("x", 16), ("o", 8), ("b", 2)] where s.count > 2 && s[0] == "0" && s[1] == Unicode.Scalar(prefix) {
            guard let digits = digitRun(s[2...], radix: radix), digits.end == s.count else { return nil }
            return Int64(digits.text, radix: radix).map(TOMLValue.integer)
        }
        var i = 0
        var text = ""
        if s[i] == "+" || s[i] == "-" {
            if s[i] == "-" { text = "-" }
            i += 1
        }
        guard let whole = digitRun(s[i...], radix: 10) else { return nil }
        if whole.text.count > 1 && whole.text.hasPrefix("0") { return nil }  // leading zeros
        text += whole.text
        i = whole.end
        if i == s.count { return Int64(text).map(TOMLValue.integer) }
        var isFloat = false
        if s[i] == "." {
            guard let fraction = digitRun(s[(i + 1)...], radix: 10) else { return nil }
            text += "." + fraction.text
            i = fraction.end
            isFloat = true
        }
        if i < s.count, s[i] == "e" || s[i] == "E" {
            i += 1
            text += "e"
            if i < s.count, s[i] == "+" || s[i] == "-" {
                text.unicodeScalars.append(s[i])
                i += 1
            }
            guard let exponent = digitRun(s[i...], radix: 10) else { return nil }
            text += exponent.text
            i = exponent.end
            isFloat = true
        }
        guard isFloat, i == s.count, let value = Double(text), value.isFinite else { return nil }
        return .float(value)
    }

    /// Digits of `radix` with single underscores between them, from the start of `s`: the digits
    /// without underscores and the index after the run; nil when there is no digit first or an
    /// underscore is not between two digits.
    private static func digitRun(_ s: ArraySlice<Unicode.Scalar>, radix: Int) -> (text: String, end: Int)? {
        var text = ""
        var i = s.startIndex
        var lastWasDigit = false
        while i < s.endIndex {
            let c = s[i]
            if c == "_" {
                guard lastWasDigit else { return nil }
                lastWasDigit = false
            } else if let digit = hexValue(c), digit < radix {
                text.unicodeScalars.append(c)
                lastWasDigit = true
            } else {
                break
            }
            i += 1
        }
        guard !text.isEmpty, lastWasDigit else { return nil }
        return (text, i)
    }

    private static func hexValue(_ c: Unicode.Scalar) -> Int? {
        switch c {
        case "0"..."9": Int(c.value - 48)
        case "a"..."f": Int(c.value - 97 + 10)
        case "A"..."F": Int(c.value - 65 + 10)
        default: nil
        }
    }
}
