/// What the speaker played, handed from the playback thread to the capture side as the echo
/// reference: the samples sent to the device (after the volume), in order.
///
/// One producer (the playback's writer) and one consumer (the barge-in detector). The producer
/// never blocks. The consumer takes one reference frame per microphone frame; while nothing
/// plays it gets silence. If the consumer falls behind by more than `maximumLag`, the oldest
/// reference is skipped so the two sides stay within the echo canceller's reach.
public final class PlaybackReference: Sendable {
    private let ring: AudioRingBuffer
    private let mirror: PlaybackReference?
    /// The most reference the consumer may lag behind (in samples).
    public let maximumLag: Int

    /// A reference keeping at most `maximumLag` (default 200 ms) of unread audio. A `mirror`
    /// gets each reference frame as the consumer takes it, silence included (the room harness
    /// hears the speaker through it, one frame later): the room and the canceller then see the
    /// same samples in the same order, however the playback and capture threads interleave.
    public init(maximumLag: Duration = .milliseconds(200), mirror: PlaybackReference? = nil) {
        self.mirror = mirror
        let lag = Int(maximumLag.seconds * Double(PlaybackChunk.sampleRate))
        self.maximumLag = max(1, lag)
        ring = AudioRingBuffer(capacity: self.maximumLag * 2)
    }

    /// Producer: records samples as they are sent to the device.
    public func played(_ samples: UnsafeBufferPointer<Int16>) { ring.write(samples) }

    /// Producer convenience for arrays.
    public func played(_ samples: [Int16]) { samples.withUnsafeBufferPointer { played($0) } }

    /// Consumer: fills `frame` with the next reference samples, silence where nothing played.
    /// Returns how many were real reference.
    @discardableResult
    public func next(into frame: UnsafeMutableBufferPointer<Int16>) -> Int {
        let excess = ring.fill - maximumLag
        if excess > 0 { _ = ring.read(maxCount: excess) }
        let count = ring.read(into: frame)
        if count < frame.count, let base = frame.baseAddress {
            (base + count).update(repeating: 0, count: frame.count - count)
        }
        mirror?.played(UnsafeBufferPointer(frame))
        return count
    }

    /// Samples waiting for the consumer.
    public var pending: Int { ring.fill }
}

/// Removes the speaker's own sound from the microphone signal, given what was played.
public protocol EchoCanceller: AnyObject {
    /// The frame length the canceller works on, in samples.
    var frameSize: Int { get }
    /// Cancels the echo of `reference` in `microphone` (both `frameSize` long) into `output`.
    func process(microphone: UnsafeBufferPointer<Int16>, reference: UnsafeBufferPointer<Int16>,
                 output: UnsafeMutableBufferPointer<Int16>)
    /// Forgets the echo path it has learned.
    func reset()
}

/// The one processor of captured audio, on the capture thread, before a frame goes to the ring
/// that speech-to-text reads.
///
/// Per frame it takes the next playback reference frame. While the speaker plays, and for
/// `tail` after the last reference sample that was not silence (the echo path's length plus a
/// margin), the frame is echo-cancelled *in place*, so that what goes on to the ring (and to
/// speech-to-text) is the cancelled signal. Otherwise the frame passes untouched and the only
/// work is its RMS for the voice activity detector: the canceller costs nothing at idle. Without
/// a canceller (`audio.echo_cancellation = false`), or with ``cancelsEcho`` off (the daemon's
/// `audio.barge_in = "button_only"`), no frame is ever cancelled.
///
/// The voice activity detector then runs on the frame (cancelled or not), with its threshold
/// raised by the playback's level, and reports `.speechStarted` / `.speechEnded`.
///
/// Use it from one thread (the one consuming capture), one frame at a time, close to real time
/// so that the reference lines up with the microphone within the canceller's filter length.
public final class CaptureProcessor {
    public private(set) var detector: VoiceActivityDetector
    private let reference: PlaybackReference?
    private let canceller: (any EchoCanceller)?
    /// How long after the playback's last sound frames are still cancelled.
    public let tail: Duration
    private let tailSamples: Int
    private var referenceFrame: [Int16] = []
    private var microphoneFrame: [Int16] = []
    private var scratch: [Int16] = []
    /// Samples since the reference last carried sound (saturates above the tail).
    private var sinceSound: Int

