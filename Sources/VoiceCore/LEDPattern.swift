// What the LEDs show for each indicator state, as pure functions of time: no thread, no GPIO.
//
// IndicatorState → LEDPattern (a colour and an animation) → for a layout (one RGB LED on three
// lines, or one LED per state) → the level of each line at an instant. The GPIO driver only
// calls ``LEDRenderer/lineLevels(for:elapsed:)`` on every tick and writes what changed.

/// One colour of an RGB LED, each channel fully on or off (plain GPIO lines have no brightness).
public enum LEDColor: String, CaseIterable, Hashable, Sendable, Codable, CustomStringConvertible {
    case off, red, green, blue, yellow, purple, cyan, white

    /// Which of the red, green and blue channels are on.
    public var channels: (red: Bool, green: Bool, blue: Bool) {
        switch self {
        case .off: (false, false, false)
        case .red: (true, false, false)
        case .green: (false, true, false)
        case .blue: (false, false, true)
        case .yellow: (true, true, false)
        case .purple: (true, false, true)
        case .cyan: (false, true, true)
        case .white: (true, true, true)
        }
    }

    public var description: String { rawValue }
}

/// How an LED's light changes over time, measured from the moment its state began.
///
/// GPIO lines are on or off, so brightness is made with a duty cycle: ``pulse(period:)`` and
/// ``dim(permille:)`` switch the line on for a share of the driver's ticks (see
/// ``LEDPattern/isLit(after:tick:)``).
public enum LEDAnimation: Hashable, Sendable {
    /// Steadily on.
    case solid
    /// On for `on`, then off for the rest of `period`, starting on when the state begins.
    case blink(period: Duration, on: Duration)
    /// Brightness falling from full to dark and back over `period` (a triangle wave), starting
    /// at full brightness when the state begins.
    case pulse(period: Duration)
    /// A steady partial brightness, in thousandths (0 is off, 1000 is solid).
    case dim(permille: Int)

    /// Whether the lines change over time (a solid or off pattern needs no ticks).
    public var isAnimated: Bool {
        switch self {
        case .solid: false
        case .blink, .pulse: true
        case .dim(let permille): permille > 0 && permille < 1000
        }
    }
}

/// A colour and an animation: what one indicator state looks like.
public struct LEDPattern: Hashable, Sendable, CustomStringConvertible {
    /// The colour when lit (``LEDColor/off``: never lit).
    public var color: LEDColor
    /// How the light changes over time.
    public var animation: LEDAnimation

    /// `color`, shown with `animation` (solid by default).
    public init(_ color: LEDColor, _ animation: LEDAnimation = .solid) {
        self.color = color
        self.animation = animation
    }

    /// All lines off.
    public static let off = LEDPattern(.off)

    /// Whether the pattern's colour is on after `elapsed` in the state, on a driver that
    /// refreshes the lines every `tick`.
    ///
    /// A blink is a pure function of `elapsed`. A pulse or a dim level L is rendered as a duty
    /// cycle over ticks: tick number k = ⌊elapsed / tick⌋ is on when ⌊(k+1)·L⌋ > ⌊k·L⌋, which
    /// lights L of the ticks, spread as evenly as possible (a sigma-delta computed from the
    /// instant alone, so the driver keeps no state and a test can ask any instant).
    public func isLit(after elapsed: Duration, tick: Duration) -> Bool {
        guard color != .off else { return false }
        let elapsed = max(elapsed, .zero)
        switch animation {
        case .solid:
            return true
        case .blink(let period, let on):
            guard period > .zero else { return true }
            return Self.remainder(elapsed, period) < on
        case .pulse(let period):
            guard period > .zero else { return true }
            let tickStart = Self.tickStart(elapsed, tick)
            let phase = Self.remainder(tickStart, period).seconds / period.seconds
            let level = abs(1 - 2 * phase)  // 1 at the start, 0 half-way, 1 again at the end
            return Self.dutyCycleIsOn(level: level, elapsed: elapsed, tick: tick)
        case .dim(let permille):
            return Self.dutyCycleIsOn(level: Double(min(max(permille, 0), 1000)) / 1000, elapsed: elapsed, tick: tick)
        }
    }

    /// Words for a console line or the docs, e.g. "blinking yellow".
    public var description: String {
        guard color != .off else { return "off" }
        switch animation {
        case .solid: return "solid \(color)"
        case .blink(let period, _): return "blinking \(color) (every \(period.wholeMilliseconds) ms)"
        case .pulse(let period): return "pulsing \(color) (every \(period.wholeMilliseconds) ms)"
        case .dim(let permille): return "dim \(color) (\(permille / 10)%)"
        }
    }

    private static func remainder(_ value: Duration, _ period: Duration) -> Duration {
        return value - period * divide(value, period)
    }

    private static func tickStart(_ elapsed: Duration, _ tick: Duration) -> Duration {
        guard tick > .zero else { return elapsed }
        return tick * divide(elapsed, tick)
    }

    /// ⌊value / divisor⌋ for non-negative durations, exact: the floating-point quotient is
    /// corrected so that divisor · whole ≤ value < divisor · (whole + 1).
    private static func divide(_ value: Duration, _ divisor: Duration) -> Int64 {
        var whole = Int64((value / divisor).rounded(.down))
        while whole > 0 && divisor * whole > value { whole -= 1 }
        while divisor * (whole + 1) <= value { whole += 1 }
        return whole
    }

