import VoiceCore

/// Deterministic test signals at 16 kHz.
enum Signals {
    /// A small linear congruential generator, so every run hears the same "voice".
    struct Noise {
        var state: UInt64
        init(seed: UInt64) { state = seed &* 6_364_136_223_846_793_005 &+ 1 }
        mutating func next() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(Int64(bitPattern: state >> 11) - (1 << 52)) / Double(1 << 52)
        }
    }

    /// Speech-like audio: noise through a crude vocal resonance, in syllables (4 per second)
    /// with pauses, peaking at `amplitude` (Int16 scale).
    static func speech(seconds: Double, seed: UInt64, amplitude: Double = 8000) -> [Int16] {
        var noise = Noise(seed: seed)
        let count = Int(seconds * 16_000)
        var out = [Int16](repeating: 0, count: count)
        var low = 0.0
        var band = 0.0
        for i in 0..<count {
            let t = Double(i) / 16_000
            let syllable = max(0, AudioMath.sin(2 * Double.pi * 4 * t + Double(seed % 7)))
            let x = noise.next()
            low += 0.3 * (x - low)       // low-pass
            band += 0.5 * (low - band)   // and again, for a voice-like tilt
            let voiced = AudioMath.sin(2 * Double.pi * (140 + Double(seed % 5) * 20) * t)
            out[i] = AudioMath.clampToInt16(amplitude * syllable * (0.6 * band * 3 + 0.4 * voiced))
        }
        return out
    }

    /// A sine tone.
    static func tone(_ frequency: Double, seconds: Double, amplitude: Double = 8000) -> [Int16] {
        (0..<Int(seconds * 16_000)).map { AudioMath.clampToInt16(amplitude * AudioMath.sin(2 * Double.pi * frequency * Double($0) / 16_000)) }
    }

    /// `signal` delayed by `delay` samples and scaled by `gain` (an echo path), same length.
    static func echo(of signal: [Int16], delay: Int, gain: Double, reflection: (delay: Int, gain: Double)? = nil) -> [Int16] {
        (0..<signal.count).map { i in
            var value = i >= delay ? Double(signal[i - delay]) * gain : 0
            if let reflection, i >= reflection.delay { value += Double(signal[i - reflection.delay]) * reflection.gain }
            return AudioMath.clampToInt16(value)
        }
    }

    /// The sum of two signals (the longer one's length).
    static func mix(_ a: [Int16], _ b: [Int16]) -> [Int16] {
        (0..<max(a.count, b.count)).map { i in
            AudioMath.clampToInt16(Double(i < a.count ? a[i] : 0) + Double(i < b.count ? b[i] : 0))
        }
    }

    /// `signal` cut into 20 ms frames.
    static func frames(_ signal: [Int16], size: Int = 320) -> [[Int16]] {
        stride(from: 0, to: signal.count - size + 1, by: size).map { Array(signal[$0..<$0 + size]) }
    }
}
