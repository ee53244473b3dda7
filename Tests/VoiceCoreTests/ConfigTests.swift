import Foundation
import Testing
@testable import VoiceCore

@Suite struct ConfigTests {
    static let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../config/voiced.toml").standardized.path

    @Test func theShippedFileDocumentsEveryKeyWithItsDefault() throws {
        let text = try String(contentsOfFile: Self.shipped, encoding: .utf8)
        #expect(try VoicedConfig.parse(text, file: "voiced.toml") == VoicedConfig())
        let paths = Set(try TOMLParser.parse(text).map(\.path))
        #expect(paths == Set(VoicedConfig.schema.map(\.path)))
        #expect(text == VoicedConfig().documentedTOML(), "regenerate with: voiced print-default-config > config/voiced.toml")
    }

    @Test func bargeInByTheButtonOnlyIsTheTurnControllersRuleToo() throws {
        #expect(VoicedConfig().turn.bargeInByVoice)
        let config = try VoicedConfig.parse("[audio]\nbarge_in = \"button_only\"\n", file: "f")
        #expect(config.audio.bargeIn == .buttonOnly && !config.turn.bargeInByVoice)
    }

    @Test func anEmptyFileMeansTheDefaults() throws {
        #expect(try VoicedConfig.parse("", file: "f") == VoicedConfig())
    }

    @Test func valuesLandInTheConfiguration() throws {
        let config = try VoicedConfig.parse("""
        [turn]
        debounce_ms = 600
        speculation = "at_final"
        correction_markers = ["hold on"]
        cancel_rate_raise_above = 0.4
        [audio]
        capture_backend = "wav"
        capture_wav = "/tmp/in.wav"
        volume = 55
        [gpio]
        backend = "console"
        [llm]
        base_url = "http://127.0.0.1:8080/v1"
        temperature = 1
        """, file: "f")
        #expect(config.turn.debounce == .milliseconds(600))
        #expect(config.turn.speculation == .atFinal)
        #expect(config.turn.correctionMarkers == ["hold on"])
        #expect(config.turn.adaptive.raiseAbove == 0.4)
        #expect(config.audio.captureBackend == .wav && config.audio.captureWAV == "/tmp/in.wav")
        #expect(config.audio.volume == 55)
        #expect(config.gpio.backend == .console)
        #expect(config.llm.baseURL == "http://127.0.0.1:8080/v1")
        #expect(config.llm.temperature == 1.0)
    }

    static let badConfigs: [(String, String)] = [
        ("[turn]\ndebounce_ms = 300", "f:2: turn.debounce_ms: 300 is out of range 400…1200"),
        ("[turn]\n\ndebounce_ms = \"400\"", "f:3: turn.debounce_ms: expected an integer number of milliseconds, got a string"),
        ("[turn]\ndebounce = 400", "f:2: turn.debounce: unknown key in [turn] (known: debounce_ms,"),
        ("[trun]\ndebounce_ms = 400", "f:2: trun.debounce_ms: unknown table [trun]"),
        ("debounce_ms = 400", "f:1: debounce_ms: keys belong in a table"),
        ("[turn]\nspeculation = \"eager\"", "f:2: turn.speculation: 'eager' is not one of after_debounce, at_final, at_commit"),
        ("[turn]\npreemptive_tts = 1", "f:2: turn.preemptive_tts: expected true or false, got an integer"),
        ("[turn]\ncorrection_markers = [\"a\", 1]", "f:2: turn.correction_markers: every item must be a string"),
        ("[audio]\nvolume = 101", "f:2: audio.volume: 101 is out of range 0…100"),
        ("[llm]\nbase_url = \"ftp://x\"", "f:2: llm.base_url: 'ftp://x' is not a https or http URL"),
        ("[log]\nlevel = \"loud\"", "f:2: log.level: 'loud' is not a log level"),
        ("[gpio]\nled_lines = [1, 2]", "f:2: gpio.led_lines: expected 3–6 items, got 2"),
        ("[gpio]\nlayout = \"per_state\"", "f:2: gpio.led_lines: layout per_state needs 6 lines, got 3"),
        ("[audio]\ncapture_backend = \"wav\"", "f:2: audio.capture_wav: capture_backend = \"wav\" needs a WAV file here"),
        ("[turn]\ncancel_rate_lower_below = 0.4", "f:2: turn.cancel_rate_lower_below: must not be above turn.cancel_rate_raise_above"),
        ("[turn]\ncancel_rate_raise_above = 0.12\n", "f:2: turn.cancel_rate_lower_below: must not be above turn.cancel_rate_raise_above"),
        ("[turn]\ncancel_rate_raise_above = 0.2\ncancel_rate_lower_below = 0.3", "f:3: turn.cancel_rate_lower_below: must not be above"),
        ("[gpio]\nled_lines = [1, 2, 3, 4]", "f:2: gpio.led_lines: layout rgb needs 3 lines, got 4"),
        ("[audio]\nplayback_backend = \"wav\"", "f:2: audio.playback_wav: playback_backend = \"wav\" needs a WAV file here"),
        ("[turn]\ndebounce_ms = _400", "f:2: turn.debounce_ms: '_400' is not a valid number"),
        ("[turn]\nx = [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", "f:2: turn.x: lists are nested more than 32 deep"),
        ("[turn\n", "f:1: expected ']' to close the table name"),
        ("[telemetry]\npostgres_url = \"mysql://x\"", "f:2: telemetry.postgres_url: 'mysql://x' is not a postgres or postgresql URL"),
    ]

