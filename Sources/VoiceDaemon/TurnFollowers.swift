import Synchronization
import VoiceCore
import VoiceProviders

/// What follows the turns besides the controller: the wake and listen-ended earcons, the
/// streaming gate at IDLE, speech-to-text finalisation at SPECULATIVE, and the telemetry records.
/// Runs on the turn loop (an observer of the turn service): it must not block.
final class TurnFollowers: Sendable {
    /// `audio.earcons`, read at each wake (live).
    let earcons: Atomic<Bool>
    private let turnCount = Atomic<Int>(0)

    init(earcons: Bool) { self.earcons = Atomic(earcons) }

    func follow(turns: TurnService, speaker: Speaker, stt: any SpeechToTextProvider, gate: MicrophoneGate,
                records: Records, sessionID: String, clock: any VoiceClock) {
        let telemetry = records.writer
        gate.updateStreaming(state: .idle)
        turns.observe { [turns, self] note in
            switch note {
            case .transition(let event):
                if event.from == .idle || event.to == .idle { gate.updateStreaming(state: event.to) }
                let earcons = self.earcons.load(ordering: .relaxed)
                if event.from == .idle && event.to == .listening && earcons {
                    speaker.output.enqueue(PlaybackChunk(turn: -1, segment: 0, samples: Earcon.wake.samples()))
                }
                // A wake that heard nothing says that listening has ended.
                if event.to == .idle && event.cause == .listenTimeout && earcons {
                    speaker.output.enqueue(PlaybackChunk(turn: -1, segment: 0, samples: Earcon.listenEnded.samples()))
                }
                if event.to == .speculative { stt.finalize() }
            case .turnFinished(let record):
                telemetry.turnFinished(record, sessionID: sessionID)
                let count = self.turnCount.add(1, ordering: .relaxed).newValue
                if count % DaemonControl.snapshotEvery == 0 { telemetry.snapshot(turns.current.telemetry, at: clock.now) }
            case .debounceAdjusted(let adjustment):
                telemetry.debounceChanged(to: adjustment.new, sessionID: sessionID, at: clock.now)
            case .speech, .speaking, .providerFailed:
                break
            }
        }
    }
}
