import Logging
import ServiceLifecycle
import Synchronization
import VoiceCore
import VoiceEspeak

/// Where a speech event came from: the cloud speech-to-text, or the local voice activity
/// detector that watches the microphone for barge-in.
public enum SpeechSource: Sendable, Equatable {
    case speechToText
    case localVoiceActivity
}

/// What the daemon shows about the turn-taking, readable from any thread.
public struct TurnStatus: Sendable, Equatable {
    public var state: TurnState = .idle
    public var turn: Int?
    public var recentTransitions: [TransitionEvent] = []
    public var telemetry: TelemetrySnapshot
    public var debounceMs: Int64
    public var lastTurn: TurnRecord?
    /// Progress counter: it moves every time the controller handles an event (for the watchdog).
    public var handledEvents: Int = 0
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

/// The turn controller as a service of the daemon: it carries out the engine's actions on the
/// real clock, admits speech events according to the state (the speaker's own voice must not
/// barge in), keeps a status for displays, and tells observers what happens.
public final class TurnService: Service, Sendable {
    private let engine: TurnEngine
    private let status: Mutex<TurnStatus>
    private let observers = Mutex<[@Sendable (TurnNotification) -> Void]>([])
    private let bargeInByVoice: Atomic<Bool>
    private let logger: Logger

    public init(controller: TurnController, llm: any LanguageModel, tts: any TextToSpeech, fallbackTTS: any TextToSpeech,
                playback: any AudioPlayback, indicator: any Indicator, scheduler: any TimerScheduler,
                bargeInByVoice: Bool, logger: Logger) {
        var logger = logger
        // Every line names its session (the journal's SESSION_ID); turn lines name the turn too.
        logger[metadataKey: "session"] = "\(controller.telemetry.sessionID)"
        self.logger = logger
        self.bargeInByVoice = Atomic(bargeInByVoice)
        status = Mutex(TurnStatus(telemetry: controller.telemetry.snapshot, debounceMs: controller.debounce.wholeMilliseconds))
        engine = TurnEngine(controller: controller, llm: llm, tts: tts, fallbackTTS: fallbackTTS, playback: playback,
                            indicator: indicator, scheduler: scheduler)
        engine.actionObserver = { [weak self] action in self?.observe(action) }
        engine.inputObserver = { [weak self] input in self?.observe(input) }
    }

    /// The current status.
    public var current: TurnStatus { status.withLock { $0 } }

    /// Registers an observer of what happens (called on the engine's thread: it must not block).
    public func observe(_ observer: @escaping @Sendable (TurnNotification) -> Void) {
        observers.withLock { $0.append(observer) }
    }

    /// A short press of the button (or `voicectl wake` / `interrupt`).
    public func buttonPressed() { engine.post(.button) }

    /// A speech event. While SPEAKING, only the local voice activity detector may barge in (and
    /// only when barge-in by voice is on): the cloud transcribes the speaker's own voice too.
    public func speech(_ event: SpeechEvent, from source: SpeechSource) {
        let state = status.withLock { $0.state }
        switch (source, state) {
        case (.localVoiceActivity, .speaking):
            guard bargeInByVoice.load(ordering: .relaxed), event == .speechStarted else { return }
            engine.post(.speech(.speechStarted, from: .localVoiceActivity))
        case (.localVoiceActivity, _):
            return  // outside SPEAKING the cloud's own voice activity events are used
        case (.speechToText, .speaking):
            return
        case (.speechToText, _):
            engine.post(.speech(event))
        }
    }

    /// Changes the turn-taking settings live.
    public func update(settings: TurnSettings, bargeInByVoice: Bool) {
        self.bargeInByVoice.store(bargeInByVoice, ordering: .relaxed)
        engine.update(settings: settings)
        // The controller restarts from a changed debounce (clamped to the adaptive bounds).
        let debounce = min(max(settings.debounce, settings.adaptive.minimum), settings.adaptive.maximum)
        status.withLock { $0.debounceMs = debounce.wholeMilliseconds }
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
        // The engine is event-driven: this service only waits for the end, then stops the turn.
        try? await gracefulShutdown()
        // Cancelled rather than shut down gracefully: another service failed.
        engine.post(Task.isCancelled ? .fatalError : .shutdown)
    }

    private func notify(_ notification: TurnNotification) {
        for observer in observers.withLock({ $0 }) { observer(notification) }
    }

    private func observe(_ input: TurnInput) {
        status.withLock { $0.handledEvents &+= 1 }
        switch input {
        case .speech(let event, _): notify(.speech(event))
        case .llm(_, .failed(let message)): notify(.providerFailed(provider: "llm", turn: status.withLock { $0.turn }, message: message))
        case .tts(_, .failed(let message)): notify(.providerFailed(provider: "tts", turn: status.withLock { $0.turn }, message: message))
        default: break
        }
    }

    private func observe(_ action: TurnAction) {
        switch action {
        case .transitioned(let event):
            status.withLock { status in
                status.state = event.to
                status.turn = event.turn ?? status.turn
                status.recentTransitions.append(event)
                if status.recentTransitions.count > 16 { status.recentTransitions.removeFirst() }
            }
            // The controller's state machine logs the transition (one line per fact).
            notify(.transition(event))
        case .startTTS(let request):
            notify(.speaking(turn: request.turn, text: request.text))
        case .turnFinished(let record):
            let snapshot = engine.controller.telemetry.snapshot
            let debounce = engine.controller.debounce.wholeMilliseconds
            status.withLock { status in
                status.lastTurn = record
                status.telemetry = snapshot
                status.debounceMs = debounce
            }
            // The controller logs the turn, with the event that fits its status.
            notify(.turnFinished(record))
        case .debounceAdjusted(let adjustment):
            status.withLock { $0.debounceMs = adjustment.new.wholeMilliseconds }
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

