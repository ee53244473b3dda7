import CEspeak
import Dispatch
import Synchronization
import VoiceCore
import VoiceDSP

/// An espeak-ng failure.
public enum EspeakError: Error, Equatable, Sendable, CustomStringConvertible {
    /// libespeak-ng could not be loaded (dlopen's message).
    case libraryUnavailable(String)
    /// `espeak_Initialize` failed: usually the voice data is missing.
    case initializationFailed
    /// The voice is not installed.
    case voiceNotFound(String)
    /// `espeak_Synth` returned an error code.
    case synthesisFailed(code: Int)
    /// speexdsp could not convert espeak's rate to the playback rate.
    case resampling(ResamplerError)

    public var description: String {
        switch self {
        case .libraryUnavailable(let reason):
            "espeak-ng's library could not be loaded (\(reason)): install the libespeak-ng1 package"
        case .initializationFailed:
            "espeak-ng could not start: check that the espeak-ng-data package is installed"
        case .voiceNotFound(let voice):
            "espeak-ng has no voice '\(voice)': list the voices with `espeak-ng --voices` (e.g. en-us, en-gb)"
        case .synthesisFailed(let code):
            "espeak-ng failed to synthesise (espeak_ERROR \(code))"
        case .resampling(let error):
            "espeak-ng's audio could not be converted to the playback rate: \(error)"
        }
    }
}

/// The process's espeak-ng engine, in-process through libespeak-ng.
///
/// The library is loaded (dlopen) at the first synthesis, not at start: a daemon whose cloud
/// voice works never maps it, nor the ~20 libraries it brings (PulseAudio, X11, codecs).
///
/// libespeak-ng keeps global state, so there is one engine per process: synthesis runs on its own
/// serial queue, one text at a time, in order. Audio comes out at the playback rate
/// (``PlaybackChunk/sampleRate``), resampled from espeak's native rate.
public final class EspeakEngine: Sendable {
    /// The one engine.
    public static let shared = EspeakEngine()

    /// espeak-ng's rate of normal speech, in words per minute.
    public static let normalWordsPerMinute = 175

    private let queue = DispatchQueue(label: "voiced.espeak")
    /// The loaded library and espeak's native rate, or the error of the first initialisation.
    /// Touched only on `queue`.
    private let native = Mutex<Result<Loaded, EspeakError>?>(nil)

    /// libespeak-ng's entry points and its native rate, once it has started.
    struct Loaded {
        var api: voiced_espeak_api
        var rate: Int
    }

    private init() {}

    /// A text being synthesised: where its audio goes and whether it was cancelled.
    final class Job: @unchecked Sendable {
        // @unchecked: `cancelled` is atomic; `resampler`, `failure` and `onChunk` are used only on the engine's queue.
        let cancelled = Atomic<Bool>(false)
        let resampler: SpeexResampler
        let onChunk: ([Int16]) -> Void
        /// The resampler refused a chunk: the synthesis is aborted and fails with this.
        var failure: ResamplerError?

        init(resampler: SpeexResampler, onChunk: @escaping ([Int16]) -> Void) {
            self.resampler = resampler
            self.onChunk = onChunk
        }
    }

    /// The job being synthesised, for the C callback (which has no context of its own).
    fileprivate static let current = Mutex<Job?>(nil)

    /// Synthesises `text` on the engine's queue and returns at once.
    ///
    /// `onChunk` receives 16 kHz PCM as espeak produces it; `completion` receives true when the
    /// text was spoken to its end, false when it was cancelled. Both run on the engine's queue.
    /// - Returns: a cancel function: it stops the synthesis at its next chunk, or before it starts.
    @discardableResult
    public func synthesize(_ text: String, voice: String, wordsPerMinute: Int,
                           onChunk: @escaping @Sendable ([Int16]) -> Void,
                           completion: @escaping @Sendable (Result<Bool, EspeakError>) -> Void) -> @Sendable () -> Void {
        let box = JobBox()
        queue.async { [self] in
            guard !box.cancelledEarly.load(ordering: .acquiring) else {
                completion(.success(false))
                return
            }
            let loaded: Loaded
            switch initialise() {
            case .failure(let error):
                completion(.failure(error))
                return
            case .success(let value):
                loaded = value
            }
            let job: Job
            do throws(ResamplerError) {
                job = Job(resampler: try SpeexResampler(from: loaded.rate, to: PlaybackChunk.sampleRate), onChunk: onChunk)
            } catch {
                completion(.failure(.resampling(error)))
                return
            }
            box.set(job)
            completion(run(job, api: loaded.api, text: text, voice: voice, wordsPerMinute: wordsPerMinute))
        }
        return { box.cancel() }
    }

