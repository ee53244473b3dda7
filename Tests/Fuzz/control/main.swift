// libFuzzer target: the control socket's codec, both ways (a request line as the daemon reads it,
// envelope and typed command, and a reply line as voicectl reads it).
// Run with scripts/fuzz.sh control SECONDS; the corpus is replayed by FuzzCorpusTests.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if case .success(let request) = ControlRequest.parse(bytes) { _ = request.line }
    if case .success(let read) = ControlCommand.parse(bytes) { _ = read.command.request(id: read.id).line }
    if let reply = try? ControlReply.parse(bytes) { _ = reply.line }
    return 0
}
