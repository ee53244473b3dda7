import Testing
import VoiceTesting
@testable import VoiceCore

/// One row of the chunking table: a stream of text and the chunks it must produce.
struct ChunkingCase: Sendable, CustomTestStringConvertible {
    let input: String
    let expected: [String]

    init(_ input: String, _ expected: [String]) {
        self.input = input
        self.expected = expected
    }

    var testDescription: String { String(reflecting: input) }
}

/// Feeds `tokens` to a fresh chunker and returns every chunk, including the one `finish()` flushes.
fileprivate func chunks(of tokens: some Sequence<String>, chunker: SentenceChunker = SentenceChunker()) -> [String] {
    var chunker = chunker
    var out: [String] = []
    for token in tokens { out += chunker.append(token) }
    if let last = chunker.finish() { out.append(last) }
    return out
}

@Suite struct SentenceChunkerTests {
    static let table: [ChunkingCase] = [
        // Sentence ends and runs of them.
        ChunkingCase("Hello there. How are you?", ["Hello there.", "How are you?"]),
        ChunkingCase("Stop! Now.", ["Stop!", "Now."]),
        ChunkingCase("Really?! Yes.", ["Really?!", "Yes."]),
        ChunkingCase("What?!? No!!! Fine.", ["What?!?", "No!!!", "Fine."]),
        ChunkingCase("It ended… Then it began.", ["It ended…", "Then it began."]),
        ChunkingCase("Hi!", ["Hi!"]),
        // Closing quotes and brackets stay with the sentence they close.
        ChunkingCase(#"He said "hi." Then he left."#, [#"He said "hi.""#, "Then he left."]),
        ChunkingCase("(See the note.) Next one.", ["(See the note.)", "Next one."]),
        ChunkingCase("She asked 'why?' Nobody knew.", ["She asked 'why?'", "Nobody knew."]),
        ChunkingCase("“It works.” Good!", ["“It works.”", "Good!"]),
        ChunkingCase(#"He shouted "Stop!") Then silence."#, [#"He shouted "Stop!")"#, "Then silence."]),
        // Full-width terminals end a sentence with no space after them.
        ChunkingCase("你好。今天天气很好！你呢？", ["你好。", "今天天气很好！", "你呢？"]),
        ChunkingCase("真的？！好的。", ["真的？！", "好的。"]),
        ChunkingCase("「こんにちは。」元気？", ["「こんにちは。」", "元気？"]),
        ChunkingCase("他来了。 我们走吧。", ["他来了。", "我们走吧。"]),
        // Periods inside numbers, times, URLs and addresses do not end a sentence.
        ChunkingCase("Pi is about 3.14 today. Yes.", ["Pi is about 3.14 today.", "Yes."]),
        ChunkingCase("It costs 3.5 euros.", ["It costs 3.5 euros."]),
        ChunkingCase("Meet at 10.30 tomorrow. Bring cake.", ["Meet at 10.30 tomorrow.", "Bring cake."]),
        ChunkingCase("The total is 12. Thanks.", ["The total is 12.", "Thanks."]),
        ChunkingCase("Steps: 1. Mix the flour. 2. Add eggs.", ["Steps: 1.", "Mix the flour.", "2. Add eggs."]),
        ChunkingCase("1. First item\n2. Second item", ["1. First item 2. Second item"]),
        ChunkingCase("Do this.\n1. Open it.\n2. Close it.", ["Do this.", "1. Open it.", "2. Close it."]),
        ChunkingCase("Open https://example.com/a?b=1. Then reload.", ["Open https://example.com/a?b=1.", "Then reload."]),
        ChunkingCase("See https://example.com/docs/v1.2/index.html?x=1!y for more.", ["See https://example.com/docs/v1.2/index.html?x=1!y for more."]),
        ChunkingCase("Write to bob@example.com today. He replies fast.", ["Write to bob@example.com today.", "He replies fast."]),
        ChunkingCase("Mail bob@example.com. Thanks!", ["Mail bob@example.com.", "Thanks!"]),
        // Abbreviations.
        ChunkingCase("Dr. Smith met Mr. Jones. They talked.", ["Dr. Smith met Mr. Jones.", "They talked."]),
        ChunkingCase("Bring fruit, e.g. apples, i.e. something sweet. Thanks.", ["Bring fruit, e.g. apples, i.e. something sweet.", "Thanks."]),
        ChunkingCase("Use e.g., a pen. Or i.e., ink.", ["Use e.g., a pen.", "Or i.e., ink."]),
        ChunkingCase("She moved to the U.S. in 2010. It was cold.", ["She moved to the U.S. in 2010.", "It was cold."]),
        ChunkingCase("Pack pens, paper, etc. and go. Now.", ["Pack pens, paper, etc. and go.", "Now."]),
        ChunkingCase("Ask (Dr. Who) first. MRS. Hudson knows.", ["Ask (Dr. Who) first.", "MRS. Hudson knows."]),
        ChunkingCase("Ask the Dr.", ["Ask the Dr."]),
        // An ellipsis followed by a lower-case word is inside the sentence.
        ChunkingCase("Well... maybe not.", ["Well... maybe not."]),
        ChunkingCase("Wait... Okay.", ["Wait...", "Okay."]),
        ChunkingCase("Hmm… let me think. Done.", ["Hmm… let me think.", "Done."]),
        ChunkingCase("So..\n\nyes. No.", ["So.. yes.", "No."]),
        ChunkingCase("And then...", ["And then..."]),
        // White space is collapsed and trimmed.
        ChunkingCase("  Hello   there.\n\nHow\tare  you?  ", ["Hello there.", "How are you?"]),
        ChunkingCase("Line one.\r\nLine two.", ["Line one.", "Line two."]),
        // What is left at the end of the stream is flushed.
        ChunkingCase("Sure, here is the plan and it has no final punctuation", ["Sure, here is the plan and it has no final punctuation"]),
        ChunkingCase("Hello. And then", ["Hello.", "And then"]),
        // Chunks with nothing speakable are dropped.
        ChunkingCase("Hello. ... ! Next.", ["Hello.", "Next."]),
        ChunkingCase("...", []),
        ChunkingCase("?! …", []),
        ChunkingCase("   ", []),
        ChunkingCase("", []),
    ]

    // MARK: The table, fed whole and split every way

    @Test(arguments: table)
    func wholeInputProducesTheExpectedChunks(_ row: ChunkingCase) {
        #expect(chunks(of: [row.input]) == row.expected)
    }

    @Test(arguments: table)
    func splittingIntoTwoTokensAtAnyCharacterGivesTheSameChunks(_ row: ChunkingCase) {
        let characters = Array(row.input)
        for cut in 0...characters.count {
            let tokens = [String(characters[..<cut]), String(characters[cut...])]
            #expect(chunks(of: tokens) == row.expected, "split at character \(cut): \(tokens)")
        }
    }

    @Test(arguments: table)
    func singleCharacterTokensGiveTheSameChunks(_ row: ChunkingCase) {
        #expect(chunks(of: row.input.map { String($0) }) == row.expected)
    }

    /// Tokens come from byte-pair decoding, so they may even cut a grapheme such as "\r\n".
    @Test(arguments: table)
    func splittingBetweenUnicodeScalarsGivesTheSameChunks(_ row: ChunkingCase) {
        let scalars = Array(row.input.unicodeScalars)
        func text(_ slice: ArraySlice<Unicode.Scalar>) -> String {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: slice)
            return String(view)
        }
        for cut in 0...scalars.count {
            let tokens = [text(scalars[..<cut]), text(scalars[cut...])]
            #expect(chunks(of: tokens) == row.expected, "split at scalar \(cut)")
        }
        #expect(chunks(of: scalars.map { String($0) }) == row.expected)
    }

    @Test(arguments: table)
    func noSpeakableTextIsLostOrDuplicated(_ row: ChunkingCase) {
        // Whatever the boundaries, no speakable text is lost or duplicated.
        let joined = chunks(of: row.input.map { String($0) }).joined(separator: " ")
        let speakable = TranscriptBuffer.normalise(row.input)
        #expect(joined.filter { $0.isLetter || $0.isNumber } == speakable.filter { $0.isLetter || $0.isNumber })
    }

    /// Random texts built from the characters that matter, cut into random tokens: the chunks never
    /// depend on where the cuts fall.
    @Test func randomTokenCutsNeverChangeTheChunks() {
        let pieces = [
            "a", "Word", "ok", " ", "  ", "\n", ".", "..", "?", "!", "…", "\"", "'", ")", "(", "3", "10",
            "Dr", "e.g", "U.S", "。", "？", "！", "」", "你", "@", "/", ":", "\r\n",
        ]
        var rng = SplitMix64(seed: 0x5EED)
        for _ in 0..<400 {
            let text = (0..<Int.random(in: 1...40, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined()
            let whole = chunks(of: [text])
            let scalars = Array(text.unicodeScalars)
            var tokens: [String] = []
            var index = 0
            while index < scalars.count {
                let length = Int.random(in: 1...6, using: &rng)
                var view = String.UnicodeScalarView()
                view.append(contentsOf: scalars[index..<min(index + length, scalars.count)])
                tokens.append(String(view))
                index += length
            }
            #expect(chunks(of: tokens) == whole, "text \(String(reflecting: text)) cut as \(tokens)")
        }
    }

    // MARK: When a chunk is emitted

    @Test func aSentenceIsEmittedAsSoonAsTheWhiteSpaceAfterItArrives() {
        var chunker = SentenceChunker()
        #expect(chunker.append("Hello") == [])
        #expect(chunker.append(".") == [])          // could still be 3.5 or a URL
        #expect(chunker.remainder == "Hello.")
        #expect(chunker.append(" ") == ["Hello."])  // the space decides
        #expect(chunker.remainder == " ")
        #expect(chunker.append("World") == [])
        #expect(chunker.finish() == "World")
        #expect(chunker.remainder == "")
    }

    @Test func aTokenCanCompleteSeveralSentencesAtOnce() {
        var chunker = SentenceChunker()
        #expect(chunker.append("One. Two! Three? Fo") == ["One.", "Two!", "Three?"])
        #expect(chunker.remainder == " Fo")
        #expect(chunker.append("ur.") == [])
        #expect(chunker.finish() == "Four.")
    }

    @Test func aPeriodFollowedByADigitIsDecidedWithoutEmitting() {
        var chunker = SentenceChunker()
        #expect(chunker.append("It is 3.") == [])
        #expect(chunker.append("5") == [])
        #expect(chunker.append(" degrees.") == [])
        #expect(chunker.append(" ") == ["It is 3.5 degrees."])
    }

    @Test func closingQuotesAndMoreTerminalsAreWaitedFor() {
        var chunker = SentenceChunker()
        #expect(chunker.append(#"He said "hi."#) == [])
        #expect(chunker.append(#"""#) == [])
        #expect(chunker.append(" ") == [#"He said "hi.""#])
        #expect(chunker.append("Why?") == [])
        #expect(chunker.append("!") == [])
        #expect(chunker.append("\n") == ["Why?!"])
    }

    @Test func anAbbreviationIsDecidedAtTheSpaceAndEmitsNothing() {
        var chunker = SentenceChunker()
        #expect(chunker.append("Dr.") == [])
        #expect(chunker.append(" ") == [])
        #expect(chunker.append("Smith.") == [])
        #expect(chunker.append(" ") == ["Dr. Smith."])
    }

    @Test func anEllipsisWaitsForTheNextWordToDecide() {
        var chunker = SentenceChunker()
        #expect(chunker.append("Wait...") == [])
        #expect(chunker.append("   ") == [])        // white space alone does not decide
        #expect(chunker.append("O") == ["Wait..."])  // an upper-case word starts a new sentence
        #expect(chunker.append("kay") == [])

        var inside = SentenceChunker()
        #expect(inside.append("Well... ") == [])
        #expect(inside.append("m") == [])           // a lower-case word continues the sentence
        #expect(inside.append("aybe not. ") == ["Well... maybe not."])
    }

    @Test func aFullWidthTerminalIsEmittedWhenTheNextCharacterArrives() {
        var chunker = SentenceChunker()
        #expect(chunker.append("你好。") == [])       // a closer or another terminal may follow
        #expect(chunker.append("」") == [])
        #expect(chunker.append("世") == ["你好。」"])
        #expect(chunker.append("界！") == [])
        #expect(chunker.finish() == "世界！")
    }

    // MARK: Finish and reset

    @Test func finishFlushesLlmOutputWithNoSentenceEndAsOneChunk() {
        var chunker = SentenceChunker()
        let words = "Here is a list of things you could try out this weekend".split(separator: " ")
        for word in words { #expect(chunker.append(word + " ") == []) }
        #expect(chunker.finish() == "Here is a list of things you could try out this weekend")
        #expect(chunker.finish() == nil)  // nothing left the second time
    }

    @Test func finishDropsARemainderWithNothingSpeakable() {
        var chunker = SentenceChunker()
        #expect(chunker.append("Done. ") == ["Done."])
        #expect(chunker.append(" ...!") == [])
        #expect(chunker.finish() == nil)
    }

    @Test func resetDropsPendingTextAndTheScanPosition() {
        var chunker = SentenceChunker()
        #expect(chunker.append("A half sentence that was cancelled") == [])
        chunker.reset()
        #expect(chunker.remainder == "")
        // A stale scan position would skip past the period of the new, shorter text.
        #expect(chunker.append("Hi. ") == ["Hi."])
        #expect(chunker.append("Wait...") == [])
        chunker.reset()
        #expect(chunker.append("okay. ") == ["okay."])
        #expect(chunker.finish() == nil)
    }

    @Test func theChunkerIsReusableAfterFinish() {
        var chunker = SentenceChunker()
        #expect(chunker.append("First turn") == [])
        #expect(chunker.finish() == "First turn")
        #expect(chunker.append("Second. ") == ["Second."])
    }

    @Test func abbreviationsAreConfigurable() {
        let custom = SentenceChunker(abbreviations: ["approx", "no"])
        #expect(chunks(of: ["See no. 5 here. Dr. Who."], chunker: custom) == ["See no. 5 here.", "Dr.", "Who."])
        #expect(chunks(of: ["See no. 5 here."]) == ["See no.", "5 here."])
    }
}
