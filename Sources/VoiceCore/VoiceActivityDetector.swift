/// Settings of the local voice activity detector used for barge-in.
///
/// Levels are in dB: `…Level` in dBFS (0 is full scale), margins and couplings relative.
public struct VoiceActivitySettings: Equatable, Sendable, Codable {
    /// Off: the detector never reports speech (the button still interrupts).
    public var enabled = true
    /// Quieter frames are never speech, whatever the noise and the playback.
    public var minimumLevel: Double = -50
    /// Speech must be this much louder than the tracked background noise.
    public var noiseMargin: Double = 9
    /// The background noise is the quietest frame over this window (minimum statistics), so
    /// it is learned during speech and playback too: speech and echo leave gaps, noise does not.
    public var noiseWindow: Duration = .seconds(2)
    /// Speech must be this much louder than the echo expected from the playback.
    public var echoMargin: Double = 6
    /// How loud the speaker's own sound is at the microphone relative to what is played, before
    /// the detector has measured it (0 dB: as loud as the reference, a speaker next to the mic).
    public var echoCoupling: Double = 0
    /// Measure the coupling while the speaker plays and nobody talks (a peak that decays).
    public var adaptEchoCoupling = true
    /// The highest coupling measured or assumed (keeps soft talk over playback from pushing the
    /// threshold up without bound).
    public var maximumEchoCoupling: Double = 10
    /// How fast a measured coupling peak decays, in dB per second.
    public var echoCouplingDecay: Double = 6
    /// The echo path's delay and tail: the playback level taken is the highest over this window.
    public var echoWindow: Duration = .milliseconds(200)
    /// Speech must go on this long before it is reported (minimum speech duration).
    public var minimumSpeech: Duration = .milliseconds(80)
    /// This long without speech ends it (hangover).
    public var hangover: Duration = .milliseconds(400)

    public init() {}
}

/// Frame-energy voice activity detection whose threshold rises with the playback level, so that
/// the speaker's own voice coming back through the microphone does not count as the user's.
///
/// Feed it one frame at a time (20 ms is usual) with the RMS of the playback reference for the
/// same stretch of time (after echo cancellation, if any: then the residual is what is compared).
/// A frame is speech when it is louder than the highest of: the minimum level, the tracked noise
/// floor plus `noiseMargin`, and the expected echo (the playback's highest level over the echo
/// window × the coupling) plus `echoMargin`. Speech is reported after `minimumSpeech` of
/// consecutive speech frames and ends after `hangover` without. Pure and single-threaded.
public struct VoiceActivityDetector: Sendable {
    /// What the detector made of the last frame (for logs and tuning).
    public struct Analysis: Equatable, Sendable {
        /// The microphone frame's RMS (Int16 scale).
        public var level: Double = 0
        /// The level a frame had to exceed.
        public var threshold: Double = 0
        /// The echo expected from the playback (RMS).
        public var expectedEcho: Double = 0
        /// The tracked background noise (RMS).
        public var noiseFloor: Double = 0
        /// The coupling in use (amplitude ratio).
        public var echoCoupling: Double = 0
        /// Whether the frame counted as speech.
        public var isSpeech = false
    }

    public private(set) var settings: VoiceActivitySettings
    /// Whether the user is speaking (after the minimum duration, until the hangover).
    public private(set) var isSpeaking = false
    public private(set) var lastAnalysis = Analysis()

    private var noiseFloor: Double
    /// The quietest level of each quarter of the noise window so far, newest last.
    private var quietest: [Double] = []
    private var blockElapsed: Duration = .zero
    private var coupling: Double
    private var references: [(level: Double, duration: Duration)] = []
    private var speechRun: Duration = .zero
    private var silenceRun: Duration = .zero

    public init(settings: VoiceActivitySettings = VoiceActivitySettings()) {
        self.settings = settings
        noiseFloor = AudioMath.amplitude(decibels: settings.minimumLevel) * 32768
        coupling = AudioMath.amplitude(decibels: min(settings.echoCoupling, settings.maximumEchoCoupling))
    }

