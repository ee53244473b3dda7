import FoundationEssentials
import Logging
import VoiceCore
import VoiceDSP

/// The parsing half of one speech request: bytes of 16-bit little-endian mono PCM in, samples at
/// the playback rate out (converted by speexdsp's resampler when the service sends another rate,
/// continuously across the body's chunks).
final class PCMStream: StreamConsumer, @unchecked Sendable {
    // @unchecked: used by one thread at a time (see ``StreamConsumer``).

    private let onEvent: @Sendable (TTSEvent) -> Void
    private let logger: Logger
    private let apiKey: Secret?
    /// From the service's rate to ``PlaybackChunk/sampleRate``; nil when they are the same.
    private let resampler: SpeexResampler?
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
    /// Samples delivered, at the playback rate.
    private(set) var samples = 0
    /// Samples of this attempt's body, at the service's rate.
    private var received = 0
    private(set) var outputDelivered = false

    /// - Parameter sampleRate: the rate the service sends; other than the playback rate, it is converted.
    init(onEvent: @escaping @Sendable (TTSEvent) -> Void, logger: Logger, apiKey: Secret?,
         sampleRate: Int = PlaybackChunk.sampleRate) throws(ResamplerError) {
        self.onEvent = onEvent
        self.logger = logger
        self.apiKey = apiKey
        resampler = sampleRate == PlaybackChunk.sampleRate ? nil : try SpeexResampler(from: sampleRate, to: PlaybackChunk.sampleRate)
    }

    func beginAttempt() {
        carry = nil
        checkedStart = false
        head = []
        mediaType = nil
        received = 0
        // A retry starts the audio afresh (retries happen only before any was delivered).
        do {
            try resampler?.reset()
        } catch {
            logger.warning("the resampler could not be reset", metadata: ["error": "\(error)"])
        }
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
        return deliver(pcm)
    }

    /// Converts `pcm` to the playback rate and hands it on, unless the call was cancelled.
    private func deliver(_ pcm: [Int16]) -> AttemptFailure? {
        received += pcm.count
        guard let resampler, !pcm.isEmpty else { return play(pcm) }
        do {
            return play(try resampler.process(pcm))
        } catch {
            return .setup("\(error)")
        }
    }

    /// Hands samples at the playback rate on, unless the call was cancelled.
    private func play(_ pcm: [Int16]) -> AttemptFailure? {
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
        if received > 0, let resampler {
            // The resampler's tail: the last few milliseconds of the sentence.
            do {
                if let failure = play(try resampler.flush()) { return failure }
            } catch {
                return .setup("\(error)")
            }
        }
        return samples == 0 ? .invalidResponse("the service sent no audio") : nil
    }

    func errorDetail(_ body: [UInt8]) -> String {
        // ElevenLabs: {"detail": {"status": "...", "message": "..."}} or {"detail": "..."} (FastAPI
        // servers such as Kokoro-FastAPI too); OpenAI: {"error": {"message": "...", "type": "..."}}.
        struct Nested: Decodable {
            struct Detail: Decodable {
                var status: String?
                var message: String?
            }
            var detail: Detail
        }
        struct Flat: Decodable { var detail: String }
        struct OpenAIError: Decodable {
            struct Inner: Decodable {
                var message: String
                var type: String?
            }
            var error: Inner
        }
        let data = Data(body)
        let text: String
        if let nested = try? JSONDecoder().decode(Nested.self, from: data) {
            text = [nested.detail.status, nested.detail.message].compactMap { $0 }.joined(separator: ": ")
        } else if let flat = try? JSONDecoder().decode(Flat.self, from: data) {
            text = flat.detail
        } else if let openAI = try? JSONDecoder().decode(OpenAIError.self, from: data) {
            text = [openAI.error.type, openAI.error.message].compactMap { $0 }.joined(separator: ": ")
        } else {
            text = PCMStream.escapedExcerpt(body)
        }
        return apiKey?.redact(text) ?? text
    }

    private func isWhitespace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 }
}
