import CGPIOD
import Glibc
import VoiceCore

// libgpiod v1 (1.6), one class per C object: a chip handle, and a requested line that keeps its
// chip alive (libgpiod's line objects belong to the chip and die with it). libgpiod returns -1 or
// NULL and sets errno; `GPIOError` carries the call, what it was about, and errno.

/// A libgpiod call failed.
public struct GPIOError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, from errno.
    public enum Kind: Hashable, Sendable {
        /// ENOENT / ENODEV: no such chip, or no such line on it.
        case notFound
        /// EACCES / EPERM: the user may not open the chip.
        case permissionDenied
        /// EBUSY: another program (or another part of voiced) holds the line.
        case busy
        /// EINVAL: an offset beyond the chip's lines, or a flag the kernel does not support.
        case invalidArgument
        /// Anything else.
        case other
    }

    /// The libgpiod function that failed, e.g. `gpiod_line_request_output`.
    public let call: String
    /// What it was called on, e.g. `gpiochip0 line 17`.
    public let subject: String
    /// errno after the call.
    public let code: Int32

    /// The error of `call` on `subject`, with errno `code`.
    public init(call: String, subject: String, code: Int32) {
        self.call = call
        self.subject = subject
        self.code = code
    }

    /// What went wrong, from errno.
    public var kind: Kind {
        switch code {
        case ENOENT, ENODEV: .notFound
        case EACCES, EPERM: .permissionDenied
        case EBUSY: .busy
        case EINVAL: .invalidArgument
        default: .other
        }
    }

    public var description: String {
        let hint: String
        switch kind {
        case .notFound:
            hint = "check the chip name (`gpiodetect` lists the chips, `gpioinfo` their lines) or set the console indicator and button in the config on a machine without GPIO"
        case .permissionDenied:
            hint = "the user needs the gpio group (udev/99-voiced.rules) and, under systemd, DeviceAllow=char-gpiochip rw"
        case .busy:
            hint = "another program holds the line (`gpioinfo` shows its consumer); stop it or pick another line"
        case .invalidArgument:
            hint = "the offset may be beyond the chip's lines (`gpioinfo`), or the kernel does not support the requested bias"
        case .other:
            hint = "see the kernel log (`journalctl -k`)"
        }
        return "\(call)(\(subject)) failed: \(errnoDescription(code)); \(hint)"
    }
}

/// The pull resistor on an input line.
public enum GPIOBias: String, Hashable, Sendable, Codable {
    /// Leave the line as it is configured (device tree or firmware).
    case asIs = "as-is"
    /// No pull resistor.
    case disabled
    /// Pull up: for a button wired between the pin and ground (pressed reads low).
    case pullUp = "pull-up"
    /// Pull down: for a button wired between the pin and 3V3 (pressed reads high).
    case pullDown = "pull-down"

    var requestFlags: Int32 {
        switch self {
        case .asIs: 0
        case .disabled: Int32(GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE)
        case .pullUp: Int32(GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP)
        case .pullDown: Int32(GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN)
        }
    }
}

/// An open GPIO chip (`/dev/gpiochipN`); closed when released.
///
/// Not thread-safe: one owner (the LED driver, the button reader) opens a chip of its own.
public final class GPIOChip {
    let pointer: OpaquePointer
    /// The kernel's name of the chip, e.g. `gpiochip0`.
    public let name: String

    /// Opens a chip by name (`gpiochip0`), path (`/dev/gpiochip0`), number (`0`) or label
    /// (`pinctrl-bcm2835`), as `gpiod_chip_open_lookup` understands them.
    public init(_ chip: String) throws(GPIOError) {
        errno = 0
        guard let pointer = gpiod_chip_open_lookup(chip) else {
            // open_lookup leaves errno 0 when nothing matched the description at all.
            throw GPIOError(call: "gpiod_chip_open_lookup", subject: chip, code: errno == 0 ? ENOENT : errno)
        }
        self.pointer = pointer
        name = gpiod_chip_name(pointer).map { String(cString: $0) } ?? chip
    }

    deinit { gpiod_chip_close(pointer) }

    /// The chip's label, e.g. `pinctrl-bcm2711`.
    public var label: String { gpiod_chip_label(pointer).map { String(cString: $0) } ?? "" }

    /// How many lines the chip has.
    public var lineCount: Int { Int(gpiod_chip_num_lines(pointer)) }

    func line(_ offset: UInt32) throws(GPIOError) -> OpaquePointer {
        guard let line = gpiod_chip_get_line(pointer, offset) else {
            throw GPIOError(call: "gpiod_chip_get_line", subject: "\(name) line \(offset)", code: errno)
        }
        return line
    }
}

/// A line requested as an output; released (and left to the kernel's default) on deinit.
public final class GPIOOutputLine {
    private let chip: GPIOChip  // keeps the line object alive
    private let line: OpaquePointer
    /// The line's offset on its chip.
    public let offset: UInt32

