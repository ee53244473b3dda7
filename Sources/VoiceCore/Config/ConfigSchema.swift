/// A configuration that cannot be used: the file, the key, its line and what to do.
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var key: String?
    public var message: String

    public var description: String {
        var out = file
        if let line { out += ":\(line)" }
        out += ": "
        if let key { out += "\(key): " }
        return out + message
    }
}

/// One key of the configuration file: its type and range, its documentation, whether it can
/// change while the daemon runs (SIGHUP, `voicectl settings`), and how it lands in `VoicedConfig`.
public struct ConfigKey: Sendable {
    public let path: String
    public let documentation: String
    /// The one declaration of liveness: a live key takes effect in the running daemon (SIGHUP,
    /// `voicectl settings set`) from the next turn or at once; any other key takes effect after a
    /// restart. The daemon wires every live key to what it changes, and a contract test changes
    /// each one on a running daemon (`LiveSettingsContractTests`).
    public let live: Bool
    /// voicectl's short name for a live key (`debounce_ms`); voicectl also takes the full path.
    public internal(set) var shortName: String? = nil
    /// The allowed values, for messages and docs ("400…1200", "alsa | wav", ...).
    public let allowed: String
    let apply: @Sendable (inout VoicedConfig, TOMLValue) -> String?
    let render: @Sendable (VoicedConfig) -> TOMLValue

    /// The name voicectl shows: the short name, or the path.
    public var settingName: String { shortName ?? path }

    /// The key's value in `config`, as TOML would write it.
    public func value(in config: VoicedConfig) -> TOMLValue { render(config) }

    /// Sets the key in `config`; returns a message when the value is not acceptable.
    public func set(_ value: TOMLValue, in config: inout VoicedConfig) -> String? { apply(&config, value) }
}

extension ConfigKey {
    /// The key with a short name for voicectl.
    func named(_ name: String) -> ConfigKey {
        var key = self
        key.shortName = name
        return key
    }

    static func int(_ path: String, _ kp: WritableKeyPath<VoicedConfig, Int> & Sendable, _ range: ClosedRange<Int>,
                    live: Bool, _ doc: String) -> ConfigKey {
        ConfigKey(path: path, documentation: doc, live: live, allowed: "\(range.lowerBound)…\(range.upperBound)", apply: { config, value in
            guard case .integer(let raw) = value else { return "expected an integer, got \(value.typeName)" }
            guard let v = Int(exactly: raw), range.contains(v) else { return "\(raw) is out of range \(range.lowerBound)…\(range.upperBound)" }
            config[keyPath: kp] = v
            return nil
        }, render: { .integer(Int64($0[keyPath: kp])) })
    }

    static func milliseconds(_ path: String, _ kp: WritableKeyPath<VoicedConfig, Duration> & Sendable, _ range: ClosedRange<Int>,
                             live: Bool, _ doc: String) -> ConfigKey {
        ConfigKey(path: path, documentation: doc, live: live, allowed: "\(range.lowerBound)…\(range.upperBound) ms", apply: { config, value in
            guard case .integer(let raw) = value else { return "expected an integer number of milliseconds, got \(value.typeName)" }
            guard let v = Int(exactly: raw), range.contains(v) else { return "\(raw) is out of range \(range.lowerBound)…\(range.upperBound)" }
            config[keyPath: kp] = .milliseconds(v)
            return nil
        }, render: { .integer($0[keyPath: kp].wholeMilliseconds) })
    }

    static func double(_ path: String, _ kp: WritableKeyPath<VoicedConfig, Double> & Sendable, _ range: ClosedRange<Double>,
                       live: Bool, _ doc: String) -> ConfigKey {
        ConfigKey(path: path, documentation: doc, live: live, allowed: "\(range.lowerBound)…\(range.upperBound)", apply: { config, value in
            let v: Double
            switch value {
            case .float(let f): v = f
            case .integer(let i): v = Double(i)
            default: return "expected a number, got \(value.typeName)"
            }
            guard range.contains(v) else { return "\(v) is out of range \(range.lowerBound)…\(range.upperBound)" }
            config[keyPath: kp] = v
            return nil
        }, render: { .float($0[keyPath: kp]) })
    }

