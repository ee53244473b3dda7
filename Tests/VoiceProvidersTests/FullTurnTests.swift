import Foundation
import Logging
import Synchronization
import Testing
@testable import VoiceCore
import VoiceEspeak
import VoiceFakeCloud
import VoiceProviders

/// Runs timers on the system clock, for the real controller in real time.
final class SystemTimerScheduler: TimerScheduler, Sendable {
    let clock: SystemVoiceClock
    init(clock: SystemVoiceClock) { self.clock = clock }
    func schedule(at instant: VoiceInstant, _ action: @escaping @Sendable () -> Void) {
        Task { [clock] in
            try? await clock.sleep(until: instant)
            action()
        }
    }
}

/// A speaker that plays instantly and keeps every chunk: what reached playback, per turn.
final class RecordingPlayback: AudioPlayback, @unchecked Sendable {
    // @unchecked: all state is behind `lock`; the handler is called outside it.
    private let lock = Mutex(())
    private var handler: (@Sendable (PlaybackEvent) -> Void)?
    private var chunks: [PlaybackChunk] = []
    private var started: Set<[Int]> = []

    func setEventHandler(_ handler: @escaping @Sendable (PlaybackEvent) -> Void) { lock.withLock { _ in self.handler = handler } }

    func enqueue(_ chunk: PlaybackChunk) {
        let (handler, first) = lock.withLock { _ in
            chunks.append(chunk)
            return (self.handler, started.insert([chunk.turn, chunk.segment]).inserted)
        }
        if first { handler?(.segmentStarted(turn: chunk.turn, segment: chunk.segment)) }
    }

    func endSegment(turn: Int, segment: Int) {
        let handler = lock.withLock { _ in self.handler }
        handler?(.segmentFinished(turn: turn, segment: segment))
    }

    func drop() {}

    var played: [PlaybackChunk] { lock.withLock { _ in chunks } }
}

/// Passes requests to another voice and keeps the audio it delivered (espeak-ng varies a little
/// from one synthesis to the next, so tests compare with what was actually produced).
final class RecordingTTS: TextToSpeech, Sendable {
    let inner: any TextToSpeech & Sendable
    private let audio = Mutex<[Int16]>([])
    init(_ inner: any TextToSpeech & Sendable) { self.inner = inner }
    func start(_ request: TTSRequest, onEvent: @escaping @Sendable (TTSEvent) -> Void) {
        inner.start(request) { [self] event in
            if case .audio(let pcm) = event { audio.withLock { $0 += pcm } }
            onEvent(event)
        }
    }
    func cancel(request: Int) { inner.cancel(request: request) }
    var delivered: [Int16] { audio.withLock { $0 } }
}

final class NullIndicator: Indicator, @unchecked Sendable {
    private let lock = Mutex<[IndicatorState]>([])
    func show(_ state: IndicatorState) { lock.withLock { $0.append(state) } }
    var shown: [IndicatorState] { lock.withLock { $0 } }
}

/// Whole turns through the real turn controller and engine, with the real LLM and TTS clients
/// (and the espeak-ng fallback) against the fake cloud; speech comes in as the speech-to-text
/// client would post it.
@Suite(.serialized) struct FullTurnTests {
    let question = "What's the weather like today?"
    let answer = "It is sunny and twenty two degrees. Enjoy your day!"

    struct Rig {
        let engine: TurnEngine
        let playback: RecordingPlayback
        let indicator: NullIndicator
        let records: Recorder<TurnRecord>
        let chat: OpenAIChat
        let tts: ElevenLabsTTS
        let fallback: RecordingTTS
        let clock: SystemVoiceClock
    }

    func rig(_ cloud: FakeCloud) throws -> Rig {
        let clock = SystemVoiceClock()
        // Generous first-byte timeouts: these tests are about the flow, and CI runs every suite at once on two cores.
        var chatSettings = OpenAIChatConfiguration(baseURL: cloud.chatBaseURL, model: "fake-gpt", apiKey: Secret("sk-turn-test"))
        chatSettings.firstByteTimeout = .seconds(30)
        var speechSettings = ElevenLabsConfiguration(baseURL: cloud.baseURL, voiceID: "voice1", apiKey: Secret("xi-turn-test"))
        speechSettings.firstByteTimeout = .seconds(30)
        let chat = try OpenAIChat(configuration: chatSettings, clock: clock)
        let tts = try ElevenLabsTTS(configuration: speechSettings, clock: clock)
        let playback = RecordingPlayback()
        let indicator = NullIndicator()
        let records = Recorder<TurnRecord>()
        let fallback = RecordingTTS(EspeakTTS())
        let engine = TurnEngine(controller: TurnController(clock: clock), llm: chat, tts: tts, fallbackTTS: fallback,
                                playback: playback, indicator: indicator, scheduler: SystemTimerScheduler(clock: clock))
        engine.actionObserver = { action in
            if case .turnFinished(let record) = action { records.append(record) }
        }
        return Rig(engine: engine, playback: playback, indicator: indicator, records: records, chat: chat, tts: tts,
                   fallback: fallback, clock: clock)
    }

    /// The user wakes the speaker and asks; the speech-to-text client's events arrive as it would post them.
    func ask(_ rig: Rig, _ text: String) {
        rig.engine.post(.button)
        rig.engine.post(.speech(.speechStarted))
        rig.engine.post(.speech(.partial(String(text.prefix(10)))))
        rig.engine.post(.speech(.final(text: text, confidence: 0.98, start: 0.2, end: 1.9)))
        rig.engine.post(.speech(.speechEnded))
    }

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
