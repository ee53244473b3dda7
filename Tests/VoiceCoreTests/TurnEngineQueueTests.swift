import Synchronization
import Testing
import VoiceTesting
@testable import VoiceCore

/// The turn loop's queue: bounded, in order, with the button ahead of everything queued.
@Suite struct TurnEngineQueueTests {
    final class Seen: Sendable {
        let inputs = Mutex<[TurnInput]>([])
    }

    func engine(capacity: Int = 4096) -> (TurnEngine, Seen) {
        let clock = ManualClock()
        let engine = TurnEngine(controller: TurnController(clock: clock),
                                llm: ScriptedLanguageModel(clock: clock, replies: []),
                                tts: ScriptedTextToSpeech(clock: clock), fallbackTTS: ScriptedTextToSpeech(clock: clock),
                                playback: VirtualPlayback(clock: clock), indicator: RecordingIndicator(), scheduler: clock,
                                drive: .loop(wake: {}), capacity: capacity)
        let seen = Seen()
        engine.inputObserver = { input in seen.inputs.withLock { $0.append(input) } }
        return (engine, seen)
    }

    @Test func inLoopModePostingOnlyEnqueuesAndTheButtonJumpsTheQueue() {
        let (engine, seen) = engine()
        engine.post(.heartbeat)
        engine.post(.speech(.speechStarted))
        engine.post(.button)
        #expect(seen.inputs.withLock { $0 }.isEmpty, "nothing runs on the posting thread")
        engine.stop()
        #expect(engine.drainQueued() == false, "stopped and drained")
        #expect(seen.inputs.withLock { $0 } == [.button, .heartbeat, .speech(.speechStarted)])
    }

    @Test func aFullQueueDropsAndCountsButNeverDropsTheButton() {
        let (engine, seen) = engine(capacity: 2)
        for _ in 0..<5 { engine.post(.heartbeat) }
        engine.post(.button)
        #expect(engine.droppedInputs == 3)
        let handled = Mutex(false)
        engine.post(.heartbeat) { handled.withLock { $0 = true } }
        #expect(handled.withLock { $0 }, "a dropped input's waiter is released at once")
        engine.stop()
        #expect(engine.drainQueued() == false, "stopped and drained")
        #expect(seen.inputs.withLock { $0 } == [.button, .heartbeat, .heartbeat])
    }

    @Test func inlineModeHandlesOnThePostingThreadAtOnce() {
        let clock = ManualClock()
        let engine = TurnEngine(controller: TurnController(clock: clock),
                                llm: ScriptedLanguageModel(clock: clock, replies: []),
                                tts: ScriptedTextToSpeech(clock: clock), fallbackTTS: ScriptedTextToSpeech(clock: clock),
                                playback: VirtualPlayback(clock: clock), indicator: RecordingIndicator(), scheduler: clock)
        engine.post(.button)
        #expect(engine.controller.state == .listening)
    }
}
