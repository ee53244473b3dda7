import Foundation
import Logging
import Testing
@testable import VoiceCore
import VoiceEspeak
import VoiceFakeCloud
import VoiceProviders

/// Keys never reach a log: a run with keys set, every log line captured at trace level (clients,
/// fake cloud, controller), successes and failures alike, and no key in any line or error.
@Suite struct SecretLoggingTests {
    @Test func noKeyAppearsInAnyLogLineOrError() async throws {
        let openAIKey = "sk-log-test-OPENAI-7f3a9c"
        let elevenLabsKey = "xi-log-test-ELEVEN-51bd02"
        let lines = Recorder<String>()
        let logger = Logger(label: "test.capture") { _ in CapturingLogHandler(lines: lines) }

        var script = FakeCloudScript.instant
        script.llm.replies = ["Fine. Thanks!"]
        script.keys.openai = openAIKey
        script.keys.elevenlabs = elevenLabsKey
        // The third request of each service fails with a 5xx (and is retried), so the retry paths log too.
        script.faults = [fault(.llm, .status, requests: [3]) { $0.status = 500 }, fault(.tts, .status, requests: [3]) { $0.status = 503 }]
        let cloud = FakeCloud(script: script, logger: logger)
        try await cloud.start()
        defer { Task { await cloud.stop() } }

        let environment = ["OPENAI_API_KEY": openAIKey, "ELEVENLABS_API_KEY": elevenLabsKey]
        let credentials = CredentialSource(environment: environment)
        let loop = CurlLoop(logger: logger)
        let chat = try OpenAIChat(configuration: OpenAIChatConfiguration(baseURL: cloud.chatBaseURL, apiKey: try credentials.load(.openAI)),
                                  loop: loop, logger: logger)
        let wrongChat = try OpenAIChat(configuration: OpenAIChatConfiguration(baseURL: cloud.chatBaseURL, apiKey: Secret(openAIKey + "-wrong")),
                                       loop: loop, logger: logger)
        let tts = try ElevenLabsTTS(configuration: ElevenLabsConfiguration(baseURL: cloud.baseURL, voiceID: "v1",
                                                                           apiKey: try credentials.load(.elevenLabs)),
                                    loop: loop, logger: logger)
        let wrongTTS = try ElevenLabsTTS(configuration: ElevenLabsConfiguration(baseURL: cloud.baseURL, voiceID: "v1",
                                                                                apiKey: Secret(elevenLabsKey + "-wrong")),
                                         loop: loop, logger: logger)

        var messages: [String] = []
        for (index, client) in [chat, wrongChat, chat, chat].enumerated() {
            let events = Recorder<LLMEvent>()
            client.start(chatRequest(call: index + 1)) { events.append($0) }
            #expect(await events.wait { $0.contains(where: \.isTerminal) })
            messages += events.events.compactMap(\.failure)
        }
        for (index, client) in [tts, wrongTTS, tts, tts].enumerated() {
            let events = Recorder<TTSEvent>()
            client.start(speechRequest(id: index + 1, text: "Fine.")) { events.append($0) }
            #expect(await events.wait { $0.contains(where: \.isTerminal) })
            messages += events.events.compactMap(\.failure)
        }
        // The controller logs what the providers report.
        var controller = TurnController(clock: SystemVoiceClock(), logger: logger)
        _ = controller.handle(.button)
        _ = controller.handle(.speech(.final(text: "hello", confidence: 1, start: 0, end: 1)))
        messages += (chat.records + wrongChat.records + tts.records + wrongTTS.records).compactMap(\.error)

        #expect(messages.count >= 2, "the wrong keys failed")
        #expect(lines.events.count > 10, "the run logged")
        for text in lines.events + messages {
            #expect(!text.contains(openAIKey) && !text.contains(elevenLabsKey), "a key leaked: \(text)")
            #expect(!text.contains("log-test"), "part of a key leaked: \(text)")
        }
    }
}
