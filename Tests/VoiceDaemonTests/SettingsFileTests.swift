import Foundation
import Testing
import VoiceCore
@testable import VoiceDaemon

/// The saved live settings (`settings.toml` in the state directory) are read at every start: a
/// hostile or damaged file must be ignored with a problem reported, never crash the daemon.
@Suite struct SettingsFileTests {
    func withSettingsFile(_ bytes: [UInt8], _ body: (String) throws -> Void) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("voiced-settings-\(UUID().uuidString).toml").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        try body(path)
    }

    /// 50,000 nested lists overflowed the TOML reader's stack: every start crashed.
    @Test func aDeeplyNestedSettingsFileIsIgnoredNotACrash() throws {
        let text = "[turn]\ndebounce_ms = 600\ncorrection_markers = " + String(repeating: "[", count: 50_000) + "\n"
        try withSettingsFile(Array(text.utf8)) { path in
            let store = SettingsStore(base: VoicedConfig(), file: path)
            #expect(store.effective == VoicedConfig())
            #expect(store.problems.contains { $0.contains("line 3: turn.correction_markers: lists are nested more than 32 deep") },
                    "got: \(store.problems)")
        }
    }

    @Test func aValidSettingsFileStillApplies() throws {
        try withSettingsFile(Array("[turn]\ndebounce_ms = 600\n".utf8)) { path in
            let store = SettingsStore(base: VoicedConfig(), file: path)
            #expect(store.effective.turn.debounce == .milliseconds(600))
            #expect(store.problems.isEmpty)
        }
    }
}
