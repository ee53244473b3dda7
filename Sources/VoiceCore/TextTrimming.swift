// The few string operations of full Foundation that FoundationEssentials lacks (the daemon links
// only FoundationEssentials, which leaves out ICU), with Foundation's results: the character sets
// below are exactly those of `CharacterSet.whitespaces`, `.whitespacesAndNewlines` and `.newlines`.

extension Unicode.Scalar {
    /// A line break: U+000A to U+000D, U+0085, U+2028, U+2029 (`CharacterSet.newlines`).
    public var isLineBreak: Bool {
        switch value {
        case 0x0A...0x0D, 0x85, 0x2028, 0x2029: true
        default: false
        }
    }

    /// White space or a line break (`CharacterSet.whitespacesAndNewlines`): Unicode's White_Space
    /// plus U+200B ZERO WIDTH SPACE, which Foundation counts too.
    public var isWhitespaceOrLineBreak: Bool { properties.isWhitespace || value == 0x200B }

    /// White space that is not a line break (`CharacterSet.whitespaces`): space, tab, no-break
    /// space and the other Unicode space separators, and U+200B.
    public var isBlank: Bool { isWhitespaceOrLineBreak && !isLineBreak }
}

extension StringProtocol {
    /// Without the leading and trailing scalars for which `isTrimmed` holds.
    public func trimming(where isTrimmed: (Unicode.Scalar) -> Bool) -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !isTrimmed($0) }),
              let last = scalars.lastIndex(where: { !isTrimmed($0) })
        else { return "" }
        var trimmed = String.UnicodeScalarView()
        trimmed.append(contentsOf: scalars[first...last])
        return String(trimmed)
    }

    /// Without leading and trailing white space and line breaks
    /// (`trimmingCharacters(in: .whitespacesAndNewlines)`).
    public func trimmingWhitespacesAndNewlines() -> String { trimming(where: \.isWhitespaceOrLineBreak) }

    /// Without leading and trailing spaces and tabs, line breaks kept
    /// (`trimmingCharacters(in: .whitespaces)`).
    public func trimmingWhitespaces() -> String { trimming(where: \.isBlank) }

    /// Without leading and trailing Unicode White_Space (spaces, tabs, line breaks; not U+200B,
    /// which Foundation's sets add): API keys, transcripts, typed commands.
    public func trimmingUnicodeWhiteSpace() -> String { trimming(where: \.properties.isWhitespace) }

    /// Without leading and trailing line breaks (`trimmingCharacters(in: .newlines)`).
    public func trimmingNewlines() -> String { trimming(where: \.isLineBreak) }

    /// Every occurrence of `target` replaced by `replacement`, compared byte for byte. As with
    /// `replacingOccurrences(of:with:)`, an empty `target` changes nothing; unlike it, a match
    /// followed by a combining mark is replaced too (a key echoed back is redacted whatever follows).
    public func replacingEvery(_ target: some StringProtocol, with replacement: some StringProtocol) -> String {
        let source = Array(utf8)
        let pattern = Array(target.utf8)
        guard !pattern.isEmpty, source.count >= pattern.count else { return String(self) }
        var result: [UInt8] = []
        result.reserveCapacity(source.count)
        var index = 0
        while index < source.count {
            if index + pattern.count <= source.count, source[index] == pattern[0],
               source[index..<(index + pattern.count)].elementsEqual(pattern) {
                result.append(contentsOf: replacement.utf8)
                index += pattern.count
            } else {
                result.append(source[index])
                index += 1
            }
        }
        return String(decoding: result, as: UTF8.self)
    }
}

extension String {
    /// Cut to `length` UTF-16 code units, or filled with spaces up to it: Foundation's
    /// `padding(toLength: length, withPad: " ", startingAt: 0)`, for columns of text.
    public func paddedWithSpaces(toLength length: Int) -> String {
        let units = utf16.count
        if units >= length { return String(decoding: utf16.prefix(max(0, length)), as: UTF16.self) }
        return self + String(repeating: " ", count: length - units)
    }
}

/// File-path text, without Foundation's `NSString` path methods.
public enum PathText {
    /// The directory part of `path`, as `NSString.deletingLastPathComponent` gives it:
    /// `/a/b/c` → `/a/b`, `a/b/` → `a`, `/a` → `/`, `/` → `/`, `a` → `` (empty).
    public static func directory(of path: String) -> String {
        var text = Substring(path)
        while text.count > 1, text.hasSuffix("/") { text.removeLast() }
        guard let slash = text.lastIndex(of: "/") else { return "" }
        var directory = text[..<slash]
        while directory.hasSuffix("/") { directory.removeLast() }
        return directory.isEmpty ? "/" : String(directory)
    }
}
