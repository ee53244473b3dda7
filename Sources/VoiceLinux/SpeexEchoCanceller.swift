import CSpeexDSP
import VoiceCore

/// Acoustic echo cancellation with speexdsp's echo canceller (MDF), using what the speaker
/// played as the reference, followed by speexdsp's preprocessor for residual echo suppression.
///
/// Owns its speexdsp states: `init` creates them, `deinit` destroys them. Use from one thread.
public final class SpeexEchoCanceller: EchoCanceller {
    public let frameSize: Int
    /// The echo tail the adaptive filter covers (delay from playback to microphone included).
    public let filterLength: Duration
    private let echo: OpaquePointer
    private let preprocess: OpaquePointer?

    /// - Parameters:
    ///   - frameSize: samples per call (10 to 20 ms is what speexdsp expects: 160 or 320).
    ///   - filterLength: the echo tail to cancel; must cover the playback buffer and the capture
    ///     period as well as the room (200 ms by default).
    ///   - suppressResidualEcho: run speexdsp's preprocessor on the output to suppress what
    ///     the filter leaves. Off by default: measured on the room harness (docs/audio.md), with
    ///     the denoiser off it changes nothing and costs CPU; with it on it also removes noise.
    ///   - denoise: the preprocessor's denoiser too (its residual echo suppression works through
    ///     the denoiser's gains).
    public init?(frameSize: Int = 320, filterLength: Duration = .milliseconds(200), suppressResidualEcho: Bool = false,
                 denoise: Bool = false) {
        let tail = Int32(filterLength.seconds * Double(PlaybackChunk.sampleRate))
        guard frameSize > 0, tail > 0, let echo = speex_echo_state_init(Int32(frameSize), tail) else { return nil }
        var rate = Int32(PlaybackChunk.sampleRate)
        speex_echo_ctl(echo, SPEEX_ECHO_SET_SAMPLING_RATE, &rate)
        var pre: OpaquePointer?
        if suppressResidualEcho, let state = speex_preprocess_state_init(Int32(frameSize), rate) {
            var off: Int32 = 0
            var denoising: Int32 = denoise ? 1 : 0
            speex_preprocess_ctl(state, SPEEX_PREPROCESS_SET_DENOISE, &denoising)
            speex_preprocess_ctl(state, SPEEX_PREPROCESS_SET_AGC, &off)
            speex_preprocess_ctl(state, SPEEX_PREPROCESS_SET_ECHO_STATE, UnsafeMutableRawPointer(echo))
            pre = state
        }
        self.frameSize = frameSize
        self.filterLength = filterLength
        self.echo = echo
        preprocess = pre
    }

    deinit {
        if let preprocess { speex_preprocess_state_destroy(preprocess) }
        speex_echo_state_destroy(echo)
    }

    public func process(microphone: UnsafeBufferPointer<Int16>, reference: UnsafeBufferPointer<Int16>,
                        output: UnsafeMutableBufferPointer<Int16>) {
        guard microphone.count == frameSize, reference.count == frameSize, output.count == frameSize,
              let mic = microphone.baseAddress, let ref = reference.baseAddress, let out = output.baseAddress else {
            for i in output.indices { output[i] = i < microphone.count ? microphone[i] : 0 }
            return
        }
        speex_echo_cancellation(echo, mic, ref, out)
        if let preprocess { _ = speex_preprocess_run(preprocess, out) }
    }

    public func reset() { speex_echo_state_reset(echo) }
}
