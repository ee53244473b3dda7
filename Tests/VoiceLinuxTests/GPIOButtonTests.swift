import Glibc
import Testing
import VoiceCore
import VoiceTesting
@testable import VoiceLinux

/// The GPIO button's reading thread against a fake line whose fd is a real pipe. Edges carry their
/// age, so their instants on the manual clock do not depend on when the thread reads them.
@Suite struct GPIOButtonTests {
    let log = LogRecorder()

    /// An active-low button (pressed reads low), released at start.
    func makeButton(clock: ManualClock, pressedAtStart: Bool = false) throws -> (GPIOButton, FakeEdgeSource) {
        let backend = FakeGPIOBackend(buttonLevel: !pressedAtStart)
        let button = try GPIOButton(
            configuration: GPIOButtonConfiguration(offset: 4), backend: backend, clock: clock, logger: log.logger()
        )
        let source = try #require(backend.edgeSource)
        return (button, source)
    }

    static let pressed = false  // active-low: pressed reads low
    static let released = true

    func edge(_ high: Bool, ageMilliseconds: Int64) -> GPIOEdge { GPIOEdge(high: high, age: .milliseconds(ageMilliseconds)) }

    @Test func aShortPressComesOutOfTheStream() async throws {
        let clock = ManualClock()
        let (button, source) = try makeButton(clock: clock)
        let gestures = StreamCollector(button.gestures())
        clock.advance(to: .milliseconds(1200))
        // Pressed at 1000, released at 1100 (read together at 1200, when both levels have held).
        source.push([edge(Self.pressed, ageMilliseconds: 200), edge(Self.released, ageMilliseconds: 100)])
        #expect(await gestures.waitFor(1) == [.shortPress])
        button.stop()
        #expect(await gestures.waitForFinish())
    }

    @Test func bouncesAreIgnored() async throws {
        let clock = ManualClock()
        let (button, source) = try makeButton(clock: clock)
        let gestures = StreamCollector(button.gestures())
        clock.advance(to: .milliseconds(2000))
        source.push([
            edge(Self.pressed, ageMilliseconds: 1000), edge(Self.released, ageMilliseconds: 995), edge(Self.pressed, ageMilliseconds: 990),
            edge(Self.released, ageMilliseconds: 500), edge(Self.pressed, ageMilliseconds: 490), edge(Self.released, ageMilliseconds: 480),
        ])
        #expect(await gestures.waitFor(1) == [.shortPress])
        // Nothing else is coming: the bounces made no second press.
        #expect(await source.eventuallyDrained())
        button.stop()
        #expect(await gestures.waitForFinish())
        #expect(gestures.elements == [.shortPress])
    }

    @Test func aLongPressFiresAtTheMarkWhileStillHeld() async throws {
        let clock = ManualClock()
        let (button, source) = try makeButton(clock: clock)
        let gestures = StreamCollector(button.gestures())
        clock.advance(to: .milliseconds(1000))
        source.push([edge(Self.pressed, ageMilliseconds: 0)])
        #expect(await source.eventuallyDrained())
        clock.advance(to: .milliseconds(2999))
        clock.advance(to: .milliseconds(3000))
        #expect(await gestures.waitFor(1) == [.longPress])
        // Releasing afterwards adds nothing.
        clock.advance(to: .milliseconds(4000))
        source.push([edge(Self.released, ageMilliseconds: 0)])
        clock.advance(to: .milliseconds(4100))
        button.stop()
        #expect(await gestures.waitForFinish())
        #expect(gestures.elements == [.longPress])
    }

    @Test func aLongPressTimeChangedLiveAppliesToThePressInProgress() async throws {
        let clock = ManualClock()
        let (button, source) = try makeButton(clock: clock)
        let gestures = StreamCollector(button.gestures())
        clock.advance(to: .milliseconds(1000))
        source.push([edge(Self.pressed, ageMilliseconds: 0)])
        #expect(await source.eventuallyDrained())
        clock.advance(to: .milliseconds(1600))
        // gpio.long_press_ms 500: the press held for 600 ms is a long press at once.
        button.update(settings: ButtonSettings(longPress: .milliseconds(500)))
        #expect(await gestures.waitFor(1) == [.longPress])
        clock.advance(to: .milliseconds(2000))
        source.push([edge(Self.released, ageMilliseconds: 0)])
        #expect(await source.eventuallyDrained())
        clock.advance(to: .milliseconds(2100))
        // gpio.long_press_ms 3000: a press of 2.5 s (long at 500 ms) is now a short press. Edges
        // are pushed at the instant they happen, so the reader never sees them late.
        button.update(settings: ButtonSettings(longPress: .milliseconds(3000)))
        clock.advance(to: .milliseconds(5000))
        source.push([edge(Self.pressed, ageMilliseconds: 0)])
        #expect(await source.eventuallyDrained())
        clock.advance(to: .milliseconds(7500))
        source.push([edge(Self.released, ageMilliseconds: 0)])
        #expect(await source.eventuallyDrained())
        clock.advance(to: .milliseconds(7600))
        #expect(await gestures.waitFor(2) == [.longPress, .shortPress])
        button.stop()
        #expect(await gestures.waitForFinish())
    }

