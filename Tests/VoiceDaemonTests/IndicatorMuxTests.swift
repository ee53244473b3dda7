import Synchronization
import Testing
import VoiceCore
import VoiceTesting
@testable import VoiceDaemon

@Suite struct IndicatorMuxTests {
    final class Shown: Sendable {
        let statuses = Mutex<[(IndicatorState, [String])]>([])
        var last: (IndicatorState, [String])? { statuses.withLock { $0.last } }
    }

    final class LEDs: Indicator, Sendable {
        let shown = Mutex<[IndicatorState]>([])
        func show(_ state: IndicatorState) { shown.withLock { $0.append(state) } }
    }

    @Test func theMicrophoneRecoveringDoesNotClearTheSpeakersError() {
        let leds = LEDs()
        let shown = Shown()
        let mux = IndicatorMux(output: leds) { state, reasons in shown.statuses.withLock { $0.append((state, reasons)) } }
        mux.show(.listening)
        mux.setDeviceError(.microphone, "microphone hw:1 unavailable")
        mux.setDeviceError(.speaker, "speaker hw:0 unavailable")
        #expect(mux.shown == .error)
        #expect(shown.last?.1 == ["microphone hw:1 unavailable", "speaker hw:0 unavailable"])
        mux.setDeviceError(.microphone, nil)
        #expect(mux.shown == .error, "the speaker is still gone")
        #expect(shown.last?.1 == ["speaker hw:0 unavailable"])
        mux.setDeviceError(.speaker, nil)
        #expect(mux.shown == .listening)
        #expect(shown.last?.1 == [])
    }

    @Test func aNewReasonForAStandingErrorUpdatesTheStatusLine() {
        let shown = Shown()
        let mux = IndicatorMux(output: LEDs()) { state, reasons in shown.statuses.withLock { $0.append((state, reasons)) } }
        mux.setDeviceError(.microphone, "retry 1 in 250 ms")
        mux.setDeviceError(.microphone, "retry 2 in 500 ms")
        #expect(shown.last?.1 == ["retry 2 in 500 ms"])
        #expect(shown.statuses.withLock { $0.count } == 2)
    }

    @Test func mutedOutranksADeviceErrorButKeepsItsReason() {
        let shown = Shown()
        let mux = IndicatorMux(output: LEDs()) { state, reasons in shown.statuses.withLock { $0.append((state, reasons)) } }
        mux.setDeviceError(.speaker, "speaker gone")
        mux.setMuted(true)
        #expect(mux.shown == .muted)
        #expect(shown.last?.1 == ["speaker gone"])
    }
}
