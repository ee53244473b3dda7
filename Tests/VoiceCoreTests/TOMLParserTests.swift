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

    @Test func renderedValuesReadBackTheSame() throws {
        let values: [TOMLValue] = [.string("tab\t\"q\" \\ \u{1}"), .integer(-7), .float(0.3), .float(2), .boolean(false),
                                   .array([.string("a"), .integer(1)])]
        for value in values {
            let entries = try TOMLParser.parse("k = \(value.tomlText)")
            #expect(entries.first?.value == value)
        }
    }
}
