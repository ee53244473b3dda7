import CALSA
import Glibc
import VoiceCore

/// How to open and configure a PCM.
public struct PCMConfiguration: Equatable, Sendable {
    /// Which way the audio flows.
    public enum Direction: String, Equatable, Sendable { case capture, playback }

    /// The ALSA PCM name, e.g. `default`, `plughw:1,0`, `null`, `file:'/tmp/out.raw',raw`.
    public var device: String
    public var direction: Direction
    /// Frames per second; voiced uses 16 kHz throughout.
    public var sampleRate: Int
    /// Interleaved channels; voiced uses mono.
    public var channels: Int
    /// The period asked for.
    public var period: Duration
    /// The longest period accepted.
    public var maximumPeriod: Duration
    /// The buffer asked for.
    public var buffer: Duration
    /// The longest buffer accepted.
    public var maximumBuffer: Duration
    /// ALSA configuration in asoundrc syntax that defines `device`, used *instead of* the
    /// system's configuration (`snd_pcm_open_lconf`): tests define file PCMs this way. Slaves
    /// must then be defined inline too (`slave.pcm { type null }`), since `null` & co. are not.
    public var configurationText: String?

    public init(device: String, direction: Direction, sampleRate: Int = PlaybackChunk.sampleRate, channels: Int = 1,
                period: Duration = .milliseconds(20), maximumPeriod: Duration = .milliseconds(20),
                buffer: Duration = .milliseconds(80), maximumBuffer: Duration = .milliseconds(80),
                configurationText: String? = nil) {
        self.device = device
        self.direction = direction
        self.sampleRate = sampleRate
        self.channels = channels
        self.period = period
        self.maximumPeriod = maximumPeriod
        self.buffer = buffer
        self.maximumBuffer = maximumBuffer
        self.configurationText = configurationText
    }

    /// Capture as voiced needs it: 16 kHz mono, 20 ms periods, at most 4 of them buffered.
    /// `default` goes through ALSA's `plug` layer, which converts from a card that only does
    /// 48 kHz stereo; name a `plughw:` device rather than `hw:` for the same reason.
    public static func capture(device: String = "default") -> PCMConfiguration {
        PCMConfiguration(device: device, direction: .capture)
    }

    /// Playback as voiced needs it: 16 kHz mono, periods of at most 20 ms, at most 80 ms buffered.
    public static func playback(device: String = "default") -> PCMConfiguration {
        PCMConfiguration(device: device, direction: .playback)
    }

    func frames(_ duration: Duration) -> Int { Int((duration.seconds * Double(sampleRate)).rounded()) }
}

/// What a PCM was actually configured to.
public struct PCMFormat: Equatable, Sendable, CustomStringConvertible {
    public var sampleRate: Int
    public var channels: Int
    /// Always S16_LE in voiced.
    public var sampleFormat: String
    public var periodFrames: Int
    public var bufferFrames: Int

    public init(sampleRate: Int, channels: Int, sampleFormat: String = "S16_LE", periodFrames: Int, bufferFrames: Int) {
        self.sampleRate = sampleRate
        self.channels = channels
        self.sampleFormat = sampleFormat
        self.periodFrames = periodFrames
        self.bufferFrames = bufferFrames
    }

    /// The period's length.
    public var period: Duration { .microseconds(Int64(periodFrames) * 1_000_000 / Int64(max(1, sampleRate))) }
    /// The buffer's length.
    public var buffer: Duration { .microseconds(Int64(bufferFrames) * 1_000_000 / Int64(max(1, sampleRate))) }

    public var description: String {
        "\(sampleFormat) \(sampleRate) Hz \(channels) ch, period \(periodFrames) frames, buffer \(bufferFrames) frames"
    }
}

/// The state of a PCM (`snd_pcm_state`).
public enum PCMState: Equatable, Sendable {
    case open, setup, prepared, running, xrun, draining, paused, suspended, disconnected, unknown
}

