#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import VoiceCore

/// One message of Deepgram's live-streaming protocol, from the server to the client.
public enum DeepgramServerMessage: Equatable, Sendable {
    /// A transcript (`"type": "Results"`), interim or final.
    case results(DeepgramResults)
    /// Voice activity began (`SpeechStarted`, sent with `vad_events=true`); `timestamp` in seconds.
    case speechStarted(timestamp: Double?)
    /// A word gap of `utterance_end_ms` followed the last word (`UtteranceEnd`).
    case utteranceEnd(lastWordEnd: Double?)
    /// The stream's summary (`Metadata`), sent when the stream closes.
    case metadata(requestID: String?, duration: Double?)
    /// The server reported an error (`Error`); the connection usually closes after it.
    case error(description: String)
    /// A message type this client does not know; ignored.
    case unknown(type: String)
}

/// The fields of a `Results` message that the client uses.
public struct DeepgramResults: Equatable, Sendable {
    /// `channel.alternatives[0].transcript`.
    public var transcript: String
    /// `channel.alternatives[0].confidence` (0 when absent).
    public var confidence: Double
    /// Start of the transcribed audio, in seconds since the stream began.
    public var start: Double
    /// Length of the transcribed audio, in seconds.
    public var duration: Double
    /// The transcript of this span of audio will not change any more.
    public var isFinal: Bool
    /// Deepgram's endpointing saw the speaker stop.
    public var speechFinal: Bool
    /// The result answers a `Finalize` message.
    public var fromFinalize: Bool

    public init(
        transcript: String, confidence: Double, start: Double, duration: Double,
        isFinal: Bool, speechFinal: Bool, fromFinalize: Bool = false
    ) {
        self.transcript = transcript
        self.confidence = confidence
        self.start = start
        self.duration = duration
        self.isFinal = isFinal
        self.speechFinal = speechFinal
        self.fromFinalize = fromFinalize
    }
}

/// Why a server message was rejected.
public enum DeepgramMessageError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The message is larger than the limit; it was not parsed.
    case oversized(bytes: Int, limit: Int)
    /// The message is not a JSON object with a string `type`.
    case invalidJSON(String)
    /// A known message type lacks a field the client needs.
    case missingField(type: String, field: String)

    public var description: String {
        switch self {
        case .oversized(let bytes, let limit): "message of \(bytes) bytes exceeds the \(limit)-byte limit"
        case .invalidJSON(let reason): "not a Deepgram JSON message: \(reason)"
        case .missingField(let type, let field): "\(type) message without \(field)"
        }
    }
}

/// The pure half of the protocol: server text in, ``DeepgramServerMessage`` and ``SpeechEvent``s
/// out. No I/O, no state; the client counts and logs what this rejects.
public enum DeepgramMessageParser {
    /// The default size limit: 1 MiB.
    public static let defaultMaxBytes = 1 << 20

    /// Parses one text message, refusing anything over `maxBytes` before decoding it.
    public static func parse(_ text: String, maxBytes: Int = defaultMaxBytes) throws(DeepgramMessageError) -> DeepgramServerMessage {
        let size = text.utf8.count
        guard size <= maxBytes else { throw .oversized(bytes: size, limit: maxBytes) }
        let envelope: Envelope
        do {
            envelope = try JSONDecoder().decode(Envelope.self, from: Data(text.utf8))
        } catch {
            throw .invalidJSON(Self.reason(error))
        }
        switch envelope.type {
        case "Results":
            guard let alternative = envelope.channel?.alternatives?.first else {
                throw .missingField(type: "Results", field: "channel.alternatives[0]")
            }
            guard let transcript = alternative.transcript else {
                throw .missingField(type: "Results", field: "channel.alternatives[0].transcript")
            }
            return .results(DeepgramResults(
                transcript: ExternalText.clean(transcript),
                confidence: alternative.confidence ?? 0,
                start: envelope.start ?? 0,
                duration: envelope.duration ?? 0,
                isFinal: envelope.is_final ?? false,
                speechFinal: envelope.speech_final ?? false,
                fromFinalize: envelope.from_finalize ?? false
            ))
        case "SpeechStarted":
            return .speechStarted(timestamp: envelope.timestamp)
        case "UtteranceEnd":
            return .utteranceEnd(lastWordEnd: envelope.last_word_end)
        case "Metadata":
            return .metadata(requestID: envelope.request_id, duration: envelope.duration)
        case "Error":
            let text = [envelope.description, envelope.message, envelope.variant]
                .compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
            return .error(description: text.isEmpty ? "unspecified error" : text)
        default:
            return .unknown(type: envelope.type)
        }
    }

