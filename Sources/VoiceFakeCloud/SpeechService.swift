import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import VoiceDSP

/// The fake speech services, answered with real espeak-ng speech as 16-bit little-endian mono PCM,
/// after the first-byte delay and paced like a streaming service:
/// - ElevenLabs: `POST /v1/text-to-speech/{voice}/stream?output_format=pcm_16000` with `xi-api-key`;
/// - OpenAI-compatible: `POST /v1/audio/speech` (JSON `model`, `input`, `voice`,
///   `response_format: "pcm"`, optional `speed`) with `Authorization: Bearer`, answered at 24 kHz
///   like OpenAI and Kokoro-FastAPI (espeak-ng's speech converted by speexdsp's resampler).
///
/// Both are the `tts` service of the script: the same pacing and the same faults.
struct SpeechService: Sendable {
    let state: FakeCloudState

    func register(on router: Router<BasicRequestContext>) {
        router.post("/v1/text-to-speech/:voice/stream") { request, context in
            try await respond(request, dialect: .elevenLabs(voice: context.parameters.get("voice") ?? ""))
        }
        router.post("/v1/audio/speech") { request, _ in
            try await respond(request, dialect: .openAI)
        }
    }

    /// Which service's protocol a request speaks.
    private enum Dialect {
        case elevenLabs(voice: String)
        case openAI

        /// The rate of the PCM it answers with.
        var sampleRate: Int {
            switch self {
            case .elevenLabs: 16_000
            case .openAI: 24_000
            }
        }
    }

    private struct ElevenLabsBody: Decodable {
        var text: String
        var model_id: String?
    }

    private struct OpenAIBody: Decodable {
        var model: String
        var input: String
        var voice: String
        var response_format: String?
        var speed: Double?
    }

