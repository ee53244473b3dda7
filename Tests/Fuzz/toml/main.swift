// libFuzzer target: the TOML reader of /etc/voiced/voiced.toml and of the saved live settings
// (settings.toml in the state directory), and the configuration schema over it.
// Run with scripts/fuzz.sh toml SECONDS; the corpus is replayed by FuzzCorpusTests.
import VoiceCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = try? TOMLParser.parse(bytes: bytes)               // the settings store reads entries only
    _ = try? VoicedConfig.parse(bytes: bytes, file: "fuzz")  // the daemon, SIGHUP and --check-config
    return 0
}