    /// What the turn controller hears from a message:
    /// - interim `Results` → `.partial(text)` (an empty one clears the previous partial);
    /// - final `Results` with words → `.final(text:confidence:start:end:)`; a final without words
    ///   → `.partial("")`, so the partial it replaces does not linger;
    /// - `speech_final` → `.speechEnded` after the above;
    /// - `SpeechStarted` → `.speechStarted`; `UtteranceEnd` → `.speechEnded`;
    /// - anything else → nothing.
    public static func speechEvents(for message: DeepgramServerMessage) -> [SpeechEvent] {
        switch message {
        case .results(let results):
            var events: [SpeechEvent] = []
            if !results.isFinal {
                events.append(.partial(results.transcript))
            } else if results.transcript.trimmingUnicodeWhiteSpace().isEmpty {
                events.append(.partial(""))
            } else {
                events.append(.final(
                    text: results.transcript, confidence: results.confidence,
                    start: results.start, end: results.start + results.duration))
            }
            if results.speechFinal { events.append(.speechEnded) }
            return events
        case .speechStarted:
            return [.speechStarted]
        case .utteranceEnd:
            return [.speechEnded]
        case .metadata, .error, .unknown:
            return []
        }
    }

    /// Parses `text` and maps it to speech events in one step.
    public static func speechEvents(for text: String, maxBytes: Int = defaultMaxBytes) throws(DeepgramMessageError) -> [SpeechEvent] {
        speechEvents(for: try parse(text, maxBytes: maxBytes))
    }

    static let knownTypes: Set<String> = ["Results", "SpeechStarted", "UtteranceEnd", "Metadata", "Error"]

    private static func reason(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "no \"\(key.stringValue)\" field"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "unexpected value at \(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)"
        case DecodingError.dataCorrupted: "malformed JSON"
        default: "undecodable"
        }
    }

    // The wire shapes, with only the fields the client reads (Deepgram adds fields over time;
    // unknown ones are ignored, and everything but `type` may be absent).
    private struct Envelope: Decodable {
        var type: String
        var channel: Channel? = nil
        var start: Double? = nil
        var duration: Double? = nil
        var is_final: Bool? = nil
        var speech_final: Bool? = nil
        var from_finalize: Bool? = nil
        var timestamp: Double? = nil
        var last_word_end: Double? = nil
        var request_id: String? = nil
        var description: String? = nil
        var message: String? = nil
        var variant: String? = nil

        enum CodingKeys: String, CodingKey {
            case type, channel, start, duration, is_final, speech_final, from_finalize, timestamp,
                last_word_end, request_id, description, message, variant
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            type = try container.decode(String.self, forKey: .type)
            // A type this client does not know is ignored whatever its fields hold.
            guard DeepgramMessageParser.knownTypes.contains(type) else { return }
            // `channel` is an object in Results but an array of indices in SpeechStarted and
            // UtteranceEnd: decode it leniently so those messages do not fail.
            channel = try? container.decodeIfPresent(Channel.self, forKey: .channel)
            start = try container.decodeIfPresent(Double.self, forKey: .start)
            duration = try container.decodeIfPresent(Double.self, forKey: .duration)
            is_final = try container.decodeIfPresent(Bool.self, forKey: .is_final)
            speech_final = try container.decodeIfPresent(Bool.self, forKey: .speech_final)
            from_finalize = try container.decodeIfPresent(Bool.self, forKey: .from_finalize)
            timestamp = try container.decodeIfPresent(Double.self, forKey: .timestamp)
            last_word_end = try container.decodeIfPresent(Double.self, forKey: .last_word_end)
            request_id = try? container.decodeIfPresent(String.self, forKey: .request_id)
            description = try? container.decodeIfPresent(String.self, forKey: .description)
            message = try? container.decodeIfPresent(String.self, forKey: .message)
            variant = try? container.decodeIfPresent(String.self, forKey: .variant)
        }
    }

    private struct Channel: Decodable {
        var alternatives: [Alternative]?
    }

    private struct Alternative: Decodable {
        var transcript: String?
        var confidence: Double?
    }
}
