import Foundation
import Testing
import VoiceControl
import VoiceCore
import VoiceTesting
@testable import VoiceDaemon

/// The live settings: one declaration (the schema), wired in the daemon, persisted safely.
@Suite struct SettingsStoreTests {
    static let liveKeys = Set(VoicedConfig.schema.filter(\.live).map(\.path))

    func temporaryFile() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("settings-\(UUID().uuidString.prefix(8))/settings.toml").path
    }

    @Test func voicectlOffersExactlyTheKeysTheSchemaMarksLive() {
        #expect(Set(SettingsStore.names.map(\.path)) == Self.liveKeys)
        #expect(SettingsStore.names.count == Self.liveKeys.count)
        #expect(Set(SettingsStore.names.map(\.name)).count == SettingsStore.names.count, "two settings share a name")
        #expect(SettingsStore.names.contains { $0 == ("debounce_ms", "turn.debounce_ms") })
        #expect(SettingsStore.names.contains { $0 == ("llm.max_tokens", "llm.max_tokens") })
    }

    @Test func everyLiveKeyIsWiredToWhatItChangesInTheDaemon() {
        let unwired = Self.liveKeys.subtracting(LiveSettings.wiring.keys)
        #expect(unwired.isEmpty, "marked live in the schema but not wired in LiveSettings.wiring: \(unwired.sorted())")
        let notLive = Set(LiveSettings.wiring.keys).subtracting(Self.liveKeys)
        #expect(notLive.isEmpty, "wired in LiveSettings.wiring but not live in the schema: \(notLive.sorted())")
        #expect(LiveSettings.wiring.values.allSatisfy { !$0.isEmpty })
    }

    @Test func aKeyThatIsNotLiveIsRefusedAsTakingEffectAfterRestart() throws {
        let store = SettingsStore(base: VoicedConfig(), file: temporaryFile())
        #expect(throws: ControlError.self) { try store.set("gpio.chip", to: "gpiochip4") }
        do {
            try store.set("gpio.chip", to: "gpiochip4")
        } catch {
            #expect(error.code == .badArgument)
            #expect(error.message.contains("gpio.chip takes effect after restart"))
        }
        let set = try store.set("llm.max_tokens", to: "64")
        #expect(set.llm.maxTokens == 64)
        let level = try store.set("log.level", to: "debug")
        #expect(level.log.level == "debug")
    }

    @Test func concurrentSetsAllSucceedAndAllArePersisted() throws {
        let file = temporaryFile()
        let store = SettingsStore(base: VoicedConfig(), file: file)
        let names = ["debounce_ms", "commit_hold_ms", "follow_up_ms", "turn.listen_timeout_ms", "volume", "llm.max_tokens",
                     "fallback_tts.words_per_minute", "gpio.long_press_ms"]
        let values = ["650", "900", "1500", "4000", "55", "99", "222", "3000"]
        let failures = Locked(0)
        DispatchQueue.concurrentPerform(iterations: 24 * names.count) { i in
            do {
                try store.set(names[i % names.count], to: values[i % names.count])
            } catch {
                failures.withLock { $0 += 1 }
            }
        }
        #expect(failures.value == 0)
        let reloaded = SettingsStore(base: VoicedConfig(), file: file)
        #expect(reloaded.problems.isEmpty)
        for (name, value) in zip(names, values) {
            let key = try SettingsStore.key(named: name)
            #expect(key.value(in: reloaded.effective).tomlText == value, "\(name)")
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: (file as NSString).deletingLastPathComponent)
        #expect(leftovers == ["settings.toml"])
    }
}
