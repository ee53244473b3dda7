import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The fake ElevenLabs service: `POST /v1/text-to-speech/{voice}/stream?output_format=pcm_16000`
/// with `xi-api-key`, answered with real espeak-ng speech as 16 kHz 16-bit little-endian PCM,
/// after the first-byte delay and paced like a streaming service.
struct SpeechService: Sendable {
    let state: FakeCloudState

    func register(on router: Router<BasicRequestContext>) {
        router.post("/v1/text-to-speech/:voice/stream") { request, context in
            try await respond(request, voice: context.parameters.get("voice") ?? "")
        }
    }

    private struct Body: Decodable {
        var text: String
        var model_id: String?
    }

    private func respond(_ incoming: Request, voice: String) async throws -> Response {
        var request = incoming
        let bytes = try await request.collectBody(upTo: 1 << 20)
        let text = String(buffer: bytes)
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
        let headers = request.headers.lowercasedDictionary
        let number = state.begin(.tts, path: request.uri.path, query: query, headers: headers, body: text)
        let script = state.script

        let key = headers["xi-api-key"] ?? ""
        if key.isEmpty || (script.keys.elevenlabs.map { $0 != key } ?? false) {
            return refuse(number, 401, detail("invalid_api_key", "Invalid API key"))
        }
        guard query["output_format"] == "pcm_16000" else {
            return refuse(number, 422, detail("invalid_output_format", "This fake serves output_format=pcm_16000 only."))
        }
        guard let body = try? JSONDecoder().decode(Body.self, from: Data(text.utf8)),
              !body.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            return refuse(number, 400, detail("invalid_request", "A non-empty 'text' is required."))
        }
        let faults = script.faults(for: .tts, number: number)
        func fault(_ kind: FakeCloudScript.Fault.Kind) -> FakeCloudScript.Fault? { faults.first { $0.kind == kind } }

        if let status = fault(.status) {
            state.update(.tts, number) {
                $0.status = status.status
                $0.outcome = .faulted
            }
            return plainResponse(status: status.status, contentType: "application/json",
                                 body: status.body ?? detail(status.status == 429 ? "too_many_concurrent_requests" : "internal_error",
                                                             "Request failed with status \(status.status)."),
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
                                 body: detail("quota_exceeded", "This request exceeds your quota."))
        }

        let speech = state.speechStream(for: body.text)
        let chunkBytes = max(2, script.tts.chunkMs * 32)
        let interval = script.tts.speed > 0 ? Int(Double(script.tts.chunkMs) / script.tts.speed) : 0
        let trickle = TrickleWriter(trickle: fault(.slowTrickle))
        state.update(.tts, number) { $0.status = 200 }

        var responseHeaders = HTTPFields()
        responseHeaders[.contentType] = "audio/pcm"
        let stream = ResponseBody { [state] writer in
            var sent = 0
            var pending = ByteBuffer()
            do {
                try await pause(milliseconds: script.tts.firstByteDelayMs)
                // Audio goes out in chunks of `chunk_ms` as espeak-ng produces it, like a streaming service.
                var ended = false
                var pieces = speech.makeAsyncIterator()
                while !ended || pending.readableBytes > 0 {
                    while !ended, pending.readableBytes < chunkBytes {
                        if let piece = try await pieces.next() {
                            for sample in piece { pending.writeInteger(sample, endianness: .little) }
                        } else {
                            ended = true
                        }
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
}
