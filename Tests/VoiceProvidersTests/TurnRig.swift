import Foundation
import Synchronization
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
    /// Every audio event, with its request id, in order.
    private let audio = Mutex<[(request: Int, samples: [Int16])]>([])
    init(_ inner: any TextToSpeech & Sendable) { self.inner = inner }
    func start(_ request: TTSRequest, onEvent: @escaping @Sendable (TTSEvent) -> Void) {
        inner.start(request) { [self] event in
            if case .audio(let pcm) = event { audio.withLock { $0.append((request.id, pcm)) } }
            onEvent(event)
        }
    }
    func cancel(request: Int) { inner.cancel(request: request) }
    /// All the audio delivered, in order.
    var delivered: [Int16] { audio.withLock { $0.flatMap(\.samples) } }
    /// The audio delivered for one request.
    func delivered(request: Int) -> [Int16] { audio.withLock { $0.filter { $0.request == request }.flatMap(\.samples) } }
}

final class NullIndicator: Indicator, @unchecked Sendable {
    private let lock = Mutex<[IndicatorState]>([])
    func show(_ state: IndicatorState) { lock.withLock { $0.append(state) } }
    var shown: [IndicatorState] { lock.withLock { $0 } }
}

/// The real turn controller and engine with the real LLM and TTS clients against a fake cloud,
/// the espeak-ng fallback, a speaker that keeps what it played, and every action the engine
/// carried out, in order.
struct TurnRig {
    let engine: TurnEngine
    let playback: RecordingPlayback
    let indicator: NullIndicator
    let records: Recorder<TurnRecord>
    let actions: Recorder<TurnAction>
    let chat: OpenAIChat
    let tts: ElevenLabsTTS
    let fallback: RecordingTTS
    let clock: SystemVoiceClock

    /// - Parameter configure: changes the clients' settings (the first-byte timeouts are
    ///   generous by default: these tests are about the flow, and CI runs every suite at once on
    ///   two cores).
    init(_ cloud: FakeCloud, settings: TurnSettings = TurnSettings(),
         configure: (inout OpenAIChatConfiguration, inout ElevenLabsConfiguration) -> Void = { _, _ in }) throws {
        let clock = SystemVoiceClock()
        var chatSettings = OpenAIChatConfiguration(baseURL: cloud.chatBaseURL, model: "fake-gpt", apiKey: Secret("sk-turn-test"))
        chatSettings.firstByteTimeout = .seconds(30)
        var speechSettings = ElevenLabsConfiguration(baseURL: cloud.baseURL, voiceID: "voice1", apiKey: Secret("xi-turn-test"))
        speechSettings.firstByteTimeout = .seconds(30)
        configure(&chatSettings, &speechSettings)
        chat = try OpenAIChat(configuration: chatSettings, clock: clock)
        tts = try ElevenLabsTTS(configuration: speechSettings, clock: clock)
        playback = RecordingPlayback()
        indicator = NullIndicator()
        let records = Recorder<TurnRecord>()
        let actions = Recorder<TurnAction>()
        self.records = records
        self.actions = actions
        fallback = RecordingTTS(EspeakTTS())
        self.clock = clock
        engine = TurnEngine(controller: TurnController(settings: settings, clock: clock), llm: chat, tts: tts, fallbackTTS: fallback,
                            playback: playback, indicator: indicator, scheduler: SystemTimerScheduler(clock: clock))
        engine.actionObserver = { action in
            actions.append(action)
            if case .turnFinished(let record) = action { records.append(record) }
        }
    }

    /// The user wakes the speaker and asks; the speech-to-text client's events arrive as it would post them.
    func ask(_ text: String) {
        engine.post(.button)
        engine.post(.speech(.speechStarted))
        engine.post(.speech(.partial(String(text.prefix(10)))))
        engine.post(.speech(.final(text: text, confidence: 0.98, start: 0.2, end: 1.9)))
        engine.post(.speech(.speechEnded))
    }
}
