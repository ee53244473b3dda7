import Logging
import Synchronization
import Testing
import VoiceCore
import VoiceTesting
@testable import VoiceDaemon

final class Notes: Sendable {
    let list = Mutex<[TurnNotification]>([])
    func withLock<R>(_ body: ([TurnNotification]) -> R) -> R { list.withLock { body($0) } }
}

final class Harness {
    let clock = ManualClock()
    let llm: ScriptedLanguageModel
    let tts: ScriptedTextToSpeech
    let playback: VirtualPlayback
    let service: TurnService
    let notes = Notes()

    init(bargeInByVoice: Bool = true, logs: InMemoryLogHandler.Store? = nil) {
        llm = ScriptedLanguageModel(clock: clock, replies: ["It is sunny. Enjoy your day!"])
        tts = ScriptedTextToSpeech(clock: clock)
        playback = VirtualPlayback(clock: clock)
        var settings = TurnSettings()
        settings.adaptive.enabled = false
        settings.bargeInByVoice = bargeInByVoice
        service = TurnService(controller: TurnController(settings: settings, clock: clock), llm: llm, tts: tts,
                              fallbackTTS: ScriptedTextToSpeech(clock: clock), playback: playback,
                              indicator: RecordingIndicator(), scheduler: clock,
                              logger: logs.map { InMemoryLogHandler.logger(label: "test", store: $0) } ?? Logger(label: "test"))
        service.observe { [notes] note in notes.list.withLock { $0.append(note) } }
    }

    /// Wake, ask, and advance to `t` ms (2400 is mid-answer: SPEAKING).
    func askAndAdvance(to t: Int64) {
        service.buttonPressed()
        clock.advance(to: .milliseconds(100))
        service.speech(.speechStarted, from: .speechToText)
        clock.advance(to: .milliseconds(1300))
        service.speech(.final(text: "What is the weather?", confidence: 0.9, start: 0.1, end: 1.3), from: .speechToText)
        service.speech(.speechEnded, from: .speechToText)
        clock.advance(to: .milliseconds(t))
    }
}

@Suite struct TurnServiceTests {
    @Test func statusFollowsTheController() {
        let h = Harness()
        h.askAndAdvance(to: 2400)
        #expect(h.service.current.state == .speaking)
        #expect(h.service.current.turn == 1)
        #expect(h.service.current.handledEvents > 5)
        h.clock.runUntilIdle()
        #expect(h.service.current.state == .idle)
        #expect(h.service.current.lastTurn?.status == .completed)
        #expect(h.service.current.telemetry.completedTurns == 1)
    }

    @Test func whileSpeakingTheCloudTranscriptOfTheSpeakersOwnVoiceDoesNotBargeIn() {
        let h = Harness()
        h.askAndAdvance(to: 2400)
        h.service.speech(.speechStarted, from: .speechToText)
        h.service.speech(.partial("it is sunny"), from: .speechToText)
        #expect(h.service.current.state == .speaking)
        h.clock.runUntilIdle()
        #expect(h.service.current.lastTurn?.status == .completed)
    }

    @Test func whileSpeakingLocalVoiceActivityBargesIn() {
        let h = Harness()
        h.askAndAdvance(to: 2400)
        h.service.speech(.speechStarted, from: .localVoiceActivity)
        #expect(h.service.current.state == .listening)
        #expect(h.service.current.lastTurn?.status == .interrupted)
        #expect(h.playback.drops == [.milliseconds(2400)])
    }

