import Testing
@testable import VoiceCore

@Suite struct TOMLParserTests {
    @Test func readsTablesKeysAndEveryValueKindWithTheirLines() throws {
        let text = """
        # comment
        top = 1
        [turn]
        debounce_ms = 1_200   # trailing comment
        name = "a \\"quoted\\" \\u00e9 word"
        path = 'C:\\raw'
        ratio = 0.25
        neg = -3
        hex = 0xff
        on = true
        "quoted key" = false
        markers = [
          "actually",  # first
          "wait",
        ]
        empty = []
        prompt = \"\"\"
        line one
        line two\"\"\"
        """
        let entries = try TOMLParser.parse(text)
        let byPath = Dictionary(uniqueKeysWithValues: entries.map { ($0.path, $0) })
        #expect(byPath["top"]?.value == .integer(1))
        #expect(byPath["turn.debounce_ms"]?.value == .integer(1200))
        #expect(byPath["turn.debounce_ms"]?.line == 4)
        #expect(byPath["turn.name"]?.value == .string("a \"quoted\" é word"))
        #expect(byPath["turn.path"]?.value == .string("C:\\raw"))
        #expect(byPath["turn.ratio"]?.value == .float(0.25))
        #expect(byPath["turn.neg"]?.value == .integer(-3))
        #expect(byPath["turn.hex"]?.value == .integer(255))
        #expect(byPath["turn.on"]?.value == .boolean(true))
        #expect(byPath["turn.quoted key"]?.value == .boolean(false))
        #expect(byPath["turn.markers"]?.value == .array([.string("actually"), .string("wait")]))
        #expect(byPath["turn.markers"]?.line == 12)
        #expect(byPath["turn.empty"]?.value == .array([]))
        #expect(byPath["turn.prompt"]?.value == .string("line one\nline two"))
    }

    static let syntaxErrors: [(String, Int, String)] = [
        ("a = ", 1, "expected a value"),
        ("[turn]\nx = \"open", 2, "not closed"),
        ("x = 1 2", 1, "unexpected"),
        ("x = yes", 1, "not a value"),
        ("x = 1\nx = 2", 2, "set twice"),
        ("[a]\n[a]", 2, "defined twice"),
        ("[[a]]", 1, "arrays of tables"),
        ("x = {a = 1}", 1, "inline tables"),
        ("a.b = 1", 1, "dotted keys"),
        ("x = 1979-05-27", 1, "dates"),
        ("x = [1, 2", 1, "not closed"),
        ("x = \"\\q\"", 1, "unknown escape"),
        ("= 3", 1, "expected a key"),
        ("x = nan", 1, "not a usable number"),
        // TOML 1.0 numbers: '_' only between digits, no leading zeros, digits around '.'.
        ("x = _1", 1, "not a valid number"),
        ("x = 1_", 1, "not a valid number"),
        ("x = 1__0", 1, "not a valid number"),
        ("x = 01", 1, "not a valid number"),
        ("x = -01", 1, "not a valid number"),
        ("x = .5", 1, "not a valid number"),
        ("x = 5.", 1, "not a valid number"),
        ("x = 1_.5", 1, "not a valid number"),
        ("x = 1._5", 1, "not a valid number"),
        ("x = 1e_5", 1, "not a valid number"),
        ("x = 1e", 1, "not a valid number"),
        ("x = 0x_ff", 1, "not a valid number"),
        ("x = +0xff", 1, "not a valid number"),
        ("x = 0b102", 1, "not a valid number"),
        ("x = 0o8", 1, "not a valid number"),
        ("x = 0x1p3", 1, "not a valid number"),
        ("x = 99999999999999999999", 1, "not a valid number"),
        ("x = 1e999", 1, "not a valid number"),
        ("x = infinity", 1, "not a value"),
        ("x = \"a\u{0}b\"", 1, "control character in a string must be escaped (\\u0000)"),
        ("x = 'a\u{1B}b'", 1, "control character in a string must be escaped (\\u001B)"),
        ("\nx = \"\"\"a\u{7F}\"\"\"", 2, "control character in a string must be escaped (\\u007F)"),
        ("\n\nx = [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", 3, "nested more than 32 deep"),
    ]

    @Test(arguments: syntaxErrors)
    func syntaxErrorsNameTheirLine(text: String, line: Int, message: String) {
        do {
            _ = try TOMLParser.parse(text)
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.line == line)
            #expect(error.message.contains(message), "got: \(error.message)")
        }
    }

    @Test func validNumbersReadAsTOMLSaysTheyDo() throws {
        let cases: [(String, TOMLValue)] = [
            ("1_000", .integer(1000)), ("-0", .integer(0)), ("+5", .integer(5)), ("0", .integer(0)),
            ("0xdead_BEEF", .integer(0xdeadbeef)), ("0o755", .integer(0o755)), ("0b1010", .integer(10)),
            ("1e06", .float(1e6)), ("-1.5E-3", .float(-1.5e-3)), ("224_617.445_991", .float(224617.445991)),
            ("0.25", .float(0.25)), ("-0.0", .float(-0.0)), ("9223372036854775807", .integer(.max)),
        ]
        for (text, value) in cases {
            #expect(try TOMLParser.parse("x = \(text)").first?.value == value, "\(text)")
        }
    }

    /// A list nested 50,000 deep overflowed the reader's stack (SIGSEGV) before nesting was bounded.
    @Test func deepNestingIsRefusedNotACrash() {
        for opener in ["[", "[ ", "[\n", "[1,"] {
            let text = "x = " + String(repeating: opener, count: 50_000)
            do {
                _ = try TOMLParser.parse(text)
                Issue.record("accepted 50,000 nested lists")
            } catch {
                #expect(error.message.contains("nested more than \(TOMLParser.maximumNesting) deep"), "got: \(error.message)")
            }
        }
    }

    @Test func nestingUpToTheLimitIsRead() throws {
        let depth = TOMLParser.maximumNesting
        let text = "x = " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        var expected = TOMLValue.array([])
        for _ in 1..<depth { expected = .array([expected]) }
        #expect(try TOMLParser.parse(text).first?.value == expected)
    }

    @Test func bytesThatAreNotUTF8AreAnErrorOnTheirLine() {
        let bytes: [UInt8] = Array("a = 1\nb = \"x".utf8) + [0xC3, 0x28] + Array("\"\n".utf8)
        do {
            _ = try TOMLParser.parse(bytes: bytes)
            Issue.record("accepted invalid UTF-8")
        } catch {
            #expect(error.line == 2)
            #expect(error.key == "b")
            #expect(error.message == "the file is not UTF-8 text: byte 0xC3 at column 7", "got: \(error.message)")
        }
    }

    @Test func renderedValuesReadBackTheSame() throws {
        let values: [TOMLValue] = [.string("tab\t\"q\" \\ \u{1}"), .integer(-7), .float(0.3), .float(2), .boolean(false),
                                   .array([.string("a"), .integer(1)])]
        for value in values {
            let entries = try TOMLParser.parse("k = \(value.tomlText)")
            #expect(entries.first?.value == value)
        }
    }
}
