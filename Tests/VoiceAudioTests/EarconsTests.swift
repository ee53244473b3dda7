import Testing
import VoiceCore

@Suite struct EarconsTests {
    @Test(arguments: Earcon.allCases)
    func earconsAreShortAndFadeInAndOut(earcon: Earcon) {
        let samples = earcon.samples()
        #expect(earcon.duration <= .milliseconds(400))
        #expect(samples.count == Int(earcon.duration.seconds * 16_000))
        // Starts and ends at (near) zero: no click.
        #expect(samples.prefix(4).allSatisfy { abs(Int($0)) < 200 })
        #expect(samples.suffix(4).allSatisfy { abs(Int($0)) < 200 })
        // Audible, and below full scale.
        let peak = samples.map { abs(Int($0)) }.max() ?? 0
        #expect(peak > 3000 && peak <= Int(0.3 * 32767) + 1)
    }

    @Test func earconsSoundDifferent() {
        let all = Earcon.allCases.map { $0.samples() }
        #expect(Set(all.map(\.count)).count == all.count || all[0] != all[1])
        #expect(Earcon.wake.notes.first?.frequency ?? 0 < Earcon.wake.notes.last?.frequency ?? 0)   // rises
        #expect(Earcon.error.notes.first?.frequency ?? 0 > Earcon.error.notes.last?.frequency ?? 0) // falls
        #expect(Earcon.offline.notes.count == 3)
    }

    @Test func amplitudeScalesTheEarcon() {
        #expect(Earcon.wake.samples(amplitude: 0).allSatisfy { $0 == 0 })
        let quiet = Earcon.wake.samples(amplitude: 0.1).map { abs(Int($0)) }.max() ?? 0
        let loud = Earcon.wake.samples(amplitude: 0.3).map { abs(Int($0)) }.max() ?? 0
        #expect(abs(loud - 3 * quiet) < 10)
    }
}
