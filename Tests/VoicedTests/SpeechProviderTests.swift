import Foundation
import Testing
import VoiceCore
import VoiceFakeCloud

/// The `[tts] provider` key through the real daemon: the registry picks the implementation.
@Suite(.serialized) struct SpeechProviderTests {
    /// `provider = "openai"`: the daemon speaks through the fake's `/v1/audio/speech` (24 kHz PCM),
    /// with its own key and the provider's default model.
    @Test func theOpenAISpeechProviderSpeaksThroughTheDaemon() throws {
        var script = FakeCloudScript.instant
        script.keys.openaiSpeech = "sk-speech-e2e"
        let cloud = FakeCloud(script: script)
        let d = try DaemonHarness(environment: ["OPENAI_SPEECH_API_KEY": "sk-speech-e2e"], cloud: cloud) { port in
            """
            provider = "openai"
            base_url = "http://127.0.0.1:\(port)/v1"
            voice_id = "nova"
            """
        }
        let before = d.played.count
        #expect(try d.voicectl(["say", "Hello from the speech server."]).status == 0)
        #expect(eventually(seconds: 20) { d.played.count > before + 8_000 }, "the sentence was played: \(d.log)")
        let request = try #require(cloud.records(.tts).first)
        #expect(request.path == "/v1/audio/speech")
        #expect(request.headers["authorization"] == "Bearer sk-speech-e2e")
        #expect(request.body.contains("\"voice\":\"nova\"") && request.body.contains("\"model\":\"gpt-4o-mini-tts\"")
                && request.body.contains("\"response_format\":\"pcm\""), "\(request.body)")
        #expect(!d.played.dropFirst(before).allSatisfy { $0 == 0 }, "speech, not silence")
    }

    @Test func anUnknownProviderIsAConfigurationErrorListingTheKnownOnes() throws {
        let path = try VoicedBinary.temporaryFile("[tts]\nprovider = \"acme\"\n", suffix: ".toml")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let out = try VoicedBinary.run(["--check-config", path])
        #expect(out.status == 78)
        #expect(out.stderr.contains("\(path): tts.provider: unknown provider 'acme': use one of \"elevenlabs\", \"openai\""),
                "got: \(out.stderr)")
        let run = try VoicedBinary.run(["run", "--config", path])
        #expect(run.status == 78, "the daemon refuses it too, before opening anything")
    }
}
