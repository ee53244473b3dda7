import ArgumentParser
import Foundation
import Logging
import VoiceFakeCloud

/// `voiced-fakecloud`: the loopback fake cloud as a program, for the demo and for trying the
/// daemon without API keys.
@main
struct FakeCloudCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "voiced-fakecloud",
        abstract: "Serve fake Deepgram (live STT), OpenAI (chat) and ElevenLabs (TTS) APIs on loopback, driven by a script.",
        discussion: """
            Base URLs to give the daemon:
              Deepgram    ws://127.0.0.1:PORT/v1/listen
              OpenAI      http://127.0.0.1:PORT/v1
              ElevenLabs  http://127.0.0.1:PORT

            \(FakeCloudScript.formatDescription)
            EXAMPLE: examples/fakecloud/demo.json; more in docs/fakecloud.md.
            """
    )

    @Option(name: .long, help: "The script (JSON). Without one, the defaults above apply.")
    var script: String?

    @Option(name: .long, help: "The loopback address to listen on (127.0.0.1 or ::1).")
    var host = "127.0.0.1"

    @Option(name: .long, help: "The port (0: pick a free one and print it).")
    var port = 0

    @Option(name: .customLong("port-file"), help: "Write the port to this file once listening (for scripts).")
    var portFile: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning or error.")
    var logLevel = "notice"

    func run() async throws {
        var parsed = FakeCloudScript()
        if let script {
            guard let data = FileManager.default.contents(atPath: script) else {
                throw ValidationError(FakeCloudScriptError.unreadable(path: script, reason: "no such file or not readable").description)
            }
            do {
                parsed = try FakeCloudScript.parse(data)
            } catch {
                throw ValidationError(error.description)
            }
        }
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be within 0...65535") }
        let level = Logger.Level(rawValue: logLevel) ?? .notice
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let cloud = FakeCloud(script: parsed, logger: Logger(label: "voiced.fakecloud"))
        let portFile = portFile
        let host = host
        try await cloud.run(host: host, port: port) { bound in
            // Unbuffered, so a script waiting for this line sees it at once.
            FileHandle.standardOutput.write(Data("voiced-fakecloud listening on \(host):\(bound)\n".utf8))
            if let portFile {
                do {
                    try "\(bound)\n".write(toFile: portFile, atomically: true, encoding: .utf8)
                } catch {
                    FileHandle.standardError.write(Data("voiced-fakecloud: cannot write \(portFile): \(error)\n".utf8))
                }
            }
        }
    }
}
