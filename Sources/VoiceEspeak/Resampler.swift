#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A streaming sample-rate converter for 16-bit mono PCM: windowed-sinc interpolation with a
/// low-pass below the lower rate's Nyquist frequency, so that downsampling does not alias.
///
/// Feed it chunks of any size; the output is continuous across chunks. ``flush()`` returns what
/// the last input still owes.
public struct Resampler: Sendable {
    public let inputRate: Int
    public let outputRate: Int
    /// Input samples per output sample.
    private let step: Double
    /// The low-pass cutoff as a fraction of the input Nyquist frequency.
    private let cutoff: Double
    private let halfWidth = 12
    /// Pending input, starting `halfWidth` samples of history before what is still needed.
    private var buffer: [Float]
    /// Where the next output sample falls, in `buffer` indices.
    private var position: Double

    public init(from inputRate: Int, to outputRate: Int) {
        self.inputRate = max(1, inputRate)
        self.outputRate = max(1, outputRate)
        step = Double(self.inputRate) / Double(self.outputRate)
        cutoff = min(1, Double(self.outputRate) / Double(self.inputRate)) * 0.92
        buffer = Array(repeating: 0, count: halfWidth)
        position = Double(halfWidth)
    }

    /// Converts the next chunk.
    public mutating func process(_ input: some Collection<Int16>) -> [Int16] {
        if inputRate == outputRate { return Array(input) }
        buffer.reserveCapacity(buffer.count + input.count)
        for sample in input { buffer.append(Float(sample)) }
        return drain()
    }

    /// The output still owed for the input so far (the filter's tail); the converter then starts afresh.
    public mutating func flush() -> [Int16] {
        if inputRate == outputRate { return [] }
        buffer += Array(repeating: 0, count: halfWidth)
        let tail = drain()
        buffer = Array(repeating: 0, count: halfWidth)
        position = Double(halfWidth)
        return tail
    }

    private mutating func drain() -> [Int16] {
        var output: [Int16] = []
        output.reserveCapacity(Int(Double(buffer.count) / step) + 1)
        while Int(position) + halfWidth < buffer.count {
            let center = Int(position)
            let fraction = position - Double(center)
            var sum = 0.0
            for k in (-halfWidth + 1)...halfWidth {
                let distance = Double(k) - fraction
                sum += Double(buffer[center + k]) * kernel(distance)
            }
            output.append(Int16(max(-32768, min(32767, sum.rounded()))))
            position += step
        }
        let consumed = max(0, Int(position) - halfWidth)
        if consumed > 0 {
            buffer.removeFirst(min(consumed, buffer.count))
            position -= Double(consumed)
        }
        return output
    }

    /// The low-pass interpolation kernel at `distance` input samples: a Hann-windowed sinc.
    private func kernel(_ distance: Double) -> Double {
        let width = Double(halfWidth)
        guard abs(distance) < width else { return 0 }
        let x = cutoff * distance
        let sinc = x == 0 ? 1 : sin(Double.pi * x) / (Double.pi * x)
        let window = 0.5 + 0.5 * cos(Double.pi * distance / width)
        return cutoff * sinc * window
    }
}
