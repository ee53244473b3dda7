import Testing
import VoiceCore

@Suite struct RoomTests {
    static func impulse(_ count: Int) -> [Int16] { [10_000] + [Int16](repeating: 0, count: count - 1) }

    @Test func theEchoArrivesAfterThePathsDelay() {
        var room = Room(path: EchoPath(delay: .milliseconds(50), gain: 0, reflections: [], lowPassHz: 7900))
        let heard = room.hear(played: Self.impulse(1600), user: [])
        let first = heard.firstIndex { abs(Int($0)) > 100 }
        #expect(first == 800, "the echo began at sample \(String(describing: first)), expected 800 (50 ms)")
    }

    @Test(arguments: [-30.0, -20.0, -10.0, 0.0])
    func theEchoHasThePathsGain(gain: Double) {
        var room = Room(path: EchoPath(delay: .milliseconds(20), gain: gain, lowPassHz: 7900))
        // A low tone passes the low-pass almost whole.
        let tone = (0..<32_000).map { Int16(8000 * AudioMath.sin(2 * Double.pi * 200 * Double($0) / 16_000)) }
        let heard = room.hear(played: tone, user: [])
        let measured = AudioMath.decibels(amplitude: AudioMath.rms(Array(heard[8000...])) / AudioMath.rms(Array(tone[8000...])))
        #expect(abs(measured - gain) < 3, "echo at \(measured) dB, expected \(gain) dB")
    }

    @Test func theUserAndTheNoiseAreAdded() {
        var room = Room(path: EchoPath(), noiseLevel: 100, seed: 3)
        let heard = room.hear(played: [Int16](repeating: 0, count: 16_000), user: [Int16](repeating: 1000, count: 16_000))
        let noise = heard.map { Double($0) - 1000 }
        let rms = (noise.reduce(0) { $0 + $1 * $1 } / Double(noise.count)).squareRoot()
        #expect(abs(rms - 100) < 5, "noise RMS \(rms), expected 100")
    }

    @Test func theSameSeedHearsTheSame() {
        var a = Room(path: EchoPath(), noiseLevel: 300, seed: 9)
        var b = Room(path: EchoPath(), noiseLevel: 300, seed: 9)
        let played = (0..<3200).map { Int16($0 % 2000) }
        #expect(a.hear(played: played, user: []) == b.hear(played: played, user: []))
    }
}
