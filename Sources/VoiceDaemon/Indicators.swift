import Logging
import ServiceLifecycle
import VoiceCore
import VoiceLinux

/// The LEDs (or a console line) behind the mux that adds muted/offline/error and STATUS=, and the
/// button (GPIO, Enter on stdin, or none): built from [gpio].
struct Indicators: Sendable {
    let mux: IndicatorMux
    let leds: GPIOIndicator?
    let button: (any ButtonEvents)?

    static func build(_ config: VoicedConfig, clock: any VoiceClock, notifier: SystemdNotifier,
                      logger: Logger) throws(DaemonError) -> Indicators {
        let output: any Indicator & Sendable
        var leds: GPIOIndicator?
        var button: (any ButtonEvents)?
        switch config.gpio.backend {
        case .gpiod:
            let layout: LEDLayout = config.gpio.layout == .rgb
                ? .rgb : .perState([.idle, .listening, .speculative, .committed, .speaking, .error])
            do {
                let indicator = try GPIOIndicator(
                    configuration: GPIOIndicatorConfiguration(chip: config.gpio.chip, layout: layout,
                                                              offsets: config.gpio.ledLines.map { UInt32($0) },
                                                              activeLow: config.gpio.activeLow),
                    clock: clock, logger: logger.with(label: "voiced.gpio"))
                leds = indicator
                output = indicator
            } catch {
                throw DaemonError("cannot open the LEDs on \(config.gpio.chip): \(error) (without a GPIO chip, set [gpio] backend = \"console\")")
            }
            do {
                button = try GPIOButton(
                    configuration: GPIOButtonConfiguration(chip: config.gpio.chip, offset: UInt32(config.gpio.buttonLine),
                                                           settings: ButtonSettings(longPress: config.gpio.longPress)),
                    clock: clock, logger: logger.with(label: "voiced.gpio"))
            } catch {
                throw DaemonError("cannot open the button on \(config.gpio.chip) line \(config.gpio.buttonLine): \(error)")
            }
        case .console:
            output = ConsoleIndicator()
            button = try? StdinButton(logger: logger.with(label: "voiced.button"))
            logger.notice("no GPIO: LEDs are a console line; the button is Enter on stdin (l + Enter: long press) or voicectl")
        case .consoleNoStdin:
            output = ConsoleIndicator()
            logger.notice("no GPIO: LEDs are a console line; the button is voicectl wake/interrupt/mute")
        }
        let mux = IndicatorMux(output: output) { shown, reasons in notifier.status(statusLine(shown, reasons)) }
        return Indicators(mux: mux, leds: leds, button: button)
    }

    /// One line for systemd's STATUS=: what is shown, then every device problem standing.
    static func statusLine(_ shown: IndicatorState, _ reasons: [String]) -> String {
        if shown == .error && !reasons.isEmpty { return "Error: " + reasons.joined(separator: "; ") }
        return ([SystemdNotifier.statusText(for: shown)] + reasons).joined(separator: "; ")
    }

    /// The LEDs' thread and the button's gestures, as one service: a short press goes to the
    /// turns, a long press toggles the mute.
    func service(turns: TurnService, gate: MicrophoneGate) -> ClosureService {
        let (leds, button, mux) = (leds, button, mux)
        return ClosureService {
            try leds?.start()
            defer { leds?.stop() }
            guard let button else {
                try? await gracefulShutdown()
                return
            }
            try await untilShutdown {
                for await gesture in button.gestures() {
                    switch gesture {
                    case .shortPress: turns.buttonPressed()
                    case .longPress: gate.setMuted(!mux.isMuted)
                    }
                }
            }
            button.stop()
        }
    }
}
