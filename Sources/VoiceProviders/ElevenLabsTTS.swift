import Foundation
import Logging
import Synchronization
import VoiceCore

/// Settings of the ElevenLabs streaming text-to-speech client.
public struct ElevenLabsConfiguration: Sendable {
    /// The API's base URL; requests go to `{baseURL}/v1/text-to-speech/{voiceID}/stream`.
    public var baseURL = "https://api.elevenlabs.io"
    /// The voice (letters, digits, `_` and `-`).
    public var voiceID: String
    public var modelID = "eleven_flash_v2_5"
    /// Sent as `xi-api-key`.
    public var apiKey: Secret?
    /// No audio within this long → one retry.
    public var firstByteTimeout: Duration = .seconds(5)
    /// No byte at all for this long in the middle of a sentence → the request fails.
    public var stallTimeout: Duration = .seconds(5)
    public var connectTimeout: Duration = .seconds(5)
    public var policy = RetryPolicy.speech

    public init(baseURL: String = "https://api.elevenlabs.io", voiceID: String, modelID: String = "eleven_flash_v2_5",
                apiKey: Secret? = nil) {
        self.baseURL = baseURL
        self.voiceID = voiceID
        self.modelID = modelID
        self.apiKey = apiKey
    }
}

/// A streaming ``TextToSpeech`` over ElevenLabs' `/stream` endpoint with `output_format=pcm_16000`
/// (16 kHz, 16-bit little-endian mono PCM), on libcurl.
///
/// PCM reaches the controller as it arrives; a sample split across two reads is joined. An error
/// status, a JSON body or any non-audio content type is an error and is never played. A network
/// error, a 5xx or no first byte in time gets one retry (before any audio was delivered); then
/// the request fails and the controller has the fallback voice speak. `cancel` stops the
/// transfer at once.
public final class ElevenLabsTTS: TextToSpeech, @unchecked Sendable {
    // @unchecked: `requests` is behind its mutex, `log` is thread-safe; the rest is immutable.

    private let configuration: ElevenLabsConfiguration
    /// The voice and model, which may change while the daemon runs; each request reads them when it starts.
    private let live: Mutex<LiveSettings>
    private let endpoint: Endpoint
    private let loop: CurlLoop
    private let clock: any VoiceClock
    private let logger: Logger
    private let requests = Mutex<[Int: (call: RetryingCall, turn: Int)]>([:])
    private let log: ProviderCallLog

    /// Called with the record of every request as it ends (from any thread).
    public var recorder: (@Sendable (ProviderCallRecord) -> Void)?

    /// Checks the configuration; throws ``ProviderSetupError`` for a refused URL or a bad voice id.
    public init(configuration: ElevenLabsConfiguration, loop: CurlLoop = .shared, clock: any VoiceClock = SystemVoiceClock(),
                logger: Logger = Logger(label: "voiced.tts")) throws(ProviderSetupError) {
        endpoint = try Endpoint(configuration.baseURL)
        guard endpoint.scheme == "http" || endpoint.scheme == "https" else { throw .unsupportedScheme(endpoint.scheme) }
        let settings = LiveSettings(voiceID: configuration.voiceID, modelID: configuration.modelID)
        try settings.check()
        live = Mutex(settings)
        self.configuration = configuration
        self.loop = loop
        self.clock = clock
        var logger = logger
        logger[metadataKey: "provider"] = "elevenlabs"
        self.logger = logger
        log = ProviderCallLog(logger: logger, message: "TTS request ended", idKey: "request")
    }

    /// What may change while the daemon runs: the voice and the model.
    public struct LiveSettings: Equatable, Sendable {
        /// The voice (letters, digits, `_` and `-`).
        public var voiceID: String
        public var modelID: String

        public init(voiceID: String, modelID: String) {
            self.voiceID = voiceID
            self.modelID = modelID
        }

