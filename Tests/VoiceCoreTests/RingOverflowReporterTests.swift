import Testing
@testable import VoiceCore

@Suite struct RingOverflowReporterTests {
    static func stats(dropped: Int, overflows: Int) -> AudioRingBuffer.Statistics {
        AudioRingBuffer.Statistics(fill: 0, capacity: 100, written: 0, droppedSamples: dropped, overflowEvents: overflows)
    }

    @Test func reportsTheFirstOverflowAtOnceThenAtMostOncePerInterval() {
        var reporter = RingOverflowReporter(interval: .seconds(10))
        #expect(reporter.check(Self.stats(dropped: 0, overflows: 0), at: .zero) == nil)
        #expect(reporter.check(Self.stats(dropped: 320, overflows: 1), at: .milliseconds(1_000))
            == .init(droppedSamples: 320, overflows: 1, totalDroppedSamples: 320))
        #expect(reporter.check(Self.stats(dropped: 640, overflows: 2), at: .milliseconds(2_000)) == nil, "rate-limited")
        #expect(reporter.check(Self.stats(dropped: 16_320, overflows: 9), at: .milliseconds(11_000))
            == .init(droppedSamples: 16_000, overflows: 8, totalDroppedSamples: 16_320))
        #expect(reporter.check(Self.stats(dropped: 16_320, overflows: 9), at: .milliseconds(30_000)) == nil, "no new drops")
    }

    @Test func aReportSaysHowMuchAudioWasLost() {
        #expect(RingOverflowReporter.Report(droppedSamples: 8_000, overflows: 1, totalDroppedSamples: 8_000).droppedMilliseconds == 500)
    }

    @Test func aRealRingThatOverflowsIsReported() {
        let ring = AudioRingBuffer(capacity: 320)
        var reporter = RingOverflowReporter()
        _ = ring.write([Int16](repeating: 1, count: 640))
        let report = reporter.check(ring.statistics, at: .zero)
        #expect(report?.droppedSamples == 320)
    }
}
