import Testing
@testable import VoiceCore

@Suite struct ExternalTextTests {
    @Test func controlAndBidiCharactersNeverPassThrough() {
        #expect(ExternalText.clean("book\u{0}ing\u{7} a\u{202E}table") == "booking atable")
        #expect(ExternalText.clean("line one\nline\ttwo") == "line one line two")
        #expect(ExternalText.clean("\u{2066}x\u{2069}\u{9B}") == "x")
    }

    @Test func ordinaryTextIsUntouched() {
        let text = "Café at 7 p.m., ¿sí? 你好。 — 🙂"
        #expect(ExternalText.clean(text) == text)
    }
}
