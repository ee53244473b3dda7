import Logging
import Synchronization
import VoiceCore

/// Where the LEDs are and how they are wired (the `[gpio.leds]` part of the config).
public struct GPIOIndicatorConfiguration: Hashable, Sendable {
    /// The chip: `gpiochip0`, `/dev/gpiochip0`, `0` or a label.
    public var chip: String
    /// An RGB LED, or one LED per state.
    public var layout: LEDLayout
    /// The line offset of each of the layout's LEDs, in the layout's order (RGB: red, green, blue).
    public var offsets: [UInt32]
    /// The LEDs light when their line is low.
    public var activeLow: Bool
    /// What each state looks like.
    public var patterns: LEDPatterns
    /// How often animated patterns refresh the lines (the unit of the pulse's duty cycle).
    public var tick: Duration
    /// The consumer name shown by `gpioinfo`.
    public var consumer: String

    public init(
        chip: String = "gpiochip0", layout: LEDLayout = .rgb, offsets: [UInt32], activeLow: Bool = false,
        patterns: LEDPatterns = .standard, tick: Duration = .milliseconds(20), consumer: String = "voiced-leds"
    ) {
        self.chip = chip
        self.layout = layout
        self.offsets = offsets
        self.activeLow = activeLow
        self.patterns = patterns
        self.tick = tick
        self.consumer = consumer
    }

    /// The renderer for this wiring.
    public var renderer: LEDRenderer {
        LEDRenderer(layout: layout, patterns: patterns, activeLow: activeLow, tick: tick)
    }

    /// Throws when the offsets do not match the layout.
    public func validate() throws(GPIOConfigurationError) {
        guard offsets.count == layout.lineCount else {
            throw .lineCountMismatch(layout: layout, expected: layout.lineCount, offsets: offsets)
        }
        guard Set(offsets).count == offsets.count else { throw .duplicateOffsets(offsets) }
        guard tick > .zero else { throw .nonPositiveTick(tick) }
    }
}

/// The GPIO part of the config is inconsistent.
public enum GPIOConfigurationError: Error, Hashable, CustomStringConvertible {
    case lineCountMismatch(layout: LEDLayout, expected: Int, offsets: [UInt32])
    case duplicateOffsets([UInt32])
    case nonPositiveTick(Duration)

    public var description: String {
        switch self {
        case .lineCountMismatch(let layout, let expected, let offsets):
            let what = layout == .rgb ? "an RGB LED needs 3 offsets (red, green, blue)" : "one offset per listed state"
            return "the LED layout needs \(expected) line offsets but the config gives \(offsets.count) (\(offsets)): \(what)"
        case .duplicateOffsets(let offsets):
            return "the LED line offsets \(offsets) name a line twice; each LED needs its own line"
        case .nonPositiveTick(let tick):
            return "the LED tick must be positive (got \(tick)); 20 ms refreshes a pulse 50 times a second"
        }
    }
}

/// The LEDs on GPIO lines: ``show(_:)`` records the state and returns at once; a thread of its
/// own drives the lines, every tick while the pattern is animated, and sleeps otherwise.
///
/// Thread-safe. Call ``start()`` once the daemon is ready to show states, and ``stop()`` on
/// shutdown: it ends the thread and turns the LEDs off.
public final class GPIOIndicator: Indicator, @unchecked Sendable {
    // @unchecked: `lines` is touched only inside `output`'s lock; the rest is immutable or in a Mutex.

    private struct Shown {
        var state: IndicatorState = .idle
        var since: VoiceInstant
        var stopped = false
        var thread: DedicatedThread?
    }

    private struct Output {
        /// The levels last written, nil when unknown (after a failure every line is rewritten).
        var written: [Bool]?
        var failing = false
    }

    private let lines: any GPIOOutputLines
    /// How states become line levels.
    public let renderer: LEDRenderer
    private let clock: any VoiceClock
    private let logger: Logger
    private let shown: Mutex<Shown>
    private let output: Mutex<Output>
    private let waker: Waker

