import Dispatch
import FoundationEssentials
import Glibc
import Logging
import ServiceLifecycle
import Synchronization
import VoiceCore
import VoiceEspeak
import VoiceLinux

/// What the daemon shows about the turn-taking, readable from any thread: a copy of the
/// controller's view, published by the turn loop after each input it handles.
public struct TurnSnapshot: Sendable, Equatable {
    public var state: TurnState = .idle
    public var turn: Int?
    public var recentTransitions: [TransitionEvent] = []
    public var telemetry: TelemetrySnapshot
    public var debounceMs: Int64
    public var lastTurn: TurnRecord?
    /// Progress counter: it moves every time the controller handles an event (for the watchdog).
    public var handledEvents: Int = 0
    /// Inputs the turn loop dropped because its queue was full.
    public var droppedInputs: Int = 0

    init(_ controller: TurnController) {
        telemetry = controller.telemetry.snapshot
        debounceMs = controller.debounce.wholeMilliseconds
        update(from: controller)
    }

    mutating func update(from controller: TurnController) {
        state = controller.state
        turn = controller.currentTurnID ?? turn
        recentTransitions = Array(controller.recentTransitions.suffix(16))
        telemetry = controller.telemetry.snapshot
        debounceMs = controller.debounce.wholeMilliseconds
    }
}

/// Something that happened in the turn controller, for voicectl's `watch` and for telemetry.
public enum TurnNotification: Sendable, Equatable {
    case transition(TransitionEvent)
    case speech(SpeechEvent)
    case speaking(turn: Int, text: String)
    case turnFinished(TurnRecord)
    case debounceAdjusted(DebounceAdjustment)
    /// A provider call failed after its retries (`provider`: "llm" or "tts").
    case providerFailed(provider: String, turn: Int?, message: String)
}

/// The turn controller as a service of the daemon. With `loop: true` (the daemon) its turn loop,
/// one dedicated thread (`voiced-turn`) woken by each post, is the only place the controller and
/// the observers run; it admits speech events according to the state (the
/// speaker's own voice must not barge in), publishes a snapshot for displays, and tells observers
/// what happens. When it stops, the turn under way stops and its timers are cancelled.
public final class TurnService: Service, Sendable {
    private let engine: TurnEngine
    /// Cancels the timers still waiting (the real clock's scheduler; a manual clock has none).
    private let cancelTimers: @Sendable () -> Void
    /// Signalled at each post: the turn loop's thread sleeps on it.
    private let wakeups: DispatchSemaphore
    private let status: Mutex<TurnSnapshot>
    private let observers = Mutex<[@Sendable (TurnNotification) -> Void]>([])
    /// Whether the input being handled dropped playback: reset by the input observer, set by the
    /// action observer, read by a barge-in's `handled` callback (all three on the turn loop).
    private let droppedPlayback = Atomic<Bool>(false)
    private let logger: Logger

    public init(controller: TurnController, llm: any LanguageModel, tts: any TextToSpeech, fallbackTTS: any TextToSpeech,
                playback: any AudioPlayback, indicator: any Indicator, scheduler: any TimerScheduler,
                loop: Bool = false, logger: Logger) {
        var logger = logger
        // Every line names its session (the journal's SESSION_ID); turn lines name the turn too.
        logger[metadataKey: "session"] = "\(controller.telemetry.sessionID)"
        self.logger = logger
        status = Mutex(TurnSnapshot(controller))
        let wakeups = DispatchSemaphore(value: 0)
        self.wakeups = wakeups
        let timers = scheduler as? TaskTimerScheduler
        cancelTimers = { timers?.cancelAll() }
        engine = TurnEngine(controller: controller, llm: llm, tts: tts, fallbackTTS: fallbackTTS, playback: playback,
                            indicator: indicator, scheduler: scheduler,
                            drive: loop ? .loop(wake: { [wakeups] in wakeups.signal() }) : .inline)
        engine.actionObserver = { [weak self] action in self?.observe(action) }
        engine.inputObserver = { [weak self] input in self?.observe(input) }
        engine.handledObserver = { [weak self] controller in self?.published(controller) }
    }

