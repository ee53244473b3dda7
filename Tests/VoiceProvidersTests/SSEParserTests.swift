import Testing
import VoiceProviders

/// The SSE parser: the WHATWG rules, and the same events however the stream is split.
@Suite struct SSEParserTests {
    /// A stream with every feature: comments, CRLF and CR line ends, multi-line data, fields
    /// without a space or without a colon, event and id fields, a BOM, UTF-8 and [DONE].
    static let stream: [UInt8] = [0xEF, 0xBB, 0xBF] + Array((
        ": a comment first\r\n"
        + "data: {\"choices\":[{\"delta\":{\"content\":\"Grüße \"}}]}\r\n\r\n"
        + "event: update\nid: 7\ndata:first line\ndata: second line\n\n"
        + "data\n\n"
        + "retry: 1000\r"
        + "data: 🎉 party\r\r"
        + ":keep-alive\n\n"
        + "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3}}\n\n"
        + "data: [DONE]\n\n"
        + "data: never finished"
    ).utf8)

    static let expected = [
        SSEEvent(data: "{\"choices\":[{\"delta\":{\"content\":\"Grüße \"}}]}"),
        SSEEvent(event: "update", data: "first line\nsecond line", id: "7"),
        SSEEvent(data: "", id: "7"),
        SSEEvent(data: "🎉 party", id: "7"),
        SSEEvent(data: "{\"choices\":[],\"usage\":{\"prompt_tokens\":3}}", id: "7"),
        SSEEvent(data: "[DONE]", id: "7"),
    ]

    func parse(_ pieces: [ArraySlice<UInt8>]) throws -> [SSEEvent] {
        var parser = SSEParser()
        var events: [SSEEvent] = []
        for piece in pieces { events += try parser.feed(piece) }
        return events
    }

    @Test func parsesEveryFeature() throws {
        #expect(try parse([Self.stream[...]]) == Self.expected)
    }

    @Test func sameEventsWhereverTheStreamIsSplit() throws {
        let bytes = Self.stream
        for split in 0...bytes.count {
            #expect(try parse([bytes[..<split], bytes[split...]]) == Self.expected, "split at byte \(split)")
        }
    }

    @Test func sameEventsWhenSplitTwice() throws {
        let bytes = Self.stream
        for first in stride(from: 0, through: bytes.count, by: 3) {
            for second in stride(from: first, through: bytes.count, by: 5) {
                #expect(try parse([bytes[..<first], bytes[first..<second], bytes[second...]]) == Self.expected)
            }
        }
    }

    @Test func sameEventsByteByByte() throws {
        #expect(try parse(Self.stream.indices.map { Self.stream[$0...$0] }) == Self.expected)
    }

    @Test func crlfSplitBetweenCRAndLFIsOneLineEnd() throws {
        var parser = SSEParser()
        #expect(try parser.feed(Array("data: a\r".utf8)).isEmpty)
        #expect(try parser.feed(Array("\n\r".utf8)) == [SSEEvent(data: "a")], "CR LF ends the line, then CR the event")
        #expect(try parser.feed(Array("\ndata: b\n\n".utf8)) == [SSEEvent(data: "b")], "the LF after that CR is not another line")
    }

    @Test func anOversizedEventIsRefusedAndTheParserRecovers() throws {
        var parser = SSEParser(maxEventBytes: 64)
        #expect(throws: SSEError.eventTooLarge(limit: 64)) {
            try parser.feed(Array(("data: " + String(repeating: "x", count: 100)).utf8))
        }
        _ = try? parser.feed(Array("\n\n".utf8))
        #expect(try parser.feed(Array("data: ok\n\n".utf8)) == [SSEEvent(data: "ok")])
    }

    @Test func manyDataLinesCountTowardsTheLimit() {
        var parser = SSEParser(maxEventBytes: 100)
        #expect(throws: SSEError.self) {
            try parser.feed(Array(String(repeating: "data: 0123456789\n", count: 20).utf8))
        }
    }
}
