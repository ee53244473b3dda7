import FoundationEssentials
import VoiceCore
import VoiceSupport

/// A `voiced simulate` scenario: settings, scripted providers and timed user events.
/// The format is documented in docs/simulate.md.
public struct Scenario: Equatable, Sendable {
    public struct LLMScript: Equatable, Sendable {
        public var timeToFirstToken: Duration = .milliseconds(400)
        public var perToken: Duration = .milliseconds(30)
        public var replies: [String] = ["It is sunny. Enjoy your day!"]
        public var failingCalls: Set<Int> = []
        public var ignoresCancel = false

        public init(timeToFirstToken: Duration = .milliseconds(400), perToken: Duration = .milliseconds(30),
                    replies: [String] = ["It is sunny. Enjoy your day!"], failingCalls: Set<Int> = [], ignoresCancel: Bool = false) {
            self.timeToFirstToken = timeToFirstToken
            self.perToken = perToken
            self.replies = replies
            self.failingCalls = failingCalls
            self.ignoresCancel = ignoresCancel
        }
    }

    public struct TTSScript: Equatable, Sendable {
        public var timeToFirstByte: Duration = .milliseconds(150)
        public var perCharacter: Duration = .milliseconds(60)
        public var failingRequests: Set<Int> = []

        public init(timeToFirstByte: Duration = .milliseconds(150), perCharacter: Duration = .milliseconds(60),
                    failingRequests: Set<Int> = []) {
            self.timeToFirstByte = timeToFirstByte
            self.perCharacter = perCharacter
            self.failingRequests = failingRequests
        }
    }

    public enum EventKind: Equatable, Sendable {
        case button
        /// A speech event; written without a source, it is speech-to-text's.
        case speech(SpeechEvent, from: SpeechSource = .speechToText)
    }

    public struct Event: Equatable, Sendable {
        public var at: VoiceInstant
        public var kind: EventKind
        public init(at: VoiceInstant, kind: EventKind) {
            self.at = at
            self.kind = kind
        }
    }

    public var settings = TurnSettings()
    public var llm = LLMScript()
    public var tts = TTSScript()
    public var fallbackTTS = TTSScript(timeToFirstByte: .milliseconds(30), perCharacter: .milliseconds(60))
    public var events: [Event] = []

    public init() {}
}

/// A scenario that cannot be used, with the path of the offending value and what to do.
public struct ScenarioError: Error, Equatable, CustomStringConvertible {
    public var path: String
    public var message: String
    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

extension Scenario {
    /// Parses and validates a scenario document: strict JSON (a syntax error names its line and
    /// column; a key given twice is an error), then the format of docs/simulate.md.
    public static func parse(_ data: some Collection<UInt8>) throws(ScenarioError) -> Scenario {
        let document: JSONValue
        do {
            document = try JSONValue.parse(data)
        } catch {
            throw ScenarioError(path: "", message: "not valid JSON: \(error)")
        }
        var reader = ObjectReader(path: "", value: document)
        return try reader.scenario()
    }

    /// Reads a scenario file.
    public static func load(path: String) throws(ScenarioError) -> Scenario {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ScenarioError(path: "", message: "cannot read scenario file '\(path)'")
        }
        return try parse(data)
    }
}

/// Walks a JSON object, naming the path of every value it complains about.
private struct ObjectReader {
    let path: String
    let value: JSONValue

