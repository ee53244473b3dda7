/// Carries out the turn controller's actions against the providers, and feeds their events back.
///
/// One engine runs on one executor (the daemon's turn service, or a simulation's manual clock);
/// providers must call back on it. Events are handled one at a time, in order; a button press
/// skips ahead of queued events, and `dropPlayback` is carried out the moment it is decided.
public final class TurnEngine {
    public private(set) var controller: TurnController
    private let llm: any LanguageModel
    private let tts: any TextToSpeech
    private let fallbackTTS: any TextToSpeech
    private let playback: any AudioPlayback
    private let indicator: any Indicator
    private let scheduler: any TimerScheduler
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
        if input == .button { queue.insert(input, at: 0) } else { queue.append(input) }
        guard !draining else { return }
        draining = true
        defer { draining = false }
        while !queue.isEmpty {
            let next = queue.removeFirst()
            inputObserver?(next)
            for action in controller.handle(next) { perform(action) }
        }
    }

    /// Changes the controller's settings live.
    public func update(settings: TurnSettings) { controller.update(settings: settings) }

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
        case .setIndicator(let state):
            indicator.show(state)
        case .schedule(let timer, let ticket):
            scheduler.schedule(at: ticket.deadline) { [weak self] in self?.post(.timer(timer, ticket)) }
        case .transitioned, .turnFinished, .debounceAdjusted:
            break
        }
    }
}
