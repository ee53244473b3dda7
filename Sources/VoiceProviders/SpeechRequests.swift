import FoundationEssentials
import Logging
import Synchronization
import VoiceCore

/// What every streaming text-to-speech client over HTTP shares: one ``RetryingCall`` per request
/// on the ``CurlLoop``, its record when it ends, cancellation, and actionable failure messages.
/// A provider builds the HTTP request and the ``PCMStream``; this runs them.
final class SpeechRequests: @unchecked Sendable {
    // @unchecked: `requests` is behind its mutex, `log` is thread-safe; `recorder` is set before
    // the first request.

    /// Who the requests go to, for messages: the service's name, its key and where that comes from.
    struct Service: Sendable {
        var name: String
        var credential: CredentialName
        var apiKey: Secret?
        var endpoint: Endpoint
    }

    let service: Service
    private let loop: CurlLoop
    private let clock: any VoiceClock
    private let logger: Logger
    private let requests = Mutex<[Int: (call: RetryingCall, turn: Int)]>([:])
    private let log: ProviderCallLog
    /// Called with the record of every request as it ends (from any thread).
    var recorder: (@Sendable (ProviderCallRecord) -> Void)?

    init(service: Service, loop: CurlLoop, clock: any VoiceClock, logger: Logger) {
        self.service = service
        self.loop = loop
        self.clock = clock
        self.logger = logger
        log = ProviderCallLog(logger: logger, message: "TTS request ended", idKey: "request")
    }

    /// The last 100 request records, oldest first.
    var records: [ProviderCallRecord] { log.records }

    /// How long a request may take to connect, to send its first audio and between two bytes, and its retries.
    struct Timing: Sendable {
        var connect: Duration
        var firstByte: Duration
        var stall: Duration
        var policy: RetryPolicy

        init(_ configuration: some SpeechTransport) {
            connect = configuration.connectTimeout
            firstByte = configuration.firstByteTimeout
            stall = configuration.stallTimeout
            policy = configuration.policy
        }
    }

    /// POSTs `body` as JSON to `url` for `request`, and streams the response as PCM at `sampleRate`
    /// (converted to the playback rate); ends with `.finished` or `.failed`.
    func start(_ request: TTSRequest, url: String, headers: [String], body: some Encodable, sampleRate: Int, timing: Timing,
               onEvent: @escaping @Sendable (TTSEvent) -> Void) {
        let http: StreamingRequest
        let stream: PCMStream
        do {
            http = StreamingRequest(
                url: url, headers: ["Content-Type: application/json", "Accept: \(PCMStream.acceptedTypes.joined(separator: ", "))"] + headers,
                body: Array(try JSONEncoder().encode(body)), connectTimeout: timing.connect, stallTimeout: timing.stall)
            stream = try PCMStream(onEvent: onEvent, logger: logger, apiKey: service.apiKey, sampleRate: sampleRate)
        } catch {
            onEvent(.failed("cannot set up the speech request: \(error)"))
            return
        }
        let settings = RetryingCall.Settings(policy: timing.policy, firstByteTimeout: timing.firstByte)
        let id = request.id
        let turn = request.turn
        let call = RetryingCall(
            request: http, consumer: stream, loop: loop, clock: clock, settings: settings,
            logger: logger.with("request", "\(id)")
        ) { [weak self] failure, summary in
            guard let self else { return }
            requests.withLock { _ = $0.removeValue(forKey: id) }
            let message = failure.map { describe($0, attempts: summary.statuses.count) }
            record(ProviderCallRecord(
                service: .tts, id: id, turn: turn, outcome: failure == nil ? .completed : .failed, statuses: summary.statuses,
                promptTokens: nil, completionTokens: nil, samples: stream.samples, firstByteMs: summary.firstByteMs,
                latencyMs: summary.latencyMs, error: message))
            onEvent(message.map { .failed($0) } ?? .finished)
        }
        stream.call = call
        requests.withLock { $0[id] = (call, turn) }
        call.start()
    }

    /// Stops request `id` at once; nothing more of it is delivered.
    func cancel(request id: Int) {
        guard let (call, turn) = requests.withLock({ $0.removeValue(forKey: id) }) else { return }
        call.cancel()
        record(.cancelled(.tts, id: id, turn: turn, summary: call.summary()))
    }

    private func record(_ record: ProviderCallRecord) {
        log.add(record, detail: ("samples", record.samples.map(String.init) ?? "-"), observer: recorder)
    }

    /// The failure as the controller and the log see it: actionable, and never holding the key.
    func describe(_ failure: AttemptFailure, attempts: Int) -> String {
        FailureWording(service: service.name, request: "TTS request", host: service.endpoint.host,
                       credential: service.credential, apiKey: service.apiKey).describe(failure, attempts: attempts)
    }
}

/// The timeouts and retry rules every speech client's configuration carries.
protocol SpeechTransport {
    var connectTimeout: Duration { get }
    var firstByteTimeout: Duration { get }
    var stallTimeout: Duration { get }
    var policy: RetryPolicy { get }
}

extension ElevenLabsConfiguration: SpeechTransport {}
extension OpenAISpeechConfiguration: SpeechTransport {}