    static func bool(_ path: String, _ kp: WritableKeyPath<VoicedConfig, Bool> & Sendable, live: Bool, _ doc: String) -> ConfigKey {
        ConfigKey(path: path, documentation: doc, live: live, allowed: "true | false", apply: { config, value in
            guard case .boolean(let v) = value else { return "expected true or false, got \(value.typeName)" }
            config[keyPath: kp] = v
            return nil
        }, render: { .boolean($0[keyPath: kp]) })
    }

    static func string(_ path: String, _ kp: WritableKeyPath<VoicedConfig, String> & Sendable, live: Bool, allowed: String = "text",
                       _ doc: String, validate: @escaping @Sendable (String) -> String? = { _ in nil }) -> ConfigKey {
        ConfigKey(path: path, documentation: doc, live: live, allowed: allowed, apply: { config, value in
            guard case .string(let v) = value else { return "expected a string in quotes, got \(value.typeName)" }
            if let problem = validate(v) { return problem }
            config[keyPath: kp] = v
            return nil
        }, render: { .string($0[keyPath: kp]) })
    }

    static func choice<E: RawRepresentable & CaseIterable & Sendable>(
        _ path: String, _ kp: WritableKeyPath<VoicedConfig, E> & Sendable, live: Bool, _ doc: String
    ) -> ConfigKey where E.RawValue == String {
        let options = E.allCases.map(\.rawValue)
        return ConfigKey(path: path, documentation: doc, live: live, allowed: options.joined(separator: " | "), apply: { config, value in
            guard case .string(let raw) = value else { return "expected one of \(options.joined(separator: ", ")) in quotes, got \(value.typeName)" }
            guard let v = E(rawValue: raw) else { return "'\(raw)' is not one of \(options.joined(separator: ", "))" }
            config[keyPath: kp] = v
            return nil
        }, render: { .string($0[keyPath: kp].rawValue) })
    }

    static func strings(_ path: String, _ kp: WritableKeyPath<VoicedConfig, [String]> & Sendable, live: Bool, _ doc: String) -> ConfigKey {
        ConfigKey(path: path, documentation: doc, live: live, allowed: "a list of strings", apply: { config, value in
            guard case .array(let items) = value else { return "expected a list of strings, got \(value.typeName)" }
            var out: [String] = []
            for item in items {
                guard case .string(let s) = item else { return "every item must be a string in quotes" }
                out.append(s)
            }
            config[keyPath: kp] = out
            return nil
        }, render: { .array($0[keyPath: kp].map(TOMLValue.string)) })
    }

    static func ints(_ path: String, _ kp: WritableKeyPath<VoicedConfig, [Int]> & Sendable, _ range: ClosedRange<Int>, count: ClosedRange<Int>,
                     live: Bool, _ doc: String) -> ConfigKey {
        ConfigKey(path: path, documentation: doc, live: live, allowed: "\(count.lowerBound)–\(count.upperBound) numbers in \(range.lowerBound)…\(range.upperBound)", apply: { config, value in
            guard case .array(let items) = value else { return "expected a list of line numbers, got \(value.typeName)" }
            var out: [Int] = []
            for item in items {
                guard case .integer(let raw) = item, let v = Int(exactly: raw), range.contains(v) else {
                    return "every item must be an integer in \(range.lowerBound)…\(range.upperBound)"
                }
                out.append(v)
            }
            guard count.contains(out.count) else { return "expected \(count.lowerBound)–\(count.upperBound) items, got \(out.count)" }
            config[keyPath: kp] = out
            return nil
        }, render: { .array($0[keyPath: kp].map { TOMLValue.integer(Int64($0)) }) })
    }
}

