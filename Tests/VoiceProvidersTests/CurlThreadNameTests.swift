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

/// The HTTP loop as a service: when the daemon's group shuts down it ends, and a transfer that
/// comes after fails at once with `stopped` instead of waiting forever for a thread that is gone.
@Suite struct CurlLoopShutdownTests {
    func transfer(_ outcome: Recorder<String>) throws -> CurlTransfer {
        try CurlTransfer(
            StreamingRequest(url: "http://127.0.0.1:9/", headers: [], body: Array("{}".utf8)),
            handlers: .init(onResponse: { _ in true }, onBody: { _ in true }, onComplete: { outcome.append("\($0)") }))
    }

    @Test func aTransferAfterShutdownFailsAtOnce() async throws {
        let loop = CurlLoop()
        let first = Recorder<String>()
        loop.start(try transfer(first))
        #expect(await eventually { !first.events.isEmpty }, "the loop ran a transfer before the shutdown")
        loop.shutdown()
        let late = Recorder<String>()
        loop.start(try transfer(late))
        #expect(await eventually { !late.events.isEmpty })
        #expect(late.events.first?.contains("shut down") == true, "\(late.events)")
    }
}
