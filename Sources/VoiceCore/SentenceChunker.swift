/// Turns streamed LLM tokens into speakable chunks, one per sentence.
///
/// A sentence ends at `.`, `?`, `!` or `…` (and runs of them, with closing quotes or brackets)
/// followed by white space, or at the end of the stream. Because the end must be followed by
/// white space, decimals (3.5), times (10.30), URLs and e-mail addresses never split. Common
/// abbreviations (Dr., Mr., e.g., i.e., U.S., etc.) do not end a sentence, nor does an ellipsis
/// followed by a lower-case word ("well... maybe"), nor the number that starts a line or a reply ("2. Then…"), which reads with its list item.
/// The full-width forms `。？！．` end a
/// sentence even with no space after them, as CJK text has none.
///
/// Tokens may split anywhere, even inside a word or a number: the chunker waits for the character
/// that decides a boundary before it emits.
public struct SentenceChunker: Sendable {
    /// Abbreviations (lower case, without their final period) after which a period is no sentence end.
    public static let defaultAbbreviations: Set<String> = [
        "dr", "mr", "mrs", "ms", "prof", "sr", "jr", "st", "mt", "vs", "etc", "e.g", "i.e", "u.s", "u.k",
        "a.m", "p.m", "approx", "dept", "fig", "inc", "ltd", "co", "jan", "feb", "mar", "apr",
        "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    ]

    public let abbreviations: Set<String>
    private var pending: [Character] = []
    private var scanFrom = 0

    public init(abbreviations: Set<String> = SentenceChunker.defaultAbbreviations) {
        self.abbreviations = abbreviations
    }

    /// Text received but not yet emitted.
    public var remainder: String { String(pending) }

    /// Adds a token; returns the sentences it completed, in order.
    public mutating func append(_ token: String) -> [String] {
        pending.append(contentsOf: token)
        var chunks: [String] = []
        while let end = nextBoundary() {
            if let chunk = Self.trimmed(pending[..<end]) { chunks.append(chunk) }
            pending.removeFirst(end)
            scanFrom = 0
        }
        return chunks
    }

    /// Ends the stream: returns what remains as a last chunk, if it holds anything speakable.
    public mutating func finish() -> String? {
        defer { pending.removeAll(); scanFrom = 0 }
        return Self.trimmed(pending[...])
    }

    /// Drops everything pending (a cancelled call).
    public mutating func reset() {
        pending.removeAll()
        scanFrom = 0
    }

    /// The index just past the next sentence end, or nil when more input is needed to decide.
    private mutating func nextBoundary() -> Int? {
        let n = pending.count
        var i = scanFrom
        while i < n {
            let c = pending[i]
            if Self.fullWidthTerminals.contains(c) {
                var k = i + 1
                while k < n, Self.fullWidthTerminals.contains(pending[k]) || Self.closers.contains(pending[k]) { k += 1 }
                if k == n { scanFrom = i; return nil }  // more terminals or closers may follow
                return k
            }
            guard Self.terminals.contains(c) else { i += 1; continue }
            var j = i
            while j < n, Self.terminals.contains(pending[j]) { j += 1 }
            var k = j
            while k < n, Self.closers.contains(pending[k]) { k += 1 }
            if k == n { scanFrom = i; return nil }
            guard pending[k].isWhitespace else { i = k; continue }  // 3.5, 10.30, a URL, an address
            let run = pending[i..<j]
            if run.count == 1, run.first == ".", isAbbreviation(endingAt: i) || isListMarker(endingAt: i) { i = k; continue }
            if run.contains("…") || run.filter({ $0 == "." }).count >= 2 {
                var m = k
                while m < n, pending[m].isWhitespace { m += 1 }
                if m == n { scanFrom = i; return nil }
                if pending[m].isLowercase { i = m; continue }  // an ellipsis inside a sentence
            }
            return k
        }
        scanFrom = n
        return nil
    }

    /// Whether the word before the period at `index` is a known abbreviation.
    private func isAbbreviation(endingAt index: Int) -> Bool {
        var start = index
        while start > 0, !pending[start - 1].isWhitespace { start -= 1 }
        let word = String(pending[start..<index]).lowercased().drop { Self.openers.contains($0) }
        return abbreviations.contains(String(word))
    }

    /// Whether everything before the period at `index` is a number: "2." starting a list item
    /// is read with its item, not as a sentence of its own.
    private func isListMarker(endingAt index: Int) -> Bool {
        var start = index
        while start > 0, !pending[start - 1].isNewline { start -= 1 }
        let line = pending[start..<index].drop { $0.isWhitespace }
        return !line.isEmpty && line.allSatisfy(\.isNumber)
    }

    private static func trimmed(_ characters: ArraySlice<Character>) -> String? {
        let text = TranscriptBuffer.normalise(String(characters))
        return text.contains(where: { $0.isLetter || $0.isNumber }) ? text : nil
    }

    private static let terminals: Set<Character> = [".", "?", "!", "…"]
    private static let fullWidthTerminals: Set<Character> = ["。", "？", "！", "．"]
    private static let closers: Set<Character> = ["\"", "'", "”", "’", ")", "]", "»", "」", "』"]
    private static let openers: Set<Character> = ["\"", "'", "“", "‘", "(", "[", "«"]
}