    /// The current status (as of the last input the turn loop handled).
    public var current: TurnSnapshot { status.withLock { $0 } }

    /// A debug hook: called on the thread that runs the controller, before each input.
    public func onControllerThread(_ check: @escaping @Sendable () -> Void) { engine.willHandle = check }

    /// Posts `input` and waits (at most `timeout`) until the turn loop has handled it; returns the
    /// status then. For commands that answer with the state they led to (`voicectl wake`). It
    /// blocks its thread: call it from a thread of its own (the control socket's), never from a
    /// task, whose pool the turn loop runs on.
    @discardableResult
    public func postAndWait(_ input: TurnInput, timeout: Duration = .seconds(2)) -> TurnSnapshot {
        let done = Mutex(false)
        post(input, bargingInAs: input == .button ? "button" : nil) { done.withLock { $0 = true } }
        let deadline = ContinuousClock.now + timeout
        while !done.withLock({ $0 }), ContinuousClock.now < deadline {
            usleep(200)  // the control thread only: the loop answers within microseconds
        }
        return current
    }

    /// Registers an observer of what happens (called on the engine's thread: it must not block).
    public func observe(_ observer: @escaping @Sendable (TurnNotification) -> Void) {
        observers.withLock { $0.append(observer) }
    }

    /// A short press of the button. It only enqueues (ahead of everything queued).
    public func buttonPressed() { post(.button, bargingInAs: "button") }

    /// `voicectl wake` / `interrupt`: a press, answered with the state it led to.
    public func pressAndWait() -> TurnSnapshot { postAndWait(.button) }

    /// A speech event from speech-to-text or from the local voice activity detector. The
    /// controller decides what it may do (while SPEAKING only the local detector barges in, and
    /// only with barge-in by voice on: the cloud transcribes the speaker's own voice too).
    public func speech(_ event: SpeechEvent, from source: SpeechSource) {
        post(.speech(event, from: source), bargingInAs: source == .localVoiceActivity && event == .speechStarted ? "voice" : nil)
    }

    /// Posts `input`; when it may barge in (`source` names how: a press, the local detector's
    /// speech start) and does drop playback, logs how long the turn loop took from the post to
    /// the playback dropped and the answer's calls cancelled (`post_to_drop_us`).
    private func post(_ input: TurnInput, bargingInAs source: String?, handled: (@Sendable () -> Void)? = nil) {
        guard let source else {
            engine.post(input, handled: handled)
            return
        }
        let posted = ContinuousClock.now
        engine.post(input) { [weak self] in
            if let self, self.droppedPlayback.load(ordering: .relaxed) {
                self.logger.notice("barge-in: playback dropped", metadata: [
                    "event": "barge_in", "source": "\(source)", "turn": "\(self.current.turn.map(String.init) ?? "-")",
                    "post_to_drop_us": "\((ContinuousClock.now - posted).wholeMicroseconds)",
                ])
            }
            handled?()
        }
    }

    /// Changes the turn-taking settings live.
    public func update(settings: TurnSettings) {
        // The snapshot shows the new debounce once the loop has applied the settings.
        engine.update(settings: settings)
    }

    /// Posts a heartbeat; `current.handledEvents` moves when the controller has handled it.
    /// The watchdog uses this to tell a live controller from a stuck one.
    public func heartbeat() { engine.post(.heartbeat) }

    /// Speaks a notice while idle (`voicectl say`), through the streaming voice.
    public func say(_ text: String, voice: Voice = .primary) { engine.post(.say(text, voice)) }

    /// The microphone was muted: a turn still listening ends (`muted`); an answer already
    /// committed is still given.
    public func muted() { engine.post(.muted) }

