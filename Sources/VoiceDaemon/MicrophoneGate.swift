import Logging
import VoiceCore
import VoiceProviders

/// Who may hear the microphone: the mute (kept in the state directory, so it holds across a
/// restart and a reboot) and the streaming gate (audio goes to speech-to-text only when it may).
final class MicrophoneGate: Sendable {
    private let microphone: Microphone
    private let mux: IndicatorMux
    private let turns: TurnService
    private let stt: any SpeechToTextProvider
    private let mute: MuteState
    private let settings: SettingsStore
    private let errors: ErrorFanout
    private let logger: Logger

    init(microphone: Microphone, mux: IndicatorMux, turns: TurnService, stt: any SpeechToTextProvider, mute: MuteState,
         settings: SettingsStore, errors: ErrorFanout, logger: Logger) {
        self.microphone = microphone
        self.mux = mux
        self.turns = turns
        self.stt = stt
        self.mute = mute
        self.settings = settings
        self.errors = errors
        self.logger = logger
    }

    var isMuted: Bool { mux.isMuted }

    /// Mutes or unmutes the microphone: while muted no audio leaves the device.
    func setMuted(_ on: Bool) {
        microphone.setMuted(on)
        mux.setMuted(on)
        if on { turns.muted() }
        updateStreaming()
        do {
            try mute.persist(on)
        } catch {
            logger.error("the mute applies now but could not be saved; it will not survive a restart",
                         metadata: ["muted": "\(on)", "file": "\(mute.file)", "error": "\(error)"])
            errors.send("the mute could not be saved to \(mute.file): \(error)")
        }
        logger.notice(on ? "microphone muted" : "microphone live", metadata: ["muted": "\(on)"])
    }

    /// Audio goes to speech-to-text only when it may: never while muted, and while IDLE only
    /// with `always_listening` (otherwise a wake is needed first: nothing is streamed in between).
    /// When nothing may be streamed, nothing is captured either: the microphone stands by (no
    /// reads, no echo canceller, no voice detector) until a wake, which starts it again before
    /// the turn's first frame is due. Lifting the standby before unmuting speech-to-text means
    /// no frame of the wake is lost to the order of the two.
    func updateStreaming(state: TurnState? = nil) {
        let idle = (state ?? turns.current.state) == .idle
        let silent = mux.isMuted || (idle && !settings.effective.turn.alwaysListening)
        if silent {
            stt.setMuted(true)
            microphone.setStandby(true)
        } else {
            microphone.setStandby(false)
            stt.setMuted(false)
        }
    }
}
