/// The acoustic path from the speaker to the microphone, for the room harness.
public struct EchoPath: Equatable, Sendable {
    /// A reflection: a later copy of the direct sound.
    public struct Reflection: Equatable, Sendable {
        /// After the direct sound.
        public var delay: Duration
        /// Relative to the direct sound, in dB.
        public var gain: Double

        public init(delay: Duration, gain: Double) {
            self.delay = delay
            self.gain = gain
        }
    }

    /// From the sample sent to the device to its direct sound at the microphone (10–100 ms).
    public var delay: Duration
    /// The echo's level relative to what was played, in dB (the taps are scaled so that the
    /// whole impulse response, reflections included, has this gain before the low-pass).
    public var gain: Double
    public var reflections: [Reflection]
    /// The corner of a one-pole low-pass (a small speaker, a room that absorbs the highs).
    public var lowPassHz: Double

    public init(delay: Duration = .milliseconds(30), gain: Double = -10,
                reflections: [Reflection] = EchoPath.smallRoom, lowPassHz: Double = 3500) {
        self.delay = delay
        self.gain = gain
        self.reflections = reflections
        self.lowPassHz = lowPassHz
    }

    /// Three reflections of a small living room (walls 1–5 m away).
    public static let smallRoom: [Reflection] = [
        Reflection(delay: .milliseconds(4), gain: -6),
        Reflection(delay: .milliseconds(11), gain: -10),
        Reflection(delay: .milliseconds(23), gain: -15),
    ]

    /// The impulse response's length: the delay plus the last reflection.
    public var length: Duration { delay + (reflections.map(\.delay).max() ?? .zero) }
}

/// A room between playback and capture: what the microphone hears is the user's own voice, the
/// speaker's sound through an ``EchoPath``, and white background noise. Pure and deterministic
/// (the noise comes from a seeded generator); feed it frame by frame, as fast as you like.
public struct Room: Sendable {
    public let path: EchoPath
    /// The noise's RMS (Int16 scale); 0 for none.
    public let noiseLevel: Double
    private let taps: [(delay: Int, gain: Double)]
    private var history: [Double]
    private var position = 0
    private var lowPassed = 0.0
    private let alpha: Double
    private var random: UInt64

    public init(path: EchoPath, noiseLevel: Double = 0, seed: UInt64 = 1) {
        self.path = path
        self.noiseLevel = noiseLevel
        let rate = Double(PlaybackChunk.sampleRate)
        func samples(_ duration: Duration) -> Int { max(0, Int(duration.seconds * rate)) }
        var taps = [(samples(path.delay), 1.0)]
        for reflection in path.reflections {
            taps.append((samples(path.delay + reflection.delay), AudioMath.amplitude(decibels: reflection.gain)))
        }
        let energy = taps.reduce(0) { $0 + $1.1 * $1.1 }
        let scale = AudioMath.amplitude(decibels: path.gain) / energy.squareRoot()
        self.taps = taps.map { ($0.0, $0.1 * scale) }
        history = [Double](repeating: 0, count: (taps.map(\.0).max() ?? 0) + 1)
        alpha = 1 - AudioMath.exp(-2 * Double.pi * path.lowPassHz / rate)
        random = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    }

    /// What the microphone hears over one frame: `user` (the user's voice as it arrives, or
    /// silence) plus the echo of `played` plus noise, into `output` (all the same length).
    public mutating func hear(played: UnsafeBufferPointer<Int16>, user: UnsafeBufferPointer<Int16>,
                              into output: UnsafeMutableBufferPointer<Int16>) {
        let size = history.count
        let noise = noiseLevel * 3.0.squareRoot()  // a uniform variable of this half-width has this RMS
        for i in 0..<output.count {
            lowPassed += alpha * (Double(i < played.count ? played[i] : 0) - lowPassed)
            history[position] = lowPassed
            var echo = 0.0
            for tap in taps {
                var index = position - tap.delay
                if index < 0 { index += size }
                echo += history[index] * tap.gain
            }
            position = position + 1 == size ? 0 : position + 1
            let voice = Double(i < user.count ? user[i] : 0)
            output[i] = AudioMath.clampToInt16(voice + echo + (noise == 0 ? 0 : noise * uniform()))
        }
    }

    /// Arrays in, an array out.
    public mutating func hear(played: [Int16], user: [Int16]) -> [Int16] {
        var output = [Int16](repeating: 0, count: max(played.count, user.count))
        played.withUnsafeBufferPointer { p in
            user.withUnsafeBufferPointer { u in output.withUnsafeMutableBufferPointer { hear(played: p, user: u, into: $0) } }
        }
        return output
    }

    /// Uniform in [−1, 1) (xorshift64*).
    private mutating func uniform() -> Double {
        random ^= random >> 12
        random ^= random << 25
        random ^= random >> 27
        let value = random &* 0x2545_F491_4F6C_DD1D
        return Double(value >> 11) / Double(1 << 52) - 1
    }
}
