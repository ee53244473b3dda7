import Foundation
import Testing
@testable import VoiceProviders

/// `top -H` and `ps -L` tell the HTTP thread apart: /proc/self/task/TID/comm names it.
@Suite struct CurlThreadNameTests {
    @Test func theCurlLoopThreadIsNamed() async throws {
        let loop = CurlLoop()
        let outcome = Recorder<String>()
        // Port 9 (discard) on loopback: refused at once, which is all this test needs.
        let transfer = try CurlTransfer(
            StreamingRequest(url: "http://127.0.0.1:9/", headers: [], body: Array("{}".utf8)),
            handlers: .init(onResponse: { _ in true }, onBody: { _ in true }, onComplete: { outcome.append("\($0)") }))
        loop.start(transfer)
        let names = { () -> [String] in
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
            return tasks.compactMap {
                (try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8))?
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            }
        }
        #expect(await eventually { names().contains("voiced-curl") }, "threads: \(names())")
        #expect(await eventually { !outcome.events.isEmpty })
        withExtendedLifetime(loop) {}  // the thread ends with the loop
    }
}
