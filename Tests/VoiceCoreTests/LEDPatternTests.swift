import Testing
@testable import VoiceCore

/// The issue's LED table, both layouts, active-low, and the duty cycles as functions of time.
@Suite struct LEDPatternTests {
    let tick = Duration.milliseconds(20)

    // MARK: the table

    @Test(arguments: [
        (IndicatorState.idle, LEDColor.off, "off"),
        (.listening, .blue, "solid blue"),
        (.speculative, .yellow, "blinking yellow (every 500 ms)"),
        (.committed, .green, "solid green"),
        (.speaking, .purple, "pulsing purple (every 1500 ms)"),
        (.error, .red, "blinking red (every 200 ms)"),
        (.offline, .red, "blinking red (every 2000 ms)"),
        (.muted, .red, "solid red"),
    ])
    func everyStateHasTheIssuesColourAndPattern(state: IndicatorState, color: LEDColor, words: String) {
        let pattern = LEDPatterns.standard[state]
        #expect(pattern.color == color)
        #expect(pattern.description == words)
    }

    @Test func errorBlinksFasterThanOffline() throws {
        guard case .blink(let fast, _) = LEDPatterns.standard.error.animation,
              case .blink(let slow, _) = LEDPatterns.standard.offline.animation
        else {
            Issue.record("error and offline must blink")
            return
        }
        #expect(fast < slow)
    }

    @Test func idleCanBeDim() {
        let pattern = LEDPatterns.standardWithDimIdle.idle
        #expect(pattern.color == .white)
        #expect(pattern.animation == .dim(permille: 50))
        #expect(pattern.description == "dim white (5%)")
    }

    // MARK: RGB layout

    @Test(arguments: [
        (IndicatorState.idle, [false, false, false]),
        (.listening, [false, false, true]),
        (.speculative, [true, true, false]),
        (.committed, [false, true, false]),
        (.speaking, [true, false, true]),
        (.error, [true, false, false]),
        (.offline, [true, false, false]),
        (.muted, [true, false, false]),
    ])
    func rgbChannelsAtTheStartOfEachState(state: IndicatorState, channels: [Bool]) {
        let renderer = LEDRenderer(layout: .rgb, tick: tick)
        // Every pattern starts lit (a blink starts on, a pulse at full brightness).
        #expect(renderer.litLines(for: state, elapsed: .zero) == channels)
        #expect(renderer.lineLevels(for: state, elapsed: .zero) == channels)
    }

    @Test func activeLowInvertsEveryLineIncludingOff() {
        let renderer = LEDRenderer(layout: .rgb, activeLow: true, tick: tick)
        #expect(renderer.lineLevels(for: .listening, elapsed: .zero) == [true, true, false])
        #expect(renderer.lineLevels(for: .idle, elapsed: .zero) == [true, true, true])
        #expect(renderer.offLevels == [true, true, true])
        #expect(LEDRenderer(layout: .rgb).offLevels == [false, false, false])
        // The logical view is unchanged.
        #expect(renderer.litLines(for: .listening, elapsed: .zero) == [false, false, true])
    }

    // MARK: one LED per state

    @Test func perStateLightsOnlyTheCurrentStatesLED() {
        let states: [IndicatorState] = [.listening, .speculative, .committed, .speaking, .error, .offline, .muted]
        let renderer = LEDRenderer(layout: .perState(states), tick: tick)
        #expect(renderer.layout.lineCount == 7)
        for (index, state) in states.enumerated() {
            var expected = Array(repeating: false, count: states.count)
            expected[index] = true
            #expect(renderer.litLines(for: state, elapsed: .zero) == expected, "\(state)")
        }
        // IDLE has no LED here, and is off anyway.
        #expect(renderer.litLines(for: .idle, elapsed: .zero) == Array(repeating: false, count: 7))
    }

    @Test func perStateActiveLowAndAnimation() {
        let renderer = LEDRenderer(layout: .perState([.speculative, .muted]), activeLow: true, tick: tick)
        #expect(renderer.lineLevels(for: .speculative, elapsed: .milliseconds(100)) == [false, true])  // on, driven low
        #expect(renderer.lineLevels(for: .speculative, elapsed: .milliseconds(300)) == [true, true])  // blink off phase
        #expect(renderer.lineLevels(for: .muted, elapsed: .seconds(60)) == [true, false])
        #expect(renderer.lineLevels(for: .listening, elapsed: .zero) == [true, true])  // no LED for it
    }

    // MARK: blinks, from the instant

    @Test func speculativeBlinksAtTwoHertzHalfOn() {
        let renderer = LEDRenderer(layout: .rgb, tick: tick)
        let lit = { (ms: Int64) in renderer.litLines(for: .speculative, elapsed: .milliseconds(ms)) }
        #expect(lit(0) == [true, true, false])
        #expect(lit(249) == [true, true, false])
        #expect(lit(250) == [false, false, false])
        #expect(lit(499) == [false, false, false])
        #expect(lit(500) == [true, true, false])
        #expect(lit(10_000 + 260) == [false, false, false])
    }