    private static func dutyCycleIsOn(level: Double, elapsed: Duration, tick: Duration) -> Bool {
        if level >= 1 { return true }
        if level <= 0 { return false }
        guard tick > .zero else { return true }
        let k = Double(divide(elapsed, tick))
        return ((k + 1) * level).rounded(.down) > (k * level).rounded(.down)
    }
}

/// The pattern of every indicator state. ``standard`` is the table; every entry may be
/// replaced from the configuration.
public struct LEDPatterns: Hashable, Sendable {
    // One pattern per ``IndicatorState``.
    public var idle: LEDPattern
    public var listening: LEDPattern
    public var speculative: LEDPattern
    public var committed: LEDPattern
    public var speaking: LEDPattern
    public var error: LEDPattern
    public var offline: LEDPattern
    public var muted: LEDPattern

    /// The table, with any entry replaced.
    public init(
        idle: LEDPattern = .off,
        listening: LEDPattern = LEDPattern(.blue),
        speculative: LEDPattern = LEDPattern(.yellow, .blink(period: .milliseconds(500), on: .milliseconds(250))),
        committed: LEDPattern = LEDPattern(.green),
        speaking: LEDPattern = LEDPattern(.purple, .pulse(period: .milliseconds(1500))),
        error: LEDPattern = LEDPattern(.red, .blink(period: .milliseconds(200), on: .milliseconds(100))),
        offline: LEDPattern = LEDPattern(.red, .blink(period: .milliseconds(2000), on: .milliseconds(1000))),
        muted: LEDPattern = LEDPattern(.red)
    ) {
        self.idle = idle
        self.listening = listening
        self.speculative = speculative
        self.committed = committed
        self.speaking = speaking
        self.error = error
        self.offline = offline
        self.muted = muted
    }

    /// IDLE off; LISTENING solid blue; SPECULATIVE blinking yellow (2 Hz); COMMITTED solid green;
    /// SPEAKING purple pulse (1.5 s); error fast red blink (5 Hz); offline slow red blink (0.5 Hz);
    /// microphone muted solid red.
    public static let standard = LEDPatterns()

    /// ``standard`` with IDLE a dim white glow (5% duty cycle) instead of off.
    public static let standardWithDimIdle = LEDPatterns(idle: LEDPattern(.white, .dim(permille: 50)))

    /// The pattern of `state`.
    public subscript(state: IndicatorState) -> LEDPattern {
        get {
            switch state {
            case .idle: idle
            case .listening: listening
            case .speculative: speculative
            case .committed: committed
            case .speaking: speaking
            case .error: error
            case .offline: offline
            case .muted: muted
            }
        }
        set {
            switch state {
            case .idle: idle = newValue
            case .listening: listening = newValue
            case .speculative: speculative = newValue
            case .committed: committed = newValue
            case .speaking: speaking = newValue
            case .error: error = newValue
            case .offline: offline = newValue
            case .muted: muted = newValue
            }
        }
    }
}

/// How the LEDs are wired.
public enum LEDLayout: Hashable, Sendable {
    /// One RGB LED on three lines: line 0 red, line 1 green, line 2 blue. Colours mix channels
    /// (yellow is red + green, purple is red + blue).
    case rgb
    /// One single-colour LED per state, line i showing `states[i]`. The LED of the current state
    /// shows its pattern's animation (the colour is the LED's own); the others are off. A state
    /// with no LED shows nothing (all off).
    case perState([IndicatorState])

    /// How many lines the layout drives.
    public var lineCount: Int {
        switch self {
        case .rgb: 3
        case .perState(let states): states.count
        }
    }
}

/// Turns an indicator state and the time spent in it into the level of each LED line.
public struct LEDRenderer: Hashable, Sendable {
    /// How the LEDs are wired.
    public var layout: LEDLayout
    /// What each state looks like.
    public var patterns: LEDPatterns
    /// The LEDs light when their line is low (a common-anode RGB LED, or an LED wired to 3V3).
    public var activeLow: Bool
    /// How often the driver refreshes the lines; the unit of the pulse and dim duty cycles.
    public var tick: Duration

    /// A renderer for `layout`; 20 ms ticks refresh a pulse 50 times a second.
    public init(layout: LEDLayout, patterns: LEDPatterns = .standard, activeLow: Bool = false, tick: Duration = .milliseconds(20)) {
        self.layout = layout
        self.patterns = patterns
        self.activeLow = activeLow
        self.tick = tick
    }

    /// Whether each LED is lit (true) for `state` after `elapsed` in it: the logical view,
    /// before active-low.
    public func litLines(for state: IndicatorState, elapsed: Duration) -> [Bool] {
        let pattern = patterns[state]
        let on = pattern.isLit(after: elapsed, tick: tick)
        switch layout {
        case .rgb:
            let channels = pattern.color.channels
            return [on && channels.red, on && channels.green, on && channels.blue]
        case .perState(let states):
            return states.map { on && $0 == state }
        }
    }

    /// The level to drive on each line (true = high): ``litLines(for:elapsed:)`` with active-low applied.
    public func lineLevels(for state: IndicatorState, elapsed: Duration) -> [Bool] {
        litLines(for: state, elapsed: elapsed).map { $0 != activeLow }
    }

    /// The levels that turn every LED off (requested at start-up, driven at shutdown).
    public var offLevels: [Bool] { Array(repeating: activeLow, count: layout.lineCount) }

    /// Whether `state` needs refreshing on every tick (a blink, pulse or dim) or only once.
    public func isAnimated(_ state: IndicatorState) -> Bool {
        let pattern = patterns[state]
        return pattern.color != .off && pattern.animation.isAnimated
    }
}
