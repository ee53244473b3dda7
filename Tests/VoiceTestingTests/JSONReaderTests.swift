import Foundation
import Testing
import VoiceSupport

/// The strict JSON reader of scenario files (`JSONValue.parse`).
@Suite struct JSONReaderTests {
    @Test func readsEveryKindOfValueKeepingKeyOrder() throws {
        let text = #" {"b": [1, -2.5e3, 0, -0, 1E+2], "a": {"t": true, "f": false, "n": null}, "s": "x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00é"} "#
        let value = try JSONValue.parse(Array(text.utf8))
        guard case .object(let pairs) = value else {
            Issue.record("not an object")
            return
        }
        #expect(pairs.map(\.0) == ["b", "a", "s"])
        #expect(value["b"] == .array([.int(1), .double(-2500), .int(0), .int(0), .double(100)]))
        #expect(value["a"] == .object([("t", .bool(true)), ("f", .bool(false)), ("n", .null)]))
        #expect(value["s"] == .string("x\"\\/\u{8}\u{c}\n\r\té😀é"))
    }

    static let invalid: [(String, Int, Int, String)] = [
        ("", 1, 1, "expected a value, found the end"),
        ("[1,]", 1, 4, "a trailing comma before ']'"),
        ("{\"a\": 1,}", 1, 9, "a trailing comma before '}'"),
        ("{\"a\": 1, \"a\": 2}", 1, 10, "the key \"a\" appears twice"),
        ("{\n\"a\": 1\n\"b\": 2}", 3, 1, "expected ',' or '}'"),
        ("[1] [2]", 1, 5, "after the document"),
        ("{'a': 1}", 1, 2, "expected a key in double quotes"),
        ("[01]", 1, 2, "numbers do not start with 0"),
        ("[-]", 1, 3, "a digit after '-'"),
        ("[1.]", 1, 4, "digits after '.'"),
        ("[.5]", 1, 2, "expected a value"),
        ("[1e]", 1, 4, "digits in its exponent"),
        ("[1e999]", 1, 2, "too large"),
        ("[NaN]", 1, 2, "expected a value"),
        ("[tru]", 1, 2, "unexpected"),
        ("[\"a\nb\"]", 1, 4, "before the end of the line"),
        ("[\"a\u{1}\"]", 1, 4, "control character"),
        ("[\"\\x\"]", 1, 4, "unknown escape"),
        ("[\"\\ud800\"]", 1, 9, "half a surrogate pair"),
        ("[\"\\u12\"]", 1, 7, "four hex digits"),
        ("[\"é\" x]", 1, 6, "expected ',' or ']'"),
        ("// comment\n{}", 1, 1, "expected a value"),
    ]

    @Test(arguments: invalid)
    func invalidDocumentsNameLineAndColumn(text: String, line: Int, column: Int, message: String) {
        do {
            _ = try JSONValue.parse(Array(text.utf8))
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.line == line && error.column == column, "\(text): got \(error)")
            #expect(error.message.contains(message), "\(text): got \(error)")
        }
    }

    @Test func bytesThatAreNotUTF8AreRefused() {
        for bytes: [UInt8] in [[0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0xE0, 0x80, 0x80, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xF0, 0x9F]] {
            #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(bytes) }
        }
    }

    @Test func deepNestingIsRefusedNotACrash() {
        for opener in ["[", "{\"a\":"] {
            let text = String(repeating: opener, count: 100_000)
            do {
                _ = try JSONValue.parse(Array(text.utf8))
                Issue.record("accepted 100,000 levels")
            } catch {
                #expect(error.message.contains("nested more than \(JSONValue.maximumNesting) deep"))
            }
        }
        let atLimit = String(repeating: "[", count: JSONValue.maximumNesting) + String(repeating: "]", count: JSONValue.maximumNesting)
        #expect(throws: Never.self) { try JSONValue.parse(Array(atLimit.utf8)) }
    }

    @Test func serializedValuesReadBackTheSame() throws {
        let value = JSONValue.object([("a", .array([.int(-3), .double(0.5), .string("q\"\u{1}\n"), .null])), ("b", .bool(false))])
        #expect(try JSONValue.parse(Array(value.serialized(indent: 2).utf8)) == value)
        #expect(try JSONValue.parse(Array(value.serialized().utf8)) == value)
    }

    /// Doubles are written as printf's "%.1f" wrote them before JSONValue left Foundation.
    @Test func wholeDoublesKeepTheirPointAndNonFiniteOnesAreNull() {
        let cases: [(Double, String)] = [(3, "3.0"), (-2, "-2.0"), (-0.0, "-0.0"), (0, "0.0"), (2.5, "2.5"), (1e16, "1e+16"),
                                         (999_999_999_999_999, "999999999999999.0"), (.nan, "null"), (-.infinity, "null")]
        for (value, text) in cases { #expect(JSONValue.double(value).serialized() == text, "\(value)") }
    }
}