    /// Speech-to-text is gone for good: the turn stops, the speaker goes IDLE and says so.
    public func goOffline() {
        engine.post(.offline)
        engine.post(.say(SystemNotice.offline.rawValue, .fallback))
    }

    /// Stops the turn: playback dropped, calls cancelled, state IDLE; a turn under way is recorded
    /// `aborted` with the cause (`shutdown`, or `fatal_error` when a service failed).
    public func shutdown(cause: TransitionCause = .shutdown) {
        engine.post(cause == .fatalError ? .fatalError : .shutdown)
    }

    public func run() async throws {
        let engine = self.engine
        let wakeups = self.wakeups
        let thread = LoopThread()
        defer { thread.join() }  // it has ended: this only reclaims it
        try await withThrowingTaskGroup(of: Void.self) { group in
            if engine.drive.isLoop {
                group.addTask {
                    try await withCheckedThrowingContinuation { (ended: CheckedContinuation<Void, Error>) in
                        do {
                            let started = try DedicatedThread.start(name: "voiced-turn") {
                                while true {
                                    wakeups.wait()
                                    if !engine.drainQueued() { break }
                                }
                                ended.resume()
                            }
                            thread.set(started)
                        } catch {
                            ended.resume(throwing: error)
                        }
                    }
                }
            }
            try? await gracefulShutdown()
            // Cancelled rather than shut down gracefully: another service failed.
            engine.post(Task.isCancelled ? .fatalError : .shutdown)
            // The loop handles what is queued (the shutdown last), then ends.
            engine.stop()
            wakeups.signal()
            try await group.waitForAll()
        }
        cancelTimers()
    }

    private func published(_ controller: TurnController) {
        let dropped = engine.droppedInputs
        status.withLock { status in
            status.update(from: controller)
            status.handledEvents &+= 1
            status.droppedInputs = dropped
        }
    }

    private func notify(_ notification: TurnNotification) {
        for observer in observers.withLock({ $0 }) { observer(notification) }
    }

    private func observe(_ input: TurnInput) {
        droppedPlayback.store(false, ordering: .relaxed)
        switch input {
        case .speech(let event, .speechToText): notify(.speech(event))  // what was heard; a local barge-in shows as its transition
        case .llm(_, .failed(let message)): notify(.providerFailed(provider: "llm", turn: status.withLock { $0.turn }, message: message))
        case .tts(_, .failed(let message)): notify(.providerFailed(provider: "tts", turn: status.withLock { $0.turn }, message: message))
        default: break
        }
    }

    private func observe(_ action: TurnAction) {
        switch action {
        case .dropPlayback:
            droppedPlayback.store(true, ordering: .relaxed)
        case .transitioned(let event):
            // The controller logs the transition (one line per fact).
            notify(.transition(event))
        case .startTTS(let request):
            notify(.speaking(turn: request.turn, text: request.text))
        case .turnFinished(let record):
            // The controller has handled the input: observers of the record see its counters.
            let controller = engine.controller
            status.withLock { status in
                status.lastTurn = record
                status.update(from: controller)
            }
            // The controller logs the turn, with the event that fits its status.
            notify(.turnFinished(record))
        case .debounceAdjusted(let adjustment):
            logger.notice("debounce adjusted", metadata: [
                "turn": "\(engine.controller.currentTurnID.map(String.init) ?? "-")",
                "old_ms": "\(adjustment.old.wholeMilliseconds)", "new_ms": "\(adjustment.new.wholeMilliseconds)",
                "cancellation_rate": "\(adjustment.cancellationRate)",
            ])
            notify(.debounceAdjusted(adjustment))
        default:
            break
        }
    }
}


/// The turn loop's thread, kept to be joined once it has ended.
private final class LoopThread: Sendable {
    private let thread = Mutex<DedicatedThread?>(nil)
    func set(_ started: DedicatedThread) { thread.withLock { $0 = started } }
    func join() { thread.withLock { $0 }?.join() }
}
