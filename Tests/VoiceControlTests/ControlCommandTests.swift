import Testing
import VoiceSupport
@testable import VoiceControl

@Suite struct ControlCommandTests {
    /// One command of every kind, arguments included.
    static let examples: [ControlCommand] = [
        .status, .watch, .settingsGet(key: nil), .settingsGet(key: "debounce_ms"), .settingsSet(key: "volume", value: "70"),
        .settingsReset(key: nil), .settingsReset(key: "voice"), .history(count: 5), .metrics, .wake, .interrupt,
        .say(text: "Hello \"there\"\n"), .mute(on: true), .mute(on: false),
    ]

    @Test func everyCommandHasAnExample() {
        #expect(Set(Self.examples.map(\.name)) == Set(ControlCommand.Name.allCases))
    }

    @Test(arguments: examples)
    func everyCommandRoundTripsThroughItsLine(command: ControlCommand) throws {
        let line = command.request(id: .int(3)).line
        let (id, parsed) = try ControlCommand.parse(Array(line.utf8)).get()
        #expect(id == .int(3))
        #expect(parsed == command)
    }

    /// The wire form is the one voicectl and scripts spoke before the commands were typed.
    @Test func theWireFormIsUnchanged() {
        #expect(ControlCommand.settingsSet(key: "debounce_ms", value: "600").request(id: .int(7)).line
                == #"{"v":1,"id":7,"cmd":"settings.set","args":{"key":"debounce_ms","value":"600"}}"#)
        #expect(ControlCommand.status.request(id: .int(1)).line == #"{"v":1,"id":1,"cmd":"status"}"#)
        #expect(ControlCommand.history(count: 20).request(id: .int(2)).line == #"{"v":1,"id":2,"cmd":"history","args":{"n":20}}"#)
        #expect(ControlCommand.mute(on: true).request(id: .int(4)).line == #"{"v":1,"id":4,"cmd":"mute","args":{"on":true}}"#)
        #expect(ControlCommand.settingsReset(key: nil).request(id: .int(5)).line == #"{"v":1,"id":5,"cmd":"settings.reset"}"#)
    }

    @Test func argumentsTheDaemonAcceptedBeforeStillRead() throws {
        func read(_ line: String) throws -> ControlCommand { try ControlCommand.parse(Array(line.utf8)).get().command }
        #expect(try read(#"{"v":1,"cmd":"history"}"#) == .history(count: ControlCommand.defaultHistoryCount))
        #expect(try read(#"{"v":1,"cmd":"settings.set","args":{"key":"volume","value":70}}"#) == .settingsSet(key: "volume", value: "70"))
        #expect(try read(#"{"v":1,"cmd":"settings.set","args":{"key":"adaptive_debounce","value":true}}"#)
                == .settingsSet(key: "adaptive_debounce", value: "true"))
        #expect(try read(#"{"v":1,"cmd":"settings.get","args":{"key":null}}"#) == .settingsGet(key: nil))
        #expect(try read(#"{"v":1,"cmd":"status","args":null}"#) == .status)
    }

    static let bad: [(String, ControlError.Code, String)] = [
        (#"{"v":1,"cmd":"dance"}"#, .unknownCommand, "unknown command 'dance' (commands: status, watch, settings.get, settings.set, settings.reset, history, metrics, wake, interrupt, say, mute)"),
        (#"{"v":1,"cmd":"settings.set","args":{"value":"1"}}"#, .badArgument, "settings.set needs \"key\""),
        (#"{"v":1,"cmd":"settings.set","args":{"key":"volume"}}"#, .badArgument, "settings.set needs \"value\""),
        (#"{"v":1,"cmd":"history","args":{"n":0}}"#, .badArgument, "n must be a whole number from 1 to 200"),
        (#"{"v":1,"cmd":"history","args":{"n":201}}"#, .badArgument, "n must be a whole number from 1 to 200"),
        (#"{"v":1,"cmd":"history","args":{"n":"5"}}"#, .badArgument, "n must be a whole number from 1 to 200"),
        (#"{"v":1,"cmd":"history","args":{"n":2.5}}"#, .badArgument, "n must be a whole number from 1 to 200"),
        (#"{"v":1,"cmd":"say","args":{"text":" \t "}}"#, .badArgument, "say needs a non-empty \"text\""),
        (#"{"v":1,"cmd":"say","args":{"text":7}}"#, .badArgument, "say needs a non-empty \"text\""),
        (#"{"v":1,"cmd":"mute","args":{"on":"yes"}}"#, .badArgument, "mute needs \"on\": true or false"),
        // Before the commands were typed, a key that was not a string reset every setting.
        (#"{"v":1,"cmd":"settings.reset","args":{"key":5}}"#, .badArgument, "settings.reset's \"key\" must be a setting's name in quotes, not 5"),
        (#"{"v":1,"cmd":"settings.get","args":{"key":["a"]}}"#, .badArgument, "settings.get's \"key\" must be a setting's name in quotes"),
        // An argument the command does not take was ignored before; a misspelt one did nothing.
        (#"{"v":1,"cmd":"history","args":{"count":5}}"#, .badArgument, "history takes only \"n\"; \"count\" is not one of them"),
        (#"{"v":1,"cmd":"wake","args":{"now":true}}"#, .badArgument, "wake takes no arguments; \"now\" is not one of them"),
    ]

    @Test(arguments: bad)
    func badCommandsGetASpecificErrorWithTheirID(line: String, code: ControlError.Code, message: String) {
        let withID = line.replacingFirst("{", with: #"{"id":"r1","#)
        switch ControlCommand.parse(Array(withID.utf8)) {
        case .success(let read): Issue.record("accepted \(line) as \(read.command)")
        case .failure(let rejection):
            #expect(rejection.error.code == code)
            #expect(rejection.error.message.hasPrefix(message), "got \(rejection.error.message)")
            #expect(rejection.id == .string("r1"))
        }
    }

    @Test func sayTakesAtMostTheLimit() throws {
        let longest = String(repeating: "a", count: ControlCommand.maxSayCharacters)
        let line = ControlCommand.say(text: longest).request().line
        #expect(try ControlCommand.parse(Array(line.utf8)).get().command == .say(text: longest))
        guard case .failure(let rejection) = ControlCommand.parse(Array(ControlCommand.say(text: longest + "a").request().line.utf8)) else {
            Issue.record("accepted \(ControlCommand.maxSayCharacters + 1) characters")
            return
        }
        #expect(rejection.error == ControlError(.badArgument, "text of 2001 characters; at most 2000"))
    }
}

extension String {
    fileprivate func replacingFirst(_ target: Character, with replacement: String) -> String {
        guard let index = firstIndex(of: target) else { return self }
        return String(self[..<index]) + replacement + String(self[self.index(after: index)...])
    }
}
