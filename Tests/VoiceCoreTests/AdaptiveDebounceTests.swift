import Testing
@testable import VoiceCore

@Suite struct AdaptiveDebounceTests {
    /// Records a window of `window` outcomes with `cancels` cancellations; returns the last result.
    func window(_ debounce: inout AdaptiveDebounce, cancels: Int, of window: Int = 10) -> DebounceAdjustment? {
        var result: DebounceAdjustment?
        for i in 0..<window { result = debounce.record(canceled: i < cancels) }
        return result
    }

    @Test func aboveThirtyPercentRaisesByOneHundred() {
        var d = AdaptiveDebounce()
        let adjustment = window(&d, cancels: 4)
        #expect(adjustment == DebounceAdjustment(old: .milliseconds(400), new: .milliseconds(500), cancellationRate: 0.4))
        #expect(d.current == .milliseconds(500))
    }

    @Test func exactlyThirtyPercentIsUnchanged() {
        var d = AdaptiveDebounce(initial: .milliseconds(600))
        let r1 = window(&d, cancels: 3)
        #expect(r1 == nil)
        #expect(d.current == .milliseconds(600))
    }

    @Test func exactlyFifteenPercentIsUnchanged() {
        var settings = AdaptiveDebounceSettings()
        settings.window = 20
        var d = AdaptiveDebounce(initial: .milliseconds(600), settings: settings)
        #expect(window(&d, cancels: 3, of: 20) == nil)  // 3/20 = 15%
        #expect(d.current == .milliseconds(600))
    }

    @Test func belowFifteenPercentLowersByFifty() {
        var d = AdaptiveDebounce(initial: .milliseconds(600))
        let adjustment = window(&d, cancels: 1)
        #expect(adjustment == DebounceAdjustment(old: .milliseconds(600), new: .milliseconds(550), cancellationRate: 0.1))
    }

    @Test func neverExceedsTwelveHundred() {
        var d = AdaptiveDebounce(initial: .milliseconds(1150))
        let r2 = window(&d, cancels: 10)
        #expect(r2?.new == .milliseconds(1200))
        let r3 = window(&d, cancels: 10)
        #expect(r3 == nil)
        #expect(d.current == .milliseconds(1200))
    }

    @Test func neverGoesBelowFourHundred() {
        var d = AdaptiveDebounce(initial: .milliseconds(420))
        let r4 = window(&d, cancels: 0)
        #expect(r4?.new == .milliseconds(400))
        let r5 = window(&d, cancels: 0)
        #expect(r5 == nil)
        #expect(d.current == .milliseconds(400))
    }

    @Test func evaluatesOnlyEveryTenthOutcome() {
        var d = AdaptiveDebounce()
        for _ in 0..<9 { #expect(d.record(canceled: true) == nil) }
        #expect(d.current == .milliseconds(400))
        let r6 = d.record(canceled: true)
        #expect(r6 != nil)
        #expect(d.windowOutcomes == 0)
    }

    @Test func disabledNeverAdjusts() {
        var settings = AdaptiveDebounceSettings()
        settings.enabled = false
        var d = AdaptiveDebounce(settings: settings)
        let r7 = window(&d, cancels: 10)
        #expect(r7 == nil)
        #expect(d.current == .milliseconds(400))
    }

    @Test func thresholdsStepsBoundsAndWindowAreSettings() {
        var settings = AdaptiveDebounceSettings()
        settings.window = 4
        settings.raiseAbove = 0.5
        settings.raiseStep = .milliseconds(250)
        settings.maximum = .milliseconds(2000)
        var d = AdaptiveDebounce(initial: .milliseconds(400), settings: settings)
        #expect(window(&d, cancels: 2, of: 4) == nil)  // 50% is not above 50%
        let r8 = window(&d, cancels: 3, of: 4)
        #expect(r8?.new == .milliseconds(650))
    }

    @Test func setClampsToTheBounds() {
        var d = AdaptiveDebounce()
        d.set(.milliseconds(5000))
        #expect(d.current == .milliseconds(1200))
        d.set(.milliseconds(10))
        #expect(d.current == .milliseconds(400))
    }
}
