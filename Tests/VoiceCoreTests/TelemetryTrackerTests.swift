import Foundation
import Testing
@testable import VoiceCore

@Suite struct TelemetryTrackerTests {
    @Test func countsRatesLatencyAndWastedTokens() {
        var t = TelemetryTracker(sessionID: "s1")
        t.recordCancellation(tokensWasted: 12)
        t.recordCompletedTurn(latency: .milliseconds(800), debounce: .milliseconds(400))
        t.recordCompletedTurn(latency: .milliseconds(1200), debounce: .milliseconds(500))
        t.recordCancellation(tokensWasted: 3)
        let s = t.snapshot
        #expect(s.cancellations == 2 && s.completedTurns == 2)
        #expect(s.cancellationRate == 0.5)
        #expect(s.averageTurnLatencyMs == 1000)
        #expect(s.tokensWasted == 15)
        #expect(s.averageDebounceMs == 450)
    }

    @Test func anEmptySessionHasNoAverages() {
        let s = TelemetryTracker(sessionID: "s").snapshot
        #expect(s.cancellationRate == 0 && s.averageTurnLatencyMs == nil && s.averageDebounceMs == nil)
        #expect(s.rolling.cancellationRate == 0)
    }

    @Test func rollingFiguresCoverTheLastTenOutcomes() {
        var t = TelemetryTracker(sessionID: "s")
        for _ in 0..<10 { t.recordCancellation(tokensWasted: 1) }
        for i in 0..<10 { t.recordCompletedTurn(latency: .milliseconds(100 * (i + 1)), debounce: .milliseconds(400)) }
        let s = t.snapshot
        #expect(s.cancellationRate == 0.5)
        #expect(s.rolling.cancellationRate == 0)
        #expect(s.rolling.averageTurnLatencyMs == 550)
        t.recordCancellation(tokensWasted: 0)
        #expect(t.snapshot.rolling.cancellationRate == 0.1)
        #expect(t.snapshot.rolling.averageTurnLatencyMs == 600)  // 200…1000
    }

    @Test func aTurnWithUnknownLatencyCountsButDoesNotSkewTheAverage() {
        var t = TelemetryTracker(sessionID: "s")
        t.recordCompletedTurn(latency: nil, debounce: .milliseconds(400))
        t.recordCompletedTurn(latency: .milliseconds(300), debounce: .milliseconds(400))
        #expect(t.snapshot.completedTurns == 2)
        #expect(t.snapshot.averageTurnLatencyMs == 300)
    }

    @Test func snapshotRoundTripsThroughJSON() throws {
        var t = TelemetryTracker(sessionID: "abc")
        t.recordCompletedTurn(latency: .milliseconds(640), debounce: .milliseconds(400))
        let data = try JSONEncoder().encode(t.snapshot)
        #expect(try JSONDecoder().decode(TelemetrySnapshot.self, from: data) == t.snapshot)
    }
}