        func check() throws(ProviderSetupError) {
            let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "_-"))
            guard !voiceID.isEmpty, voiceID.unicodeScalars.allSatisfy({ $0.isASCII && allowed.contains($0) }) else {
                throw .invalidSetting(name: "voice_id", reason: "use the voice's id (letters, digits, _ and -), got '\(voiceID)'")
            }
            guard !modelID.isEmpty else { throw .invalidSetting(name: "model_id", reason: "is empty") }
        }
    }

    /// The voice and model in force: the next request uses them.
    public var settings: LiveSettings { live.withLock { $0 } }

    /// Changes the voice and model from the next request on (a request in flight keeps what it
    /// started with). Throws, and keeps the old ones, for a bad voice id or an empty model.
    public func update(_ settings: LiveSettings) throws(ProviderSetupError) {
        try settings.check()
        live.withLock { $0 = settings }
    }

    /// The last 100 request records, oldest first.
    public var records: [ProviderCallRecord] { log.records }

    public func start(_ request: TTSRequest, onEvent: @escaping @Sendable (TTSEvent) -> Void) {
        struct Body: Encodable {
            var text: String
            var model_id: String
        }
        let settings = self.settings
        let body: [UInt8]
        do {
            body = Array(try JSONEncoder().encode(Body(text: request.text, model_id: settings.modelID)))
        } catch {
            onEvent(.failed("cannot encode the speech request: \(error)"))
            return
        }
        var headers = ["Content-Type: application/json", "Accept: \(PCMStream.acceptedTypes.joined(separator: ", "))"]
        if let key = configuration.apiKey { headers.append("xi-api-key: \(key.reveal())") }
        let url = endpoint.appending(path: "/v1/text-to-speech/\(settings.voiceID)/stream?output_format=pcm_16000")
        let http = StreamingRequest(url: url, headers: headers, body: body, connectTimeout: configuration.connectTimeout,
                                    stallTimeout: configuration.stallTimeout)
        let stream = PCMStream(onEvent: onEvent, logger: logger, apiKey: configuration.apiKey)
        let id = request.id
        let turn = request.turn
        let call = RetryingCall(
            request: http, consumer: stream, loop: loop, clock: clock,
            settings: .init(policy: configuration.policy, firstByteTimeout: configuration.firstByteTimeout),
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

    public func cancel(request id: Int) {
        guard let (call, turn) = requests.withLock({ $0.removeValue(forKey: id) }) else { return }
        call.cancel()
        record(.cancelled(.tts, id: id, turn: turn, summary: call.summary()))
    }

    private func record(_ record: ProviderCallRecord) {
        log.add(record, detail: ("samples", record.samples.map(String.init) ?? "-"), observer: recorder)
    }

    /// The failure as the controller and the log see it: actionable, and never holding the key.
    func describe(_ failure: AttemptFailure, attempts: Int) -> String {
        if failure.isAuthentication, case .status(let code, _, _) = failure {
            let source = "$CREDENTIALS_DIRECTORY/\(CredentialName.elevenLabs.file) or \(CredentialName.elevenLabs.variable)"
            if configuration.apiKey == nil {
                return "ElevenLabs requires an API key (HTTP \(code)) and none is set: put it in \(source)"
            }
            return "ElevenLabs refused the API key (HTTP \(code)): check the API key in \(source)"
        }
        let text = "TTS request to \(endpoint.host) failed after \(attempts) \(attempts == 1 ? "try" : "tries"): \(failure)"
        return configuration.apiKey?.redact(text) ?? text
    }
}

/// The parsing half of one speech request: bytes in, 16-bit samples out.
final class PCMStream: StreamConsumer, @unchecked Sendable {
    // @unchecked: used by one thread at a time (see ``StreamConsumer``).

    private let onEvent: @Sendable (TTSEvent) -> Void
    private let logger: Logger
    private let apiKey: Secret?
    weak var call: RetryingCall?
    /// The first byte of a sample whose second byte has not arrived yet.
    private var carry: UInt8?
    private var checkedStart = false
    /// The first bytes, held back until they are known to look like PCM.
    private var head: [UInt8] = []
    private var mediaType: String?

    /// The types the request asks for (`Accept:`), the only ones played.
    static let acceptedTypes = ["audio/pcm", "application/octet-stream"]
    /// Bytes looked at before the first reaches playback.
    static let sniffLength = 256
    private(set) var samples = 0
    private(set) var outputDelivered = false

    init(onEvent: @escaping @Sendable (TTSEvent) -> Void, logger: Logger, apiKey: Secret?) {
        self.onEvent = onEvent
        self.logger = logger
        self.apiKey = apiKey
    }

    func beginAttempt() {
        carry = nil
        checkedStart = false
        head = []
        mediaType = nil
    }

    func accept(_ head: ResponseHead) -> ResponseVerdict {
        mediaType = head.mediaType
        guard let type = head.mediaType else { return .reject("expected PCM audio, got a response with no Content-Type") }
        guard Self.acceptedTypes.contains(type) else { return .reject("expected PCM audio, got \(type)") }
        return .stream  // and the first bytes are checked to look like PCM before any is played
    }

    /// Whether the start of a body looks like text (an HTML page, JSON, a plain message) rather
    /// than 16-bit PCM: it starts with `<`, `{` or `[`, or is mostly printable ASCII. Speech as
    /// little-endian samples has a high byte near 0x00 or 0xFF in every other byte, so it is
    /// never mostly printable; silence is all zeros.
    static func looksLikeText(_ bytes: [UInt8]) -> Bool {
        guard let first = bytes.first(where: { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }) else { return false }
        if first == UInt8(ascii: "<") || first == UInt8(ascii: "{") || first == UInt8(ascii: "[") { return true }
        let printable = bytes.count { (0x20...0x7E).contains($0) || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
        return bytes.count >= 16 && printable * 4 >= bytes.count * 3
    }

    /// `bytes` for a log line or an error: at most 80 characters, control and non-ASCII bytes
    /// escaped, so the journal never gets raw binary.
    static func escapedExcerpt(_ bytes: [UInt8]) -> String {
        "\"" + Escaping.escaped(bytes.prefix(80).map(Unicode.Scalar.init), as: .bytes) + (bytes.count > 80 ? "…" : "") + "\""
    }

    func consume(_ bytes: UnsafeRawBufferPointer) -> AttemptFailure? {
        guard !bytes.isEmpty else { return nil }
        if !checkedStart {
            // Nothing reaches playback until the first bytes are known to look like PCM.
            head += bytes
            guard head.count >= Self.sniffLength else { return nil }
            return releaseHead()
        }
        return decode(bytes)
    }

    /// Checks the held-back start of the body and, if it looks like PCM, plays it.
    private func releaseHead() -> AttemptFailure? {
        checkedStart = true
        let start = head
        head = []
        if let first = start.first(where: { !isWhitespace($0) }), first == UInt8(ascii: "{") || first == UInt8(ascii: "[") {
            let detail = errorDetail(Array(start.prefix(2048)))
            return .invalidResponse("the service sent JSON instead of audio: \(detail)")
        }
        if Self.looksLikeText(Array(start.prefix(Self.sniffLength))) {
            return .invalidResponse("the service sent text instead of audio (\(mediaType ?? "no type")): \(Self.escapedExcerpt(start))")
        }
        return start.withUnsafeBytes { decode($0) }
    }

    private func decode(_ bytes: UnsafeRawBufferPointer) -> AttemptFailure? {
        guard !bytes.isEmpty else { return nil }
        var pcm: [Int16] = []
        pcm.reserveCapacity((bytes.count + 1) / 2)
        var index = 0
        if let low = carry {
            pcm.append(Int16(bitPattern: UInt16(low) | UInt16(bytes[0]) << 8))
            carry = nil
            index = 1
        }
        while index + 1 < bytes.count {
            pcm.append(Int16(bitPattern: UInt16(bytes[index]) | UInt16(bytes[index + 1]) << 8))
            index += 2
        }
        if index < bytes.count { carry = bytes[index] }
        if !pcm.isEmpty, call?.isCancelled != true {
            samples += pcm.count
            outputDelivered = true
            onEvent(.audio(pcm))
        }
        return nil
    }

    func end() -> AttemptFailure? {
        if !checkedStart, !head.isEmpty, let failure = releaseHead() { return failure }
        if carry != nil {
            logger.debug("dropping the odd last byte of the audio")
            carry = nil
        }
        return samples == 0 ? .invalidResponse("the service sent no audio") : nil
    }

    func errorDetail(_ body: [UInt8]) -> String {
        // ElevenLabs: {"detail": {"status": "...", "message": "..."}} or {"detail": "..."}.
        struct Nested: Decodable {
            struct Detail: Decodable {
                var status: String?
                var message: String?
            }
            var detail: Detail
        }
        struct Flat: Decodable { var detail: String }
        let data = Data(body)
        let text: String
        if let nested = try? JSONDecoder().decode(Nested.self, from: data) {
            text = [nested.detail.status, nested.detail.message].compactMap { $0 }.joined(separator: ": ")
        } else if let flat = try? JSONDecoder().decode(Flat.self, from: data) {
            text = flat.detail
        } else {
            text = PCMStream.escapedExcerpt(body)
        }
        return apiKey?.redact(text) ?? text
    }

    private func isWhitespace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 }
}
