import Testing
import VoiceTesting
@testable import VoiceCore

/// The recognizer driven as the button's thread drives it: edges at their instants, and a wake-up
/// at every `nextDeadline`, on a manual clock. Gestures are recorded with the instant they fired.
final class ButtonHarness {
    let clock = ManualClock()
    var recognizer: ButtonGestureRecognizer
    var fired: [(ButtonGesture, Int64)] = []
    private var wakeUp: ManualClock.Handle?

    init(settings: ButtonSettings = ButtonSettings(), pressedAtStart: Bool = false) {
        recognizer = ButtonGestureRecognizer(settings: settings, pressed: pressedAtStart, at: .zero)
    }

    /// Schedules a raw edge at `ms`.
    func edge(_ pressed: Bool, at ms: Int64) {
        clock.run(at: .milliseconds(ms)) { [self] in
            record(recognizer.edge(pressed: pressed, at: clock.now))
        }
    }

    /// Raw edges alternating press/release at the given instants, starting with a press.
    func edges(_ instants: [Int64]) {
        for (index, ms) in instants.enumerated() { edge(index % 2 == 0, at: ms) }
    }

    func run(until ms: Int64 = 60_000) { clock.runUntilIdle(limit: .milliseconds(ms)); clock.advance(to: .milliseconds(ms)) }

    var gestures: [ButtonGesture] { fired.map(\.0) }

    private func record(_ gestures: [ButtonGesture]) {
        fired += gestures.map { ($0, clock.now.milliseconds) }
        if let wakeUp { clock.cancel(wakeUp) }
        wakeUp = nil
        if let deadline = recognizer.nextDeadline {
            wakeUp = clock.scheduleCancellable(at: deadline) { [self] in record(recognizer.advance(to: clock.now)) }
        }
    }
}

@Suite struct ButtonGestureTests {
    @Test func aCleanShortPressFiresWhenTheReleaseHasHeldThirtyMilliseconds() {
        let h = ButtonHarness()
        h.edges([1000, 1200])
        h.run()
        #expect(h.fired.map(\.0) == [.shortPress])
        #expect(h.fired.map(\.1) == [1230])
    }

    @Test func bouncesWithinThirtyMillisecondsAreIgnored() {
        let h = ButtonHarness()
        // Press bounces for 12 ms, release bounces for 20 ms: one short press.
        h.edges([1000, 1004, 1012, 1400, 1410, 1420])
        h.run()
        #expect(h.gestures == [.shortPress])
        #expect(h.fired.map(\.1) == [1450])
    }

    @Test func aGlitchShorterThanTheDebounceIsNoPress() {
        let h = ButtonHarness()
        h.edges([1000, 1029])  // 29 ms: a spike, not a press
        h.run()
        #expect(h.gestures.isEmpty)
        #expect(!h.recognizer.isPressed)
    }

    @Test func aLevelHeldExactlyThirtyMillisecondsCounts() {
        let h = ButtonHarness()
        h.edges([1000, 1030])  // pressed for exactly the debounce: confirmed at 1030, then released
        h.run()
        #expect(h.gestures == [.shortPress])
        #expect(h.fired.map(\.1) == [1060])
    }

    @Test func aLongPressFiresAtTheTwoSecondMarkWhileHeld() {
        let h = ButtonHarness()
        h.edges([1000, 5000])
        h.run(until: 2999)
        #expect(h.gestures.isEmpty)
        h.run(until: 3000)
        #expect(h.fired.map(\.0) == [.longPress])
        #expect(h.fired.map(\.1) == [3000])
        // The release that follows fires nothing.
        h.run()
        #expect(h.gestures == [.longPress])
    }

    @Test func heldOneMillisecondLessThanTwoSecondsIsShort() {
        let h = ButtonHarness()
        h.edges([1000, 2999])
        h.run()
        #expect(h.gestures == [.shortPress])
        #expect(h.fired.map(\.1) == [3029])
    }

    @Test func releasedExactlyAtTwoSecondsIsLong() {
        let h = ButtonHarness()
        h.edges([1000, 3000])
        h.run()
        #expect(h.gestures == [.longPress])
        #expect(h.fired.map(\.1) == [3000])
    }

