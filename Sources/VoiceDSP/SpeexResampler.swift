import CSpeexDSP

/// Why speexdsp's resampler refused: the call and speexdsp's own explanation.
public enum ResamplerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A rate of zero or below, or above what speexdsp takes.
    case invalidRate(input: Int, output: Int)
    /// A speexdsp return code other than `RESAMPLER_ERR_SUCCESS`.
    case speex(call: String, code: Int32, message: String)

    public var description: String {
        switch self {
        case .invalidRate(let input, let output):
            "cannot resample \(input) Hz to \(output) Hz: rates must be 1 to \(SpeexResampler.maximumRate) Hz"
        case .speex(let call, let code, let message):
            "speexdsp: \(call) failed with code \(code): \(message)"
        }
    }
}

/// Turns every speexdsp resampler return code into a typed error; the one place that reads them.
@inline(__always)
func speexCheck(_ code: Int32, _ call: @autoclosure () -> String) throws(ResamplerError) {
    guard code != Int32(RESAMPLER_ERR_SUCCESS) else { return }
    throw .speex(call: call(), code: code, message: String(cString: speex_resampler_strerror(code)))
}

/// A streaming sample-rate converter for 16-bit mono PCM: speexdsp's resampler (windowed-sinc,
/// with a low-pass below the lower rate's Nyquist frequency, so downsampling does not alias).
///
/// Owns its `SpeexResamplerState`: `init` creates it, `deinit` destroys it. Feed chunks of any
/// size; the output is continuous across chunks and starts without the filter's delay.
/// ``flush()`` returns what the last input still owes. Not thread-safe: use it from one thread
/// at a time.
public final class SpeexResampler {
    /// speexdsp's quality 0…10; 4 is its default (what it recommends for speech and music).
    public static let defaultQuality: Int32 = 4
    /// The highest rate accepted (far above any audio this speaker handles).
    public static let maximumRate = 768_000

    public let inputRate: Int
    public let outputRate: Int
    /// nil when the rates are equal: samples pass through untouched.
    private let state: OpaquePointer?

    /// Throws ``ResamplerError`` for a rate out of range or when speexdsp cannot set up.
    public init(from inputRate: Int, to outputRate: Int, quality: Int32 = SpeexResampler.defaultQuality) throws(ResamplerError) {
        guard (1...Self.maximumRate).contains(inputRate), (1...Self.maximumRate).contains(outputRate) else {
            throw .invalidRate(input: inputRate, output: outputRate)
        }
        self.inputRate = inputRate
        self.outputRate = outputRate
        guard inputRate != outputRate else {
            state = nil
            return
        }
        var code: Int32 = 0
        let made = speex_resampler_init(1, UInt32(inputRate), UInt32(outputRate), quality, &code)
        try speexCheck(code, "speex_resampler_init")
        guard let made else { throw .speex(call: "speex_resampler_init", code: -1, message: "returned no state") }
        state = made
        try speexCheck(speex_resampler_skip_zeros(made), "speex_resampler_skip_zeros")
    }

    deinit {
        if let state { speex_resampler_destroy(state) }
    }

    /// Converts the next chunk.
    public func process(_ input: some Collection<Int16>) throws(ResamplerError) -> [Int16] {
        guard let state else { return Array(input) }
        let samples = Array(input)
        return try convert(samples, state)
    }

    /// The output still owed for the input so far (the filter's tail); the converter then starts afresh.
    public func flush() throws(ResamplerError) -> [Int16] {
        guard let state else { return [] }
        let tail = try convert([Int16](repeating: 0, count: Int(speex_resampler_get_input_latency(state))), state)
        try reset()
        return tail
    }

    /// Forgets the input so far (a new stream starts).
    public func reset() throws(ResamplerError) {
        guard let state else { return }
        try speexCheck(speex_resampler_reset_mem(state), "speex_resampler_reset_mem")
        try speexCheck(speex_resampler_skip_zeros(state), "speex_resampler_skip_zeros")
    }

    /// A whole clip from `inputRate` to `outputRate`, tail included.
    public static func convert(_ samples: [Int16], from inputRate: Int, to outputRate: Int) throws(ResamplerError) -> [Int16] {
        let resampler = try SpeexResampler(from: inputRate, to: outputRate)
        return try resampler.process(samples) + resampler.flush()
    }

    private func convert(_ input: [Int16], _ state: OpaquePointer) throws(ResamplerError) -> [Int16] {
        guard !input.isEmpty else { return [] }
        var output = [Int16](repeating: 0, count: input.count * outputRate / inputRate + 16)
        var consumed = 0
        var produced = 0
        while consumed < input.count {
            if produced == output.count { output += [Int16](repeating: 0, count: output.count / 2 + 16) }
            var inLength = UInt32(input.count - consumed)
            var outLength = UInt32(output.count - produced)
            let code = input.withUnsafeBufferPointer { inBuffer in
                output.withUnsafeMutableBufferPointer { outBuffer in
                    speex_resampler_process_int(state, 0, inBuffer.baseAddress! + consumed, &inLength,
                                                outBuffer.baseAddress! + produced, &outLength)
                }
            }
            try speexCheck(code, "speex_resampler_process_int")
            guard inLength > 0 || outLength > 0 else { break }  // no progress: speexdsp wants nothing more
            consumed += Int(inLength)
            produced += Int(outLength)
        }
        output.removeLast(output.count - produced)
        return output
    }
}
