import Glibc
import Synchronization
import Testing
import VoiceCore
@testable import VoiceLinux

/// The LEDs' and the button's stand-ins on a machine without GPIO.
@Suite struct ConsoleStandInTests {
    let log = LogRecorder()

    @Test func theConsoleIndicatorWritesOneLinePerStateChange() {
        let lines = Mutex<[String]>([])
        let indicator = ConsoleIndicator { line in lines.withLock { $0.append(line) } }
        for state: IndicatorState in [.listening, .listening, .speculative, .committed, .speaking, .speaking, .idle, .muted, .offline, .error] {
            indicator.show(state)
        }
        #expect(lines.withLock { $0 } == [
            "LED: listening · solid blue",
            "LED: speculative · blinking yellow (every 500 ms)",
            "LED: committed · solid green",
            "LED: speaking · pulsing purple (every 1500 ms)",
            "LED: idle · off",
            "LED: muted · solid red",
            "LED: offline · blinking red (every 2000 ms)",
            "LED: error · blinking red (every 200 ms)",
        ])
    }

    @Test(arguments: [
        ("b", ButtonGesture.shortPress), ("", .shortPress), ("  B ", .shortPress), ("short", .shortPress),
        ("l", .longPress), ("L", .longPress), ("long", .longPress),
    ])
    func typedLinesAreGestures(line: String, gesture: ButtonGesture) {
        #expect(StdinButton.gesture(forLine: line) == gesture)
    }

    @Test func otherLinesAreNoGesture() {
        #expect(StdinButton.gesture(forLine: "x") == nil)
        #expect(StdinButton.gesture(forLine: "bl") == nil)
    }

    @Test func theStdinButtonReadsLinesUntilTheInputEnds() async throws {
        var ends: [Int32] = [-1, -1]
        #expect(pipe(&ends) == 0)
        defer { close(ends[0]) }
        let button = try StdinButton(fileDescriptor: ends[0], logger: log.logger())
        let gestures = StreamCollector(button.gestures())
        let typed = Array("b\n\nl\nxyz\nlo".utf8)
        _ = typed.withUnsafeBytes { write(ends[1], $0.baseAddress, $0.count) }
        #expect(await gestures.waitFor(3) == [.shortPress, .shortPress, .longPress])
        _ = Array("ng\n".utf8).withUnsafeBytes { write(ends[1], $0.baseAddress, $0.count) }  // a line split across writes
        #expect(await gestures.waitFor(4) == [.shortPress, .shortPress, .longPress, .longPress])
        close(ends[1])
        #expect(await gestures.waitForFinish())
        #expect(log.messages(at: .warning) == ["console button: type b (or just Enter) for a short press, l for a long press"])
        #expect(log.messages(at: .notice) == ["the console button's input ended; it is off"])
        button.stop()
    }

    @Test func stoppingTheStdinButtonEndsTheStreamWhileInputIsOpen() async throws {
        var ends: [Int32] = [-1, -1]
        #expect(pipe(&ends) == 0)
        defer {
            close(ends[0])
            close(ends[1])
        }
        let button = try StdinButton(fileDescriptor: ends[0], logger: log.logger())
        let gestures = StreamCollector(button.gestures())
        button.stop()
        #expect(await gestures.waitForFinish())
    }
}
