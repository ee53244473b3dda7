import Foundation
import Testing

/// Runs the `voiced` binary built next to this test bundle.
struct VoicedBinary {
    static let url = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("voiced")
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ arguments: [String]) throws -> Output {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        process.currentDirectoryURL = repository
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Output(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }

    static func temporaryFile(_ text: String, suffix: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("voiced-test-\(UUID().uuidString)\(suffix)").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

@Suite struct CommandLineTests {
    @Test func versionNamesTheLinkedLibraries() throws {
        let out = try VoicedBinary.run(["--version"])
        #expect(out.status == 0)
        #expect(out.stdout.contains("alsa ") && out.stdout.contains("libgpiod 1.") && out.stdout.contains("libcurl/"))
    }

    @Test func checkConfigAcceptsTheShippedFile() throws {
        let out = try VoicedBinary.run(["--check-config", "config/voiced.toml"])
        #expect(out.status == 0)
        #expect(out.stdout.contains("OK"))
    }

    @Test func aBadConfigurationExitsWith78AndNamesTheKeyAndLine() throws {
        let path = try VoicedBinary.temporaryFile("[turn]\n# a comment\ndebounce_ms = 3000\n", suffix: ".toml")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let out = try VoicedBinary.run(["--check-config", path])
        #expect(out.status == 78)
        #expect(out.stderr.contains("\(path):3: turn.debounce_ms: 3000 is out of range 400…1200"))
    }

    /// 50,000 nested lists made `--check-config` die of a stack overflow (exit 139), not exit 78.
    @Test func aDeeplyNestedConfigurationExitsWith78() throws {
        let path = try VoicedBinary.temporaryFile("[turn]\ncorrection_markers = " + String(repeating: "[", count: 50_000) + "\n", suffix: ".toml")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let out = try VoicedBinary.run(["--check-config", path])
        #expect(out.status == 78)
        #expect(out.stderr.contains("\(path):2: turn.correction_markers: lists are nested more than 32 deep"), "got: \(out.stderr)")
    }

    @Test func aConfigurationThatIsNotUTF8ExitsWith78AndNamesTheKeyAndLine() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("voiced-test-\(UUID().uuidString).toml").path
        let bytes = Array("[turn]\nsystem_prompt = \"Sie sind ein freundlicher Assistent f".utf8) + [0xFC] + Array("r Zuhause\"\n".utf8)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let out = try VoicedBinary.run(["--check-config", path])
        #expect(out.status == 78)
        #expect(out.stderr.contains("\(path):2: turn.system_prompt: the file is not UTF-8 text: byte 0xFC"), "got: \(out.stderr)")
    }

    @Test func anInvalidNumberExitsWith78() throws {
        let path = try VoicedBinary.temporaryFile("[turn]\ndebounce_ms = _500\n", suffix: ".toml")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let out = try VoicedBinary.run(["--check-config", path])
        #expect(out.status == 78)
        #expect(out.stderr.contains("\(path):2: turn.debounce_ms: '_500' is not a valid number"), "got: \(out.stderr)")
    }

    @Test func aMissingConfigurationExitsWith78() throws {
        let out = try VoicedBinary.run(["--check-config", "/nonexistent/voiced.toml"])
        #expect(out.status == 78)
        #expect(out.stderr.contains("cannot read the configuration file"))
    }

    @Test func simulatePrintsTheTimelineOfAnExample() throws {
        let out = try VoicedBinary.run(["simulate", "examples/scenarios/happy-path.json"])
        #expect(out.status == 0)
        #expect(out.stdout.contains("LISTENING → SPECULATIVE  (debounce_elapsed)"))
        #expect(out.stdout.contains("invariants: no audio before COMMITTED"))
    }

    @Test func simulateJSONIsOneDocument() throws {
        let out = try VoicedBinary.run(["simulate", "examples/scenarios/barge-in.json", "--json"])
        #expect(out.status == 0)
        let document = try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any]
        let turns = document?["turns"] as? [[String: Any]]
        #expect(turns?.first?["status"] as? String == "interrupted")
    }

    @Test func aScenarioWithATrailingCommaExitsWith64AndNamesLineAndColumn() throws {
        let path = try VoicedBinary.temporaryFile("{\n  \"events\": [\n    {\"at_ms\": 0, \"type\": \"button\"},\n  ]\n}\n", suffix: ".json")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let out = try VoicedBinary.run(["simulate", path])
        #expect(out.status == 64)
        #expect(out.stderr.contains("not valid JSON: line 4, column 3: a trailing comma before ']'"), "got: \(out.stderr)")
    }

    @Test func aBadScenarioExitsWith64AndSaysWhy() throws {
        let path = try VoicedBinary.temporaryFile(#"{"events": [{"at_ms": 0, "type": "shout"}]}"#, suffix: ".json")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let out = try VoicedBinary.run(["simulate", path])
        #expect(out.status == 64)
        #expect(out.stderr.contains("events[0].type: unknown event type 'shout'"))
    }
}
