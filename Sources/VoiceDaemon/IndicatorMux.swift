import Synchronization
import VoiceCore

/// What the LEDs and systemd's STATUS show: the turn state, unless something the person should
/// know outranks it. Muted outranks everything (privacy), then offline, then a device error,
/// then the state of the turn.
public final class IndicatorMux: Indicator, Sendable {
    private struct State {
        var turn: IndicatorState = .idle
        var muted = false
        var offline = false
        var deviceError: String?
        var shown: IndicatorState?
    }

    private let state = Mutex(State())
    private let output: any Indicator & Sendable
    private let onChange: @Sendable (IndicatorState, String?) -> Void

    /// - Parameter onChange: the shown state and, for a device error, its reason (for STATUS=).
    public init(output: any Indicator & Sendable, onChange: @escaping @Sendable (IndicatorState, String?) -> Void = { _, _ in }) {
        self.output = output
        self.onChange = onChange
    }

    /// The state on show now.
    public var shown: IndicatorState { state.withLock { $0.shown ?? .idle } }
    public var isMuted: Bool { state.withLock { $0.muted } }
    public var isOffline: Bool { state.withLock { $0.offline } }

    /// The turn controller's indication.
    public func show(_ indication: IndicatorState) { update { $0.turn = indication } }
    public func setMuted(_ muted: Bool) { update { $0.muted = muted } }
    public func setOffline(_ offline: Bool) { update { $0.offline = offline } }
    /// A device (microphone, speaker) is unavailable, with why; nil when it is back.
    public func setDeviceError(_ reason: String?) { update { $0.deviceError = reason } }

    private func update(_ change: (inout State) -> Void) {
        let changed = state.withLock { state -> (IndicatorState, String?)? in
            change(&state)
            let effective: IndicatorState
            if state.muted { effective = .muted }
            else if state.offline { effective = .offline }
            else if state.deviceError != nil { effective = .error }
            else { effective = state.turn }
            guard effective != state.shown else { return nil }
            state.shown = effective
            return (effective, state.deviceError)
        }
        guard let (shown, reason) = changed else { return }
        output.show(shown)
        onChange(shown, reason)
    }
}
