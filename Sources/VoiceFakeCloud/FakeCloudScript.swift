import Foundation

/// What the fake cloud says and how it misbehaves: the JSON script of `voiced-fakecloud`.
///
/// Every field is optional; see ``FakeCloudScript/formatDescription`` (printed by
/// `voiced-fakecloud --help`) and docs/fakecloud.md.
public struct FakeCloudScript: Sendable, Equatable, Decodable {
    /// Keys each service requires (nil: any non-empty key for Deepgram and ElevenLabs; none at all
    /// for the chat and the OpenAI-compatible speech services, like local servers).
    public struct Keys: Sendable, Equatable, Decodable {
        public var deepgram: String?
        public var openai: String?
        public var elevenlabs: String?
        /// The `Bearer` key of `POST /v1/audio/speech`.
        public var openaiSpeech: String?
        public init(deepgram: String? = nil, openai: String? = nil, elevenlabs: String? = nil, openaiSpeech: String? = nil) {
            self.deepgram = deepgram
            self.openai = openai
            self.elevenlabs = elevenlabs
            self.openaiSpeech = openaiSpeech
        }

        enum CodingKeys: String, CodingKey {
            case deepgram, openai, elevenlabs
            case openaiSpeech = "openai_speech"
        }
    }

    /// The Deepgram-compatible live speech-to-text service.
    public struct STT: Sendable, Equatable, Decodable {
        /// The transcript of the Nth utterance heard (counted across connections); the last repeats.
        public var utterances: [String] = ["What's the weather like today?"]
        public var confidence = 0.98
        /// RMS of a 10 ms frame above which it counts as speech (16-bit full scale is 32767).
        public var thresholdRMS = 500.0
        /// Loud audio needed before speech counts as started.
        public var minSpeechMs = 100
        /// Audio between two interim results.
        public var interimIntervalMs = 300
        /// Added before every message is sent (the service's processing time).
        public var latencyMs = 0
        /// The connection is closed (1011) after this long with neither audio nor a text message.
        public var idleTimeoutMs = 10_000

        public init() {}

        enum CodingKeys: String, CodingKey {
            case utterances, confidence
            case thresholdRMS = "threshold_rms", minSpeechMs = "min_speech_ms", interimIntervalMs = "interim_interval_ms"
            case latencyMs = "latency_ms", idleTimeoutMs = "idle_timeout_ms"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            utterances = try c.decodeIfPresent([String].self, forKey: .utterances) ?? utterances
            confidence = try c.decodeIfPresent(Double.self, forKey: .confidence) ?? confidence
            thresholdRMS = try c.decodeIfPresent(Double.self, forKey: .thresholdRMS) ?? thresholdRMS
            minSpeechMs = try c.decodeIfPresent(Int.self, forKey: .minSpeechMs) ?? minSpeechMs
            interimIntervalMs = try c.decodeIfPresent(Int.self, forKey: .interimIntervalMs) ?? interimIntervalMs
            latencyMs = try c.decodeIfPresent(Int.self, forKey: .latencyMs) ?? latencyMs
            idleTimeoutMs = try c.decodeIfPresent(Int.self, forKey: .idleTimeoutMs) ?? idleTimeoutMs
        }
    }

    /// The OpenAI-compatible chat-completions service.
    public struct LLM: Sendable, Equatable, Decodable {
        /// The reply to the Nth request; the last repeats. With none, the reply echoes the user.
        public var replies: [String] = []
        public var firstTokenDelayMs = 300
        public var tokenIntervalMs = 30
        public var model = "fake-gpt"

        public init() {}

        enum CodingKeys: String, CodingKey {
            case replies, model
            case firstTokenDelayMs = "first_token_delay_ms", tokenIntervalMs = "token_interval_ms"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            replies = try c.decodeIfPresent([String].self, forKey: .replies) ?? replies
            firstTokenDelayMs = try c.decodeIfPresent(Int.self, forKey: .firstTokenDelayMs) ?? firstTokenDelayMs
            tokenIntervalMs = try c.decodeIfPresent(Int.self, forKey: .tokenIntervalMs) ?? tokenIntervalMs
            model = try c.decodeIfPresent(String.self, forKey: .model) ?? model
        }
    }

    /// The ElevenLabs-compatible streaming text-to-speech service.
    public struct TTS: Sendable, Equatable, Decodable {
        public var firstByteDelayMs = 150
        /// Audio per chunk sent.
        public var chunkMs = 100
        /// Seconds of audio sent per second (4: four times faster than it plays); 0: all at once.
        public var speed = 4.0
        /// The espeak-ng voice that speaks.
        public var voice = "en-us"
        public var wordsPerMinute = 175

        public init() {}

