#if canImport(Glibc)
import Glibc

/// Full Foundation's `String(format:)` and `FileHandle.write` for the programs that link only
/// FoundationEssentials (no ICU): C's own formatting, and unbuffered writes to a descriptor.
public enum Printf {
    /// `String(format: format, value)` for a format with one floating-point conversion (`%8.3f`,
    /// `%.0f%%`, `%.3g`), through C's `vsnprintf` as Foundation does: the C locale, so a `.`
    /// before the decimals.
    public static func format(_ format: String, _ value: Double) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        let length = withVaList([value]) { vsnprintf(&buffer, buffer.count, format, $0) }
        guard length >= 0 else { return "" }
        if Int(length) >= buffer.count {
            buffer = [CChar](repeating: 0, count: Int(length) + 1)
            _ = withVaList([value]) { vsnprintf(&buffer, buffer.count, format, $0) }
        }
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Writes `text` to `descriptor` at once, unbuffered (as `FileHandle.write` does); gives up
    /// quietly when the descriptor is closed or full of errors.
    public static func write(_ text: String, to descriptor: Int32) {
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let result = bytes[written...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if result < 0, errno == EINTR { continue }
            guard result > 0 else { return }
            written += result
        }
    }
}
#endif