/// A provider's name: the registry (VoiceProviders) says which exist; here only its form is checked.
private let providerName: @Sendable (String) -> String? = { value in
    guard !value.isEmpty, value.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }) else {
        return "'\(value)' is not a provider name (lower-case letters, digits and _, such as elevenlabs)"
    }
    return nil
}

private func url(schemes: [String]) -> @Sendable (String) -> String? {
    { value in
        guard let colon = value.firstIndex(of: ":"), schemes.contains(String(value[..<colon]).lowercased()),
              value[colon...].hasPrefix("://"), value.count > value.distance(from: value.startIndex, to: colon) + 3 else {
            return "'\(value)' is not a \(schemes.joined(separator: " or ")) URL"
        }
        return nil
    }
}

extension VoicedConfig {
    /// Every key of the configuration file, in the order of `config/voiced.toml`.
    public static let schema: [ConfigKey] = [
        // [turn]
        .milliseconds("turn.debounce_ms", \.turn.debounce, 400...1200, live: true, "Silence after a final transcript before the answer starts (held silent). The adaptive debounce moves it within its bounds.").named("debounce_ms"),
        .milliseconds("turn.commit_hold_ms", \.turn.commitHold, 0...2000, live: true, "Time in SPECULATIVE with no new speech before the turn is COMMITTED and may be spoken.").named("commit_hold_ms"),
        .choice("turn.speculation", \.turn.speculation, live: true, "When the LLM call starts: after_debounce, at_final (at each final transcript, restarted by the next), at_commit (no speculation). at_final answers about 350 ms sooner but leaves a correction 750 ms instead of 1050 ms after the final to stay silent (docs/benchmarks.md).").named("speculation"),
        .bool("turn.preemptive_tts", \.turn.preemptiveTTS, live: true, "Synthesise the first sentence before COMMITTED; its audio is held until then and discarded on cancel. With at_final: about 50 ms sooner again, for text-to-speech characters thrown away on every cancel (docs/benchmarks.md).").named("preemptive_tts"),
        .bool("turn.adaptive_debounce", \.turn.adaptive.enabled, live: true, "Adapt the debounce to the cancellation rate every 10 outcomes.").named("adaptive_debounce"),
        .double("turn.cancel_rate_raise_above", \.turn.adaptive.raiseAbove, 0.10...0.50, live: true, "A cancellation rate above this raises the debounce by 100 ms.").named("cancel_rate_raise_above"),
        .double("turn.cancel_rate_lower_below", \.turn.adaptive.lowerBelow, 0.10...0.50, live: true, "A cancellation rate below this lowers the debounce by 50 ms.").named("cancel_rate_lower_below"),
        .bool("turn.always_listening", \.turn.alwaysListening, live: true, "Speech alone wakes the speaker; otherwise only the button does, and the microphone stands by (captures nothing) until it is pressed.").named("always_listening"),
        .milliseconds("turn.follow_up_ms", \.turn.followUp, 0...30000, live: true, "After an answer, keep listening this long for a follow-up without the button (0: go idle).").named("follow_up_ms"),
        .milliseconds("turn.listen_timeout_ms", \.turn.listenTimeout, 1000...60000, live: true, "A wake that hears nothing goes back to idle after this long."),
        .milliseconds("turn.wait_cue_ms", \.turn.waitCue, 0...10000, live: true, "COMMITTED and still silent this long: a short wait earcon says the answer is coming (0: none). First audio normally comes well within a second."),
        .milliseconds("turn.stall_budget_ms", \.turn.stallBudget, 2000...30000, live: true, "COMMITTED and still silent this long: the answer is given up and the apology spoken, instead of waiting out the providers' own timeouts."),
        .milliseconds("turn.max_answer_ms", \.turn.maxAnswer, 5000...600000, live: true, "The longest answer spoken: past it no new sentence starts and the LLM call is stopped."),
        .strings("turn.correction_markers", \.turn.correctionMarkers, live: true, "Words that mark a correction and cancel the held answer.").named("correction_markers"),
        .string("turn.system_prompt", \.turn.systemPrompt, live: true, "The system message of every LLM call."),
        .int("turn.history_max_turns", \.turn.historyMaxTurns, 0...50, live: true, "Past turns kept in the conversation sent to the LLM."),
        .int("turn.history_max_chars", \.turn.historyMaxCharacters, 0...32000, live: true, "Characters of past turns kept in the conversation."),
        .string("turn.apology", \.turn.apology, live: true, "What the fallback voice says when the LLM fails."),
        // [audio]
        .choice("audio.capture_backend", \.audio.captureBackend, live: false, "alsa: the microphone; wav: a WAV file played into the pipeline in real time (demo, machines without a sound card)."),
        .string("audio.capture_device", \.audio.captureDevice, live: false, allowed: "an ALSA PCM name", "ALSA capture PCM (16 kHz mono S16_LE; `plug` converts)."),
        .string("audio.capture_wav", \.audio.captureWAV, live: false, allowed: "a path", "The WAV file for capture_backend = \"wav\"."),
        .choice("audio.playback_backend", \.audio.playbackBackend, live: false, "alsa: the speaker; wav: a WAV file written in real time."),
        .string("audio.playback_device", \.audio.playbackDevice, live: false, allowed: "an ALSA PCM name", "ALSA playback PCM."),
        .string("audio.playback_wav", \.audio.playbackWAV, live: false, allowed: "a path", "The WAV file for playback_backend = \"wav\"."),
        .int("audio.volume", \.audio.volume, 0...100, live: true, "Playback volume in percent.").named("volume"),
        .int("audio.ring_buffer_seconds", \.audio.ringBufferSeconds, 1...60, live: false, "Captured audio kept in memory; the oldest is dropped (and counted) past this."),
        .choice("audio.barge_in", \.audio.bargeIn, live: true, "What interrupts an answer: voice (and the button) or button_only.").named("barge_in"),
        .double("audio.vad_threshold_db", \.audio.vadThresholdDB, -80...0, live: true, "Speech level for barge-in by voice, in dBFS, before it is raised with the playback level."),
        .bool("audio.echo_cancellation", \.audio.echoCancellation, live: false, "Cancel the speaker's own voice from the microphone before voice detection."),
        .bool("audio.earcons", \.audio.earcons, live: true, "Play the wake chime, and the listening-ended tone when a button wake hears nothing."),
        .bool("audio.room", \.audio.room, live: false, "With capture_backend = \"wav\": the room harness, where the microphone also hears the speaker through an echo path and noise (tests, demo; docs/audio.md)."),
        .double("audio.room_echo_gain_db", \.audio.roomEchoGainDB, -60...12, live: false, "The room harness's echo level relative to what is played, in dB."),
        .int("audio.room_delay_ms", \.audio.roomDelayMs, 0...150, live: false, "The room harness's delay from the speaker to the microphone, in ms."),
        .double("audio.room_noise_dbfs", \.audio.roomNoiseDBFS, -120...0, live: false, "The room harness's white background noise, in dBFS (RMS)."),
        // [gpio]
        .choice("gpio.backend", \.gpio.backend, live: false, "gpiod: LEDs and button on GPIO; console: a console line and the button from stdin; console_no_stdin: the button only through voicectl."),
        .string("gpio.chip", \.gpio.chip, live: false, allowed: "a gpiochip name or path", "The GPIO chip."),
        .choice("gpio.layout", \.gpio.layout, live: false, "rgb: red, green, blue lines; per_state: one line per state."),
        .ints("gpio.led_lines", \.gpio.ledLines, 0...1023, count: 3...6, live: false, "LED line offsets: [red, green, blue] or [idle, listening, speculative, committed, speaking, error]."),
        .bool("gpio.active_low", \.gpio.activeLow, live: false, "LEDs light when the line is low."),
        .int("gpio.button_line", \.gpio.buttonLine, 0...1023, live: false, "The push-button's line offset."),
        .milliseconds("gpio.long_press_ms", \.gpio.longPress, 500...10000, live: true, "Holding the button this long toggles the microphone mute."),
        // [stt]
        .string("stt.provider", \.stt.provider, live: false, allowed: "a provider name (docs/providers.md)", "Speech-to-text implementation: deepgram (Deepgram live over a WebSocket).", validate: providerName),
        .string("stt.base_url", \.stt.baseURL, live: false, allowed: "a wss:// URL (ws:// on loopback only)", "Deepgram live endpoint (the WebSocket URL, path included).", validate: url(schemes: ["wss", "ws"])),
        .string("stt.model", \.stt.model, live: false, "Deepgram model."),
        .string("stt.language", \.stt.language, live: false, "Recognition language."),
        .milliseconds("stt.endpointing_ms", \.stt.endpointing, 10...5000, live: false, "Deepgram endpointing."),
        .milliseconds("stt.utterance_end_ms", \.stt.utteranceEnd, 1000...5000, live: false, "Deepgram utterance_end_ms."),
        // [llm]
        .string("llm.provider", \.llm.provider, live: false, allowed: "a provider name (docs/providers.md)", "LLM implementation: openai (an OpenAI-compatible chat-completions API).", validate: providerName),
        .string("llm.base_url", \.llm.baseURL, live: false, allowed: "an https:// URL (http:// on loopback only)", "OpenAI-compatible API base (…/v1); point it at llama.cpp's server or Ollama for a local model.", validate: url(schemes: ["https", "http"])),
        .string("llm.model", \.llm.model, live: true, "Chat model.").named("llm_model"),
        .int("llm.max_tokens", \.llm.maxTokens, 16...4096, live: true, "Longest answer in tokens: sent as max_tokens and enforced by the client too (a local server may ignore it)."),
        .double("llm.temperature", \.llm.temperature, 0...2, live: true, "Sampling temperature."),
        // [tts]
        .string("tts.provider", \.tts.provider, live: false, allowed: "a provider name (docs/providers.md)", "Text-to-speech implementation: elevenlabs (ElevenLabs streaming) or openai (an OpenAI-compatible /v1/audio/speech: OpenAI, Kokoro-FastAPI, openedai-speech).", validate: providerName),
        .string("tts.base_url", \.tts.baseURL, live: false, allowed: "empty, or an https:// URL (http:// on loopback only)", "The provider's API base; empty: its default (elevenlabs: https://api.elevenlabs.io, openai: https://api.openai.com/v1).", validate: { $0.isEmpty ? nil : url(schemes: ["https", "http"])($0) }),
        .string("tts.voice_id", \.tts.voiceID, live: true, "The voice: an ElevenLabs voice id, or an OpenAI voice name such as alloy; empty: the provider's default (elevenlabs: 21m00Tcm4TlvDq8ikWAM, openai: alloy).").named("voice"),
        .string("tts.model_id", \.tts.modelID, live: true, "The speech model; empty: the provider's default (elevenlabs: eleven_flash_v2_5, openai: gpt-4o-mini-tts)."),
        .double("tts.speed", \.tts.speed, 0.25...4.0, live: false, "Speaking rate sent to the openai provider (1.0: none sent); elevenlabs does not use it."),
        // [fallback_tts]
        .string("fallback_tts.voice", \.fallbackTTS.voice, live: true, "espeak-ng voice of the fallback and of system notices."),
        .int("fallback_tts.words_per_minute", \.fallbackTTS.wordsPerMinute, 80...400, live: true, "espeak-ng speaking rate."),
        // [telemetry]
        .string("telemetry.database", \.telemetry.database, live: false, allowed: "a path", "The on-device SQLite store."),
        .int("telemetry.max_size_mib", \.telemetry.maxSizeMiB, 1...4096, live: false, "Size bound of the store: synced rows go first, then unsynced samples; turns are kept longest."),
        .string("telemetry.postgres_url", \.telemetry.postgresURL, live: false, allowed: "empty, or a postgres:// URL without password", "Central Postgres to sync to (empty: keep everything on the device). The password comes from the systemd credential `postgres_password` (LoadCredential=).", validate: { $0.isEmpty ? nil : url(schemes: ["postgres", "postgresql"])($0) }),
        .string("telemetry.postgres_root_certificate", \.telemetry.postgresRootCertificate, live: false, allowed: "empty or a path", "CA certificate for the Postgres server (empty: the system's roots). Verification is always on."),
        // [control]
        .string("control.socket", \.control.socket, live: false, allowed: "a path", "voicectl's Unix socket (mode 0660)."),
        .string("control.group", \.control.group, live: false, allowed: "a group name", "The group that may use the control socket."),
        .string("control.state_directory", \.control.stateDirectory, live: false, allowed: "a path", "Where live settings and the debounce survive restarts."),
        // [log]
        .string("log.level", \.log.level, live: true, allowed: "trace | debug | info | notice | warning | error | critical", "Lowest level logged.", validate: { ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains($0) ? nil : "'\($0)' is not a log level (trace, debug, info, notice, warning, error, critical)" }),
    ]

