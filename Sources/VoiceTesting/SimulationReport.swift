import VoiceCore
import VoiceSupport

extension SimulationResult {
    /// The `voiced simulate --json` document (docs/simulate.md).
    public var json: JSONValue {
        .object([
            ("timeline", .array(timeline.map(\.json))),
            ("turns", .array(turns.map(Self.json(turn:)))),
            ("metrics", .object([
                ("cancellation_rate", .double(Self.round(telemetry.cancellationRate))),
                ("avg_turn_latency_ms", telemetry.averageTurnLatencyMs.map { .int(Int64($0.rounded())) } ?? .null),
                ("tokens_wasted", .int(Int64(telemetry.tokensWasted))),
                ("debounce_ms", .int(debounce.wholeMilliseconds)),
                ("turns_completed", .int(Int64(telemetry.completedTurns))),
                ("cancellations", .int(Int64(telemetry.cancellations))),
            ])),
            ("violations", .array(violations.map(JSONValue.string))),
        ])
    }

    static func round(_ value: Double) -> Double { (value * 10_000).rounded() / 10_000 }

    static func json(turn record: TurnRecord) -> JSONValue {
        func ms(_ value: Int64?) -> JSONValue { value.map(JSONValue.int) ?? .null }
        return .object([
            ("turn", .int(Int64(record.turn))),
            ("user_text", .string(record.userText)),
            ("spoken_text", .string(record.spokenText)),
            ("status", .string(record.status.rawValue)),
            ("cause", record.cause.map { .string($0.rawValue) } ?? .null),
            ("interrupted", .bool(record.interrupted)),
            ("started_ms", .int(record.startedAt.milliseconds)),
            ("ended_ms", ms(record.endedAt?.milliseconds)),
            ("debounce_ms", .int(record.debounceMs)),
            ("llm_calls", .array(record.llmCalls.map { call in
                .object([
                    ("call", .int(Int64(call.call))),
                    ("status", .string(call.status.rawValue)),
                    ("reason", call.reason.map(JSONValue.string) ?? .null),
                    ("tokens", .int(Int64(call.tokens))),
                    ("latency_ms", ms(call.latencyMs)),
                ])
            })),
            ("speech_end_to_llm_start_ms", ms(record.latencies.speechEndToLLMStartMs)),
            ("speech_end_to_first_token_ms", ms(record.latencies.speechEndToFirstTokenMs)),
            ("speech_end_to_first_sentence_ms", ms(record.latencies.speechEndToFirstSentenceMs)),
            ("speech_end_to_tts_first_byte_ms", ms(record.latencies.speechEndToTTSFirstByteMs)),
            ("speech_end_to_first_audio_ms", ms(record.latencies.speechEndToFirstAudioMs)),
            ("states", .array(record.states.map { event in
                .object([
                    ("t_ms", .int(event.time.milliseconds)), ("from", .string(event.from.rawValue)),
                    ("to", .string(event.to.rawValue)), ("cause", .string(event.cause.rawValue)),
                ])
            })),
        ])
    }

    /// The timeline as a person reads it.
    public var text: String {
        var lines: [String] = []
        for entry in timeline {
            let time = Printf.format("%8.3fs", Double(entry.time.milliseconds) / 1000)
            let turn = entry.turn.map { "turn \($0)" } ?? ""
            let detail: String
            func s(_ key: String) -> String {
                switch entry.field(key) {
                case .string(let v): v
                case .int(let v): String(v)
                case .double(let v): String(v)
                default: ""
                }
            }
            switch entry.event {
            case "input":
                let type = s("type")
                detail = type == "partial" || type == "final" ? "user \(type): \"\(s("text"))\"" : "user \(type.replacingEvery("_", with: " "))"
            case "state": detail = "\(s("from").uppercased()) → \(s("to").uppercased())  (\(s("cause")))"
            case "llm_start": detail = "LLM call \(s("call")) starts"
            case "llm_cancel": detail = "LLM call \(s("call")) cancelled (\(s("reason")))"
            case "llm_cancel_reason": detail = "LLM call \(s("call")) was cancelled by a correction (\(s("reason")))"
            case "llm_done": detail = "LLM call \(s("call")) done"
            case "llm_fail": detail = "LLM call \(s("call")) failed: \(s("error"))"
            case "tts_start": detail = "speak [\(s("voice"))]: \"\(s("text"))\""
            case "tts_fail": detail = "TTS failed: \(s("error"))"
            case "audio_start": detail = "♪ first audio"
            case "audio_drop": detail = "■ playback dropped"
            case "turn_end": detail = "turn ends: \(s("status")) (\(s("cause")))"
            case "debounce": detail = "debounce \(s("old_ms")) → \(s("new_ms")) ms (cancellation rate \(s("cancellation_rate")))"
            default: detail = entry.event
            }
            lines.append("\(time)  \(turn.paddedWithSpaces(toLength: 7))  \(detail)")
        }
        lines.append("")
        for record in turns {
            let latency = record.latencies.speechEndToFirstAudioMs.map { "\($0) ms" } ?? "-"
            lines.append("turn \(record.turn) [\(record.status.rawValue)] heard: \"\(record.userText)\"")
            lines.append("        spoke: \"\(record.spokenText)\"  (speech end → first audio: \(latency))")
        }
        let rate = Printf.format("%.0f%%", telemetry.cancellationRate * 100)
        let average = telemetry.averageTurnLatencyMs.map { Printf.format("%.0f ms", $0) } ?? "-"
        lines.append("cancellation rate \(rate), average turn latency \(average), tokens wasted \(telemetry.tokensWasted), debounce \(debounce.wholeMilliseconds) ms")
        if violations.isEmpty {
            lines.append("invariants: no audio before COMMITTED, nothing of a cancelled or interrupted turn played: OK")
        } else {
            lines.append("INVARIANT VIOLATIONS:")
            lines += violations.map { "  - \($0)" }
        }
        return lines.joined(separator: "\n")
    }
}
