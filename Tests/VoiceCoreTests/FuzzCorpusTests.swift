import Foundation
import Testing
import VoiceCore

/// Replays the committed fuzzing corpus of `scripts/fuzz.sh toml` and `scripts/fuzz.sh wav` (seeds and the crashers found,
/// Tests/Fuzz/toml/corpus/, Tests/Fuzz/wav/corpus/) through the same entry points as the libFuzzer target: each input must be
/// read or refused with an error, never crash the process.
@Suite struct FuzzCorpusTests {
    @Test func theTOMLCorpusIsReadOrRefused() throws {
        let files = fuzzCorpus("toml")
        #expect(files.count >= 5)
        for file in files {
            let bytes = Array(try Data(contentsOf: file))
            _ = try? TOMLParser.parse(bytes: bytes)
            _ = try? VoicedConfig.parse(bytes: bytes, file: file.lastPathComponent)
        }
    }

    @Test func theWAVCorpusIsReadOrRefused() throws {
        let files = fuzzCorpus("wav")
        #expect(files.count >= 5)
        for file in files {
            let bytes = Array(try Data(contentsOf: file))
            for lenient in [false, true] {
                if let audio = try? WAV.parse(bytes, options: WAV.ReadOptions(acceptTruncatedData: lenient)) { _ = audio.mono() }
            }
        }
    }
}

/// The files of Tests/Fuzz/TARGET/corpus/.
private func fuzzCorpus(_ target: String, file: String = #filePath) -> [URL] {
    let folder = URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent("../Fuzz/\(target)/corpus").standardized
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
    return names.sorted().map { folder.appendingPathComponent($0) }
}