    func child(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func object(allowed: Set<String>) throws(ScenarioError) -> [String: JSONValue] {
        guard case .object(let pairs) = value else {
            throw ScenarioError(path: path, message: "expected an object")
        }
        for (key, _) in pairs.sorted(by: { $0.0 < $1.0 }) where !allowed.contains(key) {
            throw ScenarioError(path: child(key), message: "unknown key (allowed: \(allowed.sorted().joined(separator: ", ")))")
        }
        // The JSON reader refuses a key given twice, so the pairs make a dictionary.
        return Dictionary(pairs, uniquingKeysWith: { first, _ in first })
    }

    static func int(_ dictionary: [String: JSONValue], _ key: String, path: String, range: ClosedRange<Int>) throws(ScenarioError) -> Int? {
        guard let raw = dictionary[key] else { return nil }
        guard case .int(let wide) = raw, let value = Int(exactly: wide) else {
            throw ScenarioError(path: path, message: "expected a whole number")
        }
        guard range.contains(value) else {
            throw ScenarioError(path: path, message: "\(value) is out of range \(range.lowerBound)…\(range.upperBound)")
        }
        return value
    }

    static func bool(_ dictionary: [String: JSONValue], _ key: String, path: String) throws(ScenarioError) -> Bool? {
        guard let raw = dictionary[key] else { return nil }
        guard case .bool(let value) = raw else { throw ScenarioError(path: path, message: "expected true or false") }
        return value
    }

    static func string(_ dictionary: [String: JSONValue], _ key: String, path: String) throws(ScenarioError) -> String? {
        guard let raw = dictionary[key] else { return nil }
        guard case .string(let value) = raw else { throw ScenarioError(path: path, message: "expected a string") }
        return value
    }

    static func strings(_ dictionary: [String: JSONValue], _ key: String, path: String, message: String) throws(ScenarioError) -> [String]? {
        guard let raw = dictionary[key] else { return nil }
        guard case .array(let items) = raw else { throw ScenarioError(path: path, message: message) }
        var out: [String] = []
        for item in items {
            guard case .string(let text) = item else { throw ScenarioError(path: path, message: message) }
            out.append(text)
        }
        return out
    }

    static func number(_ dictionary: [String: JSONValue], _ key: String, path: String, range: ClosedRange<Double>) throws(ScenarioError) -> Double? {
        guard let raw = dictionary[key] else { return nil }
        let value: Double
        switch raw {
        case .int(let whole): value = Double(whole)
        case .double(let real): value = real
        default: throw ScenarioError(path: path, message: "expected a number")
        }
        guard range.contains(value) else {
            throw ScenarioError(path: path, message: "\(value) is out of range \(range.lowerBound)…\(range.upperBound)")
        }
        return value
    }

    static func intSet(_ dictionary: [String: JSONValue], _ key: String, path: String) throws(ScenarioError) -> Set<Int>? {
        guard let raw = dictionary[key] else { return nil }
        guard case .array(let array) = raw else { throw ScenarioError(path: path, message: "expected a list of call numbers") }
        var result: Set<Int> = []
        for (index, element) in array.enumerated() {
            guard case .int(let number) = element, number >= 1, let call = Int(exactly: number) else {
                throw ScenarioError(path: "\(path)[\(index)]", message: "expected a call number from 1 (calls are counted from 1)")
            }
            result.insert(call)
        }
        return result
    }

    mutating func scenario() throws(ScenarioError) -> Scenario {
        let root = try object(allowed: ["settings", "llm", "tts", "fallback_tts", "events", "description"])
        var scenario = Scenario()
        _ = try Self.string(root, "description", path: child("description"))
        if let settings = root["settings"] {
            scenario.settings = try ObjectReader(path: child("settings"), value: settings).settings()
        }
        if let llm = root["llm"] {
            let reader = ObjectReader(path: child("llm"), value: llm)
            let o = try reader.object(allowed: ["ttft_ms", "ms_per_token", "replies", "fail_calls", "ignore_cancel"])
            if let v = try Self.int(o, "ttft_ms", path: reader.child("ttft_ms"), range: 0...600_000) { scenario.llm.timeToFirstToken = .milliseconds(v) }
            if let v = try Self.int(o, "ms_per_token", path: reader.child("ms_per_token"), range: 0...60_000) { scenario.llm.perToken = .milliseconds(v) }
            if let replies = try Self.strings(o, "replies", path: reader.child("replies"),
                                               message: "expected a list of strings, one reply per LLM call") {
                scenario.llm.replies = replies
            }
            if let v = try Self.intSet(o, "fail_calls", path: reader.child("fail_calls")) { scenario.llm.failingCalls = v }
            if let v = try Self.bool(o, "ignore_cancel", path: reader.child("ignore_cancel")) { scenario.llm.ignoresCancel = v }
        }
        for (key, isFallback) in [("tts", false), ("fallback_tts", true)] {
            guard let raw = root[key] else { continue }
            let reader = ObjectReader(path: child(key), value: raw)
            let o = try reader.object(allowed: ["ttfb_ms", "audio_ms_per_char", "fail_calls"])
            var script = isFallback ? scenario.fallbackTTS : scenario.tts
            if let v = try Self.int(o, "ttfb_ms", path: reader.child("ttfb_ms"), range: 0...600_000) { script.timeToFirstByte = .milliseconds(v) }
            if let v = try Self.int(o, "audio_ms_per_char", path: reader.child("audio_ms_per_char"), range: 1...10_000) { script.perCharacter = .milliseconds(v) }
            if let v = try Self.intSet(o, "fail_calls", path: reader.child("fail_calls")) { script.failingRequests = v }
            if isFallback { scenario.fallbackTTS = script } else { scenario.tts = script }
        }
        guard let rawEvents = root["events"] else {
            throw ScenarioError(path: "events", message: "missing: a scenario needs a list of timed events")
        }
        guard case .array(let events) = rawEvents else { throw ScenarioError(path: "events", message: "expected a list of events") }
        var last = -1
        for (index, raw) in events.enumerated() {
            let reader = ObjectReader(path: "events[\(index)]", value: raw)
            let event = try reader.event()
            guard event.at.milliseconds >= last else {
                throw ScenarioError(path: reader.child("at_ms"), message: "events must be in time order (\(event.at.milliseconds) comes after \(last))")
            }
            last = Int(event.at.milliseconds)
            scenario.events.append(event)
        }
        return scenario
    }

    func settings() throws(ScenarioError) -> TurnSettings {
        let o = try object(allowed: [
            "debounce_ms", "commit_hold_ms", "speculation", "preemptive_tts", "adaptive_debounce", "always_listening",
            "follow_up_ms", "listen_timeout_ms", "correction_markers", "history_max_turns", "history_max_chars",
            "cancel_rate_raise_above", "cancel_rate_lower_below", "system_prompt", "barge_in",
        ])
        var s = TurnSettings()
        if let v = try Self.int(o, "debounce_ms", path: child("debounce_ms"), range: 400...1200) { s.debounce = .milliseconds(v) }
        if let v = try Self.int(o, "commit_hold_ms", path: child("commit_hold_ms"), range: 0...5000) { s.commitHold = .milliseconds(v) }
        if let raw = try Self.string(o, "speculation", path: child("speculation")) {
            guard let mode = SpeculationMode(rawValue: raw) else {
                throw ScenarioError(path: child("speculation"), message: "unknown mode '\(raw)' (expected \(SpeculationMode.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            s.speculation = mode
        }
        if let v = try Self.bool(o, "preemptive_tts", path: child("preemptive_tts")) { s.preemptiveTTS = v }
        if let v = try Self.bool(o, "adaptive_debounce", path: child("adaptive_debounce")) { s.adaptive.enabled = v }
        if let v = try Self.bool(o, "always_listening", path: child("always_listening")) { s.alwaysListening = v }
        if let v = try Self.int(o, "follow_up_ms", path: child("follow_up_ms"), range: 0...60_000) { s.followUp = .milliseconds(v) }
        if let v = try Self.int(o, "listen_timeout_ms", path: child("listen_timeout_ms"), range: 1000...120_000) { s.listenTimeout = .milliseconds(v) }
        if let v = try Self.int(o, "history_max_turns", path: child("history_max_turns"), range: 0...100) { s.historyMaxTurns = v }
        if let v = try Self.int(o, "history_max_chars", path: child("history_max_chars"), range: 0...100_000) { s.historyMaxCharacters = v }
        if let v = try Self.number(o, "cancel_rate_raise_above", path: child("cancel_rate_raise_above"), range: 0.10...0.50) { s.adaptive.raiseAbove = v }
        if let v = try Self.number(o, "cancel_rate_lower_below", path: child("cancel_rate_lower_below"), range: 0.10...0.50) { s.adaptive.lowerBelow = v }
        if let v = try Self.string(o, "system_prompt", path: child("system_prompt")) { s.systemPrompt = v }
        if let raw = try Self.string(o, "barge_in", path: child("barge_in")) {
            // The daemon's `audio.barge_in`: the button always barges in; `voice` lets speech do it too.
            switch raw {
            case "voice": s.bargeInByVoice = true
            case "button_only": s.bargeInByVoice = false
            default: throw ScenarioError(path: child("barge_in"), message: "unknown value '\(raw)' (expected voice or button_only)")
            }
        }
        if let markers = try Self.strings(o, "correction_markers", path: child("correction_markers"), message: "expected a list of words") {
            s.correctionMarkers = markers
        }
        // The rule `voiced --check-config` applies to turn.cancel_rate_*: crossed thresholds
        // would raise and lower the debounce at once.
        if s.adaptive.lowerBelow > s.adaptive.raiseAbove {
            let key = o["cancel_rate_lower_below"] != nil ? "cancel_rate_lower_below" : "cancel_rate_raise_above"
            throw ScenarioError(path: child(key), message: "cancel_rate_lower_below (\(s.adaptive.lowerBelow)) must not be above cancel_rate_raise_above (\(s.adaptive.raiseAbove))")
        }
        return s
    }

    func event() throws(ScenarioError) -> Scenario.Event {
        let o = try object(allowed: ["at_ms", "type", "text", "confidence", "source"])
        guard let at = try Self.int(o, "at_ms", path: child("at_ms"), range: 0...86_400_000) else {
            throw ScenarioError(path: child("at_ms"), message: "missing: when the event happens, in ms from the start")
        }
        guard let type = try Self.string(o, "type", path: child("type")) else {
            throw ScenarioError(path: child("type"), message: "missing (expected button, speech_start, speech_end, partial or final)")
        }
        let text = try Self.string(o, "text", path: child("text"))
        let confidence = try Self.number(o, "confidence", path: child("confidence"), range: 0...1) ?? 0.95
        let seconds = Double(at) / 1000
        var kind: Scenario.EventKind
        switch type {
        case "button": kind = .button
        case "speech_start": kind = .speech(.speechStarted)
        case "speech_end": kind = .speech(.speechEnded)
        case "partial", "final":
            guard let text else { throw ScenarioError(path: child("text"), message: "missing: a \(type) event needs its text") }
            kind = type == "partial" ? .speech(.partial(text))
                : .speech(.final(text: text, confidence: confidence, start: max(0, seconds - 1), end: seconds))
        default:
            throw ScenarioError(path: child("type"), message: "unknown event type '\(type)' (expected button, speech_start, speech_end, partial or final)")
        }
        if text != nil, type != "partial", type != "final" {
            throw ScenarioError(path: child("text"), message: "only partial and final events carry text")
        }
        if let raw = try Self.string(o, "source", path: child("source")) {
            let sources = SpeechSource.allCases.map(\.rawValue).joined(separator: " or ")
            guard let source = SpeechSource(rawValue: raw) else {
                throw ScenarioError(path: child("source"), message: "unknown source '\(raw)' (expected \(sources))")
            }
            guard case .speech(let speech, _) = kind else {
                throw ScenarioError(path: child("source"), message: "only speech events have a source")
            }
            // The local voice detector hears sound, not words.
            if source == .localVoiceActivity, type != "speech_start", type != "speech_end" {
                throw ScenarioError(path: child("source"), message: "local_voice reports only speech_start and speech_end")
            }
            kind = .speech(speech, from: source)
        }
        return Scenario.Event(at: .milliseconds(Int64(at)), kind: kind)
    }
}
