import Synchronization

/// Carries out the turn controller's actions against the providers, and feeds their events back.
///
/// Events may be posted from any thread. They are handled one at a time, in order, by whichever
/// thread finds the engine idle (it drains the queue; others only enqueue), so the controller is
/// never touched by two threads at once and a provider may call back from inside `start`. A
/// button press skips ahead of queued events, and `dropPlayback` is carried out the moment it is
/// decided.
public final class TurnEngine: @unchecked Sendable {
    // @unchecked: `queue` and `draining` are guarded by `lock`; `controller`, the providers and
    // the observers are used only by the draining thread (the `draining` flag admits one).

    /// The controller. Read it only from the draining thread (observers) or when nothing runs.
    public private(set) var controller: TurnController
    private let llm: any LanguageModel
    private let tts: any TextToSpeech
    private let fallbackTTS: any TextToSpeech
    private let playback: any AudioPlayback
    private let indicator: any Indicator
    private let scheduler: any TimerScheduler
    private let lock = Mutex(())
    private var queue: [TurnInput] = []
    private var draining = false

    /// Sees every input before it is handled (for timelines and logs).
    public var inputObserver: ((TurnInput) -> Void)?
    /// Sees every action before it is carried out.
    public var actionObserver: ((TurnAction) -> Void)?

    public init(controller: TurnController, llm: any LanguageModel, tts: any TextToSpeech,
                fallbackTTS: any TextToSpeech, playback: any AudioPlayback, indicator: any Indicator,
                scheduler: any TimerScheduler) {
        self.controller = controller
        self.llm = llm
        self.tts = tts
        self.fallbackTTS = fallbackTTS
        self.playback = playback
        self.indicator = indicator
        self.scheduler = scheduler
        playback.setEventHandler { [weak self] event in self?.post(.playback(event)) }
    }

    /// Hands an event to the controller. A button press is handled before anything queued.
    public func post(_ input: TurnInput) {
        let drain = lock.withLock { _ -> Bool in
            if input == .button { queue.insert(input, at: 0) } else { queue.append(input) }
            if draining { return false }
            draining = true
            return true
        }
        guard drain else { return }
        while let next = nextInput() {
            inputObserver?(next)
            for action in controller.handle(next) { perform(action) }
        }
    }

    /// The next queued input, or nil after clearing `draining` when the queue is empty.
    private func nextInput() -> TurnInput? {
        lock.withLock { _ in
            if queue.isEmpty {
                draining = false
                return nil
            }
            return queue.removeFirst()
        }
    }

    /// Changes the controller's settings live, between two events.
    public func update(settings: TurnSettings) { post(.settings(settings)) }

    private func perform(_ action: TurnAction) {
        actionObserver?(action)
        switch action {
        case .startLLM(let request):
            llm.start(request) { [weak self] event in self?.post(.llm(call: request.call, event)) }
        case .cancelLLM(let call, _):
            llm.cancel(call: call)
        case .startTTS(let request):
            let voice = request.voice == .primary ? tts : fallbackTTS
            voice.start(request) { [weak self] event in self?.post(.tts(request: request.id, event)) }
        case .cancelTTS(let request):
            tts.cancel(request: request)
            fallbackTTS.cancel(request: request)
        case .play(let chunk):
            playback.enqueue(chunk)
        case .endSegment(let turn, let segment):
            playback.endSegment(turn: turn, segment: segment)
        case .dropPlayback:
            playback.drop()
        case .cue(let earcon):
            playback.enqueue(PlaybackChunk(turn: -1, segment: 0, samples: earcon.samples()))
        case .setIndicator(let state):
            indicator.show(state)
        case .schedule(let timer, let ticket):
            scheduler.schedule(at: ticket.deadline) { [weak self] in self?.post(.timer(timer, ticket)) }
        case .transitioned, .turnFinished, .debounceAdjusted, .cancellationRefined:
            break
        }
    }
}
