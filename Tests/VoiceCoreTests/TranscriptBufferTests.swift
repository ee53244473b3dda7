import Testing
@testable import VoiceCore

@Suite struct TranscriptBufferTests {
    func segment(_ text: String, _ start: Double, _ end: Double, _ confidence: Double) -> TranscriptSegment {
        TranscriptSegment(text: text, start: start, end: end, confidence: confidence)
    }

    @Test func finalsJoinWithSingleSpacesAndNoStraySpaces() throws {
        var buffer = TranscriptBuffer()
        try buffer.appendFinal(segment("  What is ", 0, 1, 0.9))
        try buffer.appendFinal(segment("", 1, 1, 0.9))
        try buffer.appendFinal(segment("the\tweather\n today? ", 1, 2, 0.8))
        #expect(buffer.text == "What is the weather today?")
    }

    @Test func partialIsForDisplayAndAFinalSupersedesIt() throws {
        var buffer = TranscriptBuffer()
        try buffer.setPartial("what is")
        #expect(buffer.partial == "what is")
        #expect(buffer.text == "")
        #expect(buffer.textIncludingPartial == "what is")
        try buffer.appendFinal(segment("What is the time?", 0, 1.5, 0.9))
        #expect(buffer.partial == "")
        try buffer.setPartial("and the")
        #expect(buffer.textIncludingPartial == "What is the time? and the")
    }

    @Test func confidenceIsWeightedByDuration() throws {
        var buffer = TranscriptBuffer()
        #expect(buffer.confidence == nil)
        try buffer.appendFinal(segment("a", 0, 3, 0.9))   // 3 s
        try buffer.appendFinal(segment("b", 3, 4, 0.5))   // 1 s
        #expect(abs(buffer.confidence! - 0.8) < 1e-9)
    }

    @Test func confidenceIsThePlainMeanWhenDurationsAreZero() throws {
        var buffer = TranscriptBuffer()
        try buffer.appendFinal(segment("a", 1, 1, 0.9))
        try buffer.appendFinal(segment("b", 1, 1, 0.5))
        #expect(abs(buffer.confidence! - 0.7) < 1e-9)
    }

    @Test func lockRefusesEveryMutationUntilUnlocked() throws {
        var buffer = TranscriptBuffer()
        try buffer.appendFinal(segment("Book a table", 0, 1, 0.9))
        buffer.lock()
        #expect(throws: TranscriptLockedError(operation: "appendFinal")) {
            try buffer.appendFinal(segment("for Tuesday", 1, 2, 0.9))
        }
        #expect(throws: TranscriptLockedError(operation: "setPartial")) { try buffer.setPartial("for") }
        #expect(throws: TranscriptLockedError(operation: "clear")) { try buffer.clear() }
        #expect(buffer.text == "Book a table")
        buffer.unlock()
        try buffer.appendFinal(segment("for Tuesday", 1, 2, 0.9))
        #expect(buffer.text == "Book a table for Tuesday")
    }

    @Test func clearEmptiesFinalsAndPartial() throws {
        var buffer = TranscriptBuffer()
        try buffer.appendFinal(segment("hello", 0, 1, 0.9))
        try buffer.setPartial("there")
        try buffer.clear()
        #expect(buffer.isEmpty && buffer.partial.isEmpty && buffer.segments.isEmpty)
    }

    @Test func lockedErrorSaysWhatToDo() {
        #expect(TranscriptLockedError(operation: "clear").description.contains("locked"))
    }
}
