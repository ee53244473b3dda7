import Foundation
import Testing
import VoiceCore
import VoiceSupport
@testable import VoiceTesting

@Suite struct ScenarioTests {
    static let examples: [String] = {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../examples/scenarios").standardized
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted().map { folder.appendingPathComponent($0).path }
    }()

    @Test func theShippedExamplesExist() {
        #expect(Self.examples.count >= 5)
    }

    @Test(arguments: examples)
    func everyShippedExampleParsesAndKeepsTheRuleAboveAll(path: String) throws {
        let scenario = try Scenario.load(path: path)
        let result = ScenarioRunner(scenario: scenario).run()
        #expect(result.violations.isEmpty)
        #expect(!result.turns.isEmpty)
    }

    @Test func theIssueExampleParsesWithEverySetting() throws {
        let json = """
        {"settings": {"debounce_ms": 500, "commit_hold_ms": 250, "speculation": "at_final",
                      "preemptive_tts": true, "adaptive_debounce": false, "always_listening": true},
         "llm": {"ttft_ms": 300, "ms_per_token": 20, "replies": ["A.", "B."], "fail_calls": [2]},
         "tts": {"ttfb_ms": 100, "audio_ms_per_char": 50, "fail_calls": []},
         "events": [{"at_ms": 0, "type": "button"}, {"at_ms": 100, "type": "speech_start"},
                    {"at_ms": 700, "type": "partial", "text": "what is the"},
                    {"at_ms": 1300, "type": "final", "text": "What is the weather today?", "confidence": 0.8},
                    {"at_ms": 1300, "type": "speech_end"}]}
        """
        let s = try Scenario.parse(Data(json.utf8))
        #expect(s.settings.debounce == .milliseconds(500))
        #expect(s.settings.commitHold == .milliseconds(250))
        #expect(s.settings.speculation == .atFinal)
        #expect(s.settings.preemptiveTTS && s.settings.alwaysListening && !s.settings.adaptive.enabled)
        #expect(s.llm.timeToFirstToken == .milliseconds(300) && s.llm.perToken == .milliseconds(20))
        #expect(s.llm.replies == ["A.", "B."] && s.llm.failingCalls == [2])
        #expect(s.tts.timeToFirstByte == .milliseconds(100) && s.tts.perCharacter == .milliseconds(50))
        #expect(s.events.count == 5)
        guard case .speech(.final(let text, let confidence, _, let end), .speechToText) = s.events[3].kind else {
            Issue.record("event 3 is not a final")
            return
        }
        #expect(text == "What is the weather today?" && confidence == 0.8 && end == 1.3)
    }

