// The push-button, as a pure state machine: raw edges with timestamps in, gestures out.
//
// Debounce: a new level counts only once it has held for `debounce` (30 ms); a level that changes
// back sooner was a bounce and is ignored. The press and release instants are those of the raw
// edges that began the stable levels, so the debounce delays a gesture but does not change how
// long the press is judged to have lasted.
//
// Gestures:
// - a long press (held ≥ `longPress`, 2 s) fires at the 2 s mark while the button is still held,
//   so the user feels the mute toggle happen without having to guess when to let go; the release
//   that follows fires nothing;
// - a short press (held < `longPress`) fires when its release is confirmed (release edge + 30 ms).
// At the exact boundary (released exactly `longPress` after the press) the press is long.

/// What the user did with the button.
public enum ButtonGesture: String, Hashable, Sendable, Codable, CustomStringConvertible {
    /// Pressed and released within the long-press time: wake (IDLE) or interrupt (COMMITTED, SPEAKING).
    case shortPress = "short_press"
    /// Held for the long-press time: toggle the microphone mute.
    case longPress = "long_press"

    public var description: String { rawValue }
}

/// The button's timing.
public struct ButtonSettings: Hashable, Sendable {
    /// How long a level must hold to count (bounces shorter than this are ignored).
    public var debounce: Duration
    /// How long the button must be held for a long press.
    public var longPress: Duration

    /// The timing by default: 30 ms debounce, 2 s long press.
    public init(debounce: Duration = .milliseconds(30), longPress: Duration = .seconds(2)) {
        self.debounce = debounce
        self.longPress = longPress
    }
}

/// Debounces raw button edges and recognises short and long presses.
///
/// Feed it every raw edge with ``edge(pressed:at:)`` and let time pass with ``advance(to:)``
/// (the driver wakes at ``nextDeadline``). Both return the gestures that became due, in order.
/// It holds no thread and no timer; timestamps come from the caller's clock and must not go
/// backwards (an earlier one is treated as the latest seen).
public struct ButtonGestureRecognizer: Hashable, Sendable {
    /// Debounce and long-press time; a change applies to the press in progress and the next.
    public var settings: ButtonSettings
    /// The latest raw level.
    public private(set) var rawPressed: Bool
    /// When the raw level last changed.
    private var rawSince: VoiceInstant
    /// The debounced level.
    public private(set) var isPressed: Bool
    /// The raw edge that began the current debounced press; nil when released, or when the button
    /// was already held at start-up (such a press is not a gesture).
    private var pressedAt: VoiceInstant?
    private var longPressFired = false
    private var latest: VoiceInstant

    /// - Parameters:
    ///   - pressed: the button's level when reading starts (a button held at start-up fires
    ///     nothing until it has been released).
    ///   - now: the instant reading starts.
    public init(settings: ButtonSettings = ButtonSettings(), pressed: Bool = false, at now: VoiceInstant = .zero) {
        self.settings = settings
        rawPressed = pressed
        rawSince = now
        isPressed = pressed
        latest = now
    }

    /// When ``advance(to:)`` next has something to do: confirming a pending level, or the
    /// long-press mark of a press still held. Nil when nothing is pending.
    public var nextDeadline: VoiceInstant? {
        if rawPressed != isPressed { return rawSince + settings.debounce }
        if isPressed, let pressedAt, !longPressFired { return pressedAt + settings.longPress }
        return nil
    }

    /// A raw edge: the button is now `pressed` (true) or released (false), as of `instant`.
    /// An edge that repeats the current raw level changes nothing.
    public mutating func edge(pressed: Bool, at instant: VoiceInstant) -> [ButtonGesture] {
        var gestures = advance(to: instant)
        if pressed != rawPressed {
            rawPressed = pressed
            rawSince = latest
        }
        // A bounce that ends after the long-press mark lets the held press fire at once.
        gestures += advance(to: latest)
        return gestures
    }

    /// Lets time pass up to `instant`: confirms levels that have held for the debounce time and
    /// fires a long press whose mark has come.
    public mutating func advance(to instant: VoiceInstant) -> [ButtonGesture] {
        if instant > latest { latest = instant }
        var gestures: [ButtonGesture] = []
        while let deadline = nextDeadline, deadline <= latest {
            if rawPressed != isPressed {
                confirmRawLevel(into: &gestures)
            } else {
                longPressFired = true
                gestures.append(.longPress)
            }
        }
        return gestures
    }

    private mutating func confirmRawLevel(into gestures: inout [ButtonGesture]) {
        isPressed = rawPressed
        if isPressed {
            pressedAt = rawSince
            longPressFired = false
            return
        }
        // Released. A long press already fired at its mark; a press held since start-up is no gesture.
        defer { pressedAt = nil }
        guard let pressedAt, !longPressFired else { return }
        gestures.append(rawSince - pressedAt >= settings.longPress ? .longPress : .shortPress)
    }
}

/// Where button gestures come from: the GPIO button, stdin on a dev machine, the control socket.
public protocol ButtonEvents: AnyObject, Sendable {
    /// Starts reading and returns the gestures. One consumer: a second call returns a stream that
    /// has already finished. The stream finishes when ``stop()`` is called, when the source ends
    /// (stdin closed) or fails (logged where it happens); cancelling its consumer stops the reading.
    func gestures() -> AsyncStream<ButtonGesture>
    /// Stops reading and waits until the reader has let go of the source.
    func stop()
}