    /// Requests line `offset` of `chip` as an output driven at `initialLevel` (true = high) from
    /// the start, so an active-low LED does not flash while voiced starts.
    public init(chip: GPIOChip, offset: UInt32, consumer: String, initialLevel: Bool) throws(GPIOError) {
        self.chip = chip
        self.offset = offset
        // Assigned only once requested: deinit releases what init took, and nothing else.
        let line = try chip.line(offset)
        guard gpiod_line_request_output(line, consumer, initialLevel ? 1 : 0) == 0 else {
            throw GPIOError(call: "gpiod_line_request_output", subject: "\(chip.name) line \(offset)", code: errno)
        }
        self.line = line
    }

    deinit { gpiod_line_release(line) }

    /// Drives the line high (true) or low.
    public func set(high: Bool) throws(GPIOError) {
        guard gpiod_line_set_value(line, high ? 1 : 0) == 0 else {
            throw GPIOError(call: "gpiod_line_set_value", subject: "\(chip.name) line \(offset)", code: errno)
        }
    }
}

/// A line requested as an input with rising- and falling-edge events; released on deinit.
public final class GPIOEventLine {
    private let chip: GPIOChip
    private let line: OpaquePointer
    /// The line's offset on its chip.
    public let offset: UInt32
    /// The fd that polls readable when events are queued (owned by the line: do not close it).
    public let fileDescriptor: Int32

    /// Requests line `offset` of `chip` for both edges' events, with `bias`.
    public init(chip: GPIOChip, offset: UInt32, consumer: String, bias: GPIOBias) throws(GPIOError) {
        self.chip = chip
        self.offset = offset
        let line = try chip.line(offset)
        let subject = "\(chip.name) line \(offset)"
        guard gpiod_line_request_both_edges_events_flags(line, consumer, bias.requestFlags) == 0 else {
            throw GPIOError(call: "gpiod_line_request_both_edges_events_flags", subject: subject, code: errno)
        }
        let fd = gpiod_line_event_get_fd(line)
        guard fd >= 0 else {
            let code = errno
            gpiod_line_release(line)
            throw GPIOError(call: "gpiod_line_event_get_fd", subject: subject, code: code)
        }
        self.line = line
        fileDescriptor = fd
    }

    deinit { gpiod_line_release(line) }

    /// The line's level now (true = high).
    public func level() throws(GPIOError) -> Bool {
        let value = gpiod_line_get_value(line)
        guard value >= 0 else {
            throw GPIOError(call: "gpiod_line_get_value", subject: "\(chip.name) line \(offset)", code: errno)
        }
        return value == 1
    }

    /// Reads the queued events (up to 16 at a time). Blocks when none is queued: call it when
    /// ``fileDescriptor`` polls readable.
    public func readEvents() throws(GPIOError) -> [GPIOEdge] {
        var events = [gpiod_line_event](repeating: gpiod_line_event(), count: 16)
        let count = events.withUnsafeMutableBufferPointer { buffer in
            gpiod_line_event_read_fd_multiple(fileDescriptor, buffer.baseAddress, UInt32(buffer.count))
        }
        guard count >= 0 else {
            throw GPIOError(call: "gpiod_line_event_read_fd_multiple", subject: "\(chip.name) line \(offset)", code: errno)
        }
        let reference = KernelEventClock.now()
        return events.prefix(Int(count)).map { event in
            GPIOEdge(high: event.event_type == GPIOD_LINE_EVENT_RISING_EDGE, age: reference.age(of: event.ts))
        }
    }
}

/// A change of an input line's level.
public struct GPIOEdge: Hashable, Sendable {
    /// The level after the edge (true = high: a rising edge).
    public var high: Bool
    /// How long before it was read the kernel stamped the edge, so that bounces read in one batch
    /// keep their spacing.
    public var age: Duration

    /// An edge to `high` (true) or low, stamped `age` before it was read.
    public init(high: Bool, age: Duration = .zero) {
        self.high = high
        self.age = age
    }
}

/// The kernel stamps v1 line events with CLOCK_MONOTONIC (since Linux 5.7) or CLOCK_REALTIME
/// (before); the age is measured against whichever clock the stamp is close to.
struct KernelEventClock {
    let monotonic: timespec
    let realtime: timespec

    static func now() -> KernelEventClock {
        var monotonic = timespec()
        var realtime = timespec()
        clock_gettime(CLOCK_MONOTONIC, &monotonic)
        clock_gettime(CLOCK_REALTIME, &realtime)
        return KernelEventClock(monotonic: monotonic, realtime: realtime)
    }

    /// The stamp's age, between zero and one second (an implausible age counts as zero: the edge
    /// is then placed at the moment it was read).
    func age(of stamp: timespec) -> Duration {
        let limit = Duration.seconds(1)
        for reference in [monotonic, realtime] {
            let age = Self.duration(reference) - Self.duration(stamp)
            if age >= .zero && age <= limit { return age }
        }
        return .zero
    }

    private static func duration(_ time: timespec) -> Duration {
        .seconds(Int64(time.tv_sec)) + .nanoseconds(Int64(time.tv_nsec))
    }
}
