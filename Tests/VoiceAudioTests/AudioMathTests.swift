import Foundation
import Testing
import VoiceCore

@Suite struct AudioMathTests {
    @Test(arguments: [-100.0, -7.5, -3.14159, -1, 0, 0.5, 1, 1.5707963, 2, 3.14159, 10, 1000.25])
    func sineAndCosineMatchTheCLibrary(x: Double) {
        #expect(abs(AudioMath.sin(x) - Foundation.sin(x)) < 1e-12)
        #expect(abs(AudioMath.cos(x) - Foundation.cos(x)) < 1e-12)
    }

    @Test(arguments: [-50.0, -6, -1, -0.001, 0, 0.3, 1, 2.302585, 20, 300])
    func expMatchesTheCLibrary(x: Double) {
        #expect(abs(AudioMath.exp(x) - Foundation.exp(x)) <= 1e-13 * max(1, Foundation.exp(x)))
    }

    @Test(arguments: [1e-9, 0.001, 0.5, 1, 2, 3.3, 32768, 1e12])
    func logarithmsMatchTheCLibrary(x: Double) {
        #expect(abs(AudioMath.log(x) - Foundation.log(x)) < 1e-12 * max(1, abs(Foundation.log(x))))
        #expect(abs(AudioMath.log10(x) - Foundation.log10(x)) < 1e-12 * max(1, abs(Foundation.log10(x))))
    }

    @Test func decibelsAndAmplitudesRoundTrip() {
        #expect(abs(AudioMath.amplitude(decibels: -6.0206) - 0.5) < 1e-4)
        #expect(abs(AudioMath.decibels(amplitude: 0.1) + 20) < 1e-9)
        #expect(AudioMath.decibels(amplitude: 0) == -.infinity)
        #expect(AudioMath.log(-1).isNaN)
    }

    @Test func rmsOfAFullScaleSquareWaveIsZeroDBFS() {
        let square: [Int16] = (0..<320).map { $0 % 2 == 0 ? 32767 : -32767 }
        #expect(abs(AudioMath.dBFS(rms: AudioMath.rms(square))) < 0.01)
        #expect(AudioMath.rms([]) == 0)
    }

    @Test func softwareVolumeIsEvenInDecibels() {
        #expect(SoftwareVolume(100).gain == 1)
        #expect(SoftwareVolume(0).gain == 0)
        #expect(SoftwareVolume(250).level == 100)
        #expect(abs(AudioMath.decibels(amplitude: SoftwareVolume(1).gain) + 50) < 1e-9)
        var samples: [Int16] = [10_000, -10_000, 32767]
        SoftwareVolume(0).apply(to: &samples)
        #expect(samples == [0, 0, 0])
    }
}
