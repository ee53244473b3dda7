import Foundation
import Testing

/// systemd/voiced.service passes `systemd-analyze verify` and scores at most 2.0 in
/// `systemd-analyze security --offline=yes`; the sysusers and tmpfiles files apply cleanly.
/// The checks live in scripts/check-systemd.sh (which CI can also run on its own); this test runs
/// it, so `swift test` alone catches a unit that regressed.
@Suite struct SystemdUnitTests {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func theUnitVerifiesAndScoresTwoOrLower() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [Self.packageRoot.appendingPathComponent("scripts/check-systemd.sh").path]
        process.currentDirectoryURL = Self.packageRoot
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "scripts/check-systemd.sh failed:\n\(text)")
        #expect(text.contains("check-systemd: verify: OK"))
        #expect(text.contains("check-systemd: all checks passed"))
    }
}
