import Foundation
import Testing
import VoiceTesting

/// Replays the committed fuzzing corpus of `scripts/fuzz.sh scenario` (seeds and the crashers found,
/// Tests/Fuzz/scenario/corpus/) through the same entry points as the libFuzzer target: each input must be
/// read or refused with an error, never crash the process.
@Suite struct FuzzCorpusTests {
    @Test func theScenarioCorpusIsReadOrRefused() throws {
        let files = fuzzCorpus("scenario")
        #expect(files.count >= 5)
        for file in files {
            _ = try? Scenario.parse(try Data(contentsOf: file))
        }
    }
}

/// The files of Tests/Fuzz/TARGET/corpus/.
private func fuzzCorpus(_ target: String, file: String = #filePath) -> [URL] {
    let folder = URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent("../Fuzz/\(target)/corpus").standardized
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
    return names.sorted().map { folder.appendingPathComponent($0) }
}