    /// Keys that once existed, with what replaced them: a file that still sets one is refused
    /// with this explanation rather than a bare "unknown key".
    public static let removedKeys: [String: String] = [
        "telemetry.device_id": "removed: a speaker is identified upstream by its Postgres login role (the user in postgres_url), which scripts/db-provision-device.sh creates with its device_id; see docs/fleet.md. Delete this line.",
    ]

    /// The key of `path` (`turn.debounce_ms`), if there is one.
    public static func key(_ path: String) -> ConfigKey? { schema.first { $0.path == path } }

    /// Reads a configuration file's text: defaults, overridden by the file. Every unknown key,
    /// wrong type or out-of-range value is an error naming the key and its line.
    public static func parse(_ text: String, file: String) throws(ConfigError) -> VoicedConfig {
        let entries: [TOMLEntry]
        do {
            entries = try TOMLParser.parse(text)
        } catch {
            throw ConfigError(file: file, line: error.line, key: error.key, message: error.message)
        }
        return try parse(entries, file: file)
    }

    /// Reads a configuration file's bytes; bytes that are not UTF-8 are an error naming their line.
    public static func parse(bytes: some Collection<UInt8>, file: String) throws(ConfigError) -> VoicedConfig {
        let text: String
        do {
            text = try TOMLParser.text(of: bytes)
        } catch {
            throw ConfigError(file: file, line: error.line, key: error.key, message: error.message)
        }
        return try parse(text, file: file)
    }

