/// The rules of the adaptive debounce. Every field is a setting.
public struct AdaptiveDebounceSettings: Equatable, Sendable, Codable {
    /// Whether the debounce adapts at all.
    public var enabled: Bool = true
    /// The lowest debounce.
    public var minimum: Duration = .milliseconds(400)
    /// The highest debounce.
    public var maximum: Duration = .milliseconds(1200)
    /// A cancellation rate strictly above this raises the debounce.
    public var raiseAbove: Double = 0.30
    /// A cancellation rate strictly below this lowers the debounce.
    public var lowerBelow: Double = 0.15
    /// How much a raise adds.
    public var raiseStep: Duration = .milliseconds(100)
    /// How much a lowering takes away.
    public var lowerStep: Duration = .milliseconds(50)
    /// How many outcomes (completed or cancelled) make one evaluation.
    public var window: Int = 10

    public init() {}
}

/// One change of the debounce: the old and new value and the rate that caused it.
public struct DebounceAdjustment: Equatable, Sendable, Codable {
    public var old: Duration
    public var new: Duration
    public var cancellationRate: Double
}

/// The silence debounce that adapts to how often speculation is cancelled.
///
/// Every ``AdaptiveDebounceSettings/window`` outcomes, the cancellation rate of that window is
/// compared with the thresholds: above `raiseAbove` the debounce grows by `raiseStep` (up to the
/// maximum), below `lowerBelow` it shrinks by `lowerStep` (down to the minimum), otherwise it stays.
/// Each evaluation starts a new window.
public struct AdaptiveDebounce: Equatable, Sendable {
    public var settings: AdaptiveDebounceSettings
    /// The debounce in force.
    public private(set) var current: Duration
    /// Outcomes in the current window.
    public private(set) var windowOutcomes = 0
    /// Cancellations in the current window.
    public private(set) var windowCancellations = 0

    public init(initial: Duration = .milliseconds(400), settings: AdaptiveDebounceSettings = .init()) {
        self.settings = settings
        self.current = Self.clamp(initial, settings)
    }

    /// Sets the debounce directly (a live setting, or the value restored after a restart), clamped to the bounds.
    public mutating func set(_ value: Duration) { current = Self.clamp(value, settings) }

    /// Records a speculative call cancelled by new speech or a correction.
    public mutating func recordCancellation() -> DebounceAdjustment? { record(canceled: true) }
    /// Records a completed turn.
    public mutating func recordCompletion() -> DebounceAdjustment? { record(canceled: false) }

    /// Records one outcome; returns the adjustment when this outcome closes a window and the value changes.
    public mutating func record(canceled: Bool) -> DebounceAdjustment? {
        windowOutcomes += 1
        if canceled { windowCancellations += 1 }
        guard windowOutcomes >= max(1, settings.window) else { return nil }
        let rate = Double(windowCancellations) / Double(windowOutcomes)
        windowOutcomes = 0
        windowCancellations = 0
        guard settings.enabled else { return nil }
        let old = current
        if rate > settings.raiseAbove {
            current = Self.clamp(current + settings.raiseStep, settings)
        } else if rate < settings.lowerBelow {
            current = Self.clamp(current - settings.lowerStep, settings)
        }
        return current == old ? nil : DebounceAdjustment(old: old, new: current, cancellationRate: rate)
    }

    private static func clamp(_ value: Duration, _ settings: AdaptiveDebounceSettings) -> Duration {
        min(max(value, settings.minimum), settings.maximum)
    }
}