        enum CodingKeys: String, CodingKey {
            case firstByteDelayMs = "first_byte_delay_ms", chunkMs = "chunk_ms", speed, voice, wordsPerMinute = "words_per_minute"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            firstByteDelayMs = try c.decodeIfPresent(Int.self, forKey: .firstByteDelayMs) ?? firstByteDelayMs
            chunkMs = try c.decodeIfPresent(Int.self, forKey: .chunkMs) ?? chunkMs
            speed = try c.decodeIfPresent(Double.self, forKey: .speed) ?? speed
            voice = try c.decodeIfPresent(String.self, forKey: .voice) ?? voice
            wordsPerMinute = try c.decodeIfPresent(Int.self, forKey: .wordsPerMinute) ?? wordsPerMinute
        }
    }

    /// Which service a fault applies to.
    public enum Service: String, Sendable, Equatable, Decodable, CaseIterable {
        case stt, llm, tts
    }

    /// One injected failure.
    public struct Fault: Sendable, Equatable, Decodable {
        public enum Kind: String, Sendable, Equatable, Decodable, CaseIterable {
            /// Answer with `status` (429 with `retry_after`, 500, 401, ...) and an error body.
            case status
            /// Cut the connection after `after` units (tokens, audio chunks, messages).
            case closeMidStream = "close_mid_stream"
            /// Go silent after `after` units (0: before the response head) for `stall_ms`.
            case stall
            /// Send one message that is not JSON after `after` units.
            case invalidJSON = "invalid_json"
            /// Send one message of `bytes` bytes (default 1.5 MiB) after `after` units.
            case oversized
            /// Answer 200 with `content_type` (default text/html) instead of the real one; STT: a binary message.
            case wrongContentType = "wrong_content_type"
            /// Send the response in pieces of `bytes_per_write` bytes, `interval_ms` apart.
            case slowTrickle = "slow_trickle"
        }

        public var service: Service
        /// 1-based numbers of the requests (STT: connections) it hits; nil: every one.
        public var requests: [Int]?
        public var kind: Kind
        public var status = 500
        public var retryAfter: String?
        public var body: String?
        public var after = 0
        public var stallMs = 60_000
        public var bytes = 1_572_864
        public var contentType = "text/html"
        public var bytesPerWrite = 3
        public var intervalMs = 20
        /// STT `close_mid_stream`: send a close frame with this code instead of dropping the connection.
        public var closeCode: Int?

        public init(service: Service, requests: [Int]?, kind: Kind) {
            self.service = service
            self.requests = requests
            self.kind = kind
        }

        enum CodingKeys: String, CodingKey {
            case service, requests, kind, status, body, after, bytes
            case retryAfter = "retry_after", stallMs = "stall_ms", contentType = "content_type"
            case bytesPerWrite = "bytes_per_write", intervalMs = "interval_ms", closeCode = "close_code"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            service = try c.decode(Service.self, forKey: .service)
            requests = try c.decodeIfPresent([Int].self, forKey: .requests)
            kind = try c.decode(Kind.self, forKey: .kind)
            status = try c.decodeIfPresent(Int.self, forKey: .status) ?? status
            if let seconds = try? c.decodeIfPresent(Int.self, forKey: .retryAfter) {
                retryAfter = String(seconds)
            } else {
                retryAfter = try c.decodeIfPresent(String.self, forKey: .retryAfter)
            }
            body = try c.decodeIfPresent(String.self, forKey: .body)
            after = try c.decodeIfPresent(Int.self, forKey: .after) ?? after
            stallMs = try c.decodeIfPresent(Int.self, forKey: .stallMs) ?? stallMs
            bytes = try c.decodeIfPresent(Int.self, forKey: .bytes) ?? bytes
            contentType = try c.decodeIfPresent(String.self, forKey: .contentType) ?? contentType
            bytesPerWrite = max(1, try c.decodeIfPresent(Int.self, forKey: .bytesPerWrite) ?? bytesPerWrite)
            intervalMs = try c.decodeIfPresent(Int.self, forKey: .intervalMs) ?? intervalMs
            closeCode = try c.decodeIfPresent(Int.self, forKey: .closeCode)
        }

        /// Whether it hits request (or connection) `number`.
        public func applies(to number: Int) -> Bool { requests?.contains(number) ?? true }
    }

    public var keys = Keys()
    public var stt = STT()
    public var llm = LLM()
    public var tts = TTS()
    public var faults: [Fault] = []

    public init(keys: Keys = Keys(), stt: STT = STT(), llm: LLM = LLM(), tts: TTS = TTS(), faults: [Fault] = []) {
        self.keys = keys
        self.stt = stt
        self.llm = llm
        self.tts = tts
        self.faults = faults
    }

