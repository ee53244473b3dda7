import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The fake OpenAI chat-completions service: `POST /v1/chat/completions` with `stream: true`,
/// answered as server-sent `chat.completion.chunk` events, then the usage chunk and `[DONE]`.
struct ChatService: Sendable {
    let state: FakeCloudState

    func register(on router: Router<BasicRequestContext>) {
        router.post("/v1/chat/completions") { request, _ in try await respond(request) }
    }

    private struct Body: Decodable {
        struct Message: Decodable {
            var role: String
            var content: String
        }
        struct StreamOptions: Decodable { var include_usage: Bool? }
        var model: String?
        var messages: [Message]
        var stream: Bool?
        var stream_options: StreamOptions?
        var max_tokens: Int?
    }

    private func respond(_ incoming: Request) async throws -> Response {
        var request = incoming
        let bytes = try await request.collectBody(upTo: 4 << 20)
        let text = String(buffer: bytes)
        let number = state.begin(.llm, path: request.uri.path, query: [:], headers: request.headers.lowercasedDictionary, body: text)
        let script = state.script

        if let key = script.keys.openai, request.headers[.authorization] != "Bearer \(key)" {
            return refuse(number, 401, error("Incorrect API key provided. You can find your API key in your account settings.",
                                             type: "invalid_request_error", code: "invalid_api_key"))
        }
        guard let body = try? JSONDecoder().decode(Body.self, from: Data(text.utf8)) else {
            return refuse(number, 400, error("We could not parse the JSON body of your request.", type: "invalid_request_error", code: nil))
        }
        guard body.stream == true else {
            return refuse(number, 400, error("This fake serves streaming requests only: set \"stream\": true.",
                                             type: "invalid_request_error", code: nil))
        }
        let faults = script.faults(for: .llm, number: number)
        func fault(_ kind: FakeCloudScript.Fault.Kind) -> FakeCloudScript.Fault? { faults.first { $0.kind == kind } }

        if let status = fault(.status) {
            let body = status.body ?? defaultError(status.status)
            state.update(.llm, number) {
                $0.status = status.status
                $0.outcome = .faulted
            }
            return plainResponse(status: status.status, contentType: "application/json", body: body,
                                 extra: status.retryAfter.map { [("Retry-After", $0)] } ?? [])
        }
        if let stall = fault(.stall), stall.after == 0 {
            try await pause(milliseconds: stall.stallMs)
        }
        if let wrong = fault(.wrongContentType) {
            state.update(.llm, number) {
                $0.status = 200
                $0.outcome = .faulted
            }
            return plainResponse(status: 200, contentType: wrong.contentType, body: "<html><body>Service unavailable</body></html>")
        }

        let reply = replyText(number: number, messages: body.messages)
        let tokens = Self.tokens(of: reply)
        let model = body.model ?? script.llm.model
        let includeUsage = body.stream_options?.include_usage ?? false
        let promptTokens = body.messages.reduce(0) { $0 + max(1, $1.content.count / 4) }
        let id = "chatcmpl-fake-\(number)"
        let created = Int(Date().timeIntervalSince1970)
        let trickle = TrickleWriter(trickle: fault(.slowTrickle))
        state.update(.llm, number) { $0.status = 200 }

        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        let body200 = ResponseBody { [state] writer in
            var sent = 0
            do {
                try await pause(milliseconds: script.llm.firstTokenDelayMs)
                try await trickle.write(event(chunk(id, created, model, delta: ["role": "assistant", "content": ""], finish: nil,
                                                    usage: includeUsage)), to: &writer)
                for (index, token) in tokens.enumerated() {
                    try await injectFaults(faults, at: index, number: number, writer: &writer, trickle: trickle)
                    if index > 0 { try await pause(milliseconds: script.llm.tokenIntervalMs) }
                    try await trickle.write(event(chunk(id, created, model, delta: ["content": token], finish: nil, usage: includeUsage)),
                                            to: &writer)
                    sent += 1
                    state.update(.llm, number) { $0.sent = sent }
                }
                try await injectFaults(faults, at: tokens.count, number: number, writer: &writer, trickle: trickle)
                try await trickle.write(event(chunk(id, created, model, delta: [:], finish: "stop", usage: includeUsage)), to: &writer)
                if includeUsage {
                    let usage = "{\"id\":\"\(id)\",\"object\":\"chat.completion.chunk\",\"created\":\(created),\"model\":\"\(model)\","
                        + "\"choices\":[],\"usage\":{\"prompt_tokens\":\(promptTokens),\"completion_tokens\":\(tokens.count),"
                        + "\"total_tokens\":\(promptTokens + tokens.count)}}"
                    try await trickle.write(event(usage), to: &writer)
                }
                try await trickle.write(ByteBuffer(string: "data: [DONE]\n\n"), to: &writer)
                try await writer.finish(nil)
                state.update(.llm, number) { $0.outcome = .completed }
            } catch is ScriptedDisconnect {
                state.update(.llm, number) { $0.outcome = .faulted }
                throw ScriptedDisconnect()
            } catch {
                state.update(.llm, number) { $0.outcome = .aborted }
                throw error
            }
        }
        return Response(status: .ok, headers: headers, body: body200)
    }