    /// Changes the settings; the measured noise floor and coupling are kept.
    public mutating func update(settings: VoiceActivitySettings) {
        self.settings = settings
        coupling = min(coupling, AudioMath.amplitude(decibels: settings.maximumEchoCoupling))
        if !settings.enabled { reset() }
    }

    /// Forgets the speech in progress (the measured noise floor and coupling are kept).
    public mutating func reset() {
        isSpeaking = false
        speechRun = .zero
        silenceRun = .zero
    }

    /// Analyses one 16 kHz frame; `playbackLevel` is the RMS of what the speaker played over the
    /// same time (0 when silent). Returns `.speechStarted` or `.speechEnded` when that changes.
    public mutating func process(_ frame: UnsafeBufferPointer<Int16>, playbackLevel: Double) -> SpeechEvent? {
        let duration = PlaybackChunk.duration(ofSamples: frame.count)
        return process(level: AudioMath.rms(frame), duration: duration, playbackLevel: playbackLevel)
    }

    /// Analyses one 16 kHz frame; see ``process(_:playbackLevel:)-(UnsafeBufferPointer<Int16>,_)``.
    public mutating func process(_ frame: [Int16], playbackLevel: Double) -> SpeechEvent? {
        frame.withUnsafeBufferPointer { process($0, playbackLevel: playbackLevel) }
    }

    /// Analyses one frame known by its RMS `level` and `duration`.
    public mutating func process(level: Double, duration: Duration, playbackLevel: Double) -> SpeechEvent? {
        guard settings.enabled, duration > .zero else { return nil }
        let seconds = duration.seconds

        // The playback's highest level over the echo window, this frame included.
        references.append((playbackLevel, duration))
        var kept = Duration.zero
        var cut = references.count
        while cut > 0, kept < settings.echoWindow {
            cut -= 1
            kept += references[cut].duration
        }
        if cut > 0 { references.removeFirst(cut) }
        let reference = references.reduce(0) { max($0, $1.level) }

        let minimum = AudioMath.amplitude(decibels: settings.minimumLevel) * 32768
        let expectedEcho = reference * coupling
        let threshold = max(minimum,
                            noiseFloor * AudioMath.amplitude(decibels: settings.noiseMargin),
                            expectedEcho * AudioMath.amplitude(decibels: settings.echoMargin))
        let isSpeech = level > threshold
        lastAnalysis = Analysis(level: level, threshold: threshold, expectedEcho: expectedEcho,
                                noiseFloor: noiseFloor, echoCoupling: coupling, isSpeech: isSpeech)

        // The background noise: the quietest frame over the noise window, in four blocks.
        if quietest.isEmpty || blockElapsed >= settings.noiseWindow / 4 {
            quietest.append(level)
            blockElapsed = .zero
            if quietest.count > 4 { quietest.removeFirst() }
        } else {
            quietest[quietest.count - 1] = min(quietest[quietest.count - 1], level)
        }
        blockElapsed += duration
        noiseFloor = max(1, quietest.min() ?? level)
        if !isSpeech {
            // The coupling: the peak ratio of microphone to playback, which decays slowly.
            if settings.adaptEchoCoupling, reference > minimum {
                let ceiling = AudioMath.amplitude(decibels: settings.maximumEchoCoupling)
                let decayed = coupling * AudioMath.amplitude(decibels: -settings.echoCouplingDecay * seconds)
                // What is above the noise is the echo (the noise alone says nothing of the coupling).
                let echo = max(0, level * level - noiseFloor * noiseFloor).squareRoot()
                let measured = echo / reference
                let rise = coupling * AudioMath.amplitude(decibels: 50 * seconds)  // at most 50 dB/s up
                coupling = min(ceiling, max(decayed, min(measured, rise)))
            }
        }

        if isSpeech {
            silenceRun = .zero
            speechRun += duration
            if !isSpeaking, speechRun >= settings.minimumSpeech {
                isSpeaking = true
                return .speechStarted
            }
        } else {
            speechRun = .zero
            if isSpeaking {
                silenceRun += duration
                if silenceRun >= settings.hangover {
                    isSpeaking = false
                    silenceRun = .zero
                    return .speechEnded
                }
            }
        }
        return nil
    }
}
