import Synchronization
import VoiceControl
import VoiceCore
import VoiceSupport

/// What the control socket can read from and do to the running daemon, besides the turn service.
public struct DaemonProbes: Sendable {
    public var sessionID: String
    public var clock: any VoiceClock
    /// Provider connectivity in words, e.g. `["stt": "connected", "llm": "ok", "tts": "ok"]`.
    public var providers: @Sendable () -> [String: String]
    /// The audio devices in words, e.g. `["microphone": "microphone hw:1 unavailable: ...; retry 3 in 1000 ms"]`.
    public var devices: @Sendable () -> [String: String]
    public var ringBuffer: @Sendable () -> AudioRingBuffer.Statistics?
    public var isMuted: @Sendable () -> Bool
    public var setMuted: @Sendable (Bool) -> Void
    /// Applies a changed configuration to the running services.
    public var apply: @Sendable (VoicedConfig) -> Void
    /// The telemetry writer's counters (write retries, losses), for `status`.
    public var telemetry: @Sendable () -> [(String, Int)]

    public init(sessionID: String, clock: any VoiceClock, providers: @escaping @Sendable () -> [String: String],
                devices: @escaping @Sendable () -> [String: String] = { [:] },
                ringBuffer: @escaping @Sendable () -> AudioRingBuffer.Statistics?, isMuted: @escaping @Sendable () -> Bool,
                telemetry: @escaping @Sendable () -> [(String, Int)] = { [] },
                setMuted: @escaping @Sendable (Bool) -> Void, apply: @escaping @Sendable (VoicedConfig) -> Void) {
        self.telemetry = telemetry
        self.sessionID = sessionID
        self.clock = clock
        self.providers = providers
        self.devices = devices
        self.ringBuffer = ringBuffer
        self.isMuted = isMuted
        self.setMuted = setMuted
        self.apply = apply
    }
}

/// Answers voicectl: status, watch, settings, history, metrics, wake, interrupt, say, mute.
public final class DaemonControl: ControlHandling {
    /// How many finished turns `history` and the latency sparkline can show.
    public static let historyLimit = ControlCommand.historyLimit
    /// A telemetry snapshot goes to watchers every this many turns.
    public static let snapshotEvery = 5

    private let turns: TurnService
    private let settings: SettingsStore
    var probes: DaemonProbes { get { probesBox.withLock { $0 } } set { probesBox.withLock { $0 = newValue } } }
    private let probesBox: Mutex<DaemonProbes>
    private let started: VoiceInstant
    private let watchers = Mutex<Set<ControlConnection>>([])
    private let recent = Mutex<[TurnRecord]>([])

    public init(turns: TurnService, settings: SettingsStore, probes: DaemonProbes) {
        self.turns = turns
        self.settings = settings
        self.probesBox = Mutex(probes)
        self.started = probes.clock.now
        turns.observe { [weak self] note in self?.observe(note) }
    }

    /// Tells every watcher about something that happened outside the turn controller (an error).
    public func broadcast(error message: String) {
        send(ControlEventType.error.event(.object([("message", .string(message))])))
    }

    public func disconnected(_ connection: ControlConnection) {
        _ = watchers.withLock { $0.remove(connection) }
    }

    public func handle(_ command: ControlCommand, from connection: ControlConnection) -> Result<JSONValue, ControlError> {
        do throws(ControlError) {
            return .success(try answer(command, connection))
        } catch {
            return .failure(error)
        }
    }

    private func answer(_ command: ControlCommand, _ connection: ControlConnection) throws(ControlError) -> JSONValue {
        switch command {
        case .status: return status()
        case .watch:
            _ = watchers.withLock { $0.insert(connection) }
            return .object([("watching", .bool(true))])
        case .settingsGet(let name?):
            let key = try SettingsStore.key(named: name)
            return .object([(name, JSONValue(key.value(in: settings.effective)))])
        case .settingsGet(nil):
            return .object(settings.all().map { ($0.name, .object([("value", JSONValue($0.value)), ("source", .string($0.source))])) })
        case .settingsSet(let name, let text):
            let config = try settings.set(name, to: text)
            probes.apply(config)
            let key = try SettingsStore.key(named: name)
            return .object([(name, JSONValue(key.value(in: config)))])
        case .settingsReset(let name):
            let config = try settings.reset(name)
            probes.apply(config)
            return .object([("reset", .string(name ?? "all"))])
        case .history(let count):
            return .object([("turns", .array(recent.withLock { Array($0.suffix(count)) }.map(Self.json(turn:))))])
        case .metrics: return metrics()
        case .wake:
            guard turns.current.state == .idle else {
                throw ControlError(.notPermitted, "the speaker is \(turns.current.state.rawValue.uppercased()), not idle; use interrupt to stop an answer")
            }
            return .object([("state", .string(turns.pressAndWait().state.rawValue))])
        case .interrupt:
            guard [.committed, .speaking].contains(turns.current.state) else {
                throw ControlError(.notPermitted, "nothing to interrupt: the speaker is \(turns.current.state.rawValue.uppercased())")
            }
            return .object([("state", .string(turns.pressAndWait().state.rawValue))])
        case .say(let text):
            guard turns.current.state == .idle else {
                throw ControlError(.notPermitted, "the speaker is \(turns.current.state.rawValue.uppercased()); say works while idle")
            }
            turns.say(text)
            return .object([("saying", .string(text))])
        case .mute(let on):
            probes.setMuted(on)
            return .object([("muted", .bool(probes.isMuted()))])
        }
    }