    static let badScenarios: [(String, String)] = [
        ("not json", "not valid JSON"),
        ("[]", "expected an object"),
        ("{}", "events: missing"),
        (#"{"events": [], "extra": 1}"#, "extra: unknown key"),
        (#"{"events": [{"at_ms": 0, "type": "shout"}]}"#, "events[0].type: unknown event type 'shout'"),
        (#"{"events": [{"at_ms": 0, "type": "final"}]}"#, "events[0].text: missing"),
        (#"{"events": [{"type": "button"}]}"#, "events[0].at_ms: missing"),
        (#"{"events": [{"at_ms": -5, "type": "button"}]}"#, "events[0].at_ms: -5 is out of range"),
        (#"{"events": [{"at_ms": 1.5, "type": "button"}]}"#, "events[0].at_ms: expected a whole number"),
        (#"{"events": [{"at_ms": true, "type": "button"}]}"#, "events[0].at_ms: expected a whole number"),
        (#"{"events": [{"at_ms": 500, "type": "button"}, {"at_ms": 100, "type": "button"}]}"#, "events[1].at_ms: events must be in time order"),
        (#"{"events": [{"at_ms": 0, "type": "button", "text": "hi"}]}"#, "events[0].text: only partial and final"),
        (#"{"settings": {"debounce_ms": 300}, "events": []}"#, "settings.debounce_ms: 300 is out of range 400…1200"),
        (#"{"settings": {"debounce": 400}, "events": []}"#, "settings.debounce: unknown key"),
        (#"{"settings": {"speculation": "eager"}, "events": []}"#, "settings.speculation: unknown mode 'eager'"),
        (#"{"settings": {"preemptive_tts": 1}, "events": []}"#, "settings.preemptive_tts: expected true or false"),
        (#"{"llm": {"replies": "hello"}, "events": []}"#, "llm.replies: expected a list of strings"),
        (#"{"llm": {"fail_calls": [0]}, "events": []}"#, "llm.fail_calls[0]: expected a call number from 1"),
        (#"{"tts": {"audio_ms_per_char": 0}, "events": []}"#, "tts.audio_ms_per_char: 0 is out of range"),
        (#"{"events": [{"at_ms": 0, "type": "final", "text": "x", "confidence": 2}]}"#, "events[0].confidence: 2.0 is out of range"),
        // Strict JSON: what Foundation's decoder let through.
        (#"{"events": [],}"#, "not valid JSON: line 1, column 15: a trailing comma before '}'"),
        (#"{"events": [{"at_ms": 0, "type": "button"},]}"#, "not valid JSON: line 1, column 44: a trailing comma before ']'"),
        (#"{"events": [], "events": [{"at_ms": 0, "type": "button"}]}"#, #"not valid JSON: line 1, column 16: the key "events" appears twice"#),
        (#"{"events": [{"at_ms": 0, "type": "button", "type": "final"}]}"#, #"not valid JSON: line 1, column 44: the key "type" appears twice"#),
        ("{\n  \"events\": [\n    {\"at_ms\": 0 \"type\": \"button\"}\n  ]\n}", "not valid JSON: line 3, column 17: expected ',' or '}'"),
        (#"{"events": [{"at_ms": 0, "type": 'button'}]}"#, "not valid JSON: line 1, column 34: expected a value"),
        (#"{"events": [{"at_ms": 00, "type": "button"}]}"#, "not valid JSON: line 1, column 23: numbers do not start with 0"),
        (#"{"description": 5, "events": []}"#, "description: expected a string"),
        (#"{"events": [{"at_ms": 0, "type": "speech_start", "source": "mic"}]}"#, "events[0].source: unknown source 'mic' (expected speech_to_text or local_voice)"),
        (#"{"events": [{"at_ms": 0, "type": "final", "text": "x", "source": "local_voice"}]}"#, "events[0].source: local_voice reports only speech_start and speech_end"),
        (#"{"events": [{"at_ms": 0, "type": "button", "source": "local_voice"}]}"#, "events[0].source: only speech events have a source"),
        (#"{"settings": {"barge_in": "shout"}, "events": []}"#, "settings.barge_in: unknown value 'shout' (expected voice or button_only)"),
        (#"{"settings": {"cancel_rate_raise_above": 0.2, "cancel_rate_lower_below": 0.3}, "events": []}"#,
         "settings.cancel_rate_lower_below: cancel_rate_lower_below (0.3) must not be above cancel_rate_raise_above (0.2)"),
        (#"{"settings": {"cancel_rate_raise_above": 0.12}, "events": []}"#,
         "settings.cancel_rate_raise_above: cancel_rate_lower_below (0.15) must not be above cancel_rate_raise_above (0.12)"),
    ]

    @Test(arguments: badScenarios.map { [$0.0, $0.1] })
    func badScenariosGetASpecificMessage(row: [String]) {
        do {
            _ = try Scenario.parse(Data(row[0].utf8))
            Issue.record("accepted: \(row[0])")
        } catch {
            #expect(error.description.hasPrefix(row[1]), "got: \(error.description)")
        }
    }

    @Test func aSpeechEventNamesItsSourceAndBargeInByVoiceIsASetting() throws {
        let s = try Scenario.parse(Data(#"""
            {"settings": {"barge_in": "button_only"}, "events": [
              {"at_ms": 0, "type": "speech_start", "source": "local_voice"},
              {"at_ms": 10, "type": "speech_end", "source": "speech_to_text"},
              {"at_ms": 20, "type": "speech_start"}
            ]}
            """#.utf8))
        #expect(!s.settings.bargeInByVoice)
        #expect(s.events.map(\.kind) == [.speech(.speechStarted, from: .localVoiceActivity), .speech(.speechEnded), .speech(.speechStarted)])
        #expect(try Scenario.parse(Data(#"{"events": []}"#.utf8)).settings.bargeInByVoice)
    }

    @Test func aMissingFileSaysWhichFile() {
        #expect(throws: ScenarioError(path: "", message: "cannot read scenario file '/nonexistent.json'")) {
            try Scenario.load(path: "/nonexistent.json")
        }
    }

    @Test func theJSONOutputHasTheDocumentedShape() throws {
        let scenario = try Scenario.load(path: Self.examples.first { $0.hasSuffix("happy-path.json") } ?? "")
        let json = ScenarioRunner(scenario: scenario).run().json
        let text = json.serialized(indent: 2)
        let reparsed = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let timeline = try #require(reparsed["timeline"] as? [[String: Any]])
        #expect(timeline.contains { ($0["event"] as? String) == "state" && ($0["to"] as? String) == "speculative"
                                    && ($0["cause"] as? String) == "debounce_elapsed" && ($0["t_ms"] as? Int) == 1700 })
        #expect(timeline.contains { ($0["event"] as? String) == "audio_start" && ($0["turn"] as? Int) == 1 })
        let turns = try #require(reparsed["turns"] as? [[String: Any]])
        #expect(turns.first?["status"] as? String == "completed")
        #expect(turns.first?["speech_end_to_first_audio_ms"] as? Int == 1010)
        let calls = try #require(turns.first?["llm_calls"] as? [[String: Any]])
        #expect(calls.first?["status"] as? String == "completed" && calls.first?["tokens"] as? Int == 6)
        let metrics = try #require(reparsed["metrics"] as? [String: Any])
        #expect(metrics["debounce_ms"] as? Int == 400)
        #expect(metrics["avg_turn_latency_ms"] as? Int == 1010)
        #expect(metrics["tokens_wasted"] as? Int == 0)
        #expect((reparsed["violations"] as? [Any])?.isEmpty == true)
    }

    @Test func tokensAreTheReplySplitOnWhiteSpaceKeepingTheSpace() {
        #expect(ScriptedLanguageModel.tokens(of: "It is  sunny. Ok") == ["It ", "is  ", "sunny. ", "Ok"])
    }

    @Test func jsonStringsAreEscaped() {
        #expect(JSONValue.string("a\"b\\c\nd\u{1}").serialized() == #""a\"b\\c\nd\u0001""#)
    }
}