    private static func parse(_ entries: [TOMLEntry], file: String) throws(ConfigError) -> VoicedConfig {
        var config = VoicedConfig()
        let tables = Set(schema.map { String($0.path.prefix { $0 != "." }) })
        for entry in entries {
            guard let key = key(entry.path) else {
                let hint: String
                if let removed = removedKeys[entry.path] {
                    hint = removed
                } else if entry.table.isEmpty {
                    hint = "keys belong in a table such as [turn]"
                } else if !tables.contains(entry.table) {
                    hint = "unknown table [\(entry.table)] (tables: \(tables.sorted().joined(separator: ", ")))"
                } else {
                    let known = schema.filter { $0.path.hasPrefix(entry.table + ".") }.map { String($0.path.dropFirst(entry.table.count + 1)) }
                    hint = "unknown key in [\(entry.table)] (known: \(known.joined(separator: ", ")))"
                }
                throw ConfigError(file: file, line: entry.line, key: entry.path, message: hint)
            }
            if let problem = key.set(entry.value, in: &config) {
                throw ConfigError(file: file, line: entry.line, key: entry.path, message: "\(problem) (allowed: \(key.allowed))")
            }
        }
        // A rule across keys names the line of its key, or of the other key it involves.
        var lines: [String: Int] = [:]
        for entry in entries { lines[entry.path] = entry.line }
        try config.validate(file: file, lines: lines)
        return config
    }