    enum CodingKeys: String, CodingKey { case keys, stt, llm, tts, faults }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        keys = try c.decodeIfPresent(Keys.self, forKey: .keys) ?? keys
        stt = try c.decodeIfPresent(STT.self, forKey: .stt) ?? stt
        llm = try c.decodeIfPresent(LLM.self, forKey: .llm) ?? llm
        tts = try c.decodeIfPresent(TTS.self, forKey: .tts) ?? tts
        faults = try c.decodeIfPresent([Fault].self, forKey: .faults) ?? faults
    }

    /// A script with every delay at zero (for tests and latency measurements).
    public static var instant: FakeCloudScript {
        var script = FakeCloudScript()
        script.llm.firstTokenDelayMs = 0
        script.llm.tokenIntervalMs = 0
        script.tts.firstByteDelayMs = 0
        script.tts.speed = 0
        script.stt.latencyMs = 0
        return script
    }

    /// Parses a script; the error says where it went wrong.
    public static func parse(_ data: Data) throws(FakeCloudScriptError) -> FakeCloudScript {
        do {
            return try JSONDecoder().decode(FakeCloudScript.self, from: data)
        } catch let DecodingError.dataCorrupted(context) {
            throw .invalid(path: context.codingPath.map(\.stringValue).joined(separator: "."), reason: context.debugDescription)
        } catch let DecodingError.keyNotFound(key, context) {
            throw .invalid(path: (context.codingPath + [key]).map(\.stringValue).joined(separator: "."), reason: "missing")
        } catch let DecodingError.typeMismatch(_, context) {
            throw .invalid(path: context.codingPath.map(\.stringValue).joined(separator: "."), reason: context.debugDescription)
        } catch let DecodingError.valueNotFound(_, context) {
            throw .invalid(path: context.codingPath.map(\.stringValue).joined(separator: "."), reason: context.debugDescription)
        } catch {
            throw .invalid(path: "", reason: "\(error)")
        }
    }

    /// The faults that hit request `number` of `service`.
    func faults(for service: Service, number: Int) -> [Fault] {
        faults.filter { $0.service == service && $0.applies(to: number) }
    }

    /// The script format, as `voiced-fakecloud --help` prints it.
    public static let formatDescription = """
        SCRIPT FORMAT: JSON; every field optional, shown with its default.
        {
          "keys": {                  keys the services require
            "deepgram": null,        null: any "Authorization: Token <key>"
            "openai": null,          null: no key needed (like llama.cpp)
            "elevenlabs": null,      null: any non-empty "xi-api-key"
            "openai_speech": null    null: no key needed (like Kokoro)
          },
          "stt": {                   Deepgram live, WebSocket /v1/listen
            "utterances": ["What's the weather like today?"],
                                     Nth utterance heard (last repeats)
            "confidence": 0.98,
            "threshold_rms": 500,    10 ms frames louder are speech
            "min_speech_ms": 100,    loud this long starts an utterance
            "interim_interval_ms": 300,
            "latency_ms": 0,         delay before each message
            "idle_timeout_ms": 10000 close (1011) when nothing arrives
          },
          "llm": {                   POST /v1/chat/completions (SSE)
            "replies": [],           Nth request's reply; none: echo
            "first_token_delay_ms": 300,
            "token_interval_ms": 30, one word per token
            "model": "fake-gpt"
          },
          "tts": {                   POST /v1/text-to-speech/{id}/stream
                                     (pcm_16000) and POST /v1/audio/speech
                                     (OpenAI, pcm at 24 kHz); both count
                                     as "tts" requests for faults
            "first_byte_delay_ms": 150,
            "chunk_ms": 100,         audio per chunk (espeak-ng speech);
            "speed": 4.0,            audio s per s, 0: burst
            "voice": "en-us",        espeak-ng voice
            "words_per_minute": 175
          },
          "faults": [                each one:
            {"service": "llm",       stt | llm | tts
             "requests": [1],        1-based (stt: connections); omit: all
             "kind": "status",       a kind below, with its parameters
             "status": 429, "retry_after": 1}
          ]
        }

        FAULT KINDS ("after" counts llm tokens, tts chunks, stt messages):
          status              answer "status" (500) with "retry_after"
                              (seconds or HTTP date) and "body" (the
                              service's error JSON); stt: upgrade refused
          close_mid_stream    cut the connection after "after" units;
                              stt "close_code": send that close frame
          stall               go silent after "after" units (0: before
                              answering) for "stall_ms" (60000)
          invalid_json        llm/stt: one event that is not JSON;
                              tts: a JSON error body with status 200
          oversized           llm/stt: one event of "bytes" (1572864)
          wrong_content_type  200 with "content_type" (text/html);
                              stt: a binary message instead of JSON
          slow_trickle        llm/tts: "bytes_per_write" (3) bytes at a
                              time, "interval_ms" (20) apart; stt: each
                              message delayed by "interval_ms"

        """
}

/// A script that does not parse.
public enum FakeCloudScriptError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalid(path: String, reason: String)
    case unreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalid(let path, let reason): "invalid script\(path.isEmpty ? "" : " at \(path)"): \(reason)"
        case .unreadable(let path, let reason): "cannot read the script \(path): \(reason)"
        }
    }
}
