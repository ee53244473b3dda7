import Foundation
import Testing
import VoiceTelemetry
@testable import VoiceLinux

/// The names `top -H` and `ps -L` show: /proc/self/task/TID/comm of every thread of this process.
func threadNames() -> [String] {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
    return tasks.compactMap { tid in
        (try? String(contentsOfFile: "/proc/self/task/\(tid)/comm", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

@Suite struct ThreadNameTests {
    @Test func aDedicatedThreadCarriesItsNameAndALongNameIsCutTo15Bytes() throws {
        let running = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let short = try DedicatedThread.start(name: "voiced-test-a") {
            running.signal()
            release.wait()
        }
        let long = try DedicatedThread.start(name: "voiced-a-much-longer-name") {
            running.signal()
            release.wait()
        }
        running.wait()
        running.wait()
        let names = threadNames()
        release.signal()
        release.signal()
        short.join()
        long.join()
        #expect(names.contains("voiced-test-a"))
        #expect(names.contains("voiced-a-much-l"))
    }

    @Test func theTelemetryWriterThreadIsNamed() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("voiced-threadname-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let writer = try TelemetryWriter(configuration: TelemetryWriterConfiguration(databasePath: directory + "/t.sqlite"),
                                         origin: Date())
        writer.start()
        let named = await eventually { threadNames().contains("voiced-sqlite") }
        await writer.stop()
        #expect(named)
    }
}