    /// Applies the faults due after `index` tokens.
    private func injectFaults(_ faults: [FakeCloudScript.Fault], at index: Int, number: Int,
                              writer: inout any ResponseBodyWriter, trickle: TrickleWriter) async throws {
        for fault in faults where fault.after == index {
            switch fault.kind {
            case .closeMidStream:
                throw ScriptedDisconnect()
            case .stall where index > 0:
                try await pause(milliseconds: fault.stallMs)
            case .invalidJSON:
                try await trickle.write(ByteBuffer(string: "data: {\"id\": \"chatcmpl-broken\", \"choices\": [{\"delta\": \n\n"), to: &writer)
            case .oversized:
                var buffer = ByteBuffer(string: "data: {\"padding\": \"")
                buffer.writeRepeatingByte(UInt8(ascii: "x"), count: fault.bytes)
                buffer.writeString("\"}\n\n")
                try await trickle.write(buffer, to: &writer)
            default:
                break
            }
        }
    }

    private func refuse(_ number: Int, _ status: Int, _ body: String) -> Response {
        state.update(.llm, number) {
            $0.status = status
            $0.outcome = .refused
        }
        return plainResponse(status: status, contentType: "application/json", body: body)
    }

    private func replyText(number: Int, messages: [Body.Message]) -> String {
        let replies = state.script.llm.replies
        if replies.isEmpty {
            let said = messages.last { $0.role == "user" }?.content ?? ""
            return "You said: \(said)"
        }
        return replies[min(number, replies.count) - 1]
    }

    /// The reply split into tokens: words, each with the white space after it.
    static func tokens(of reply: String) -> [String] {
        var tokens: [String] = []
        var current = ""
        var inSpace = false
        for character in reply {
            if character.isWhitespace {
                inSpace = true
            } else if inSpace, !current.isEmpty {
                tokens.append(current)
                current = ""
                inSpace = false
            }
            current.append(character)
        }
        if !current.isEmpty { tokens.append(current) }
        return tokens
    }

    private func event(_ json: String) -> ByteBuffer { ByteBuffer(string: "data: \(json)\n\n") }

    private func chunk(_ id: String, _ created: Int, _ model: String, delta: [String: String], finish: String?, usage: Bool) -> String {
        let deltaJSON = "{" + delta.sorted { $0.key > $1.key }.map { "\(quote($0.key)):\(quote($0.value))" }.joined(separator: ",") + "}"
        let finishJSON = finish.map(quote) ?? "null"
        return "{\"id\":\"\(id)\",\"object\":\"chat.completion.chunk\",\"created\":\(created),\"model\":\(quote(model)),"
            + "\"system_fingerprint\":\"fp_fake\",\"choices\":[{\"index\":0,\"delta\":\(deltaJSON),\"logprobs\":null,"
            + "\"finish_reason\":\(finishJSON)}]\(usage ? ",\"usage\":null" : "")}"
    }

    private func quote(_ text: String) -> String {
        guard let data = try? JSONEncoder().encode(text), let quoted = String(data: data, encoding: .utf8) else { return "\"\"" }
        return quoted
    }

    private func error(_ message: String, type: String, code: String?) -> String {
        "{\"error\":{\"message\":\(quote(message)),\"type\":\(quote(type)),\"param\":null,\"code\":\(code.map(quote) ?? "null")}}"
    }

    private func defaultError(_ status: Int) -> String {
        switch status {
        case 401: error("Incorrect API key provided.", type: "invalid_request_error", code: "invalid_api_key")
        case 403: error("You are not allowed to use this model.", type: "invalid_request_error", code: "model_not_found")
        case 429: error("Rate limit reached for requests. Please try again shortly.", type: "requests", code: "rate_limit_exceeded")
        case 500...599: error("The server had an error while processing your request. Sorry about that!", type: "server_error", code: nil)
        default: error("Request failed with status \(status).", type: "invalid_request_error", code: nil)
        }
    }
}
