import Foundation
import Testing
import VoiceProviders

/// Keys: where they come from, and that they never print.
@Suite struct CredentialsTests {
    func directory(_ files: [String: String]) throws -> String {
        let path = NSTemporaryDirectory() + "voiced-credentials-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        for (name, content) in files { try content.write(toFile: path + "/" + name, atomically: true, encoding: .utf8) }
        return path
    }

    @Test func theCredentialsFileWinsOverTheEnvironment() throws {
        let dir = try directory(["openai_api_key": "sk-from-file\n"])
        let source = CredentialSource(environment: ["CREDENTIALS_DIRECTORY": dir, "OPENAI_API_KEY": "sk-from-env"])
        #expect(try source.load(.openAI)?.reveal() == "sk-from-file")
    }

    @Test func underSystemdKeysComeOnlyFromCredentials() throws {
        let dir = try directory([:])
        #expect(try CredentialSource(environment: ["CREDENTIALS_DIRECTORY": dir, "OPENAI_API_KEY": " sk-env "]).load(.openAI) == nil,
                "with $CREDENTIALS_DIRECTORY set, the environment is not read")
    }

    @Test func theEnvironmentServesDevelopmentRunsWithoutSystemd() throws {
        #expect(try CredentialSource(environment: ["OPENAI_API_KEY": " sk-env "]).load(.openAI)?.reveal() == "sk-env")
        #expect(try CredentialSource(environment: ["ELEVENLABS_API_KEY": "xi"]).load(.elevenLabs)?.reveal() == "xi")
        #expect(try CredentialSource(environment: [:]).load(.deepgram) == nil)
        #expect(try CredentialSource(environment: ["DEEPGRAM_API_KEY": "  \n"]).load(.deepgram) == nil, "blank is no key")
    }

    @Test func anUnreadableFileIsAnErrorThatSaysWhere() throws {
        let dir = try directory([:])
        try FileManager.default.createDirectory(atPath: dir + "/openai_api_key", withIntermediateDirectories: true)
        #expect(throws: CredentialError.self) { try CredentialSource(environment: ["CREDENTIALS_DIRECTORY": dir]).load(.openAI) }
    }

    @Test func namesMustBePlainFileNames() {
        #expect(throws: CredentialError.invalidName("../etc/passwd")) {
            try CredentialSource(environment: [:]).load("../etc/passwd", environmentVariable: "X")
        }
    }

    @Test func aSecretNeverPrintsItself() throws {
        let secret = try #require(Secret("sk-very-secret-value"))
        var dumped = ""
        dump(secret, to: &dumped)
        let shown = ["\(secret)", String(describing: secret), String(reflecting: secret), dumped, "\([secret])",
                     "\(Optional(secret) as Any)", "\(Mirror(reflecting: secret).children.map { "\($0.value)" })"]
        for text in shown { #expect(!text.contains("sk-very"), "leaked in: \(text)") }
        #expect(secret.reveal() == "sk-very-secret-value")
        #expect(secret.redact("Incorrect API key provided: sk-very-secret-value.") == "Incorrect API key provided: <redacted>.")
    }
}