    /// Synthesises `text` whole (for the fake cloud, and for notices prepared ahead).
    public func synthesizeAll(_ text: String, voice: String = "en-us", wordsPerMinute: Int = EspeakEngine.normalWordsPerMinute) async throws(EspeakError) -> [Int16] {
        let collected = Mutex<[Int16]>([])
        let result: Result<Bool, EspeakError> = await withCheckedContinuation { continuation in
            synthesize(text, voice: voice, wordsPerMinute: wordsPerMinute,
                       onChunk: { pcm in collected.withLock { $0 += pcm } },
                       completion: { continuation.resume(returning: $0) })
        }
        if case .failure(let error) = result { throw error }
        return collected.withLock { $0 }
    }

    /// Loads and starts espeak once (on the queue). The result, good or bad, is kept.
    private func initialise() -> Result<Loaded, EspeakError> {
        if let known = native.withLock({ $0 }) { return known }
        let result = Self.load()
        native.withLock { $0 = result }
        return result
    }

    private static func load() -> Result<Loaded, EspeakError> {
        var api = voiced_espeak_api()
        if let failure = voiced_espeak_load(&api) { return .failure(.libraryUnavailable(String(cString: failure))) }
        // DONT_EXIT: without it, libespeak-ng calls exit() when its data is missing.
        let rate = voiced_espeak_initialize(&api, AUDIO_OUTPUT_SYNCHRONOUS, 50, nil, Int32(espeakINITIALIZE_DONT_EXIT))
        guard rate > 0 else { return .failure(.initializationFailed) }
        voiced_espeak_set_synth_callback(&api, espeakCallback)
        return .success(Loaded(api: api, rate: Int(rate)))
    }

    private func run(_ job: Job, api: voiced_espeak_api, text: String, voice: String, wordsPerMinute: Int) -> Result<Bool, EspeakError> {
        var api = api
        let status = voice.withCString { voiced_espeak_set_voice_by_name(&api, $0) }
        guard status == EE_OK else { return .failure(.voiceNotFound(voice)) }
        _ = voiced_espeak_set_parameter(&api, espeakRATE, Int32(max(80, min(450, wordsPerMinute))), 0)
        Self.current.withLock { $0 = job }
        defer { Self.current.withLock { $0 = nil } }
        let size = text.utf8.count + 1
        let code = text.withCString { pointer in
            voiced_espeak_synth(&api, pointer, size, 0, POS_CHARACTER, 0, UInt32(espeakCHARS_UTF8))
        }
        if let failure = job.failure { return .failure(.resampling(failure)) }
        if job.cancelled.load(ordering: .acquiring) { return .success(false) }
        guard code == EE_OK else { return .failure(.synthesisFailed(code: Int(code.rawValue))) }
        do {
            let tail = try job.resampler.flush()
            if !tail.isEmpty { job.onChunk(tail) }
        } catch {
            return .failure(.resampling(error))
        }
        return .success(true)
    }
}


/// Holds a job that may not have started yet, so that a cancel before the start is not lost.
private final class JobBox: Sendable {
    let cancelledEarly = Atomic<Bool>(false)
    private let job = Mutex<EspeakEngine.Job?>(nil)

    func set(_ value: EspeakEngine.Job) {
        job.withLock { $0 = value }
        if cancelledEarly.load(ordering: .acquiring) { value.cancelled.store(true, ordering: .releasing) }
    }

    func cancel() {
        cancelledEarly.store(true, ordering: .releasing)
        job.withLock { $0 }?.cancelled.store(true, ordering: .releasing)
    }
}

/// espeak's synthesis callback: hands each chunk to the current job; returning 1 aborts.
private func espeakCallback(_ samples: UnsafeMutablePointer<Int16>?, _ count: Int32,
                            _ events: UnsafeMutablePointer<espeak_EVENT>?) -> Int32 {
    guard let job = EspeakEngine.current.withLock({ $0 }) else { return 1 }
    if job.cancelled.load(ordering: .acquiring) { return 1 }
    guard let samples, count > 0 else { return 0 }
    let pcm: [Int16]
    do {
        pcm = try job.resampler.process(UnsafeBufferPointer(start: samples, count: Int(count)))
    } catch {
        job.failure = error
        return 1
    }
    if !pcm.isEmpty { job.onChunk(pcm) }
    return job.cancelled.load(ordering: .acquiring) ? 1 : 0
}
