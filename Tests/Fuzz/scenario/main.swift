// libFuzzer target: the `voiced simulate` scenario reader (strict JSON, then the scenario format).
// Only the reader: running a scenario is the turn controller's business, not a parser's.
// Run with scripts/fuzz.sh scenario SECONDS; the corpus is replayed by FuzzCorpusTests.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = try? Scenario.parse(UnsafeBufferPointer(start: data, count: size))
    return 0
}
