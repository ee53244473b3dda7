import Glibc
import VoiceCore

/// What a negative ALSA return code means for a stream.
public enum PCMFailure: Equatable, Sendable {
    /// `-EAGAIN`: not ready yet (non-blocking I/O); wait and try again.
    case wouldBlock
    /// `-EINTR`: a signal interrupted the call; try again.
    case interrupted
    /// `-EPIPE`: an overrun (capture) or underrun (playback).
    case xrun
    /// `-ESTRPIPE`: the system suspended the device.
    case suspended
    /// `-ENODEV`, `-ENXIO`, `-EBADFD`, `-ESHUTDOWN`, `-EIO`: the device went away or broke.
    case deviceGone
    /// Anything else.
    case other(Int32)

    public init(code: Int) {
        switch Int32(truncatingIfNeeded: -code) {
        case EAGAIN: self = .wouldBlock
        case EINTR: self = .interrupted
        case EPIPE: self = .xrun
        case ESTRPIPE: self = .suspended
        case ENODEV, ENXIO, EBADFD, ESHUTDOWN, EIO: self = .deviceGone
        default: self = .other(Int32(truncatingIfNeeded: code))
        }
    }
}

/// The decision after an I/O call failed.
public enum PCMRecoveryStep: Equatable, Sendable {
    /// Nothing is wrong: wait for the device and try again.
    case retry
    /// `snd_pcm_recover` brought the stream back after this failure (count it if it is an xrun).
    case recovered(PCMFailure)
    /// The stream cannot go on: close the device and reopen it (with backoff).
    case reopen(ALSAError)
}

/// Decides what to do when an ALSA I/O call fails: the policy both the capture and the
/// playback loops follow, kept apart from them so that tests can inject any error.
///
/// - `-EAGAIN`, `-EINTR`: retry.
/// - `-EPIPE` (xrun), `-ESTRPIPE` (suspend), or anything unexpected: `snd_pcm_recover`; if it
///   fails, reopen.
/// - `-ENODEV`, `-EBADFD` & co.: the device is gone; reopen without trying to recover.
public enum PCMRecoveryPolicy {
    public static func handle(code: Int, call: String, device: any PCMDevice, name: String) -> PCMRecoveryStep {
        let failure = PCMFailure(code: code)
        let code32 = Int32(truncatingIfNeeded: code)
        switch failure {
        case .wouldBlock, .interrupted:
            return .retry
        case .deviceGone:
            return .reopen(.failed(call, code: code32, device: name))
        case .xrun, .suspended, .other:
            let recovered = device.recover(code32)
            if recovered < 0 {
                // Report the original failure when recover just hands it back.
                let failing = recovered == code32 ? call : "snd_pcm_recover"
                return .reopen(.failed(failing, code: recovered, device: name))
            }
            return .recovered(failure)
        }
    }
}

/// Exponential backoff for reopening a device: `initial`, then doubled up to `maximum`.
public struct ReopenBackoff: Equatable, Sendable {
    public var initial: Duration
    public var maximum: Duration
    /// Failed attempts since the last success.
    public private(set) var attempts = 0

    public init(initial: Duration = .milliseconds(250), maximum: Duration = .seconds(5)) {
        self.initial = initial
        self.maximum = maximum
    }

    /// Records a failed attempt and returns how long to wait before the next one.
    public mutating func next() -> Duration {
        attempts += 1
        var delay = initial
        for _ in 1..<attempts {
            delay = delay * 2
            if delay >= maximum { return maximum }
        }
        return min(delay, maximum)
    }

    /// The device opened: start again from `initial`.
    public mutating func reset() { attempts = 0 }
}