    @Test func errorBlinksFiveTimesASecondAndOfflineOnceEveryTwoSeconds() {
        let error = LEDPatterns.standard.error
        #expect((0..<10).map { error.isLit(after: .milliseconds(Int64($0) * 100), tick: tick) }
            == [true, false, true, false, true, false, true, false, true, false])
        let offline = LEDPatterns.standard.offline
        #expect(offline.isLit(after: .milliseconds(999), tick: tick))
        #expect(!offline.isLit(after: .milliseconds(1000), tick: tick))
        #expect(!offline.isLit(after: .milliseconds(1999), tick: tick))
        #expect(offline.isLit(after: .milliseconds(2000), tick: tick))
    }

    @Test func solidPatternsStayOnAndNeedNoTicks() {
        let renderer = LEDRenderer(layout: .rgb, tick: tick)
        for ms: Int64 in [0, 1, 19, 20, 999, 3_600_000] {
            #expect(renderer.litLines(for: .listening, elapsed: .milliseconds(ms)) == [false, false, true])
            #expect(renderer.litLines(for: .muted, elapsed: .milliseconds(ms)) == [true, false, false])
        }
        #expect(!renderer.isAnimated(.listening))
        #expect(!renderer.isAnimated(.committed))
        #expect(!renderer.isAnimated(.muted))
        #expect(!renderer.isAnimated(.idle))
        #expect(renderer.isAnimated(.speculative))
        #expect(renderer.isAnimated(.speaking))
        #expect(renderer.isAnimated(.error))
        #expect(renderer.isAnimated(.offline))
    }

    // MARK: duty cycles

    /// How many of `count` ticks starting at `from` are lit.
    func litTicks(_ pattern: LEDPattern, from: Duration = .zero, count: Int) -> Int {
        (0..<count).filter { pattern.isLit(after: from + tick * $0, tick: tick) }.count
    }

    @Test func pulseIsBrightAtTheStartDarkHalfWayAndBrightAgain() {
        let speaking = LEDPatterns.standard.speaking  // 1500 ms: 75 ticks
        // Around the start: nearly every tick lit.
        #expect(litTicks(speaking, from: .zero, count: 5) >= 4)
        // Around half-way (750 ms): nearly dark.
        #expect(litTicks(speaking, from: .milliseconds(700), count: 5) <= 1)
        // Towards the end of the period: bright again.
        #expect(litTicks(speaking, from: .milliseconds(1400), count: 5) >= 4)
        // Over a whole period the average duty is one half (triangle wave), within a tick or two.
        let lit = litTicks(speaking, from: .zero, count: 75)
        #expect(abs(lit - 37) <= 2, "lit \(lit) of 75 ticks")
    }

    @Test func pulseRepeatsEveryPeriod() {
        let speaking = LEDPatterns.standard.speaking
        let first = (0..<75).map { speaking.isLit(after: tick * $0, tick: tick) }
        let later = (0..<75).map { speaking.isLit(after: .milliseconds(1500 * 40) + tick * $0, tick: tick) }
        #expect(first == later)
    }

    @Test func dimLightsItsShareOfTicksEvenlySpread() {
        let dim = LEDPattern(.white, .dim(permille: 250))
        let ticks = (0..<8).map { dim.isLit(after: tick * $0, tick: tick) }
        #expect(ticks == [false, false, false, true, false, false, false, true])
        // A quarter over any long window, within one tick.
        #expect(abs(litTicks(dim, from: .seconds(7), count: 200) - 50) <= 1)
        // Any instant within a tick answers as the tick does.
        #expect(dim.isLit(after: .milliseconds(60), tick: tick) == dim.isLit(after: .milliseconds(79), tick: tick))
        #expect(LEDPattern(.white, .dim(permille: 0)).isLit(after: .zero, tick: tick) == false)
        #expect(LEDPattern(.white, .dim(permille: 1000)).isLit(after: .milliseconds(7), tick: tick))
    }

    @Test func anOffColourIsNeverLitWhateverTheAnimation() {
        for animation: LEDAnimation in [.solid, .blink(period: .seconds(1), on: .milliseconds(500)), .pulse(period: .seconds(1)), .dim(permille: 500)] {
            #expect(litTicks(LEDPattern(.off, animation), count: 100) == 0)
        }
    }

    @Test func customPatternsReplaceTheTable() {
        var patterns = LEDPatterns.standard
        patterns[.listening] = LEDPattern(.cyan, .blink(period: .seconds(1), on: .milliseconds(100)))
        let renderer = LEDRenderer(layout: .rgb, patterns: patterns, tick: tick)
        #expect(renderer.litLines(for: .listening, elapsed: .milliseconds(50)) == [false, true, true])
        #expect(renderer.litLines(for: .listening, elapsed: .milliseconds(150)) == [false, false, false])
    }
}