    @Test func theBoundaryIsLongWhicheverComesFirstTheEdgeOrTheWakeUp() {
        // Fed directly: the release edge at the mark arrives before the wake-up for the mark.
        var recognizer = ButtonGestureRecognizer()
        #expect(recognizer.edge(pressed: true, at: .milliseconds(1000)).isEmpty)
        #expect(recognizer.advance(to: .milliseconds(1030)).isEmpty)
        #expect(recognizer.edge(pressed: false, at: .milliseconds(3000)) == [.longPress])
        #expect(recognizer.advance(to: .milliseconds(4000)).isEmpty)
    }

    @Test func aReleaseBounceAcrossTheMarkStillMakesALongPress() {
        let h = ButtonHarness()
        // Released raw at 2990 (10 ms before the mark) but it bounces back at 3005: still held.
        h.edges([1000, 2990, 3005, 4000])
        h.run()
        #expect(h.gestures == [.longPress])
        #expect(h.fired.map(\.1) == [3005])
    }

    @Test func aReleaseThatStartsBeforeTheMarkAndHoldsIsShort() {
        let h = ButtonHarness()
        h.edges([1000, 2990])
        h.run()
        #expect(h.gestures == [.shortPress])
        #expect(h.fired.map(\.1) == [3020])
    }

    @Test func theLongPressTimeIsConfigurable() {
        let h = ButtonHarness(settings: ButtonSettings(debounce: .milliseconds(30), longPress: .milliseconds(800)))
        h.edges([0, 900, 2000, 2500])
        h.run()
        #expect(h.gestures == [.longPress, .shortPress])
        #expect(h.fired.map(\.1) == [800, 2530])
    }

    @Test func theDebounceIsConfigurable() {
        let h = ButtonHarness(settings: ButtonSettings(debounce: .milliseconds(5), longPress: .seconds(2)))
        h.edges([1000, 1010])
        h.run()
        #expect(h.gestures == [.shortPress])
        #expect(h.fired.map(\.1) == [1015])
    }

    @Test func aButtonHeldAtStartUpFiresNothingUntilReleasedAndPressedAgain() {
        let h = ButtonHarness(pressedAtStart: true)
        h.edge(false, at: 5000)
        h.edges([6000, 6100].map { $0 })  // press at 6000, release at 6100
        h.run()
        #expect(h.gestures == [.shortPress])
        #expect(h.fired.map(\.1) == [6130])
    }

    @Test func repeatedEdgesOfTheSameLevelChangeNothing() {
        var recognizer = ButtonGestureRecognizer()
        _ = recognizer.edge(pressed: true, at: .milliseconds(0))
        _ = recognizer.edge(pressed: true, at: .milliseconds(20))  // a missed release in between
        #expect(recognizer.nextDeadline == .milliseconds(30))
        #expect(recognizer.advance(to: .milliseconds(30)).isEmpty)
        #expect(recognizer.isPressed)
        #expect(recognizer.edge(pressed: false, at: .milliseconds(500)).isEmpty)
        #expect(recognizer.advance(to: .milliseconds(530)) == [.shortPress])
    }

    @Test func aTimestampThatGoesBackwardsCountsAsTheLatest() {
        var recognizer = ButtonGestureRecognizer()
        _ = recognizer.edge(pressed: true, at: .milliseconds(1000))
        #expect(recognizer.advance(to: .milliseconds(1100)).isEmpty)
        // A late edge stamped before the last advance is placed at 1100.
        _ = recognizer.edge(pressed: false, at: .milliseconds(1050))
        #expect(recognizer.nextDeadline == .milliseconds(1130))
        #expect(recognizer.advance(to: .milliseconds(1130)) == [.shortPress])
    }

    @Test func twoPressesInARowAreTwoGestures() {
        let h = ButtonHarness()
        h.edges([1000, 1100, 1300, 1400])
        h.run()
        #expect(h.gestures == [.shortPress, .shortPress])
        #expect(h.fired.map(\.1) == [1130, 1430])
    }

    @Test func nothingIsPendingAtRest() {
        let h = ButtonHarness()
        #expect(h.recognizer.nextDeadline == nil)
        h.edges([1000, 1100])
        h.run()
        #expect(h.recognizer.nextDeadline == nil)
    }
}
