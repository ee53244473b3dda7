import Synchronization

/// Carries out the turn controller's actions against the providers, and feeds their events back.
///
/// Events may be posted from any thread; posting only enqueues. How the queue is drained is the
/// engine's `Drive`:
/// - `.loop(wake:)`: the owner's loop (in the daemon, the turn service's dedicated thread) is
///   the only place the controller and its observers run: posting enqueues and calls `wake`; the
///   loop calls `drainQueued()`. Audio, GPIO, network and timer callbacks never run controller
///   code, so a journald write or a control-socket fan-out can never stall the capture or
///   playback thread.
/// - `.inline`: the posting thread drains the queue at once, one thread at a time (a thread that
///   finds another draining only enqueues). Deterministic single-threaded drivers use it: scenario
///   tests on a manual clock and `voiced simulate`.
///
/// Either way inputs are handled one at a time, in order, except that a button press jumps the
/// queue; and `dropPlayback` is carried out the moment the controller decides it.
public final class TurnEngine: @unchecked Sendable {
    // @unchecked: `queue` is behind its mutex; `controller`, the providers and the observers are
    // used only by the one draining context (the loop task, or the thread holding `draining`).

    public enum Drive: Sendable {
        case inline
        /// `wake` is called after each post: the loop should call `drainQueued()` soon.
        case loop(wake: @Sendable () -> Void)

        public var isLoop: Bool { if case .loop = self { true } else { false } }
    }

    /// Where the controller runs (see the type's documentation).
    public let drive: Drive
    /// The controller. Read it only from the draining context (observers) or when nothing runs.
    public private(set) var controller: TurnController
    private let llm: any LanguageModel
    private let tts: any TextToSpeech
    private let fallbackTTS: any TextToSpeech
    private let playback: any AudioPlayback
    private let indicator: any Indicator
    private let scheduler: any TimerScheduler
    private let queue: TurnInputQueue

    /// Sees every input before it is handled (for timelines and logs).
    public var inputObserver: ((TurnInput) -> Void)?
    /// Sees every action before it is carried out.
    public var actionObserver: ((TurnAction) -> Void)?
    /// Called after each input has been handled and its actions carried out (status snapshots).
    public var handledObserver: ((TurnController) -> Void)?
    /// Called just before the controller handles an input, on the thread that runs it: tests use
    /// it to prove that no controller code runs on an audio thread.
    public var willHandle: (@Sendable () -> Void)?

    /// - Parameter capacity: inputs that may wait; past it an input is dropped and counted
    ///   (`droppedInputs`). A button press is never dropped.
    public init(controller: TurnController, llm: any LanguageModel, tts: any TextToSpeech,
                fallbackTTS: any TextToSpeech, playback: any AudioPlayback, indicator: any Indicator,
                scheduler: any TimerScheduler, drive: Drive = .inline, capacity: Int = 4096) {
        self.controller = controller
        self.llm = llm
        self.tts = tts
        self.fallbackTTS = fallbackTTS
        self.playback = playback
        self.indicator = indicator
        self.scheduler = scheduler
        self.drive = drive
        queue = TurnInputQueue(capacity: capacity)
        playback.setEventHandler { [weak self] event in self?.post(.playback(event)) }
    }

    /// Inputs dropped because the queue was full (the loop stalled: the watchdog will see it).
    public var droppedInputs: Int { queue.dropped }

    /// Hands an event to the controller. A button press is handled before anything queued.
    /// `handled` is called on the loop once the input has been handled and its actions carried
    /// out (or at once if the engine has stopped).
    public func post(_ input: TurnInput, handled: (@Sendable () -> Void)? = nil) {
        let entry = TurnInputQueue.Entry(input: input, handled: handled)
        let urgent = input == .button
        switch drive {
        case .loop(let wake):
            queue.push(entry, urgent: urgent)
            wake()
        case .inline:
            guard queue.pushAndClaim(entry, urgent: urgent) else { return }
            while let next = queue.nextOrRelease() { handle(next) }
        }
    }

    /// The turn loop's step (`.loop` only, from the loop alone): handles every queued input, then
    /// returns false once `stop()` was called and nothing is left, true otherwise.
    public func drainQueued() -> Bool {
        while let next = queue.pop() { handle(next) }
        return !queue.isClosed
    }

    /// After this, posts are refused (a waiter is released at once); what is queued is still
    /// handled by the next `drainQueued()`, which then returns false.
    public func stop() { queue.close() }

    /// Changes the controller's settings live, between two events.
    public func update(settings: TurnSettings) { post(.settings(settings)) }

    private func handle(_ entry: TurnInputQueue.Entry) {
        willHandle?()
        inputObserver?(entry.input)
        for action in controller.handle(entry.input) { perform(action) }
        handledObserver?(controller)
        entry.handled?()
    }

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

/// The engine's bounded queue of inputs: many producers, one consumer (the loop, or the one
/// thread that claimed the inline drain). Urgent inputs go to the front and are never dropped.
final class TurnInputQueue: Sendable {
    struct Entry: Sendable {
        var input: TurnInput
        var handled: (@Sendable () -> Void)?
    }

    private struct State {
        var items: [Entry] = []
        var head = 0
        var draining = false
        var closed = false
        var dropped = 0

        var count: Int { items.count - head }

        mutating func popFirst() -> Entry? {
            guard head < items.count else { return nil }
            let item = items[head]
            head += 1
            if head > 256 && head * 2 > items.count {
                items.removeFirst(head)
                head = 0
            }
            return item
        }

        /// Enqueues; returns false when the input was dropped.
        mutating func insert(_ input: Entry, urgent: Bool, capacity: Int) -> Bool {
            if urgent {
                if head > 0 {
                    head -= 1
                    items[head] = input
                } else {
                    items.insert(input, at: 0)
                }
                return true
            }
            guard count < capacity else {
                dropped += 1
                return false
            }
            items.append(input)
            return true
        }
    }

    private let state = Mutex(State())
    private let capacity: Int

    init(capacity: Int) { self.capacity = max(1, capacity) }

    var dropped: Int { state.withLock { $0.dropped } }

    /// Loop mode: enqueues (refused once closed: the waiter is released at once).
    func push(_ input: Entry, urgent: Bool) {
        let accepted = state.withLock { state in
            !state.closed && state.insert(input, urgent: urgent, capacity: capacity)
        }
        if !accepted { input.handled?() }  // nobody will handle it: do not leave a waiter hanging
    }

    /// Loop mode: the next input, if any.
    func pop() -> Entry? { state.withLock { $0.popFirst() } }

    var isClosed: Bool { state.withLock { $0.closed } }

    func close() { state.withLock { $0.closed = true } }

    /// Inline mode: enqueues; returns true when the caller must drain (nobody else is).
    func pushAndClaim(_ input: Entry, urgent: Bool) -> Bool {
        state.withLock { state in
            if !state.insert(input, urgent: urgent, capacity: capacity) { input.handled?() }
            if state.draining { return false }
            state.draining = true
            return true
        }
    }

    /// Inline mode: the next input, or nil after releasing the drain when the queue is empty.
    func nextOrRelease() -> Entry? {
        state.withLock { state in
            if let item = state.popFirst() { return item }
            state.draining = false
            return nil
        }
    }
}
