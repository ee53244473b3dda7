import Synchronization
import VoiceCore

/// A device whose loss the speaker shows: each keeps its own error, so one recovering does not
/// clear the other's.
public enum DeviceRole: String, Sendable, CaseIterable, Comparable {
    case microphone
    case speaker
    case gpio

    public static func < (lhs: DeviceRole, rhs: DeviceRole) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// What the LEDs and systemd's STATUS show: the turn state, unless something the person should
/// know outranks it. Muted outranks everything (privacy), then offline, then a device error,
/// then the state of the turn.
public final class IndicatorMux: Indicator, Sendable {
    private struct State {
        var turn: IndicatorState = .idle
        var muted = false
        var offline = false
        /// One error per device: the microphone recovering leaves the speaker's error on show.
        var deviceErrors: [DeviceRole: String] = [:]
        var shown: IndicatorState?
        var shownReasons: [String] = []

        var reasons: [String] { deviceErrors.sorted { $0.key < $1.key }.map(\.value) }
    }

    private let state = Mutex(State())
    private let output: any Indicator & Sendable
    private let onChange: @Sendable (IndicatorState, [String]) -> Void

    /// - Parameter onChange: the shown state and the device errors standing now (for STATUS=),
    ///   called whenever either changes.
    public init(output: any Indicator & Sendable, onChange: @escaping @Sendable (IndicatorState, [String]) -> Void = { _, _ in }) {
        self.output = output
        self.onChange = onChange
    }

    /// The state on show now.
    public var shown: IndicatorState { state.withLock { $0.shown ?? .idle } }
    public var isMuted: Bool { state.withLock { $0.muted } }
    public var isOffline: Bool { state.withLock { $0.offline } }
    /// The device errors standing now, by device.
    public var deviceErrors: [DeviceRole: String] { state.withLock { $0.deviceErrors } }

    /// The turn controller's indication.
    public func show(_ indication: IndicatorState) { update { $0.turn = indication } }
    public func setMuted(_ muted: Bool) { update { $0.muted = muted } }
    public func setOffline(_ offline: Bool) { update { $0.offline = offline } }
    /// `device` is unavailable, with why; nil when it is back. Other devices' errors stay.
    public func setDeviceError(_ device: DeviceRole, _ reason: String?) { update { $0.deviceErrors[device] = reason } }

    private func update(_ change: (inout State) -> Void) {
        let changed = state.withLock { state -> (shown: IndicatorState, newShown: Bool, reasons: [String])? in
            change(&state)
            let effective: IndicatorState
            if state.muted { effective = .muted }
            else if state.offline { effective = .offline }
            else if !state.deviceErrors.isEmpty { effective = .error }
            else { effective = state.turn }
            let reasons = state.reasons
            guard effective != state.shown || reasons != state.shownReasons else { return nil }
            let newShown = effective != state.shown
            state.shown = effective
            state.shownReasons = reasons
            return (effective, newShown, reasons)
        }
        guard let changed else { return }
        if changed.newShown { output.show(changed.shown) }
        onChange(changed.shown, changed.reasons)
    }
}
