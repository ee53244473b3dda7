import ArgumentParser
import FoundationEssentials
import Logging
import VoiceCore
import VoiceTesting

struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the turn controller on a virtual clock with scripted providers and print the timeline.",
        discussion: "The scenario format is described in docs/simulate.md; examples are in examples/scenarios/."
    )

    @Argument(help: "The scenario file (JSON).")
    var scenario: String

    @Flag(help: "Print one JSON document instead of the readable timeline.")
    var json = false

    @Option(help: "Log level on stderr (trace, debug, info, notice, warning, error, critical).")
    var logLevel: Logger.Level = .warning

    func run() throws {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let parsed: Scenario
        do {
            parsed = try Scenario.load(path: scenario)
        } catch {
            throw ValidationError("\(scenario): \(error.description)")
        }
        let result = ScenarioRunner(scenario: parsed).run()
        print(json ? result.json.serialized(indent: 2) : result.text)
        if !result.violations.isEmpty { throw ExitCode(1) }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