    /// Rules across keys. `lines` (key → line in the file) lets an error name a line.
    public func validate(file: String, lines: [String: Int] = [:]) throws(ConfigError) {
        func fail(_ key: String, besides other: [String], _ message: String) -> ConfigError {
            ConfigError(file: file, line: lines[key] ?? other.lazy.compactMap { lines[$0] }.first, key: key, message: message)
        }
        if turn.adaptive.lowerBelow > turn.adaptive.raiseAbove {
            throw fail("turn.cancel_rate_lower_below", besides: ["turn.cancel_rate_raise_above"],
                       "must not be above turn.cancel_rate_raise_above (\(turn.adaptive.raiseAbove))")
        }
        if audio.captureBackend == .wav && audio.captureWAV.isEmpty {
            throw fail("audio.capture_wav", besides: ["audio.capture_backend"], "capture_backend = \"wav\" needs a WAV file here")
        }
        if audio.playbackBackend == .wav && audio.playbackWAV.isEmpty {
            throw fail("audio.playback_wav", besides: ["audio.playback_backend"], "playback_backend = \"wav\" needs a WAV file here")
        }
        let wanted = gpio.layout == .rgb ? 3 : 6
        if gpio.backend == .gpiod && gpio.ledLines.count != wanted {
            throw fail("gpio.led_lines", besides: ["gpio.layout", "gpio.backend"],
                       "layout \(gpio.layout.rawValue) needs \(wanted) lines, got \(gpio.ledLines.count)")
        }
    }

