// libFuzzer target: the Deepgram live message parser (one WebSocket text frame in, speech events out).
// Run with scripts/fuzz.sh deepgram SECONDS; the corpus is replayed by FuzzCorpusTests.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = try? DeepgramMessageParser.speechEvents(for: text)
    _ = try? DeepgramMessageParser.parse(text, maxBytes: 256)
    return 0
}
