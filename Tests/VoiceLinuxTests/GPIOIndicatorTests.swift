import Glibc
import Testing
import VoiceCore
import VoiceTesting
@testable import VoiceLinux

@Suite struct GPIOIndicatorTests {
    let log = LogRecorder()

    func makeIndicator(
        layout: LEDLayout = .rgb, offsets: [UInt32] = [17, 27, 22], activeLow: Bool = false, clock: ManualClock = ManualClock()
    ) throws -> (GPIOIndicator, FakeOutputLines, FakeGPIOBackend) {
        let backend = FakeGPIOBackend()
        let configuration = GPIOIndicatorConfiguration(chip: "gpiochip0", layout: layout, offsets: offsets, activeLow: activeLow)
        let indicator = try GPIOIndicator(configuration: configuration, backend: backend, clock: clock, logger: log.logger())
        let lines = try #require(backend.outputLines)
        return (indicator, lines, backend)
    }

    @Test func linesAreRequestedWithEveryLEDOffIncludingActiveLow() throws {
        let (_, lines, backend) = try makeIndicator(activeLow: true)
        #expect(backend.outputRequests == [.init(chip: "gpiochip0", offsets: [17, 27, 22], consumer: "voiced-leds", initialLevels: [true, true, true])])
        #expect(lines.levels == [true, true, true])
        #expect(lines.writeCount == 0)
    }