    /// The keys whose values differ between two configurations.
    public static func changedKeys(from old: VoicedConfig, to new: VoicedConfig) -> [ConfigKey] {
        schema.filter { $0.value(in: old) != $0.value(in: new) }
    }
}

extension TOMLValue {
    /// The value as TOML text.
    public var tomlText: String {
        switch self {
        case .string(let s): return Escaping.escaped(s, as: .toml)
        case .integer(let i): return String(i)
        case .float(let d): return d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) + ".0" : String(d)
        case .boolean(let b): return b ? "true" : "false"
        case .array(let items): return "[" + items.map(\.tomlText).joined(separator: ", ") + "]"
        }
    }
}

extension VoicedConfig {
    /// Every key with its documentation and its value in `self`, as a TOML file
    /// (`config/voiced.toml` is this for the defaults).
    public func documentedTOML() -> String {
        var lines = [
            "# voiced configuration: /etc/voiced/voiced.toml (another path with `voiced --config PATH`).",
            "# Every key, with its default. Unknown keys, wrong types and out-of-range values stop the",
            "# daemon with exit code 78 and a message naming the key and its line; check a file with",
            "# `voiced --check-config PATH`. Keys marked (live) change on SIGHUP or with",
            "# `voicectl settings`; the others need a restart. Secrets (API keys, the Postgres password)",
            "# never go here: they come from systemd credentials (LoadCredential=) or the environment.",
        ]
        var table = ""
        for key in Self.schema {
            let parts = key.path.split(separator: ".", maxSplits: 1).map(String.init)
            if parts[0] != table {
                table = parts[0]
                lines += ["", "[\(table)]"]
            }
            lines.append("# \(key.documentation) Allowed: \(key.allowed).\(key.live ? " (live)" : "")")
            lines.append("\(parts[1]) = \(key.value(in: self).tomlText)")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
