import Testing
import VoiceCore
import VoiceSupport

/// The string helpers that stand in for full Foundation's (the daemon links FoundationEssentials
/// only): the same results as `trimmingCharacters(in:)`, `NSString.deletingLastPathComponent`,
/// `padding(toLength:)` and `String(format:)` on what voiced gives them.
@Suite struct TextTrimmingTests {
    @Test func trimmingFollowsFoundationsCharacterSets() {
        let text = "\u{200B} \t key \n\r\u{2028}"
        #expect(text.trimmingWhitespacesAndNewlines() == "key")
        #expect(text.trimmingWhitespaces() == "key \n\r\u{2028}")  // line breaks stay
        #expect("\n\nline\n".trimmingNewlines() == "line")
        #expect(" \t ".trimmingWhitespacesAndNewlines() == "")
        // Unicode's White_Space alone does not include U+200B.
        #expect("\u{200B} x ".trimmingUnicodeWhiteSpace() == "\u{200B} x")
        #expect("[::1]".trimming(where: { $0 == "[" || $0 == "]" }) == "::1")
    }

    @Test func replacingEveryMatchesByteForByte() {
        #expect("key sk-1 and sk-1.".replacingEvery("sk-1", with: "<redacted>") == "key <redacted> and <redacted>.")
        #expect("unchanged".replacingEvery("", with: "x") == "unchanged")
        #expect("aaa".replacingEvery("aa", with: "b") == "ba")
        #expect("sk-1\u{301}".replacingEvery("sk-1", with: "<r>") == "<r>\u{301}")  // a combining mark after it too
    }

    @Test func pathDirectoriesAreNSStringsDeletingLastPathComponent() {
        #expect(PathText.directory(of: "/a/b/c") == "/a/b")
        #expect(PathText.directory(of: "a/b/") == "a")
        #expect(PathText.directory(of: "/a") == "/")
        #expect(PathText.directory(of: "/") == "/")
        #expect(PathText.directory(of: "a") == "")
        #expect(PathText.directory(of: "/var//lib/voiced/muted") == "/var//lib/voiced")
    }

    @Test func paddingCutsOrFillsToTheLength() {
        #expect("ab".paddedWithSpaces(toLength: 4) == "ab  ")
        #expect("abcdef".paddedWithSpaces(toLength: 3) == "abc")
        #expect("ab".paddedWithSpaces(toLength: 0) == "")
    }

    @Test func printfFormatsInTheCLocale() {
        #expect(Printf.format("%8.3fs", 1.5) == "   1.500s")
        #expect(Printf.format("%.0f%%", 42.4) == "42%")
        #expect(Printf.format("%.3g", 0.12345) == "0.123")
        #expect(Printf.format("%.0f", 1e70).count == 71)  // longer than the first buffer
    }
}
