/// The playback volume applied in software, 0 (mute) to 100 (unchanged).
///
/// Steps are even in decibels (a volume knob that sounds even): 100 is 0 dB, 1 is
/// `-range` dB, 0 is silence.
public struct SoftwareVolume: Equatable, Sendable {
    /// The attenuation at volume 1, in dB.
    public static let range: Double = 50

    /// The volume, clamped to 0...100.
    public let level: Int
    /// The amplitude factor for this volume.
    public let gain: Double

    public init(_ level: Int) {
        self.level = max(0, min(100, level))
        gain = self.level == 0 ? 0 : AudioMath.amplitude(decibels: -Self.range * Double(100 - self.level) / 99)
    }

    /// Scales `samples` in place (nothing to do at 100).
    public func apply(to samples: UnsafeMutableBufferPointer<Int16>) {
        guard level < 100 else { return }
        for i in samples.indices { samples[i] = AudioMath.clampToInt16(Double(samples[i]) * gain) }
    }

    /// Scales `samples` in place.
    public func apply(to samples: inout [Int16]) { samples.withUnsafeMutableBufferPointer { apply(to: $0) } }
}
