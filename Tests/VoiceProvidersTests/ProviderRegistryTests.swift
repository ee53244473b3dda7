import Logging
import Testing
import VoiceCore
@testable import VoiceProviders

/// The one registry behind the `[stt]`, `[llm]` and `[tts]` `provider` keys.
@Suite struct ProviderRegistryTests {
    func context(_ edit: (inout VoicedConfig) -> Void = { _ in }, environment: [String: String] = ["DEEPGRAM_API_KEY": "dg-key"])
        -> ProviderContext {
        var config = VoicedConfig()
        edit(&config)
        return ProviderContext(config: config, credentials: CredentialSource(environment: environment), logger: Logger(label: "test"))
    }

    @Test func theDefaultsNameKnownProviders() throws {
        try ProviderRegistry.checkNames(VoicedConfig())
        try ProviderRegistry.check(context())
        #expect(try ProviderRegistry.textToSpeech(context()) is ElevenLabsTTS)
        #expect(try ProviderRegistry.languageModel(context()) is OpenAIChat)
    }

    @Test func namesAreUniqueWithinAKind() {
        for names in [ProviderRegistry.speechToText.map(\.name), ProviderRegistry.languageModels.map(\.name),
                      ProviderRegistry.textToSpeech.map(\.name)] {
            #expect(Set(names).count == names.count, "\(names)")
        }
    }

    @Test func anUnknownNameListsTheKnownOnes() {
        #expect(throws: ProviderRegistryError(key: "tts.provider", message: "unknown provider 'acme': use one of \"elevenlabs\", \"openai\"")) {
            try ProviderRegistry.checkNames(context { $0.tts.provider = "acme" }.config)
        }
        #expect(throws: ProviderRegistryError(key: "llm.provider", message: "unknown provider 'claude': use one of \"openai\"")) {
            try ProviderRegistry.languageModel(context { $0.llm.provider = "claude" })
        }
        #expect(throws: ProviderRegistryError(key: "stt.provider", message: "unknown provider 'whisper': use one of \"deepgram\"")) {
            try ProviderRegistry.check(context { $0.stt.provider = "whisper" })
        }
    }

    @Test func aMissingDeepgramKeySaysWhereItGoes() {
        #expect(throws: ProviderRegistryError(key: nil, message: "no Deepgram API key: set the systemd credential deepgram_api_key or DEEPGRAM_API_KEY")) {
            try ProviderRegistry.check(context(environment: [:]))
        }
    }

    @Test func openAISpeechTakesItsOwnDefaultsAndKey() throws {
        let tts = try #require(try ProviderRegistry.textToSpeech(context { $0.tts.provider = "openai" }) as? OpenAISpeechTTS)
        #expect(tts.settings == .init(model: "gpt-4o-mini-tts", voice: "alloy", speed: nil))
        let tuned = try #require(try ProviderRegistry.textToSpeech(context {
            $0.tts.provider = "openai"
            $0.tts.baseURL = "http://127.0.0.1:8880/v1"
            $0.tts.voiceID = "af_heart"
            $0.tts.modelID = "kokoro"
            $0.tts.speed = 1.5
        }) as? OpenAISpeechTTS)
        #expect(tuned.settings == .init(model: "kokoro", voice: "af_heart", speed: 1.5))
    }

    @Test func elevenLabsTakesItsDefaultsForEmptyKeys() throws {
        let tts = try #require(try ProviderRegistry.textToSpeech(context()) as? ElevenLabsTTS)
        #expect(tts.settings == .init(voiceID: "21m00Tcm4TlvDq8ikWAM", modelID: "eleven_flash_v2_5"))
    }

    /// Live settings reach whichever provider runs; `tts.speed` is not live and stays as it started.
    @Test func liveKeysApplyThroughTheProtocol() throws {
        let speech = try ProviderRegistry.textToSpeech(context {
            $0.tts.provider = "openai"
            $0.tts.speed = 1.5
        })
        var config = VoicedConfig()
        config.tts.provider = "openai"
        config.tts.voiceID = "echo"
        config.tts.speed = 3
        try speech.apply(config)
        #expect((speech as? OpenAISpeechTTS)?.settings == .init(model: "gpt-4o-mini-tts", voice: "echo", speed: 1.5))
        config.tts.voiceID = ""
        try speech.apply(config)
        #expect((speech as? OpenAISpeechTTS)?.settings.voice == "alloy", "empty goes back to the provider's default")

        let eleven = try ProviderRegistry.textToSpeech(context())
        config = VoicedConfig()
        config.tts.voiceID = "../admin"
        #expect(throws: ProviderSetupError.self) { try eleven.apply(config) }
        #expect((eleven as? ElevenLabsTTS)?.settings.voiceID == "21m00Tcm4TlvDq8ikWAM", "a refused voice keeps the old one")

        let chat = try ProviderRegistry.languageModel(context())
        config = VoicedConfig()
        config.llm.model = "live-model"
        try chat.apply(config)
        #expect((chat as? OpenAIChat)?.settings.model == "live-model")
    }

    @Test func aRefusedURLIsASetupErrorNamingTheProvider() {
        do {
            _ = try ProviderRegistry.textToSpeech(context {
                $0.tts.provider = "openai"
                $0.tts.baseURL = "http://speech.example.com/v1"
            })
            Issue.record("plain http to a remote host was accepted")
        } catch {
            #expect(error.description.contains("cannot set up the tts provider openai: refusing plain http://"), "\(error)")
        }
    }
}
