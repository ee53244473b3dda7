import Glibc
import Synchronization
import VoiceCore

/// The LEDs' stand-in on a machine without GPIO: one readable line per state change, naming the
/// state, the colour and the pattern, e.g. `LED: listening · solid blue`.
///
/// Chosen by the config (never as a silent fallback for a GPIO chip that failed to open).
/// Thread-safe; ``show(_:)`` only formats a line and hands it to `write`.
public final class ConsoleIndicator: Indicator, Sendable {
    private let patterns: LEDPatterns
    private let writeLine: @Sendable (String) -> Void
    private let last = Mutex<IndicatorState?>(nil)

    /// - Parameters:
    ///   - patterns: the patterns the LEDs would show (the line names them).
    ///   - write: where each line goes (without its newline); standard output by default.
    public init(patterns: LEDPatterns = .standard, write: @escaping @Sendable (String) -> Void = ConsoleIndicator.standardOutput) {
        self.patterns = patterns
        writeLine = write
    }

    /// Writes the line for `state`, unless it is the state already shown.
    public func show(_ state: IndicatorState) {
        let changed = last.withLock { last -> Bool in
            defer { last = state }
            return last != state
        }
        if changed { writeLine(Self.line(for: state, pattern: patterns[state])) }
    }

    /// The line shown for `state`.
    public static func line(for state: IndicatorState, pattern: LEDPattern) -> String {
        "LED: \(state.rawValue) · \(pattern)"
    }

    /// Writes `line` and a newline to standard output in one write(2), so lines from several
    /// threads never interleave.
    public static let standardOutput: @Sendable (String) -> Void = { line in
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
    }
}