/// The few PCM calls the capture and playback loops use, with ALSA's conventions: frame counts,
/// or a negative errno. ``ALSAPCM`` is the real one; tests use fakes that fail on demand.
///
/// Implementations are used by one thread at a time, except that ``wait(milliseconds:)`` may run
/// while another thread drops or prepares (alsa-lib allows it).
public protocol PCMDevice: AnyObject, Sendable {
    /// The negotiated format.
    var format: PCMFormat { get }
    /// Reads up to `frames` frames without blocking (`-EAGAIN` when none are ready).
    func readi(_ buffer: UnsafeMutablePointer<Int16>, frames: Int) -> Int
    /// Writes up to `frames` frames without blocking (`-EAGAIN` when there is no room).
    func writei(_ buffer: UnsafePointer<Int16>, frames: Int) -> Int
    /// Waits until the device is ready for I/O: 1 ready, 0 timed out, negative errno.
    func wait(milliseconds: Int32) -> Int32
    /// `snd_pcm_recover`: handles an xrun or a suspend; returns 0 or the unhandled error.
    func recover(_ code: Int32) -> Int32
    /// Stops at once, discarding what is buffered.
    func drop() -> Int32
    /// Makes the device ready to start again.
    func prepare() -> Int32
    /// Frames written but not yet played (playback) or captured but not read; or a negative errno.
    func delay() -> Int
    /// The device's state.
    var state: PCMState { get }
}

/// An open ALSA PCM, configured for 16-bit interleaved non-blocking I/O.
///
/// Owns its `snd_pcm_t` (and its private configuration, if any): `init` opens and configures
/// it, `deinit` closes it. Every call's return code goes through one check that turns it into an
/// ``ALSAError`` naming the call.
public final class ALSAPCM: PCMDevice, @unchecked Sendable {
    // @unchecked: the handle is used by one thread at a time (ALSACapture's thread, or
    // ALSAPlayback under its lock), except snd_pcm_wait, which alsa-lib allows alongside.

    public let configuration: PCMConfiguration
    public let format: PCMFormat
    private let pcm: OpaquePointer
    private let localConfiguration: OpaquePointer?

    /// Opens `configuration.device` and sets its hardware and software parameters.
    public init(_ configuration: PCMConfiguration) throws(ALSAError) {
        self.configuration = configuration
        let device = configuration.device
        let stream = configuration.direction == .capture ? SND_PCM_STREAM_CAPTURE : SND_PCM_STREAM_PLAYBACK
        var local: OpaquePointer?
        if let text = configurationText(configuration) {
            local = try Self.loadConfiguration(text, device: device)
        }
        var handle: OpaquePointer?
        let opened: Int32
        if let local {
            opened = snd_pcm_open_lconf(&handle, device, stream, SND_PCM_NONBLOCK, local)
        } else {
            opened = snd_pcm_open(&handle, device, stream, SND_PCM_NONBLOCK)
        }
        do {
            try alsaCheck(opened, local == nil ? "snd_pcm_open" : "snd_pcm_open_lconf", device: device)
        } catch {
            if let local { snd_config_delete(local) }
            throw error
        }
        guard let handle else {
            if let local { snd_config_delete(local) }
            throw .configuration(device: device, problem: "snd_pcm_open returned no handle")
        }
        do {
            format = try Self.configure(handle, configuration)
        } catch {
            snd_pcm_close(handle)
            if let local { snd_config_delete(local) }
            throw error
        }
        pcm = handle
        localConfiguration = local
    }

    deinit {
        snd_pcm_close(pcm)
        if let localConfiguration { snd_config_delete(localConfiguration) }
    }

    public func readi(_ buffer: UnsafeMutablePointer<Int16>, frames: Int) -> Int {
        snd_pcm_readi(pcm, buffer, snd_pcm_uframes_t(frames))
    }

    public func writei(_ buffer: UnsafePointer<Int16>, frames: Int) -> Int {
        snd_pcm_writei(pcm, buffer, snd_pcm_uframes_t(frames))
    }

