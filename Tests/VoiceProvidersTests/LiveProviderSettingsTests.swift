import Foundation
import Testing
@testable import VoiceCore
import VoiceEspeak
import VoiceFakeCloud
import VoiceProviders
import VoiceTesting

/// The provider settings that change while the daemon runs take effect from the next request.
@Suite struct LiveProviderSettingsTests {
    func finish(_ start: (@escaping @Sendable (Bool) -> Void) -> Void) async {
        let done = Recorder<Bool>()
        start { done.append($0) }
        await done.wait { !$0.isEmpty }
    }

    @Test func theChatClientsNextCallUsesAChangedModelMaxTokensAndTemperature() async throws {
        let cloud = try await startCloud(instantScript())
        defer { Task { await cloud.stop() } }
        var configuration = OpenAIChatConfiguration(baseURL: cloud.chatBaseURL, model: "first-model")
        configuration.firstByteTimeout = .seconds(30)
        let chat = try OpenAIChat(configuration: configuration)
        await finish { done in chat.start(chatRequest(call: 1)) { if $0.isTerminal { done(true) } } }
        try chat.update(.init(model: "second-model", maxTokens: 42, temperature: 1.5))
        await finish { done in chat.start(chatRequest(call: 2)) { if $0.isTerminal { done(true) } } }
        let bodies = cloud.records(.llm).map(\.body)
        #expect(bodies.count == 2)
        #expect(bodies.first?.contains("\"model\":\"first-model\"") == true && bodies.first?.contains("\"max_tokens\":300") == true)
        #expect(bodies.last?.contains("\"model\":\"second-model\"") == true)
        #expect(bodies.last?.contains("\"max_tokens\":42") == true && bodies.last?.contains("\"temperature\":1.5") == true)
        // Out of range: refused, and the settings in force stay.
        #expect(throws: ProviderSetupError.self) { try chat.update(.init(model: "x", maxTokens: 0, temperature: nil)) }
        #expect(chat.settings.model == "second-model")
    }

    @Test func theSpeechClientsNextRequestUsesAChangedVoiceAndModel() async throws {
        let cloud = try await startCloud(instantScript())
        defer { Task { await cloud.stop() } }
        var configuration = ElevenLabsConfiguration(baseURL: cloud.baseURL, voiceID: "voiceA", apiKey: Secret("xi-test-key"))
        configuration.firstByteTimeout = .seconds(30)
        configuration.stallTimeout = .seconds(30)
        let tts = try ElevenLabsTTS(configuration: configuration)
        try tts.update(.init(voiceID: "voice_B-2", modelID: "eleven_multilingual_v2"))
        await finish { done in tts.start(speechRequest()) { if $0.isTerminal { done(true) } } }
        let sent = try #require(cloud.records(.tts).last)
        #expect(sent.path == "/v1/text-to-speech/voice_B-2/stream")
        #expect(sent.body.contains("\"model_id\":\"eleven_multilingual_v2\""))
        #expect(throws: ProviderSetupError.self) { try tts.update(.init(voiceID: "no spaces", modelID: "m")) }
        #expect(tts.settings.voiceID == "voice_B-2")
    }

    @Test func theFallbackVoicesNextSynthesisUsesAChangedVoiceAndSpeed() async throws {
        let espeak = EspeakTTS(voice: "en-us", wordsPerMinute: 80)
        let text = "The quick brown fox jumps over the lazy dog."
        func samples(_ id: Int) async -> [TTSEvent] {
            let events = Recorder<TTSEvent>()
            espeak.start(TTSRequest(id: id, turn: 1, segment: 0, text: text, voice: .fallback, call: nil)) { events.append($0) }
            await events.wait { $0.contains(where: \.isTerminal) }
            return events.events
        }
        let slow = await samples(1).flatMap(\.samples).count
        espeak.update(voice: "en-us", wordsPerMinute: 400)
        let fast = await samples(2).flatMap(\.samples).count
        #expect(fast * 2 < slow, "400 wpm (\(fast) samples) should be far shorter than 80 wpm (\(slow))")
        espeak.update(voice: "xx-nonexistent", wordsPerMinute: 400)
        #expect(await samples(3).last?.failure?.contains("espeak-ng --voices") == true)
    }
}
