import Foundation
import Testing
import VoiceControl

/// Replays the committed fuzzing corpus of `scripts/fuzz.sh control` (seeds and the crashers found,
/// Tests/Fuzz/control/corpus/) through the same entry points as the libFuzzer target: each input must be
/// read or refused with an error, never crash the process.
@Suite struct FuzzCorpusTests {
    @Test func theControlCorpusIsReadOrRefused() throws {
        let files = fuzzCorpus("control")
        #expect(files.count >= 5)
        for file in files {
            let bytes = Array(try Data(contentsOf: file))
            if case .success(let request) = ControlRequest.parse(bytes) { _ = request.line }
            if case .success(let read) = ControlCommand.parse(bytes) { _ = read.command.request(id: read.id).line }
            if let reply = try? ControlReply.parse(bytes) { _ = reply.line }
        }
    }
}

/// The files of Tests/Fuzz/TARGET/corpus/.
private func fuzzCorpus(_ target: String, file: String = #filePath) -> [URL] {
    let folder = URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent("../Fuzz/\(target)/corpus").standardized
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
    return names.sorted().map { folder.appendingPathComponent($0) }
}