    private func status() -> JSONValue {
        let current = turns.current
        let uptime = (probes.clock.now - started).seconds
        var ring: JSONValue = .null
        if let stats = probes.ringBuffer() {
            ring = .object([
                ("fill", .int(Int64(stats.fill))), ("capacity", .int(Int64(stats.capacity))),
                ("fill_ratio", .double((stats.fillRatio * 1000).rounded() / 1000)),
                ("dropped_samples", .int(Int64(stats.droppedSamples))), ("overflows", .int(Int64(stats.overflowEvents))),
                ("written_samples", .int(Int64(stats.written))),
            ])
        }
        return .object([
            ("state", .string(current.state.rawValue)),
            ("turn", current.turn.map { .int(Int64($0)) } ?? .null),
            ("session_id", .string(probes.sessionID)),
            ("uptime_s", .double((uptime * 10).rounded() / 10)),
            ("providers", .object(probes.providers().sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
            ("devices", .object(probes.devices().sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
            ("muted", .bool(probes.isMuted())),
            ("ring_buffer", ring),
            ("telemetry", .object(probes.telemetry().map { ($0.0, .int(Int64($0.1))) })),
            ("debounce_ms", .int(current.debounceMs)),
            ("turn_loop", .object([("handled", .int(Int64(current.handledEvents))),
                                   ("dropped", .int(Int64(current.droppedInputs)))])),
            ("transitions", .array(current.recentTransitions.suffix(8).map(Self.json(transition:)))),
        ])
    }

    private func metrics() -> JSONValue {
        let current = turns.current
        let latencies = recent.withLock { $0.suffix(20).compactMap(\.latencies.speechEndToFirstAudioMs) }
        let t = current.telemetry
        return .object([
            ("cancellation_rate", .double((t.cancellationRate * 10000).rounded() / 10000)),
            ("avg_turn_latency_ms", t.averageTurnLatencyMs.map { .int(Int64($0.rounded())) } ?? .null),
            ("turns_completed", .int(Int64(t.completedTurns))),
            ("cancellations", .int(Int64(t.cancellations))),
            ("tokens_wasted", .int(Int64(t.tokensWasted))),
            ("debounce_ms", .int(current.debounceMs)),
            ("recent_latencies_ms", .array(latencies.map(JSONValue.int))),
        ])
    }

    private func observe(_ note: TurnNotification) {
        switch note {
        case .transition(let event):
            send(ControlEventType.state.event(Self.json(transition: event)))
        case .speech(let speech):
            switch speech {
            case .partial(let text): send(ControlEventType.partial.event(.object([("text", .string(text))])))
            case .final(let text, let confidence, _, _):
                send(ControlEventType.final.event(.object([("text", .string(text)), ("confidence", .double(confidence))])))
            case .speechStarted: send(ControlEventType.speechStarted.event())
            case .speechEnded: send(ControlEventType.speechEnded.event())
            }
        case .speaking(let turn, let text):
            send(ControlEventType.speaking.event(.object([("turn", .int(Int64(turn))), ("text", .string(text))])))
        case .turnFinished(let record):
            let count = recent.withLock { list -> Int in
                list.append(record)
                if list.count > Self.historyLimit { list.removeFirst(list.count - Self.historyLimit) }
                return list.count
            }
            send(ControlEventType.turn.event(Self.json(turn: record)))
            if count % Self.snapshotEvery == 0 { send(ControlEventType.telemetry.event(metrics())) }
        case .providerFailed(let provider, let turn, let message):
            send(ControlEventType.error.event(.object([
                ("source", .string(provider)), ("turn", turn.map { .int(Int64($0)) } ?? .null), ("message", .string(message)),
            ])))
        case .debounceAdjusted(let adjustment):
            send(ControlEventType.debounce.event(.object([
                ("old_ms", .int(adjustment.old.wholeMilliseconds)), ("new_ms", .int(adjustment.new.wholeMilliseconds)),
                ("cancellation_rate", .double(adjustment.cancellationRate)),
            ])))
        }
    }

    private func send(_ event: JSONValue) {
        for connection in watchers.withLock({ $0 }) where !connection.send(.event(event)) {
            _ = watchers.withLock { $0.remove(connection) }
        }
    }

    static func json(transition event: TransitionEvent) -> JSONValue {
        .object([
            ("t_ms", .int(event.time.milliseconds)), ("from", .string(event.from.rawValue)), ("to", .string(event.to.rawValue)),
            ("cause", .string(event.cause.rawValue)), ("turn", event.turn.map { .int(Int64($0)) } ?? .null),
        ])
    }

    static func json(turn record: TurnRecord) -> JSONValue {
        let duration = record.endedAt.map { ($0 - record.startedAt).wholeMilliseconds }
        return .object([
            ("turn", .int(Int64(record.turn))),
            ("started_ms", .int(record.startedAt.milliseconds)),
            ("duration_ms", duration.map(JSONValue.int) ?? .null),
            ("user_text", .string(record.userText)),
            ("agent_text", .string(record.spokenText)),
            ("interrupted", .bool(record.interrupted)),
            ("status", .string(record.status.rawValue)),
            ("latency_ms", record.latencies.speechEndToFirstAudioMs.map(JSONValue.int) ?? .null),
            ("llm_calls", .array(record.llmCalls.map { call in
                .object([
                    ("call", .int(Int64(call.call))), ("status", .string(call.status.rawValue)),
                    ("reason", call.reason.map(JSONValue.string) ?? .null), ("tokens", .int(Int64(call.tokens))),
                ])
            })),
        ])
    }
}

extension JSONValue {
    /// The value of a TOML setting as JSON.
    init(_ value: TOMLValue) {
        switch value {
        case .string(let s): self = .string(s)
        case .integer(let i): self = .int(i)
        case .float(let d): self = .double(d)
        case .boolean(let b): self = .bool(b)
        case .array(let items): self = .array(items.map(JSONValue.init))
        }
    }
}
