import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing
import VoiceCore
import VoiceTesting
@testable import VoiceDaemon

/// The turn loop: in the daemon the controller and its observers run only on the turn service's
/// loop, never on the threads that post to it (capture, playback, GPIO, network, timers).
@Suite struct TurnLoopTests {
    /// Threads seen, by role.
    final class Threads: Sendable {
        let handling = Mutex<Set<String>>([])
        let observing = Mutex<Set<String>>([])
        let posting = Mutex<Set<String>>([])
        /// The OS thread's name, as `top -H` shows it (ids are reused as soon as a thread ends).
        static var current: String {
            ((try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? "?")
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    /// Runs `body` on a new thread (standing for the capture thread) and waits for it without
    /// blocking the task pool.
    func onAnotherThread(named name: String, _ threads: Threads, _ body: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let thread = Thread {
                // Foundation does not pass the name to the OS thread on Linux: write it.
                try? name.write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
                threads.posting.withLock { _ = $0.insert(Threads.current) }
                body()
                done.resume()
            }
            thread.start()
        }
    }

    @Test func noControllerCodeAndNoObserverRunsOnThePostingThreads() async throws {
        let clock = ManualClock()
        let playback = VirtualPlayback(clock: clock)
        var settings = TurnSettings()
        settings.adaptive.enabled = false
        let service = TurnService(
            controller: TurnController(settings: settings, clock: clock),
            llm: ScriptedLanguageModel(clock: clock, replies: ["It is sunny. Enjoy your day!"]),
            tts: ScriptedTextToSpeech(clock: clock), fallbackTTS: ScriptedTextToSpeech(clock: clock),
            playback: playback, indicator: RecordingIndicator(), scheduler: clock,
            loop: true, logger: Logger(label: "test"))
        let threads = Threads()
        service.onControllerThread { threads.handling.withLock { _ = $0.insert(Threads.current) } }
        service.observe { _ in threads.observing.withLock { _ = $0.insert(Threads.current) } }
        let group = ServiceGroup(services: [service], logger: Logger(label: "test"))
        let running = Task { try await group.run() }

        // The capture thread delivers the user's speech; a second thread (standing for the timer,
        // network and playback threads) moves the clock, which fires timers, tokens, audio and
        // segment events from there. (Not the test's own thread: it belongs to the task pool
        // the loop runs on.)
        await onAnotherThread(named: "capture", threads) {
            service.buttonPressed()
            service.speech(.speechStarted, from: .speechToText)
            service.speech(.final(text: "What is the weather?", confidence: 0.9, start: 0.1, end: 1.3), from: .speechToText)
            service.speech(.speechEnded, from: .speechToText)
        }
        await onAnotherThread(named: "timers", threads) {
            service.postAndWait(.heartbeat, timeout: .seconds(60))
            for t in stride(from: Int64(0), through: 8000, by: 10) {
                clock.advance(to: .milliseconds(t))
                service.postAndWait(.heartbeat, timeout: .seconds(60))
            }
        }

        #expect(service.current.lastTurn?.status == .completed)
        #expect(service.current.state == .idle)
        #expect(playback.played.contains { $0.turn == 1 })
        let posting = threads.posting.withLock { $0 }
        let handling = threads.handling.withLock { $0 }
        let observing = threads.observing.withLock { $0 }
        #expect(posting == ["capture", "timers"])
        #expect(handling == ["voiced-turn"], "the controller ran on a posting thread")
        #expect(observing == ["voiced-turn"], "an observer ran on a posting thread")

        await group.triggerGracefulShutdown()
        try await running.value
    }

    @Test func stoppingTheServiceEndsTheTurnAndCancelsItsTimers() async throws {
        let clock = ManualClock()
        let timers = TaskTimerScheduler(clock: clock)
        let service = TurnService(
            controller: TurnController(settings: TurnSettings(), clock: clock),
            llm: ScriptedLanguageModel(clock: clock, replies: ["Hello."]),
            tts: ScriptedTextToSpeech(clock: clock), fallbackTTS: ScriptedTextToSpeech(clock: clock),
            playback: VirtualPlayback(clock: clock), indicator: RecordingIndicator(), scheduler: timers,
            loop: true, logger: Logger(label: "test"))
        let group = ServiceGroup(services: [service], logger: Logger(label: "test"))
        let running = Task { try await group.run() }
        // A wake starts the listen timeout: one timer waits on the clock. (`pressAndWait` blocks
        // its thread: like the control socket, call it from a thread of its own.)
        let threads = Threads()
        let state = Mutex(TurnState.idle)
        await onAnotherThread(named: "control", threads) { state.withLock { $0 = service.postAndWait(.button, timeout: .seconds(60)).state } }
        #expect(state.withLock { $0 } == .listening)
        #expect(timers.waiting == 1)
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(service.current.state == .idle)
        #expect(timers.waiting == 0)
    }
}
