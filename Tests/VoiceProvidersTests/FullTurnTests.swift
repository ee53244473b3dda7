import Foundation
import Logging
import Synchronization
import Testing
@testable import VoiceCore
import VoiceEspeak
import VoiceFakeCloud
import VoiceProviders

/// Whole turns through the real turn controller and engine, with the real LLM and TTS clients
/// (and the espeak-ng fallback) against the fake cloud; speech comes in as the speech-to-text
/// client would post it.
@Suite(.serialized) struct FullTurnTests {
    let question = "What's the weather like today?"
    let answer = "It is sunny and twenty two degrees. Enjoy your day!"

    func rig(_ cloud: FakeCloud) throws -> TurnRig { try TurnRig(cloud) }

    func ask(_ rig: TurnRig, _ text: String) { rig.ask(text) }

    @Test func speechInSpokenAnswerOutWithRecords() async throws {
        var script = FakeCloudScript.instant
        script.llm.replies = [answer]
        let cloud = try await startCloud(script)
        defer { Task { await cloud.stop() } }
        let rig = try rig(cloud)

        ask(rig, question)
        #expect(await rig.records.wait { !$0.isEmpty })
        let record = try #require(rig.records.events.first)

        #expect(record.status == .completed)
        #expect(record.userText == question)
        #expect(record.spokenText == answer)
        #expect(record.llmCalls.count == 1 && record.llmCalls.first?.status == .completed)
        #expect(record.llmCalls.first?.tokens == 10 && record.llmCalls.first?.promptTokens != nil)
        #expect(record.states.map(\.to) == [.listening, .speculative, .committed, .speaking, .idle])

        // What the fake cloud heard, and what reached the speaker.
        let request = try #require(cloud.records(.llm).first)
        #expect(request.body.contains(question) && request.headers["authorization"] == "Bearer sk-turn-test")
        let sentences = cloud.records(.tts).map(\.body)
        #expect(sentences.count == 2)
        #expect(sentences.first?.contains("It is sunny and twenty two degrees.") == true)
        var expected: [Int16] = []
        for sentence in ["It is sunny and twenty two degrees.", "Enjoy your day!"] { expected += try await cloud.speech(for: sentence) }
        #expect(rig.playback.played.flatMap(\.samples) == expected, "exactly the service's audio, in order, once")
        #expect(Set(rig.playback.played.map(\.segment)) == [0, 1])
        #expect(rig.tts.records.allSatisfy { $0.outcome == .completed })

        // The latencies are all there, in order.
        let latency = record.latencies
        let first = try #require(latency.speechEndToFirstAudioMs)
        let token = try #require(latency.speechEndToFirstTokenMs)
        let start = try #require(latency.speechEndToLLMStartMs)
        #expect(start <= token && token <= first)
        let overhead = first - record.debounceMs - 200
        print("end-to-end turn through the fake cloud (delays 0): speech end → LLM start \(start) ms, first token \(token) ms, "
              + "first sentence \(latency.speechEndToFirstSentenceMs ?? -1) ms, TTS first byte \(latency.speechEndToTTSFirstByteMs ?? -1) ms, "
              + "first audio \(first) ms (of which debounce \(record.debounceMs) ms + commit hold 200 ms; providers and engine \(overhead) ms)")
    }

    @Test func primaryVoiceFailureIsSpokenByEspeak() async throws {
        var script = FakeCloudScript.instant
        script.llm.replies = ["Sorry, I do not know."]
        script.faults = [fault(.tts, .status, requests: nil) { $0.status = 500 }]
        let cloud = try await startCloud(script)
        defer { Task { await cloud.stop() } }
        let rig = try rig(cloud)

        ask(rig, question)
        #expect(await rig.records.wait { !$0.isEmpty })
        let record = try #require(rig.records.events.first)
        #expect(record.status == .ttsFailed)
        #expect(record.spokenText == "Sorry, I do not know.")
        #expect(cloud.records(.tts).count == 2, "one retry, then the fallback")
        #expect(!rig.fallback.delivered.isEmpty)
        #expect(rig.playback.played.flatMap(\.samples) == rig.fallback.delivered, "only the fallback's audio was played")
    }

    @Test func unreachableAssistantIsExplainedByEspeak() async throws {
        var script = FakeCloudScript.instant
        script.keys.openai = "sk-another-key"
        let cloud = try await startCloud(script)
        defer { Task { await cloud.stop() } }
        let rig = try rig(cloud)

        ask(rig, question)
        #expect(await rig.records.wait { !$0.isEmpty })
        let record = try #require(rig.records.events.first)
        #expect(record.status == .llmFailed)
        let failure = try #require(record.llmCalls.first?.reason)
        #expect(failure.contains("check the API key") && !failure.contains("sk-turn-test"))
        #expect(rig.indicator.shown.contains(.error))
        #expect(cloud.records(.tts).isEmpty, "the apology is local")
        #expect(!rig.fallback.delivered.isEmpty)
        #expect(rig.playback.played.flatMap(\.samples) == rig.fallback.delivered, "the apology, in the local voice")
        #expect(record.spokenText == TurnSettings().apology)
    }
}
