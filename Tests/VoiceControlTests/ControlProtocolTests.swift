import Testing
import VoiceSupport
@testable import VoiceControl

@Suite struct ControlProtocolTests {
    @Test func aRequestRoundTrips() throws {
        let request = ControlRequest(id: .int(7), command: "settings.set", arguments: ["key": .string("debounce_ms"), "value": .string("600")])
        let parsed = try ControlRequest.parse(Array(request.line.utf8)).get()
        #expect(parsed == request)
        #expect(request.line == #"{"v":1,"id":7,"cmd":"settings.set","args":{"key":"debounce_ms","value":"600"}}"#)
    }

    static let bad: [(String, String, String)] = [
        ("not json", "malformed", "not a JSON object"),
        ("[1,2]", "malformed", "expected a JSON object"),
        (#"{"cmd":"status"}"#, "malformed", "missing \"v\""),
        (#"{"v":2,"cmd":"status"}"#, "unsupported_version", "version 2 is not supported"),
        (#"{"v":1}"#, "malformed", "missing \"cmd\""),
        (#"{"v":1,"cmd":"status","args":[1]}"#, "malformed", "\"args\" must be an object"),
        // Read strictly (JSONValue.parse): Foundation's decoder took a repeated key and a trailing comma.
        (#"{"v":1,"cmd":"status","cmd":"mute"}"#, "malformed", "the key \"cmd\" appears twice"),
        (#"{"v":1,"cmd":"status",}"#, "malformed", "a trailing comma"),
    ]

    @Test(arguments: bad)
    func malformedRequestsGetASpecificError(line: String, code: String, message: String) {
        switch ControlRequest.parse(Array(line.utf8)) {
        case .success: Issue.record("accepted \(line)")
        case .failure(let rejection):
            #expect(rejection.error.code.rawValue == code)
            #expect(rejection.error.message.contains(message), "got \(rejection.error.message)")
        }
    }

    @Test func theIDOfABadRequestIsEchoedWhenItCanBeRead() {
        guard case .failure(let rejection) = ControlRequest.parse(Array(#"{"v":9,"id":"x","cmd":"status"}"#.utf8)) else {
            Issue.record("accepted")
            return
        }
        #expect(rejection.id == .string("x"))
    }

    @Test func anOversizedRequestIsRefused() {
        let line = [UInt8](repeating: UInt8(ascii: "a"), count: ControlProtocol.maxRequestBytes + 1)
        guard case .failure(let rejection) = ControlRequest.parse(line) else {
            Issue.record("accepted")
            return
        }
        #expect(rejection.error.code == .tooLarge)
    }

    @Test func eventsCarryTheirTypeFirst() {
        let event = ControlEventType.speechStarted.event()
        #expect(event.serialized() == #"{"type":"speech_started"}"#)
        #expect(ControlEventType.final.event(.object([("text", .string("hi"))])).serialized() == #"{"type":"final","text":"hi"}"#)
        for type in ControlEventType.allCases { #expect(ControlEventType(of: type.event()) == type) }
        #expect(ControlEventType(of: .object([("type", .string("dance"))])) == nil)
        #expect(ControlEventType(of: .object([("type", .int(1))])) == nil)
    }

    @Test func repliesRoundTrip() throws {
        let replies: [ControlReply] = [
            .success(id: .int(1), result: .object([("state", .string("idle"))])),
            .failure(id: .int(2), error: ControlError(.notPermitted, "nothing to interrupt")),
            .event(.object([("type", .string("state"))])),
        ]
        for reply in replies {
            #expect(try ControlReply.parse(Array(reply.line.utf8)) == reply)
        }
    }
}