    public func wait(milliseconds: Int32) -> Int32 { snd_pcm_wait(pcm, milliseconds) }

    public func recover(_ code: Int32) -> Int32 { snd_pcm_recover(pcm, code, 1) }

    public func drop() -> Int32 { snd_pcm_drop(pcm) }

    public func prepare() -> Int32 { snd_pcm_prepare(pcm) }

    public func delay() -> Int {
        var frames: snd_pcm_sframes_t = 0
        let code = snd_pcm_delay(pcm, &frames)
        return code < 0 ? Int(code) : frames
    }

    public var state: PCMState {
        switch snd_pcm_state(pcm) {
        case SND_PCM_STATE_OPEN: .open
        case SND_PCM_STATE_SETUP: .setup
        case SND_PCM_STATE_PREPARED: .prepared
        case SND_PCM_STATE_RUNNING: .running
        case SND_PCM_STATE_XRUN: .xrun
        case SND_PCM_STATE_DRAINING: .draining
        case SND_PCM_STATE_PAUSED: .paused
        case SND_PCM_STATE_SUSPENDED: .suspended
        case SND_PCM_STATE_DISCONNECTED: .disconnected
        default: .unknown
        }
    }

    // MARK: - Configuration

    private static func loadConfiguration(_ text: String, device: String) throws(ALSAError) -> OpaquePointer {
        var top: OpaquePointer?
        try alsaCheck(snd_config_top(&top), "snd_config_top", device: device)
        guard let top else { throw .configuration(device: device, problem: "snd_config_top returned nothing") }
        var input: OpaquePointer?
        let bytes = Array(text.utf8)
        let openedInput = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { snd_input_buffer_open(&input, $0.baseAddress, buffer.count) }
        }
        do throws(ALSAError) {
            try alsaCheck(openedInput, "snd_input_buffer_open", device: device)
            guard let input else { throw .configuration(device: device, problem: "no input buffer") }
            let loaded = snd_config_load(top, input)
            snd_input_close(input)
            try alsaCheck(loaded, "snd_config_load", device: device)
        } catch {
            snd_config_delete(top)
            throw error
        }
        return top
    }

    private static func configure(_ pcm: OpaquePointer, _ configuration: PCMConfiguration) throws(ALSAError) -> PCMFormat {
        let device = configuration.device
        var hwPointer: OpaquePointer?
        try alsaCheck(snd_pcm_hw_params_malloc(&hwPointer), "snd_pcm_hw_params_malloc", device: device)
        guard let hw = hwPointer else { throw .configuration(device: device, problem: "no memory for hw params") }
        defer { snd_pcm_hw_params_free(hw) }

        try alsaCheck(snd_pcm_hw_params_any(pcm, hw), "snd_pcm_hw_params_any", device: device)
        try alsaCheck(snd_pcm_hw_params_set_access(pcm, hw, SND_PCM_ACCESS_RW_INTERLEAVED),
                      "snd_pcm_hw_params_set_access(RW_INTERLEAVED)", device: device)
        try alsaCheck(snd_pcm_hw_params_set_format(pcm, hw, SND_PCM_FORMAT_S16_LE),
                      "snd_pcm_hw_params_set_format(S16_LE)", device: device)
        try alsaCheck(snd_pcm_hw_params_set_channels(pcm, hw, UInt32(configuration.channels)),
                      "snd_pcm_hw_params_set_channels(\(configuration.channels))", device: device)
        try alsaCheck(snd_pcm_hw_params_set_rate_resample(pcm, hw, 1), "snd_pcm_hw_params_set_rate_resample", device: device)
        var rate = UInt32(configuration.sampleRate)
        var direction: Int32 = 0
        try alsaCheck(snd_pcm_hw_params_set_rate_near(pcm, hw, &rate, &direction),
                      "snd_pcm_hw_params_set_rate_near(\(configuration.sampleRate))", device: device)
        guard Int(rate) == configuration.sampleRate else {
            throw .configuration(device: device, problem: "it offers \(rate) Hz, not \(configuration.sampleRate) Hz; "
                                 + "use a `plug:` PCM (e.g. `plughw:1,0` or `default`) so ALSA converts the rate")
        }

        var maximumPeriod = snd_pcm_uframes_t(configuration.frames(configuration.maximumPeriod))
        direction = 0
        try alsaCheck(snd_pcm_hw_params_set_period_size_max(pcm, hw, &maximumPeriod, &direction),
                      "snd_pcm_hw_params_set_period_size_max(\(maximumPeriod))", device: device)
        var maximumBuffer = snd_pcm_uframes_t(configuration.frames(configuration.maximumBuffer))
        try alsaCheck(snd_pcm_hw_params_set_buffer_size_max(pcm, hw, &maximumBuffer),
                      "snd_pcm_hw_params_set_buffer_size_max(\(maximumBuffer))", device: device)
        var period = snd_pcm_uframes_t(configuration.frames(configuration.period))
        direction = 0
        try alsaCheck(snd_pcm_hw_params_set_period_size_near(pcm, hw, &period, &direction),
                      "snd_pcm_hw_params_set_period_size_near(\(period))", device: device)
        var buffer = snd_pcm_uframes_t(configuration.frames(configuration.buffer))
        try alsaCheck(snd_pcm_hw_params_set_buffer_size_near(pcm, hw, &buffer),
                      "snd_pcm_hw_params_set_buffer_size_near(\(buffer))", device: device)
        try alsaCheck(snd_pcm_hw_params(pcm, hw), "snd_pcm_hw_params", device: device)

        var periodFrames: snd_pcm_uframes_t = 0
        var bufferFrames: snd_pcm_uframes_t = 0
        direction = 0
        try alsaCheck(snd_pcm_hw_params_get_period_size(hw, &periodFrames, &direction), "snd_pcm_hw_params_get_period_size", device: device)
        try alsaCheck(snd_pcm_hw_params_get_buffer_size(hw, &bufferFrames), "snd_pcm_hw_params_get_buffer_size", device: device)
        let format = PCMFormat(sampleRate: Int(rate), channels: configuration.channels,
                               periodFrames: Int(periodFrames), bufferFrames: Int(bufferFrames))
        guard format.periodFrames > 0, format.periodFrames <= configuration.frames(configuration.maximumPeriod) else {
            throw .configuration(device: device, problem: "period of \(format.periodFrames) frames, over the \(configuration.maximumPeriod) allowed")
        }
        guard format.bufferFrames <= configuration.frames(configuration.maximumBuffer) else {
            throw .configuration(device: device, problem: "buffer of \(format.bufferFrames) frames, over the \(configuration.maximumBuffer) allowed")
        }

        var swPointer: OpaquePointer?
        try alsaCheck(snd_pcm_sw_params_malloc(&swPointer), "snd_pcm_sw_params_malloc", device: device)
        guard let sw = swPointer else { throw .configuration(device: device, problem: "no memory for sw params") }
        defer { snd_pcm_sw_params_free(sw) }
        try alsaCheck(snd_pcm_sw_params_current(pcm, sw), "snd_pcm_sw_params_current", device: device)
        // Playback starts with the first frame written (the writer keeps the buffer filled from
        // then on); capture starts with the first read.
        try alsaCheck(snd_pcm_sw_params_set_start_threshold(pcm, sw, 1), "snd_pcm_sw_params_set_start_threshold", device: device)
        try alsaCheck(snd_pcm_sw_params_set_avail_min(pcm, sw, periodFrames), "snd_pcm_sw_params_set_avail_min", device: device)
        try alsaCheck(snd_pcm_sw_params(pcm, sw), "snd_pcm_sw_params", device: device)
        try alsaCheck(snd_pcm_prepare(pcm), "snd_pcm_prepare", device: device)
        return format
    }
}

private func configurationText(_ configuration: PCMConfiguration) -> String? {
    guard let text = configuration.configurationText, !text.isEmpty else { return nil }
    return text
}
