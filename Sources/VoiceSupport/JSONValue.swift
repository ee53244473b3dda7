import VoiceCore

/// A JSON value whose objects keep their key order, for output that people read.
public indirect enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool { lhs.serialized() == rhs.serialized() }

    /// Looks up a key of an object.
    public subscript(key: String) -> JSONValue? {
        if case .object(let pairs) = self { return pairs.first { $0.0 == key }?.1 }
        return nil
    }

    /// The JSON text; `indent` > 0 pretty-prints.
    public func serialized(indent: Int = 0) -> String {
        var out = ""
        write(to: &out, indent: indent, level: 0)
        return out
    }

    private func write(to out: inout String, indent: Int, level: Int) {
        let newline = indent > 0 ? "\n" : ""
        let pad = String(repeating: " ", count: indent * (level + 1))
        let closePad = String(repeating: " ", count: indent * level)
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            out += Self.number(d)
        case .string(let s): out += Self.quote(s)
        case .array(let items):
            if items.isEmpty { out += "[]"; return }
            // Arrays of scalars and small objects stay on one line when compact.
            out += "[" + newline
            for (i, item) in items.enumerated() {
                out += pad
                item.write(to: &out, indent: item.isFlat ? 0 : indent, level: level + 1)
                out += (i < items.count - 1 ? "," : "") + newline
            }
            out += closePad + "]"
        case .object(let pairs):
            if pairs.isEmpty { out += "{}"; return }
            out += "{" + newline
            for (i, (key, value)) in pairs.enumerated() {
                out += pad + Self.quote(key) + (indent > 0 ? ": " : ":")
                value.write(to: &out, indent: value.isFlat ? 0 : indent, level: level + 1)
                out += (i < pairs.count - 1 ? "," : "") + newline
            }
            out += closePad + "}"
        }
    }

    /// Objects of scalars print on one line (timeline entries).
    private var isFlat: Bool {
        switch self {
        case .array(let items): return items.allSatisfy { if case .object = $0 { false } else if case .array = $0 { false } else { true } }
        case .object(let pairs): return pairs.allSatisfy { if case .object = $0.1 { false } else if case .array = $0.1 { false } else { true } }
        default: return true
        }
    }

    private static func quote(_ s: String) -> String { Escaping.escaped(s, as: .json) }

    /// A double as JSON: whole numbers keep a ".0" (so they read back as doubles), non-finite ones
    /// have no JSON form and become null.
    private static func number(_ d: Double) -> String {
        guard d.isFinite else { return "null" }
        guard d == d.rounded() && abs(d) < 1e15 else { return String(d) }
        return (d.sign == .minus ? "-" : "") + String(Int64(abs(d))) + ".0"
    }
}

/// JSON text that is not valid (RFC 8259), with the line and column of the problem.
public struct JSONSyntaxError: Error, Equatable, Sendable, CustomStringConvertible {
    /// 1-based line.
    public var line: Int
    /// 1-based column, in characters.
    public var column: Int
    public var message: String
    public var description: String { "line \(line), column \(column): \(message)" }
}

extension JSONValue {
    /// How deep arrays and objects may nest before the reader refuses the document (it recurses
    /// once per level, so a hostile document must not decide how deep the stack goes).
    public static let maximumNesting = 128

    /// Reads one JSON document, strictly: RFC 8259 syntax only (no trailing commas, comments or
    /// NaN), UTF-8 only, no key twice in one object, numbers that fit a Double, nesting at most
    /// ``maximumNesting`` deep. Errors name the line and column. Object keys keep their order.
    public static func parse(_ bytes: some Collection<UInt8>) throws(JSONSyntaxError) -> JSONValue {
        var reader = JSONReader(Array(bytes))
        reader.skipWhitespace()
        if reader.bytes.starts(with: [0xEF, 0xBB, 0xBF]) { throw reader.fail("a byte-order mark is not allowed in JSON") }
        let value = try reader.value(depth: 0)
        reader.skipWhitespace()
        guard reader.atEnd else { throw reader.fail("unexpected \(reader.describeNext()) after the document") }
        return value
    }
}

private struct JSONReader {
    let bytes: [UInt8]
    var i = 0
    var line = 1
    var lineStart = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { i >= bytes.count }
    var peek: UInt8? { i < bytes.count ? bytes[i] : nil }

