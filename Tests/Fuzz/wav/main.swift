// libFuzzer target: the WAV reader (capture files, the demo's speech), strict and lenient, and the
// conversion to 16 kHz mono that follows every read.
// Run with scripts/fuzz.sh wav SECONDS; the corpus is replayed by FuzzCorpusTests.
import VoiceCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    for lenient in [false, true] {
        if let audio = try? WAV.parse(bytes, options: WAV.ReadOptions(acceptTruncatedData: lenient)) {
            _ = audio.mono()
        }
    }
    return 0
}
