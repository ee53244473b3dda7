import Logging
import Synchronization
import VoiceCore

/// What the speaker says about itself, in the fallback voice, when it cannot reach its services.
public enum SystemNotice: String, CaseIterable, Sendable {
    case assistantUnreachable = "I can't reach the assistant right now."
    case offline = "I'm offline."
}

/// The local ``TextToSpeech``: espeak-ng, in-process, with no network. The fallback voice when the
/// streaming service fails, and the voice of system notices.
///
/// Audio arrives as espeak produces it (in 50 ms pieces), at 16 kHz. `cancel` stops the synthesis
/// at its next piece, or before it starts if it is still queued behind another.
public final class EspeakTTS: TextToSpeech, Sendable {
    /// The espeak-ng voice, e.g. `en-us`, and the speaking rate; they may change while the daemon
    /// runs, and each synthesis reads them when it starts.
    private let live: Mutex<(voice: String, wordsPerMinute: Int)>
    /// The espeak-ng voice in force, e.g. `en-us`.
    public var voice: String { live.withLock { $0.voice } }
    /// The speaking rate in force.
    public var wordsPerMinute: Int { live.withLock { $0.wordsPerMinute } }
    private let engine: EspeakEngine
    private let logger: Logger
    private let running = Mutex<[Int: @Sendable () -> Void]>([:])

    public init(voice: String = "en-us", wordsPerMinute: Int = EspeakEngine.normalWordsPerMinute, engine: EspeakEngine = .shared,
                logger: Logger = Logger(label: "voiced.espeak")) {
        live = Mutex((voice, wordsPerMinute))
        self.engine = engine
        self.logger = logger
    }

    /// Changes the voice and the speaking rate from the next synthesis on.
    public func update(voice: String, wordsPerMinute: Int) {
        live.withLock { $0 = (voice, wordsPerMinute) }
    }

    public func start(_ request: TTSRequest, onEvent: @escaping @Sendable (TTSEvent) -> Void) {
        let id = request.id
        let (voice, wordsPerMinute) = live.withLock { $0 }
        logger.debug("espeak-ng synthesis", metadata: ["request": "\(id)", "voice": "\(voice)", "words_per_minute": "\(wordsPerMinute)"])
        let flag = CancelFlag()
        // Registered before the synthesis starts: its first chunk can reach the caller, and the
        // caller cancel, before `synthesize` has even returned.
        let stop = StopBox()
        running.withLock { $0[id] = { flag.set(); stop.stop() } }
        let cancel = engine.synthesize(
            request.text, voice: voice, wordsPerMinute: wordsPerMinute,
            onChunk: { pcm in if !flag.isSet { onEvent(.audio(pcm)) } },
            completion: { [weak self] result in
                self?.running.withLock { _ = $0.removeValue(forKey: id) }
                guard !flag.isSet else { return }
                switch result {
                case .success(true): onEvent(.finished)
                case .success(false): break
                case .failure(let error):
                    self?.logger.error("espeak-ng failed", metadata: ["request": "\(id)", "error": "\(error)"])
                    onEvent(.failed(error.description))
                }
            })
        stop.set(cancel)
    }

    public func cancel(request id: Int) {
        running.withLock { $0.removeValue(forKey: id) }?()
    }

    /// The notice as 16 kHz PCM, for playback with no network.
    public func speak(_ notice: SystemNotice) async throws(EspeakError) -> [Int16] {
        let (voice, wordsPerMinute) = live.withLock { $0 }
        return try await engine.synthesizeAll(notice.rawValue, voice: voice, wordsPerMinute: wordsPerMinute)
    }
}

/// The engine's cancel, once known; stopping before then stops it as soon as it is set.
final class StopBox: Sendable {
    private let state = Mutex<(cancel: (@Sendable () -> Void)?, stopped: Bool)>((nil, false))

    func set(_ cancel: @escaping @Sendable () -> Void) {
        let stopNow = state.withLock { state -> Bool in
            state.cancel = cancel
            return state.stopped
        }
        if stopNow { cancel() }
    }

    func stop() {
        let cancel = state.withLock { state -> (@Sendable () -> Void)? in
            state.stopped = true
            return state.cancel
        }
        cancel?()
    }
}

/// A flag set once, read from any thread.
final class CancelFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}