    /// The text to speak, or the refusal the real service would send.
    private func check(_ dialect: Dialect, number: Int, headers: [String: String], query: [String: String],
                       body text: String) -> Result<String, RefusedRequest> {
        let keys = state.script.keys
        switch dialect {
        case .elevenLabs:
            let key = headers["xi-api-key"] ?? ""
            if key.isEmpty || (keys.elevenlabs.map { $0 != key } ?? false) {
                return .failure(.init(401, detail("invalid_api_key", "Invalid API key")))
            }
            guard query["output_format"] == "pcm_16000" else {
                return .failure(.init(422, detail("invalid_output_format", "This fake serves output_format=pcm_16000 only.")))
            }
            guard let body = try? JSONDecoder().decode(ElevenLabsBody.self, from: Data(text.utf8)),
                  !body.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                return .failure(.init(400, detail("invalid_request", "A non-empty 'text' is required.")))
            }
            return .success(body.text)
        case .openAI:
            if let wanted = keys.openaiSpeech, headers["authorization"] != "Bearer \(wanted)" {
                return .failure(.init(401, openAIError("invalid_request_error", "invalid_api_key", "Incorrect API key provided.")))
            }
            guard let body = try? JSONDecoder().decode(OpenAIBody.self, from: Data(text.utf8)) else {
                return .failure(.init(400, openAIError("invalid_request_error", nil, "The body must be JSON with model, input and voice.")))
            }
            guard !body.input.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, !body.voice.isEmpty, !body.model.isEmpty else {
                return .failure(.init(400, openAIError("invalid_request_error", nil, "model, input and voice must not be empty.")))
            }
            guard body.response_format == "pcm" else {
                return .failure(.init(400, openAIError("invalid_request_error", nil, "This fake serves response_format \"pcm\" only.")))
            }
            if let speed = body.speed, !(0.25...4.0).contains(speed) {
                return .failure(.init(400, openAIError("invalid_request_error", nil, "speed must be between 0.25 and 4.0.")))
            }
            return .success(body.input)
        }
    }

    private struct RefusedRequest: Error {
        var status: Int
        var body: String
        init(_ status: Int, _ body: String) {
            self.status = status
            self.body = body
        }
    }

    private func respond(_ incoming: Request, dialect: Dialect) async throws -> Response {
        var request = incoming
        let bytes = try await request.collectBody(upTo: 1 << 20)
        let text = String(buffer: bytes)
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
        let headers = request.headers.lowercasedDictionary
        let number = state.begin(.tts, path: request.uri.path, query: query, headers: headers, body: text)
        let script = state.script

        let spoken: String
        switch check(dialect, number: number, headers: headers, query: query, body: text) {
        case .failure(let refusal): return refuse(number, refusal.status, refusal.body)
        case .success(let input): spoken = input
        }
        let faults = script.faults(for: .tts, number: number)
        func fault(_ kind: FakeCloudScript.Fault.Kind) -> FakeCloudScript.Fault? { faults.first { $0.kind == kind } }

        if let status = fault(.status) {
            state.update(.tts, number) {
                $0.status = status.status
                $0.outcome = .faulted
            }
            return plainResponse(status: status.status, contentType: "application/json",
                                 body: status.body ?? errorBody(dialect, status: status.status, "Request failed with status \(status.status)."),
                                 extra: status.retryAfter.map { [("Retry-After", $0)] } ?? [])
        }
        if let stall = fault(.stall), stall.after == 0 {
            try await pause(milliseconds: stall.stallMs)
        }
        if let wrong = fault(.wrongContentType) {
            state.update(.tts, number) {
                $0.status = 200
                $0.outcome = .faulted
            }
            return plainResponse(status: 200, contentType: wrong.contentType, body: "<html><body>Bad gateway</body></html>")
        }
        if fault(.invalidJSON) != nil {
            // An error body with a success status: it must never be played as audio.
            state.update(.tts, number) {
                $0.status = 200
                $0.outcome = .faulted
            }
            return plainResponse(status: 200, contentType: "application/json",
                                 body: errorBody(dialect, status: 402, "This request exceeds your quota."))
        }

        let speech = state.speechStream(for: spoken)
        let rate = dialect.sampleRate
        let chunkBytes = max(2, script.tts.chunkMs * rate / 500)
        let interval = script.tts.speed > 0 ? Int(Double(script.tts.chunkMs) / script.tts.speed) : 0
        let trickle = TrickleWriter(trickle: fault(.slowTrickle))
        state.update(.tts, number) { $0.status = 200 }

        var responseHeaders = HTTPFields()
        responseHeaders[.contentType] = "audio/pcm"
        let stream = ResponseBody { [state] writer in
            var sent = 0
            var pending = ByteBuffer()
            do {
                // espeak-ng speaks at 16 kHz; another rate is converted as it streams, like a real service.
                let resampler = try SpeexResampler(from: 16_000, to: rate)
                try await pause(milliseconds: script.tts.firstByteDelayMs)
                // Audio goes out in chunks of `chunk_ms` as espeak-ng produces it, like a streaming service.
                var ended = false
                var pieces = speech.makeAsyncIterator()
                while !ended || pending.readableBytes > 0 {
                    while !ended, pending.readableBytes < chunkBytes {
                        let piece: [Int16]
                        if let next = try await pieces.next() {
                            piece = try resampler.process(next)
                        } else {
                            ended = true
                            piece = try resampler.flush()
                        }
                        for sample in piece { pending.writeInteger(sample, endianness: .little) }
                    }
                    guard pending.readableBytes > 0 else { break }
                    for fault in faults where fault.after == sent && (sent > 0 || fault.kind == .closeMidStream) {
                        switch fault.kind {
                        case .closeMidStream: throw ScriptedDisconnect()
                        case .stall: try await pause(milliseconds: fault.stallMs)
                        default: break
                        }
                    }
                    guard let chunk = pending.readSlice(length: min(chunkBytes, pending.readableBytes)) else { break }
                    pending.discardReadBytes()
                    if sent > 0 { try await pause(milliseconds: interval) }
                    try await trickle.write(chunk, to: &writer)
                    sent += 1
                    state.update(.tts, number) { $0.sent = sent }
                }
                try await writer.finish(nil)
                state.update(.tts, number) { $0.outcome = .completed }
            } catch is ScriptedDisconnect {
                state.update(.tts, number) { $0.outcome = .faulted }
                throw ScriptedDisconnect()
            } catch {
                state.update(.tts, number) { $0.outcome = .aborted }
                throw error
            }
        }
        return Response(status: .ok, headers: responseHeaders, body: stream)
    }

    private func refuse(_ number: Int, _ status: Int, _ body: String) -> Response {
        state.update(.tts, number) {
            $0.status = status
            $0.outcome = .refused
        }
        return plainResponse(status: status, contentType: "application/json", body: body)
    }

    private func detail(_ status: String, _ message: String) -> String {
        "{\"detail\":{\"status\":\"\(status)\",\"message\":\"\(message)\"}}"
    }

    /// OpenAI's error body: `{"error": {"message", "type", "param", "code"}}`.
    private func openAIError(_ type: String, _ code: String?, _ message: String) -> String {
        "{\"error\":{\"message\":\"\(message)\",\"type\":\"\(type)\",\"param\":null,\"code\":\(code.map { "\"\($0)\"" } ?? "null")}}"
    }

    /// The error body of a scripted status, in the dialect's shape.
    private func errorBody(_ dialect: Dialect, status: Int, _ message: String) -> String {
        switch dialect {
        case .elevenLabs:
            detail(status == 429 ? "too_many_concurrent_requests" : status == 402 ? "quota_exceeded" : "internal_error", message)
        case .openAI:
            openAIError(status == 429 ? "requests" : status == 402 ? "insufficient_quota" : "server_error", nil, message)
        }
    }
}
