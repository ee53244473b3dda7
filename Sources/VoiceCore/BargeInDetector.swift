/// What the speaker played, handed from the playback thread to the capture side as the echo
/// reference: the samples sent to the device (after the volume), in order.
///
/// One producer (the playback's writer) and one consumer (the barge-in detector). The producer
/// never blocks. The consumer takes one reference frame per microphone frame; while nothing
/// plays it gets silence. If the consumer falls behind by more than `maximumLag`, the oldest
/// reference is skipped so the two sides stay within the echo canceller's reach.
public final class PlaybackReference: Sendable {
    private let ring: AudioRingBuffer
    /// The most reference the consumer may lag behind (in samples).
    public let maximumLag: Int

    /// A reference keeping at most `maximumLag` (default 200 ms) of unread audio.
    public init(maximumLag: Duration = .milliseconds(200)) {
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

/// The microphone side of barge-in: per captured frame, takes the playback reference, cancels
/// the echo when a canceller is given, and runs the voice activity detector with the threshold
/// raised by the playback's level. Reports `.speechStarted` / `.speechEnded`.
///
/// Use it from one thread (the one consuming capture), one frame at a time, close to real time
/// so that the reference lines up with the microphone within the echo window.
public final class BargeInDetector {
    public private(set) var detector: VoiceActivityDetector
    private let reference: PlaybackReference?
    private let canceller: (any EchoCanceller)?
    private var referenceFrame: [Int16] = []
    private var cleanFrame: [Int16] = []

    /// The RMS of the last microphone frame after echo cancellation (the one the detector saw).
    public private(set) var lastCleanLevel: Double = 0
    /// The RMS of the last reference frame.
    public private(set) var lastReferenceLevel: Double = 0

    public init(settings: VoiceActivitySettings = VoiceActivitySettings(), reference: PlaybackReference?,
                echoCanceller: (any EchoCanceller)? = nil) {
        detector = VoiceActivityDetector(settings: settings)
        self.reference = reference
        canceller = echoCanceller
    }

    /// Changes the detector's settings live.
    public func update(settings: VoiceActivitySettings) { detector.update(settings: settings) }

    /// Processes one captured frame (any length; with a canceller, whole multiples of its frame
    /// size are cancelled and a remainder is passed through).
    public func process(_ frame: UnsafeBufferPointer<Int16>) -> SpeechEvent? {
        let count = frame.count
        if referenceFrame.count != count {
            referenceFrame = [Int16](repeating: 0, count: count)
            cleanFrame = [Int16](repeating: 0, count: count)
        }
        referenceFrame.withUnsafeMutableBufferPointer { target in
            if let reference { reference.next(into: target) } else { target.update(repeating: 0) }
        }
        if let canceller, canceller.frameSize > 0 {
            let size = canceller.frameSize
            referenceFrame.withUnsafeBufferPointer { ref in
                cleanFrame.withUnsafeMutableBufferPointer { out in
                    var offset = 0
                    while offset + size <= count {
                        canceller.process(microphone: UnsafeBufferPointer(rebasing: frame[offset..<offset + size]),
                                          reference: UnsafeBufferPointer(rebasing: ref[offset..<offset + size]),
                                          output: UnsafeMutableBufferPointer(rebasing: out[offset..<offset + size]))
                        offset += size
                    }
                    for i in offset..<count { out[i] = frame[i] }
                }
            }
        } else {
            cleanFrame.withUnsafeMutableBufferPointer { out in
                for i in 0..<count { out[i] = frame[i] }
            }
        }
        lastReferenceLevel = AudioMath.rms(referenceFrame)
        lastCleanLevel = AudioMath.rms(cleanFrame)
        return detector.process(level: lastCleanLevel, duration: PlaybackChunk.duration(ofSamples: count),
                                playbackLevel: lastReferenceLevel)
    }

    /// Processes one captured frame held in an array.
    public func process(_ frame: [Int16]) -> SpeechEvent? { frame.withUnsafeBufferPointer { process($0) } }
}
