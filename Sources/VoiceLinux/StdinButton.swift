import Glibc
import Logging
import VoiceCore

/// The button's stand-in on a machine without GPIO: lines typed on standard input (or read from
/// any fd). `b` or an empty line (Enter) is a short press, `l` a long press.
///
/// Chosen by the config, never as a silent fallback. When the input ends (stdin is /dev/null
/// under systemd, or a closed pipe) the stream finishes and a notice says the console button is off.
public final class StdinButton: ButtonEvents, @unchecked Sendable {
    // @unchecked: `fd` is an Int32 read only by the reading thread; the rest is Sendable.

    private let fd: Int32
    private let logger: Logger
    private let control: ReaderThreadControl

    /// Reads `fileDescriptor` (standard input by default). The fd is not closed by the button.
    public init(fileDescriptor: Int32 = STDIN_FILENO, logger: Logger) throws(WakerError) {
        fd = fileDescriptor
        self.logger = logger
        control = try ReaderThreadControl()
    }

    deinit { stop() }

    /// The gesture a typed line stands for: `b`, `short` or an empty line is a short press, `l` or
    /// `long` a long press (case and surrounding spaces ignored); anything else is nil.
    public static func gesture(forLine line: String) -> ButtonGesture? {
        switch line.trimmingUnicodeWhiteSpace().lowercased() {
        case "", "b", "short": .shortPress
        case "l", "long": .longPress
        default: nil
        }
    }

    public func gestures() -> AsyncStream<ButtonGesture> {
        let (stream, continuation) = AsyncStream.makeStream(of: ButtonGesture.self)
        control.start(name: "voiced-stdin", continuation: continuation, logger: logger) { [self] in
            readLoop(continuation)
        }
        return stream
    }

    public func stop() { control.stop() }

    private func readLoop(_ continuation: AsyncStream<ButtonGesture>.Continuation) {
        defer { continuation.finish() }
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 256)
        while !control.isStopped {
            let ready = pollReadable([fd, control.waker.fd], timeout: nil)
            if ready[1] != 0 { control.waker.drain() }
            if control.isStopped { return }
            guard ready[0] != 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                let code = errno
                if code == EINTR || code == EAGAIN { continue }
                logger.error("reading the console button failed; it is off", metadata: ["error": "\(errnoDescription(code))"])
                return
            }
            if count == 0 {
                logger.notice("the console button's input ended; it is off")
                return
            }
            pending += buffer[0..<count]
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                if let gesture = Self.gesture(forLine: line) {
                    logger.debug("button", metadata: ["gesture": "\(gesture)", "source": "stdin"])
                    continuation.yield(gesture)
                } else {
                    logger.warning("console button: type b (or just Enter) for a short press, l for a long press", metadata: ["line": "\(line)"])
                }
            }
        }
    }
}
