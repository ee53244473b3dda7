import Glibc
import Logging
import Synchronization
import VoiceCore

/// Where the button is and how it is wired (the `[gpio.button]` part of the config).
public struct GPIOButtonConfiguration: Hashable, Sendable {
    /// The chip: `gpiochip0`, `/dev/gpiochip0`, `0` or a label.
    public var chip: String
    /// The button's line offset.
    public var offset: UInt32
    /// Pressed reads low: a button between the pin and ground, with a pull-up (the usual wiring).
    public var activeLow: Bool
    /// The pull resistor to request.
    public var bias: GPIOBias
    /// Debounce and long-press time.
    public var settings: ButtonSettings
    /// The consumer name shown by `gpioinfo`.
    public var consumer: String

    public init(
        chip: String = "gpiochip0", offset: UInt32, activeLow: Bool = true, bias: GPIOBias = .pullUp,
        settings: ButtonSettings = ButtonSettings(), consumer: String = "voiced-button"
    ) {
        self.chip = chip
        self.offset = offset
        self.activeLow = activeLow
        self.bias = bias
        self.settings = settings
        self.consumer = consumer
    }
}

/// The push-button on a GPIO line: edge events (no polling of the level) read on a thread of its
/// own, which sleeps in poll() on the line's event fd, debounces them and recognises gestures
/// (``ButtonGestureRecognizer``), and feeds an `AsyncStream`.
public final class GPIOButton: ButtonEvents, @unchecked Sendable {
    // @unchecked: `source` is touched by `gestures()` once, before it starts the reading thread,
    // then only by that thread; everything else is immutable or Sendable.

    private let source: any GPIOEdgeSource
    private let activeLow: Bool
    /// Debounce and long-press time; ``update(settings:)`` changes them while the thread runs.
    private let settingsBox: Mutex<ButtonSettings>
    private let clock: any VoiceClock
    private let logger: Logger
    private let maxWait: Duration
    private let control: ReaderThreadControl

    /// Reads gestures from `source`.
    /// - Parameters:
    ///   - activeLow: pressed reads low.
    ///   - maxWait: while a press is pending the thread re-reads the clock at least this often,
    ///     so an injected clock that jumps (a test's manual clock) is noticed.
    public init(
        source: any GPIOEdgeSource, activeLow: Bool, settings: ButtonSettings = ButtonSettings(),
        clock: any VoiceClock = SystemVoiceClock(), maxWait: Duration = .milliseconds(50), logger: Logger
    ) throws(WakerError) {
        self.source = source
        self.activeLow = activeLow
        settingsBox = Mutex(settings)
        self.clock = clock
        self.maxWait = maxWait
        self.logger = logger
        control = try ReaderThreadControl()
    }

    /// Requests the configured line through `backend`.
    public convenience init(
        configuration: GPIOButtonConfiguration, backend: any GPIOLineBackend = LibgpiodBackend(),
        clock: any VoiceClock = SystemVoiceClock(), logger: Logger
    ) throws {
        let source = try backend.openEdgeSource(
            chip: configuration.chip, offset: configuration.offset, consumer: configuration.consumer, bias: configuration.bias
        )
        try self.init(source: source, activeLow: configuration.activeLow, settings: configuration.settings, clock: clock, logger: logger)
        logger.info("button ready", metadata: [
            "chip": "\(configuration.chip)", "line": "\(configuration.offset)", "active_low": "\(configuration.activeLow)",
            "bias": "\(configuration.bias.rawValue)",
        ])
    }

    deinit { stop() }

    /// The debounce and long-press time in force.
    public var settings: ButtonSettings { settingsBox.withLock { $0 } }

    /// Changes the debounce and long-press time live: the reading thread takes them at once,
    /// for the press in progress too (`gpio.long_press_ms`).
    public func update(settings: ButtonSettings) {
        settingsBox.withLock { $0 = settings }
        control.waker.wake()
    }

    /// Reads the line's level now (the start of the recognizer's time line, so edges are placed
    /// on it whenever the thread gets to run), then reads edges on a thread of its own.
    public func gestures() -> AsyncStream<ButtonGesture> {
        let (stream, continuation) = AsyncStream.makeStream(of: ButtonGesture.self)
        guard control.claim() else {
            logger.error("the button's gestures were asked for twice, or after stop; this stream ends at once")
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [control] _ in control.requestStop() }
        do {
            let recognizer = ButtonGestureRecognizer(settings: settings, pressed: try source.level() != activeLow, at: clock.now)
            try control.launch(name: "voiced-button") { [self] in readLoop(recognizer, continuation) }
        } catch {
            logger.error("the button cannot be read", metadata: ["error": "\(error)"])
            continuation.finish()
        }
        return stream
    }

    public func stop() { control.stop() }

    private func readLoop(_ start: ButtonGestureRecognizer, _ continuation: AsyncStream<ButtonGesture>.Continuation) {
        defer { continuation.finish() }
        var recognizer = start
        if recognizer.isPressed {
            logger.notice("the button is held at start-up; it counts once released")
        }
        while !control.isStopped {
            let timeout = recognizer.nextDeadline.map { min(max($0 - clock.now, .zero), maxWait) }
            let ready = pollReadable([source.fileDescriptor, control.waker.fd], timeout: timeout)
            if ready[1] != 0 { control.waker.drain() }
            if control.isStopped { return }
            // Settings changed live (the waker ended the poll) apply to what is read from now on.
            let settings = self.settings
            if recognizer.settings != settings { recognizer.settings = settings }
            var gestures: [ButtonGesture] = []
            if ready[0] & Int16(POLLIN) != 0 {
                do {
                    let now = clock.now
                    for edge in try source.readEdges() {
                        gestures += recognizer.edge(pressed: edge.high != activeLow, at: VoiceInstant(sinceOrigin: now.sinceOrigin - edge.age))
                    }
                } catch {
                    logger.error("reading the button's events failed; the button is off until restart", metadata: ["error": "\(error)"])
                    return
                }
            } else if ready[0] & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 {
                logger.error("the button's event fd failed; the button is off until restart", metadata: ["revents": "\(ready[0])"])
                return
            }
            gestures += recognizer.advance(to: clock.now)
            for gesture in gestures {
                logger.debug("button", metadata: ["gesture": "\(gesture)"])
                continuation.yield(gesture)
            }
        }
    }
}
