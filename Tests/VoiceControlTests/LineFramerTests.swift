import Testing
@testable import VoiceControl

/// Splitting the control socket's byte stream into lines, with a bound on what is held.
@Suite struct LineFramerTests {
    @Test func linesArriveWholeWhateverTheChunks() {
        var framer = LineFramer(limit: 100)
        framer.append(Array("ab".utf8))
        #expect(framer.next() == nil)
        framer.append(Array("c\nde\n\nf".utf8))
        #expect(framer.next() == .line(Array("abc".utf8)))
        #expect(framer.next() == .line(Array("de".utf8)))
        #expect(framer.next() == .line([]))
        #expect(framer.next() == nil)
        #expect(framer.hasPartialLine)
    }

    @Test func anOverlongLineIsDroppedAsItArrivesAndReportedAtItsEnd() {
        var framer = LineFramer(limit: 10)
        for _ in 0..<1000 {
            framer.append([UInt8](repeating: 120, count: 64))
            #expect(framer.next() == nil)
            #expect(framer.pendingBytes <= 10 + 64)
        }
        framer.append(Array("x\nok\n".utf8))
        #expect(framer.next() == .tooLong)
        #expect(framer.next() == .line(Array("ok".utf8)))
        #expect(!framer.hasPartialLine)
    }
}
