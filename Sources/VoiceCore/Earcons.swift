/// The short sounds the speaker makes by itself: 16 kHz mono, under 400 ms, each note faded in
/// and out so that it starts and stops without a click.
public enum Earcon: String, CaseIterable, Sendable, Codable {
    /// Listening: two rising notes (E5 then A5), bright and short.
    case wake
    /// Something failed: two falling notes (A4 then E♭4).
    case error
    /// No network: three low, equal beeps (E4).
    case offline
    /// The answer is on its way (COMMITTED and still silent): one soft, short note (A4).
    case wait
    /// Listening ended with nothing heard: the wake's two notes falling (A5 then E5), softer.
    case listenEnded = "listen_ended"

    /// One tone of an earcon.
    public struct Note: Equatable, Sendable {
        public var frequency: Double
        public var duration: Duration
        /// Silence after the note.
        public var gap: Duration
        /// Exponential decay per second (0: flat), which makes a tone sound struck rather than held.
        public var decay: Double
    }

    /// The notes, in order.
    public var notes: [Note] {
        switch self {
        case .wake:
            return [Note(frequency: 659.26, duration: .milliseconds(90), gap: .milliseconds(20), decay: 6),
                    Note(frequency: 880, duration: .milliseconds(150), gap: .zero, decay: 8)]
        case .error:
            return [Note(frequency: 440, duration: .milliseconds(150), gap: .milliseconds(30), decay: 2),
                    Note(frequency: 311.13, duration: .milliseconds(200), gap: .zero, decay: 2)]
        case .wait:
            return [Note(frequency: 440, duration: .milliseconds(120), gap: .zero, decay: 12)]
        case .listenEnded:
            return [Note(frequency: 880, duration: .milliseconds(90), gap: .milliseconds(20), decay: 8),
                    Note(frequency: 659.26, duration: .milliseconds(150), gap: .zero, decay: 10)]
        case .offline:
            let beep = Note(frequency: 329.63, duration: .milliseconds(70), gap: .milliseconds(50), decay: 0)
            var last = beep
            last.gap = .zero
            return [beep, beep, last]
        }
    }

    /// How long the earcon lasts.
    public var duration: Duration { notes.reduce(Duration.zero) { $0 + $1.duration + $1.gap } }

    /// The fade at each end of every note.
    public static let fade: Duration = .milliseconds(8)

    /// The earcon's samples at 16 kHz, peaking near `amplitude` × full scale (0...1).
    public func samples(amplitude: Double = 0.3) -> [Int16] {
        let rate = Double(PlaybackChunk.sampleRate)
        let peak = max(0, min(1, amplitude)) * 32767 / 1.3  // the harmonic adds up to 30%
        let fadeCount = Int(Self.fade.seconds * rate)
        var out: [Int16] = []
        for note in notes {
            let count = Int(note.duration.seconds * rate)
            let fade = min(fadeCount, count / 2)
            for i in 0..<count {
                let t = Double(i) / rate
                var envelope = note.decay > 0 ? AudioMath.exp(-note.decay * t) : 1
                if i < fade {
                    envelope *= 0.5 - 0.5 * AudioMath.cos(Double.pi * Double(i) / Double(fade))
                } else if i >= count - fade {
                    envelope *= 0.5 - 0.5 * AudioMath.cos(Double.pi * Double(count - 1 - i) / Double(fade))
                }
                let phase = 2 * Double.pi * note.frequency * t
                let tone = AudioMath.sin(phase) + 0.3 * AudioMath.sin(2 * phase)
                out.append(AudioMath.clampToInt16(peak * envelope * tone))
            }
            out += [Int16](repeating: 0, count: Int(note.gap.seconds * rate))
        }
        return out
    }
}
