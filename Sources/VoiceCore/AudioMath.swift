/// The few transcendental functions the audio code needs, in plain Swift.
///
/// VoiceCore imports nothing but the standard library, which has no `sin`, `exp` or `log`;
/// these are accurate to about 1e-12 over the ranges audio uses (tones, decibels), which is far
/// beyond what 16-bit samples can show.
public enum AudioMath {
    /// The sine of `x` (radians).
    public static func sin(_ x: Double) -> Double {
        guard x.isFinite else { return .nan }
        // Reduce to [-pi, pi], then to [-pi/2, pi/2] using sin(pi - x) = sin(x).
        let twoPi = 2 * Double.pi
        var r = x - twoPi * (x / twoPi).rounded()
        if r > .pi / 2 { r = .pi - r } else if r < -.pi / 2 { r = -.pi - r }
        let r2 = r * r
        // Taylor series to x^17: the error bound at pi/2 is below 1e-15.
        var term = r
        var sum = r
        var n = 1.0
        for _ in 0..<8 {
            term *= -r2 / ((n + 1) * (n + 2))
            sum += term
            n += 2
        }
        return sum
    }

    /// The cosine of `x` (radians).
    public static func cos(_ x: Double) -> Double { sin(x + .pi / 2) }

    /// e raised to `x`.
    public static func exp(_ x: Double) -> Double {
        if x.isNaN { return .nan }
        if x > 709 { return .infinity }
        if x < -745 { return 0 }
        // x = k ln2 + r with |r| <= ln2 / 2; exp(x) = 2^k exp(r).
        let ln2 = 0.693_147_180_559_945_309_417_232_121_458
        let k = (x / ln2).rounded()
        let r = x - k * ln2
        var term = 1.0
        var sum = 1.0
        for i in 1...20 {
            term *= r / Double(i)
            sum += term
        }
        return sum * power2(Int(k))
    }

    /// The natural logarithm of `x` (`-infinity` at 0, NaN below).
    public static func log(_ x: Double) -> Double {
        if x.isNaN || x < 0 { return .nan }
        if x == 0 { return -.infinity }
        if x.isInfinite { return .infinity }
        // x = m 2^e with m in [1, 2); ln m = 2 atanh((m - 1) / (m + 1)), which converges fast.
        let e = Double(x.exponent)
        let m = x.significand
        let t = (m - 1) / (m + 1)
        let t2 = t * t
        var term = t
        var sum = 0.0
        var k = 1.0
        for _ in 0..<30 {
            sum += term / k
            term *= t2
            k += 2
        }
        return 2 * sum + e * 0.693_147_180_559_945_309_417_232_121_458
    }

    /// The base-10 logarithm of `x`.
    public static func log10(_ x: Double) -> Double { log(x) / 2.302_585_092_994_045_684_017_991_454_684 }

    /// 10 raised to `x`.
    public static func pow10(_ x: Double) -> Double { exp(x * 2.302_585_092_994_045_684_017_991_454_684) }

    /// The amplitude ratio of `decibels` (20 log10 convention): -6 dB is about 0.5.
    public static func amplitude(decibels: Double) -> Double { pow10(decibels / 20) }

    /// The decibels of an amplitude ratio (20 log10 convention), `-infinity` for 0.
    public static func decibels(amplitude: Double) -> Double { 20 * log10(amplitude) }

    /// The root mean square of `samples`, on the Int16 scale (0 for no samples). Inlinable, so
    /// that each caller gets a copy specialised for its collection (a frame, a slice of one).
    @inlinable
    public static func rms(_ samples: some Collection<Int16>) -> Double {
        guard !samples.isEmpty else { return 0 }
        var sum = 0.0
        for sample in samples {
            let value = Double(sample)
            sum += value * value
        }
        return (sum / Double(samples.count)).squareRoot()
    }

    /// The level of `rms` in dB relative to a full-scale square wave (32768): silence is `-infinity`.
    public static func dBFS(rms: Double) -> Double { decibels(amplitude: rms / 32768) }

    /// `value` rounded and clamped to the Int16 range.
    @inline(__always)
    public static func clampToInt16(_ value: Double) -> Int16 {
        if value.isNaN { return 0 }  // a float WAV can hold NaN samples; Int16(NaN) traps
        if value >= 32767 { return .max }
        if value <= -32768 { return .min }
        return Int16(value.rounded())
    }

    private static func power2(_ k: Int) -> Double {
        if k > 1023 { return .infinity }
        if k < -1074 { return 0 }
        if k < -1022 {  // subnormal: split so that each factor is representable
            return Double(sign: .plus, exponent: k + 60, significand: 1) * Double(sign: .plus, exponent: -60, significand: 1)
        }
        return Double(sign: .plus, exponent: k, significand: 1)
    }
}
