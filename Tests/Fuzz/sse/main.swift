// libFuzzer target: the server-sent events parser of the LLM stream, fed the input whole and in
// pieces (the first byte chooses the piece size), with a small event limit to reach its error path.
// Run with scripts/fuzz.sh sse SECONDS; the corpus is replayed by FuzzCorpusTests.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var whole = SSEParser()
    _ = try? whole.feed(bytes)
    var pieces = SSEParser(maxEventBytes: 64)
    let step = Int(bytes.first ?? 0) % 7 + 1
    var start = 0
    while start < bytes.count {
        let end = min(start + step, bytes.count)
        _ = try? pieces.feed(bytes[start..<end])
        start = end
    }
    return 0
}