    @Test(arguments: badConfigs)
    func badConfigurationsNameTheKeyAndTheLine(text: String, message: String) {
        do {
            _ = try VoicedConfig.parse(text, file: "f")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.description.hasPrefix(message), "got: \(error.description)")
        }
    }

    @Test func bytesThatAreNotUTF8NameTheirLineAndKey() {
        var bytes = Array("[turn]\n# comment\nsystem_prompt = \"caf".utf8)
        bytes += [0xE9]  // Latin-1 é
        bytes += Array("\"\n".utf8)
        do {
            _ = try VoicedConfig.parse(bytes: bytes, file: "f")
            Issue.record("accepted Latin-1 bytes")
        } catch {
            #expect(error.line == 3)
            #expect(error.description.hasPrefix("f:3: turn.system_prompt: the file is not UTF-8 text: byte 0xE9 at column 21"),
                    "got: \(error.description)")
        }
    }

    @Test func bytesThatAreNotUTF8OutsideAValueStillNameTheirLine() {
        let bytes: [UInt8] = Array("[turn]\n".utf8) + [0xFF, 0xFE] + Array(" = 1\n".utf8)
        do {
            _ = try VoicedConfig.parse(bytes: bytes, file: "f")
            Issue.record("accepted invalid bytes")
        } catch {
            #expect(error.description.hasPrefix("f:2: the file is not UTF-8 text: byte 0xFF at column 1"), "got: \(error.description)")
        }
    }

    @Test func utf8BytesReadAsText() throws {
        let config = try VoicedConfig.parse(bytes: Array("\u{FEFF}[turn]\nsystem_prompt = \"café\"\n".utf8), file: "f")
        #expect(config.turn.systemPrompt == "café")
    }

    @Test func changedKeysTellLiveFromRestart() throws {
        let old = VoicedConfig()
        let new = try VoicedConfig.parse("[turn]\ndebounce_ms = 500\n[audio]\ncapture_device = \"hw:1\"", file: "f")
        let changed = VoicedConfig.changedKeys(from: old, to: new)
        #expect(changed.map(\.path) == ["turn.debounce_ms", "audio.capture_device"])
        #expect(changed.map(\.live) == [true, false])
    }
}

@Suite struct RemovedConfigKeyTests {
    @Test func theRemovedDeviceIDKeySaysWhatIdentifiesTheSpeakerNow() {
        #expect(VoicedConfig.key("telemetry.device_id") == nil, "telemetry.device_id was never read: it is gone")
        do {
            _ = try VoicedConfig.parse("[telemetry]\ndevice_id = \"kitchen\"\n", file: "voiced.toml")
            Issue.record("a removed key was accepted")
        } catch {
            #expect(error.line == 2)
            #expect(error.key == "telemetry.device_id")
            #expect(error.message.contains("Postgres login role"))
        }
    }
}
