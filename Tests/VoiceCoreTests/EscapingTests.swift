import Testing
@testable import VoiceCore

/// The one escaper, with what each place that writes text needs (before it was one function, each
/// place had its own copy; these are their outputs).
@Suite struct EscapingTests {
    let ordinary = "Café at 7 p.m., ¿sí? 你好。 — 🙂"

    @Test func ordinaryTextIsUntouchedWhereverItGoes() {
        for policy: Escaping.Policy in [.terminal, .clean] { #expect(Escaping.escaped(ordinary, as: policy) == ordinary) }
        // logfmt quotes a value with spaces; nothing in it needs a backslash.
        for policy: Escaping.Policy in [.json, .postgresJSON, .toml, .logfmt] { #expect(Escaping.escaped(ordinary, as: policy) == "\"\(ordinary)\"") }
    }

    /// voicectl prints what the daemon heard or said.
    @Test func theTerminalSeesWhatWasHidden() {
        #expect(Escaping.escaped("a\u{1B}[2Jb\u{202E}c\u{9B}d\u{7F}", as: .terminal) == "a\\u{1B}[2Jb\\u{202E}c\\u{9B}d\\u{7F}")
    }

    /// Transcripts and LLM replies, where they enter (ExternalText.clean).
    @Test func cleanRemovesControlsAndTurnsLineBreaksIntoSpaces() {
        #expect(Escaping.escaped("book\u{0}ing\u{7} a\u{202E}table", as: .clean) == "booking atable")
        #expect(Escaping.escaped("line one\nline\ttwo\r", as: .clean) == "line one line two ")
    }

    /// JSONValue's output (the control socket, reports).
    @Test func jsonEscapesQuotesBackslashesAndControls() {
        #expect(Escaping.escaped("q\" b\\ n\n r\r t\t bell\u{7} us\u{1F} nul\u{0} del\u{7F} é", as: .json)
                == #""q\" b\\ n\n r\r t\t bell\u0007 us\u001f nul\u0000 del"# + "\u{7F} é\"")
    }

    /// The telemetry sync's rows: PostgreSQL's text cannot hold NUL.
    @Test func postgresJSONReplacesNUL() {
        #expect(Escaping.escaped("a\u{0}b\u{1F}\"", as: .postgresJSON) == #""a\ufffdb\u001f\"""#)
    }

    /// Saved settings (TOMLValue.tomlText): upper-case hex, DEL escaped.
    @Test func tomlEscapesDELWithUpperCaseHex() {
        #expect(Escaping.escaped("tab\t\"q\" \\ \u{1F}\u{7F}", as: .toml) == #""tab\t\"q\" \\ \u001F\u007F""#)
    }

    /// The stderr log line's metadata values.
    @Test func logfmtQuotesOnlyWhatNeedsIt() {
        #expect(Escaping.escaped("provider_error", as: .logfmt) == "provider_error")
        #expect(Escaping.escaped(#"a\b"#, as: .logfmt) == #"a\b"#)
        #expect(Escaping.escaped("", as: .logfmt) == #""""#)
        #expect(Escaping.escaped("a=b", as: .logfmt) == #""a=b""#)
        #expect(Escaping.escaped(#"say "hi" \ now"#, as: .logfmt) == #""say \"hi\" \\ now""#)
        #expect(Escaping.escaped("line 1\nline 2", as: .logfmt) == #""line 1\nline 2""#)
        // A line break is one escape whatever its kind, CR LF included (as Character.isNewline sees it).
        #expect(Escaping.escaped("a\r\nb\u{2028}c\rd", as: .logfmt) == #""a\nb\nc\nd""#)
    }

    /// A provider's error body or a WAV file's chunk name.
    @Test func bytesShowPrintableASCIIAndHexForTheRest() {
        let bytes: [UInt8] = [0x41, 0x00, 0x07, 0x0A, 0x22, 0x5C, 0x7F, 0xFF]
        #expect(Escaping.escaped(bytes.map(Unicode.Scalar.init), as: .bytes) == #"A\x00\x07\n\"\\\x7f\xff"#)
    }
}
