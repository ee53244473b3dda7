import CALSA
import Glibc

/// A failed ALSA call, or a device that cannot be configured as voiced needs.
public enum ALSAError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `call` returned the negative errno `code` for `device`; `message` is `snd_strerror(code)`.
    case call(String, code: Int32, device: String, message: String)
    /// The device accepted the parameters but not within voiced's limits.
    case configuration(device: String, problem: String)

    /// Builds the error for a failed call, with ALSA's own words for the code.
    public static func failed(_ call: String, code: Int32, device: String) -> ALSAError {
        .call(call, code: code, device: device, message: String(cString: snd_strerror(code)))
    }

    /// The negative errno, for call failures.
    public var code: Int32? {
        if case .call(_, let code, _, _) = self { return code }
        return nil
    }

    /// Whether the device has gone away (unplugged, or its driver unbound): reopen it later.
    public var isDeviceGone: Bool { code.map { PCMFailure(code: Int($0)) == .deviceGone } ?? false }

    public var description: String {
        switch self {
        case .call(let call, let code, let device, let message):
            let base = "\(call) failed on PCM \"\(device)\": \(message) (\(code))"
            guard let hint = Self.hint(call: call, code: code, device: device) else { return base }
            return base + "; " + hint
        case .configuration(let device, let problem):
            return "PCM \"\(device)\" cannot be configured: \(problem)"
        }
    }

    private static func hint(call: String, code: Int32, device: String) -> String? {
        switch -code {
        case ENOENT where call.hasPrefix("snd_pcm_open"):
            return "no such PCM: list the names with `aplay -L` / `arecord -L` (alsa-utils) and check /etc/asound.conf and ~/.asoundrc"
        case EBUSY:
            return "another program holds the device (`fuser -v /dev/snd/*` names it); use a dmix/dsnoop PCM to share it"
        case EACCES, EPERM:
            return "permission denied: run voiced in the `audio` group"
        case ENODEV, ENXIO, EBADFD:
            return "the device is gone (unplugged, or its driver unbound): it is reopened with backoff"
        case EINVAL where call.hasPrefix("snd_pcm_hw_params"):
            return "the hardware cannot do this: use a `plug:` PCM (e.g. `plughw:1,0` or `default`) so ALSA converts rate, format and channels"
        default:
            return nil
        }
    }
}

/// Checks an ALSA return code: a negative value becomes a typed error naming the call.
@discardableResult
@inline(__always)
func alsaCheck(_ code: Int32, _ call: String, device: String) throws(ALSAError) -> Int32 {
    if code < 0 { throw .failed(call, code: code, device: device) }
    return code
}

/// Checks an ALSA frame count: a negative value becomes a typed error naming the call.
@discardableResult
@inline(__always)
func alsaCheck(_ code: Int, _ call: String, device: String) throws(ALSAError) -> Int {
    if code < 0 { throw .failed(call, code: Int32(truncatingIfNeeded: code), device: device) }
    return code
}