    /// The RMS of the last microphone frame after echo cancellation (the one the detector saw).
    public private(set) var lastCleanLevel: Double = 0
    /// The RMS of the last reference frame.
    public private(set) var lastReferenceLevel: Double = 0
    /// Whether the last frame was echo-cancelled (playback active or within its tail, and
    /// cancelling on).
    public private(set) var lastFrameCancelled = false
    /// Whether the last frame fell while the speaker played or within the tail after it (with or
    /// without a canceller): the echo gate's "echo risk".
    public private(set) var lastFrameInPlayback = false
    /// Whether frames in playback are echo-cancelled (live: off with `barge_in = "button_only"`,
    /// where the detector still runs on the raw frame).
    public var cancelsEcho: Bool
    /// Frames echo-cancelled and frames passed untouched, since the start.
    public private(set) var cancelledFrames = 0
    public private(set) var passedFrames = 0

    /// - Parameters:
    ///   - reference: what the speaker played (nil: no playback reference, nothing is cancelled).
    ///   - echoCanceller: nil: frames are never cancelled (the detector's threshold still rises
    ///     with the playback level).
    ///   - tail: how long after the playback's last sound cancellation goes on: the echo path's
    ///     length (the canceller's filter length covers it) plus a margin.
    public init(settings: VoiceActivitySettings = VoiceActivitySettings(), reference: PlaybackReference?,
                echoCanceller: (any EchoCanceller)? = nil, tail: Duration = .milliseconds(300), cancelsEcho: Bool = true) {
        self.cancelsEcho = cancelsEcho
        detector = VoiceActivityDetector(settings: settings)
        self.reference = reference
        canceller = echoCanceller
        self.tail = tail
        tailSamples = max(0, Int(tail.seconds * Double(PlaybackChunk.sampleRate)))
        sinceSound = tailSamples + 1
    }

    /// Changes the detector's settings live.
    public func update(settings: VoiceActivitySettings) { detector.update(settings: settings) }

    /// Whether the user is speaking (the detector's view, after its minimum duration).
    public var isSpeaking: Bool { detector.isSpeaking }

    /// Processes one captured frame in place: echo-cancelled while the playback is active or
    /// within its tail (whole multiples of the canceller's frame size; a remainder passes), then
    /// voice activity detection. Returns the detector's event, if any.
    public func process(inPlace frame: UnsafeMutableBufferPointer<Int16>) -> SpeechEvent? {
        let count = frame.count
        if referenceFrame.count != count {
            referenceFrame = [Int16](repeating: 0, count: count)
            microphoneFrame = [Int16](repeating: 0, count: count)
        }
        var sound = false
        referenceFrame.withUnsafeMutableBufferPointer { target in
            guard let reference, reference.next(into: target) > 0 else {
                target.update(repeating: 0)
                return
            }
            for sample in target where sample != 0 { sound = true; break }
        }
        sinceSound = sound ? 0 : min(sinceSound + count, tailSamples + 1)
        lastFrameInPlayback = sound || sinceSound <= tailSamples
        let cancel = cancelsEcho && canceller != nil && lastFrameInPlayback
        if cancel, let canceller, canceller.frameSize > 0 {
            let size = canceller.frameSize
            microphoneFrame.withUnsafeMutableBufferPointer { mic in
                for i in 0..<count { mic[i] = frame[i] }
                referenceFrame.withUnsafeBufferPointer { ref in
                    var offset = 0
                    while offset + size <= count {
                        canceller.process(microphone: UnsafeBufferPointer(rebasing: mic[offset..<offset + size]),
                                          reference: UnsafeBufferPointer(rebasing: ref[offset..<offset + size]),
                                          output: UnsafeMutableBufferPointer(rebasing: frame[offset..<offset + size]))
                        offset += size
                    }
                }
            }
            cancelledFrames += 1
        } else {
            passedFrames += 1
        }
        lastFrameCancelled = cancel
        lastReferenceLevel = sound ? referenceFrame.withUnsafeBufferPointer { AudioMath.rms($0) } : 0
        lastCleanLevel = AudioMath.rms(UnsafeBufferPointer(frame))
        return detector.process(level: lastCleanLevel, duration: PlaybackChunk.duration(ofSamples: count),
                                playbackLevel: lastReferenceLevel)
    }

    /// Processes a copy of one captured frame (the caller's frame is left as it was).
    public func process(_ frame: UnsafeBufferPointer<Int16>) -> SpeechEvent? {
        if scratch.count != frame.count { scratch = [Int16](repeating: 0, count: frame.count) }
        for i in 0..<frame.count { scratch[i] = frame[i] }
        return scratch.withUnsafeMutableBufferPointer { process(inPlace: $0) }
    }

    /// Processes one captured frame held in an array (left as it was).
    public func process(_ frame: [Int16]) -> SpeechEvent? { frame.withUnsafeBufferPointer { process($0) } }
}