    @Test func aConfigWhoseOffsetsDoNotFitTheLayoutIsRejectedBeforeAnyLineIsRequested() {
        let backend = FakeGPIOBackend()
        let configuration = GPIOIndicatorConfiguration(layout: .rgb, offsets: [17, 27])
        #expect(throws: GPIOConfigurationError.lineCountMismatch(layout: .rgb, expected: 3, offsets: [17, 27])) {
            try GPIOIndicator(configuration: configuration, backend: backend, clock: ManualClock(), logger: log.logger())
        }
        #expect(throws: GPIOConfigurationError.duplicateOffsets([17, 17, 22])) {
            try GPIOIndicator(configuration: GPIOIndicatorConfiguration(offsets: [17, 17, 22]), backend: backend, clock: ManualClock(), logger: log.logger())
        }
        #expect(backend.outputRequests.isEmpty)
        #expect("\(GPIOConfigurationError.lineCountMismatch(layout: .rgb, expected: 3, offsets: [17, 27]))".contains("red, green, blue"))
    }

    @Test func aChipThatCannotBeOpenedIsATypedErrorNamingTheCall() {
        let error = GPIOError(call: "gpiod_chip_open_lookup", subject: "gpiochip9", code: ENOENT)
        let backend = FakeGPIOBackend(openError: error)
        #expect(throws: error) {
            try GPIOIndicator(configuration: GPIOIndicatorConfiguration(chip: "gpiochip9", offsets: [1, 2, 3]), backend: backend, clock: ManualClock(), logger: log.logger())
        }
        #expect(error.kind == .notFound)
        #expect(error.description.hasPrefix("gpiod_chip_open_lookup(gpiochip9) failed: No such file or directory (ENOENT)"))
    }

    @Test func everyStateDrivesItsColourOnTheRGBLines() throws {
        let clock = ManualClock()
        let (indicator, lines, _) = try makeIndicator(clock: clock)
        let expected: [(IndicatorState, [Bool])] = [
            (.listening, [false, false, true]), (.speculative, [true, true, false]), (.committed, [false, true, false]),
            (.speaking, [true, false, true]), (.error, [true, false, false]), (.offline, [true, false, false]),
            (.muted, [true, false, false]), (.idle, [false, false, false]),
        ]
        for (state, levels) in expected {
            indicator.show(state)
            indicator.refresh()
            #expect(lines.levels == levels, "\(state)")
            clock.advance(by: .seconds(10))  // states are shown from their own start: time in between does not matter
        }
    }

    @Test func activeLowDrivesTheLinesInverted() throws {
        let (indicator, lines, _) = try makeIndicator(activeLow: true)
        indicator.show(.committed)
        indicator.refresh()
        #expect(lines.levels == [true, false, true])
        indicator.stop()
        #expect(lines.levels == [true, true, true])
    }

    @Test func theBlinkFollowsTheClockFromTheStatesStart() throws {
        let clock = ManualClock(now: .milliseconds(12_345))
        let (indicator, lines, _) = try makeIndicator(clock: clock)
        indicator.show(.speculative)
        var seen: [[Bool]] = []
        for _ in 0..<4 {
            indicator.refresh()
            seen.append(lines.levels)
            clock.advance(by: .milliseconds(250))
        }
        #expect(seen == [[true, true, false], [false, false, false], [true, true, false], [false, false, false]])
        // Showing the same state again keeps the phase.
        indicator.show(.speculative)
        indicator.refresh()
        #expect(lines.levels == [true, true, false])  // at 1000 ms: on
    }

    @Test func onlyChangedLinesAreWritten() throws {
        let (indicator, lines, _) = try makeIndicator()
        indicator.show(.listening)
        indicator.refresh()
        #expect(lines.writeCount == 1)  // blue only: red and green were already off
        indicator.refresh()
        indicator.refresh()
        #expect(lines.writeCount == 1)
        indicator.show(.speaking)
        indicator.refresh()
        #expect(lines.writeCount == 2)  // red on; blue stays on
    }

    @Test func perStateLayoutLightsTheStatesOwnLED() throws {
        let states: [IndicatorState] = [.listening, .committed, .speaking, .muted]
        let (indicator, lines, _) = try makeIndicator(layout: .perState(states), offsets: [5, 6, 13, 19], activeLow: true)
        indicator.show(.committed)
        indicator.refresh()
        #expect(lines.levels == [true, false, true, true])
        indicator.show(.idle)
        indicator.refresh()
        #expect(lines.levels == [true, true, true, true])
    }

    @Test func aFailingLineIsLoggedOnceAndRewrittenWhenItWorksAgain() throws {
        let clock = ManualClock()
        let (indicator, lines, _) = try makeIndicator(clock: clock)
        lines.fail(with: GPIOError(call: "gpiod_line_set_value", subject: "gpiochip0 line 17", code: EIO))
        indicator.show(.error)
        for _ in 0..<10 {
            indicator.refresh()
            clock.advance(by: .milliseconds(20))
        }
        #expect(log.messages(at: .warning) == ["LED line write failed; retrying on every refresh"])
        lines.fail(with: nil)
        clock.advance(to: .milliseconds(1000))  // the error blink is on at whole 200 ms steps
        indicator.refresh()
        #expect(lines.levels == [true, false, false])
        #expect(log.messages(at: .notice) == ["LED line writes work again"])
    }

    @Test func theDriverThreadPicksUpStatesAndStopTurnsTheLEDsOff() async throws {
        let (indicator, lines, _) = try makeIndicator()
        try indicator.start()
        indicator.show(.listening)
        #expect(await eventually { lines.levels == [false, false, true] })
        indicator.show(.committed)
        #expect(await eventually { lines.levels == [false, true, false] })
        indicator.stop()
        #expect(lines.levels == [false, false, false])
        // After stop nothing lights up again.
        indicator.show(.muted)
        indicator.refresh()
        #expect(lines.levels == [false, false, false])
        indicator.stop()  // twice is harmless
    }

    @Test func theDriverThreadAnimatesABlinkInRealTime() async throws {
        // The real clock: an error blink (100 ms on, 100 ms off) must be seen both on and off.
        let backend = FakeGPIOBackend()
        let indicator = try GPIOIndicator(configuration: GPIOIndicatorConfiguration(offsets: [1, 2, 3]), backend: backend, logger: log.logger())
        let lines = try #require(backend.outputLines)
        try indicator.start()
        indicator.show(.error)
        #expect(await eventually { lines.levels == [true, false, false] })
        #expect(await eventually { lines.levels == [false, false, false] })
        #expect(await eventually { lines.levels == [true, false, false] })
        indicator.stop()
        #expect(lines.levels == [false, false, false])
    }

    @Test func showNeverBlocksEvenWhileTheDriverIsBusy() throws {
        let (indicator, _, _) = try makeIndicator()
        try indicator.start()
        defer { indicator.stop() }
        for index in 0..<10_000 {
            indicator.show(index % 2 == 0 ? .speaking : .listening)
        }
        #expect(indicator.state == .listening)
    }

    @Test func theRealChipIsOpenedOrTheErrorSaysWhatToDo() {
        // What is real here: with a GPIO chip (a Pi), libgpiod opens it; without one (CI, a dev
        // machine), the typed error names the call and points at the console stand-ins.
        if access("/dev/gpiochip0", F_OK) == 0 {
            do {
                let chip = try GPIOChip("gpiochip0")
                #expect(chip.lineCount > 0)
                #expect(chip.name == "gpiochip0")
            } catch {
                // Present but not ours to open (permissions): the error must say so.
                #expect(error.kind == .permissionDenied || error.kind == .busy, "\(error)")
            }
        } else {
            #expect {
                _ = try GPIOChip("gpiochip0")
            } throws: { error in
                guard let error = error as? GPIOError else { return false }
                return error.call == "gpiod_chip_open_lookup" && error.kind == .notFound
                    && error.description.contains("console indicator")
            }
        }
    }
}
