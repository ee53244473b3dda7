import Foundation
import Testing
import VoiceFakeCloud

/// The script format: the shipped examples parse, and mistakes say where they are.
@Suite struct FakeCloudScriptTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func theDemoScriptParses() throws {
        let data = try Data(contentsOf: Self.root.appendingPathComponent("examples/fakecloud/demo.json"))
        let script = try FakeCloudScript.parse(data)
        #expect(script.stt.utterances.count == script.llm.replies.count)
        #expect(script.faults.isEmpty)
    }

    @Test func everyJSONExampleInTheDocParses() throws {
        let doc = try String(contentsOf: Self.root.appendingPathComponent("docs/fakecloud.md"), encoding: .utf8)
        let blocks = doc.components(separatedBy: "```json\n").dropFirst().compactMap { $0.components(separatedBy: "```").first }
        #expect(blocks.count == 2)
        let scripts = try blocks.map { try FakeCloudScript.parse(Data($0.utf8)) }
        #expect(scripts[0] == FakeCloudScript(), "the documented defaults are the defaults")
        #expect(scripts[1].faults.map(\.kind) == [.status, .closeMidStream])
        #expect(scripts[1].faults.first?.retryAfter == "1")
    }

    @Test func theSpeechServersKeyIsNamedLikeTheOthers() throws {
        let script = try FakeCloudScript.parse(Data(#"{"keys": {"openai_speech": "sk-local", "elevenlabs": "xi"}}"#.utf8))
        #expect(script.keys.openaiSpeech == "sk-local" && script.keys.elevenlabs == "xi")
        #expect(FakeCloudScript.formatDescription.contains("\"openai_speech\": null"))
    }

    @Test func mistakesSayWhere() {
        #expect(throws: FakeCloudScriptError.self) {
            try FakeCloudScript.parse(Data(#"{"faults": [{"service": "llm", "kind": "explode"}]}"#.utf8))
        }
        do {
            _ = try FakeCloudScript.parse(Data(#"{"llm": {"token_interval_ms": "fast"}}"#.utf8))
            Issue.record("accepted a string for a number")
        } catch {
            #expect(error.description.contains("llm.token_interval_ms"))
        }
    }

    @Test func helpDocumentsEveryFaultKind() {
        for kind in FakeCloudScript.Fault.Kind.allCases {
            #expect(FakeCloudScript.formatDescription.contains(kind.rawValue))
        }
    }
}