    /// Drives `lines` (already requested, in the renderer's layout order) with the renderer's patterns.
    public init(lines: any GPIOOutputLines, renderer: LEDRenderer, clock: any VoiceClock = SystemVoiceClock(), logger: Logger) throws(WakerError) {
        self.lines = lines
        self.renderer = renderer
        self.clock = clock
        self.logger = logger
        shown = Mutex(Shown(since: clock.now))
        output = Mutex(Output(written: renderer.offLevels))
        waker = try Waker()
    }

    /// Requests the configured lines, all LEDs off, through `backend`.
    public convenience init(
        configuration: GPIOIndicatorConfiguration, backend: any GPIOLineBackend = LibgpiodBackend(),
        clock: any VoiceClock = SystemVoiceClock(), logger: Logger
    ) throws {
        try configuration.validate()
        let renderer = configuration.renderer
        let lines = try backend.openOutputs(
            chip: configuration.chip, offsets: configuration.offsets, consumer: configuration.consumer,
            initialLevels: renderer.offLevels
        )
        try self.init(lines: lines, renderer: renderer, clock: clock, logger: logger)
        logger.info("LEDs ready", metadata: [
            "chip": "\(configuration.chip)", "lines": "\(configuration.offsets)", "layout": "\(configuration.layout)",
            "active_low": "\(configuration.activeLow)",
        ])
    }

    deinit { stop() }

    /// The state being shown.
    public var state: IndicatorState { shown.withLock { $0.state } }

    /// Shows `state` from now on. Never blocks: the driver thread picks it up. Showing the state
    /// already shown changes nothing (a blink keeps its phase).
    public func show(_ state: IndicatorState) {
        let now = clock.now
        let changed = shown.withLock { shown -> Bool in
            guard shown.state != state, !shown.stopped else { return false }
            shown.state = state
            shown.since = now
            return true
        }
        if changed {
            logger.trace("indicator", metadata: ["state": "\(state.rawValue)", "pattern": "\(renderer.patterns[state])"])
            waker.wake()
        }
    }

    /// Starts the driver thread. Calling it again does nothing.
    public func start() throws(ThreadStartError) {
        let alreadyStarted = shown.withLock { $0.thread != nil || $0.stopped }
        guard !alreadyStarted else { return }
        let thread = try DedicatedThread.start(name: "voiced-leds") { [self] in runLoop() }
        shown.withLock { $0.thread = thread }
    }

    /// Drives the lines for the current state at the clock's current instant. The driver thread
    /// calls this on every tick; tests call it directly with a manual clock.
    public func refresh() {
        let (state, since, stopped) = shown.withLock { ($0.state, $0.since, $0.stopped) }
        guard !stopped else { return }
        write(renderer.lineLevels(for: state, elapsed: clock.now - since))
    }

    /// Ends the driver thread and turns every LED off. Later ``show(_:)`` calls are ignored.
    public func stop() {
        let thread = shown.withLock { shown -> DedicatedThread? in
            shown.stopped = true
            return shown.thread
        }
        waker.wake()
        thread?.join()
        write(renderer.offLevels)
    }

    private func runLoop() {
        while true {
            let (state, since, stopped) = shown.withLock { ($0.state, $0.since, $0.stopped) }
            if stopped { return }
            let elapsed = clock.now - since
            write(renderer.lineLevels(for: state, elapsed: elapsed))
            var wait: Duration? = nil
            if renderer.isAnimated(state) {
                // Sleep to the next tick boundary of the state's own time line.
                let tick = renderer.tick
                let ticks = Int64((max(elapsed, .zero) / tick).rounded(.down))
                wait = max(tick * (ticks + 1) - elapsed, .milliseconds(1))
            }
            if pollReadable([waker.fd], timeout: wait)[0] != 0 { waker.drain() }
        }
    }

    private func write(_ levels: [Bool]) {
        output.withLock { output in
            var failure: GPIOError?
            for (index, level) in levels.enumerated() where output.written?[index] != level {
                do throws(GPIOError) {
                    try lines.set(index, high: level)
                } catch {
                    failure = error
                }
            }
            if let failure {
                output.written = nil
                if !output.failing {
                    // Once per failure streak: a pulse would otherwise log 50 times a second.
                    logger.warning("LED line write failed; retrying on every refresh", metadata: ["error": "\(failure)"])
                }
                output.failing = true
            } else {
                output.written = levels
                if output.failing { logger.notice("LED line writes work again") }
                output.failing = false
            }
        }
    }
}