    @Test func aButtonHeldAtStartUpIsNotAPress() async throws {
        let clock = ManualClock()
        let (button, source) = try makeButton(clock: clock, pressedAtStart: true)
        let gestures = StreamCollector(button.gestures())
        clock.advance(to: .milliseconds(5000))
        source.push([edge(Self.released, ageMilliseconds: 100)])  // let go at 4900
        #expect(await source.eventuallyDrained())
        clock.advance(to: .milliseconds(6000))
        source.push([edge(Self.pressed, ageMilliseconds: 300), edge(Self.released, ageMilliseconds: 200)])
        #expect(await gestures.waitFor(1) == [.shortPress])
        button.stop()
        #expect(await gestures.waitForFinish())
        #expect(gestures.elements == [.shortPress])
        #expect(log.messages(at: .notice).contains("the button is held at start-up; it counts once released"))
    }

    @Test func anActiveHighButtonReadsRisingEdgesAsPresses() async throws {
        let clock = ManualClock()
        let source = FakeEdgeSource(level: false)
        let button = try GPIOButton(source: source, activeLow: false, clock: clock, logger: log.logger())
        let gestures = StreamCollector(button.gestures())
        clock.advance(to: .milliseconds(1000))
        source.push([edge(true, ageMilliseconds: 500), edge(false, ageMilliseconds: 400)])
        #expect(await gestures.waitFor(1) == [.shortPress])
        button.stop()
    }

    @Test func stopEndsTheStreamAndASecondStreamEndsAtOnce() async throws {
        let clock = ManualClock()
        let (button, _) = try makeButton(clock: clock)
        let first = StreamCollector(button.gestures())
        let second = StreamCollector(button.gestures())
        #expect(await second.waitForFinish())
        #expect(!first.isFinished)
        button.stop()
        #expect(await first.waitForFinish())
        #expect(first.elements.isEmpty)
    }

    @Test func cancellingTheConsumerStopsTheReader() async throws {
        let clock = ManualClock()
        let (button, source) = try makeButton(clock: clock)
        let gestures = StreamCollector(button.gestures())
        gestures.cancel()
        #expect(await gestures.waitForFinish())
        // The reader has ended: edges pushed now are never read.
        let readsBefore = source.reads
        button.stop()
        source.push([edge(Self.pressed, ageMilliseconds: 0)])
        #expect(source.reads == readsBefore)
    }

    @Test func aFailingLineEndsTheStreamWithAnError() async throws {
        let clock = ManualClock()
        let (button, source) = try makeButton(clock: clock)
        let gestures = StreamCollector(button.gestures())
        source.failReads(with: GPIOError(call: "gpiod_line_event_read_fd_multiple", subject: "gpiochip0 line 4", code: EIO))
        #expect(await gestures.waitForFinish())
        #expect(log.messages(at: .error) == ["reading the button's events failed; the button is off until restart"])
        button.stop()
    }

    @Test func theKernelClockAgeIsMeasuredAgainstTheClockTheStampIsCloseTo() {
        let reference = KernelEventClock(monotonic: timespec(tv_sec: 100, tv_nsec: 500_000_000), realtime: timespec(tv_sec: 1_700_000_000, tv_nsec: 0))
        #expect(reference.age(of: timespec(tv_sec: 100, tv_nsec: 200_000_000)) == .milliseconds(300))
        #expect(reference.age(of: timespec(tv_sec: 1_699_999_999, tv_nsec: 900_000_000)) == .milliseconds(100))
        #expect(reference.age(of: timespec(tv_sec: 5, tv_nsec: 0)) == .zero)  // implausible: placed at the read
        #expect(reference.age(of: timespec(tv_sec: 101, tv_nsec: 0)) == .zero)  // in the future
    }
}

extension FakeEdgeSource {
    /// Waits (bounded) until the reader has read every pushed edge.
    func eventuallyDrained() async -> Bool { await eventually { isDrained } }
}
