import Foundation
import Testing
import VoiceProviders

/// Replays the committed fuzzing corpus of `scripts/fuzz.sh sse` and `scripts/fuzz.sh deepgram` (seeds and the crashers found,
/// Tests/Fuzz/sse/corpus/, Tests/Fuzz/deepgram/corpus/) through the same entry points as the libFuzzer target: each input must be
/// read or refused with an error, never crash the process.
@Suite struct FuzzCorpusTests {
    @Test func theSSECorpusIsReadOrRefused() throws {
        let files = fuzzCorpus("sse")
        #expect(files.count >= 2)
        for file in files {
            let bytes = Array(try Data(contentsOf: file))
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
        }
    }

    @Test func theDeepgramCorpusIsReadOrRefused() throws {
        let files = fuzzCorpus("deepgram")
        #expect(files.count >= 5)
        for file in files {
            let text = String(decoding: try Data(contentsOf: file), as: UTF8.self)
            _ = try? DeepgramMessageParser.speechEvents(for: text)
            _ = try? DeepgramMessageParser.parse(text, maxBytes: 256)
        }
    }
}

/// The files of Tests/Fuzz/TARGET/corpus/.
private func fuzzCorpus(_ target: String, file: String = #filePath) -> [URL] {
    let folder = URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent("../Fuzz/\(target)/corpus").standardized
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
    return names.sorted().map { folder.appendingPathComponent($0) }
}