    func fail(_ message: String, at index: Int? = nil) -> JSONSyntaxError {
        let at = min(index ?? i, bytes.count)
        // Columns count characters: every byte but UTF-8 continuation bytes starts one.
        let column = bytes[lineStart..<at].reduce(1) { $1 & 0xC0 == 0x80 ? $0 : $0 + 1 }
        return JSONSyntaxError(line: line, column: column, message: message)
    }

    func describeNext() -> String {
        guard let c = peek else { return "end of the document" }
        if c >= 0x21 && c < 0x7F { return "'\(Character(Unicode.Scalar(c)))'" }
        return "byte 0x" + String(c, radix: 16, uppercase: true)
    }

    mutating func skipWhitespace() {
        while let c = peek {
            switch c {
            case 0x20, 0x09, 0x0D: i += 1
            case 0x0A:
                i += 1
                line += 1
                lineStart = i
            default: return
            }
        }
    }

    mutating func expect(_ word: String, _ value: JSONValue) throws(JSONSyntaxError) -> JSONValue {
        let utf8 = Array(word.utf8)
        guard bytes[i...].starts(with: utf8) else { throw fail("unexpected \(describeNext()) (strings need double quotes)") }
        i += utf8.count
        return value
    }

    mutating func value(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        guard let c = peek else { throw fail("expected a value, found the end of the document") }
        switch c {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            guard depth < JSONValue.maximumNesting else {
                throw fail("arrays and objects are nested more than \(JSONValue.maximumNesting) deep")
            }
            return c == UInt8(ascii: "{") ? try object(depth: depth + 1) : try array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try expect("true", .bool(true))
        case UInt8(ascii: "f"): return try expect("false", .bool(false))
        case UInt8(ascii: "n"): return try expect("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw fail("expected a value, found \(describeNext())")
        }
    }

    mutating func object(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        i += 1  // {
        var pairs: [(String, JSONValue)] = []
        var keys: Set<String> = []
        skipWhitespace()
        if peek == UInt8(ascii: "}") {
            i += 1
            return .object(pairs)
        }
        while true {
            skipWhitespace()
            guard peek == UInt8(ascii: "\"") else {
                if peek == UInt8(ascii: "}") { throw fail("a trailing comma before '}'") }
                throw fail("expected a key in double quotes, found \(describeNext())")
            }
            let keyStart = i
            let key = try string()
            guard keys.insert(key).inserted else { throw fail("the key \"\(key)\" appears twice in this object", at: keyStart) }
            skipWhitespace()
            guard peek == UInt8(ascii: ":") else { throw fail("expected ':' after the key \"\(key)\", found \(describeNext())") }
            i += 1
            skipWhitespace()
            pairs.append((key, try value(depth: depth)))
            skipWhitespace()
            switch peek {
            case UInt8(ascii: ","): i += 1
            case UInt8(ascii: "}"):
                i += 1
                return .object(pairs)
            default: throw fail("expected ',' or '}' in the object, found \(describeNext())")
            }
        }
    }

    mutating func array(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        i += 1  // [
        var items: [JSONValue] = []
        skipWhitespace()
        if peek == UInt8(ascii: "]") {
            i += 1
            return .array(items)
        }
        while true {
            skipWhitespace()
            if peek == UInt8(ascii: "]") { throw fail("a trailing comma before ']'") }
            items.append(try value(depth: depth))
            skipWhitespace()
            switch peek {
            case UInt8(ascii: ","): i += 1
            case UInt8(ascii: "]"):
                i += 1
                return .array(items)
            default: throw fail("expected ',' or ']' in the list, found \(describeNext())")
            }
        }
    }

    mutating func number() throws(JSONSyntaxError) -> JSONValue {
        let start = i
        func digits(_ reader: inout JSONReader) -> Int {
            let from = reader.i
            while let c = reader.peek, c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") { reader.i += 1 }
            return reader.i - from
        }
        if peek == UInt8(ascii: "-") { i += 1 }
        let intStart = i
        let whole = digits(&self)
        guard whole > 0 else { throw fail("a number needs a digit after '-'") }
        if whole > 1 && bytes[intStart] == UInt8(ascii: "0") { throw fail("numbers do not start with 0", at: intStart) }
        var isInteger = true
        if peek == UInt8(ascii: ".") {
            i += 1
            guard digits(&self) > 0 else { throw fail("a number needs digits after '.'") }
            isInteger = false
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            i += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { i += 1 }
            guard digits(&self) > 0 else { throw fail("a number needs digits in its exponent") }
            isInteger = false
        }
        let text = String(decoding: bytes[start..<i], as: UTF8.self)
        if isInteger, let value = Int64(text) { return .int(value) }
        guard let value = Double(text), value.isFinite else { throw fail("the number \(text) is too large", at: start) }
        return .double(value)
    }

    mutating func string() throws(JSONSyntaxError) -> String {
        i += 1  // "
        var scalars = String.UnicodeScalarView()
        while true {
            guard let c = peek else { throw fail("the string is not closed with '\"'") }
            switch c {
            case UInt8(ascii: "\""):
                i += 1
                return String(scalars)
            case UInt8(ascii: "\\"):
                i += 1
                scalars.append(try escape())
            case 0x00..<0x20:
                throw fail(c == 0x0A ? "the string is not closed with '\"' before the end of the line" : "a control character in a string must be escaped")
            case 0x00..<0x80:
                scalars.append(Unicode.Scalar(c))
                i += 1
            default:
                scalars.append(try utf8Scalar())
            }
        }
    }

    /// One multi-byte UTF-8 sequence.
    mutating func utf8Scalar() throws(JSONSyntaxError) -> Unicode.Scalar {
        let lead = bytes[i]
        let count: Int
        var value: UInt32
        switch lead {
        case 0xC2...0xDF: count = 2; value = UInt32(lead & 0x1F)
        case 0xE0...0xEF: count = 3; value = UInt32(lead & 0x0F)
        case 0xF0...0xF4: count = 4; value = UInt32(lead & 0x07)
        default: throw fail("the text is not UTF-8 (byte 0x\(String(lead, radix: 16, uppercase: true)))")
        }
        guard i + count <= bytes.count else { throw fail("the text is not UTF-8 (a character is cut off)") }
        for k in 1..<count {
            let b = bytes[i + k]
            guard b & 0xC0 == 0x80 else { throw fail("the text is not UTF-8 (byte 0x\(String(b, radix: 16, uppercase: true)))") }
            value = value << 6 | UInt32(b & 0x3F)
        }
        let minimum: UInt32 = count == 2 ? 0x80 : count == 3 ? 0x800 : 0x10000
        guard value >= minimum, let scalar = Unicode.Scalar(value) else {
            throw fail("the text is not UTF-8 (an overlong or surrogate sequence)")
        }
        i += count
        return scalar
    }

    mutating func escape() throws(JSONSyntaxError) -> Unicode.Scalar {
        guard let c = peek else { throw fail("the string ends in the middle of an escape") }
        i += 1
        switch c {
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "/"): return "/"
        case UInt8(ascii: "b"): return "\u{8}"
        case UInt8(ascii: "f"): return "\u{C}"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "u"):
            let first = try hex4()
            if (0xD800..<0xDC00).contains(first) {
                guard bytes[i...].starts(with: [UInt8(ascii: "\\"), UInt8(ascii: "u")]) else {
                    throw fail("\\u\(String(first, radix: 16)) is half a surrogate pair")
                }
                i += 2
                let second = try hex4()
                guard (0xDC00..<0xE000).contains(second) else { throw fail("\\u\(String(first, radix: 16)) is half a surrogate pair") }
                let combined = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                guard let scalar = Unicode.Scalar(combined) else { throw fail("not a Unicode character") }
                return scalar
            }
            guard let scalar = Unicode.Scalar(first) else { throw fail("\\u\(String(first, radix: 16)) is half a surrogate pair") }
            return scalar
        default:
            i -= 1
            throw fail("unknown escape: a backslash before \(describeNext()) in a string")
        }
    }

    mutating func hex4() throws(JSONSyntaxError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let c = peek else { throw fail("\\u needs four hex digits") }
            let digit: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = c - UInt8(ascii: "A") + 10
            default: throw fail("\\u needs four hex digits")
            }
            value = value << 4 | UInt32(digit)
            i += 1
        }
        return value
    }
}