    /// A barge-in says in the log how long the turn loop took from the post to the playback
    /// dropped (and the answer's calls cancelled); a press that drops nothing says nothing.
    @Test func aBargeInLogsHowSoonPlaybackWasDropped() {
        let logs = InMemoryLogHandler.Store()
        let h = Harness(logs: logs)
        h.askAndAdvance(to: 2400)
        #expect(h.service.current.state == .speaking)
        func bargeIns() -> [InMemoryLogHandler.Entry] { logs.entries.filter { $0.message == "barge-in: playback dropped" } }
        #expect(bargeIns().isEmpty)  // the wake press dropped nothing
        h.service.buttonPressed()
        #expect(h.service.current.state == .listening)
        let line = bargeIns().first
        #expect(line?.metadata["event"] == "barge_in" && line?.metadata["source"] == "button" && line?.metadata["turn"] == "1")
        #expect(line?.metadata["post_to_drop_us"].flatMap { Int("\($0)") }.map { $0 >= 0 } == true, "\(String(describing: line))")

        h.service.speech(.speechStarted, from: .localVoiceActivity)  // LISTENING: nothing to drop
        #expect(bargeIns().count == 1)

        let voiceLogs = InMemoryLogHandler.Store()
        let voice = Harness(logs: voiceLogs)
        voice.askAndAdvance(to: 2400)
        voice.service.speech(.speechStarted, from: .localVoiceActivity)
        #expect(voice.service.current.state == .listening)
        #expect(voiceLogs.entries.filter { $0.message == "barge-in: playback dropped" }.map { $0.metadata["source"] } == ["voice"])
    }

    @Test func withBargeInByVoiceOffOnlyTheButtonInterrupts() {
        let h = Harness(bargeInByVoice: false)
        h.askAndAdvance(to: 2400)
        h.service.speech(.speechStarted, from: .localVoiceActivity)
        #expect(h.service.current.state == .speaking)
        h.service.buttonPressed()
        #expect(h.service.current.state == .listening)
    }

    @Test func outsideSpeakingTheLocalDetectorIsNotUsed() {
        let h = Harness()
        h.service.buttonPressed()
        h.service.speech(.speechStarted, from: .localVoiceActivity)
        #expect(!h.notes.withLock { $0 }.contains(.speech(.speechStarted)))
        h.service.speech(.speechStarted, from: .speechToText)
        #expect(h.notes.withLock { $0 }.contains(.speech(.speechStarted)))
    }

    @Test func observersHearTransitionsWhatIsSpokenAndFinishedTurns() {
        let h = Harness()
        h.askAndAdvance(to: 2400)
        h.clock.runUntilIdle()
        let notes = h.notes.withLock { $0 }
        #expect(notes.contains(.speaking(turn: 1, text: "It is sunny.")))
        #expect(notes.contains { if case .turnFinished(let r) = $0 { r.status == .completed } else { false } })
        #expect(notes.filter { if case .transition = $0 { true } else { false } }.count == 5)
    }

    @Test func settingsChangeBetweenEvents() {
        let h = Harness()
        var settings = TurnSettings()
        settings.debounce = .milliseconds(800)
        settings.adaptive.enabled = false
        h.service.update(settings: settings)
        h.askAndAdvance(to: 2000)   // final at 1300: 1300 + 800 = 2100
        #expect(h.service.current.state == .listening)
        h.clock.advance(to: .milliseconds(2100))
        #expect(h.service.current.state == .speculative)
    }
}

@Suite struct MuteMidTurnTests {
    @Test func muteWhileListeningEndsTheTurnInsteadOfWaitingForeverForAFinal() throws {
        let h = Harness()
        h.service.buttonPressed()
        h.clock.advance(by: .milliseconds(100))
        h.service.speech(.speechStarted, from: .speechToText)
        h.service.speech(.partial("what is the"), from: .speechToText)
        h.clock.advance(by: .milliseconds(300))
        h.service.muted()  // speech-to-text stops here: no final will ever come
        h.clock.runUntilIdle(limit: h.clock.now + .seconds(120))
        #expect(h.service.current.state == .idle)
        let record = try #require(h.service.current.lastTurn)
        #expect(record.status == .aborted)
        #expect(record.cause == .muted)
        #expect(h.llm.requests.isEmpty, "nothing of a muted turn reaches the LLM")
    }

    @Test func muteWhileSpeakingLetsTheCommittedAnswerFinish() throws {
        let h = Harness()
        h.askAndAdvance(to: 2400)
        #expect(h.service.current.state == .speaking)
        h.service.muted()
        h.clock.runUntilIdle(limit: h.clock.now + .seconds(120))
        #expect(h.service.current.lastTurn?.status == .completed)
    }
}
