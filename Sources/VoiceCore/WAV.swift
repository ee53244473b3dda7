/// RIFF/WAVE parsing and writing, in memory (the file I/O lives in the adapters).
///
/// Reads linear PCM of 8, 16, 24 or 32 bits and IEEE float of 32 or 64 bits, plain or
/// `WAVE_FORMAT_EXTENSIBLE`, in any chunk order, and turns the samples into 16-bit. Writes 16-bit
/// PCM. Bad input is reported with a ``WAVError`` that says what is wrong and what to do about it.
public enum WAV {
    /// The size of the header ``header(sampleRate:channels:dataByteCount:)`` writes.
    public static let headerSize = 44
    /// Where the RIFF chunk's size sits in that header.
    public static let riffSizeOffset = 4
    /// Where the data chunk's size sits in that header.
    public static let dataSizeOffset = 40
    /// The highest sample rate accepted (anything above is taken for a corrupt header).
    public static let maximumSampleRate = 768_000
    /// The most channels accepted.
    public static let maximumChannels = 32

    /// How strictly ``parse(_:options:)`` reads.
    public struct ReadOptions: Equatable, Sendable {
        /// Accept a data chunk that claims more bytes than the file holds, reading what is there
        /// (rounded down to whole frames). Programs that stream a WAV to a pipe cannot go back to
        /// fill in the size (e.g. `espeak-ng --stdout`), so they leave a placeholder.
        public var acceptTruncatedData: Bool

        public init(acceptTruncatedData: Bool = false) { self.acceptTruncatedData = acceptTruncatedData }
    }

    /// Parses a whole WAV file held in memory.
    public static func parse(_ bytes: [UInt8], options: ReadOptions = ReadOptions()) throws(WAVError) -> WAVAudio {
        try bytes.withUnsafeBufferPointer { buffer throws(WAVError) -> WAVAudio in
            try parse(UnsafeRawBufferPointer(buffer), options: options)
        }
    }

    /// Parses a whole WAV file held in memory.
    public static func parse(_ bytes: UnsafeRawBufferPointer, options: ReadOptions = ReadOptions()) throws(WAVError) -> WAVAudio {
        guard bytes.count >= 12 else { throw .tooShort(byteCount: bytes.count) }
        let magic = fourCC(bytes, 0)
        guard magic == "RIFF" else { throw .notRIFF(found: magic) }
        let kind = fourCC(bytes, 8)
        guard kind == "WAVE" else { throw .notWAVE(found: kind) }
        let riffEnd = 8 + Int(u32(bytes, 4))
        if riffEnd > bytes.count, !options.acceptTruncatedData {
            throw .truncatedChunk(id: "RIFF", declared: riffEnd - 8, available: bytes.count - 8)
        }
        let limit = min(riffEnd, bytes.count)

        var format: Format?
        var data: Range<Int>?
        var offset = 12
        while offset + 8 <= limit {
            let id = fourCC(bytes, offset)
            let size = Int(u32(bytes, offset + 4))
            let body = offset + 8
            var end = body + size
            if end > limit {
                if id == "data", options.acceptTruncatedData {
                    end = limit
                } else if end > bytes.count {
                    throw .truncatedChunk(id: id, declared: size, available: bytes.count - body)
                } else {
                    throw .oversizedChunk(id: id, declared: size, room: limit - body)
                }
            }
            switch id {
            case "fmt ":
                guard format == nil else { throw .duplicateChunk(id: id) }
                format = try Format(bytes, body: body, size: end - body)
            case "data":
                guard data == nil else { throw .duplicateChunk(id: id) }
                data = body..<end
            default:
                break  // LIST, fact, cue, ...: not needed
            }
            offset = end + (size & 1)  // chunks are padded to an even size
        }
        guard let format else { throw .missingFormatChunk }
        guard var data else { throw .missingDataChunk }
        let frame = format.blockAlign
        if data.count % frame != 0 {
            let truncatedByUs = data.upperBound == limit && options.acceptTruncatedData
            guard truncatedByUs else { throw .oddDataSize(byteCount: data.count, blockAlign: frame) }
            data = data.lowerBound..<(data.upperBound - data.count % frame)
        }
        let samples = format.decode(UnsafeRawBufferPointer(rebasing: bytes[data]))
        return WAVAudio(sampleRate: format.sampleRate, channels: format.channels,
                        sourceBitsPerSample: format.bits, sourceIsFloat: format.isFloat, samples: samples)
    }

    /// A 44-byte header for 16-bit PCM whose data chunk holds `dataByteCount` bytes.
    public static func header(sampleRate: Int, channels: Int = 1, dataByteCount: Int) -> [UInt8] {
        let blockAlign = 2 * channels
        var out: [UInt8] = []
        out.reserveCapacity(headerSize)
        out += Array("RIFF".utf8)
        appendU32(&out, UInt32(clamping: 36 + dataByteCount))
        out += Array("WAVEfmt ".utf8)
        appendU32(&out, 16)
        appendU16(&out, 1)  // PCM
        appendU16(&out, UInt16(clamping: channels))
        appendU32(&out, UInt32(clamping: sampleRate))
        appendU32(&out, UInt32(clamping: sampleRate * blockAlign))
        appendU16(&out, UInt16(clamping: blockAlign))
        appendU16(&out, 16)
        out += Array("data".utf8)
        appendU32(&out, UInt32(clamping: dataByteCount))
        return out
    }

    /// A complete 16-bit PCM WAV file holding `samples` (interleaved when `channels` > 1).
    public static func encode(_ samples: [Int16], sampleRate: Int = PlaybackChunk.sampleRate, channels: Int = 1) -> [UInt8] {
        var out = header(sampleRate: sampleRate, channels: channels, dataByteCount: samples.count * 2)
        out.reserveCapacity(headerSize + samples.count * 2)
        appendSamples(&out, samples)
        return out
    }

    /// Appends `samples` as little-endian 16-bit PCM.
    public static func appendSamples(_ out: inout [UInt8], _ samples: [Int16]) {
        for sample in samples {
            let bits = UInt16(bitPattern: sample)
            out.append(UInt8(truncatingIfNeeded: bits))
            out.append(UInt8(truncatingIfNeeded: bits >> 8))
        }
    }

    /// `value` as 4 little-endian bytes (to patch a size in a header).
    public static func littleEndianBytes(_ value: UInt32) -> [UInt8] {
        var out: [UInt8] = []
        appendU32(&out, value)
        return out
    }

    // MARK: - Reading helpers

    struct Format {
        var tag: Int
        var channels: Int
        var sampleRate: Int
        var blockAlign: Int
        var bits: Int
        var isFloat: Bool

        init(_ bytes: UnsafeRawBufferPointer, body: Int, size: Int) throws(WAVError) {
            guard size >= 16 else { throw .formatChunkTooSmall(byteCount: size) }
            tag = Int(u16(bytes, body))
            channels = Int(u16(bytes, body + 2))
            sampleRate = Int(u32(bytes, body + 4))
            blockAlign = Int(u16(bytes, body + 12))
            bits = Int(u16(bytes, body + 14))
            if tag == 0xFFFE {  // WAVE_FORMAT_EXTENSIBLE: the real tag opens the sub-format GUID
                guard size >= 40 else { throw .formatChunkTooSmall(byteCount: size) }
                tag = Int(u16(bytes, body + 24))
            }
            guard tag == 1 || tag == 3 else { throw .notPCM(formatTag: tag) }
            isFloat = tag == 3
            let supported = isFloat ? [32, 64] : [8, 16, 24, 32]
            guard supported.contains(bits) else { throw .unsupportedBitDepth(bits: bits, isFloat: isFloat) }
            guard (1...WAV.maximumChannels).contains(channels) else { throw .invalidChannelCount(channels) }
            guard (1...WAV.maximumSampleRate).contains(sampleRate) else { throw .invalidSampleRate(sampleRate) }
            let expected = channels * bits / 8
            guard blockAlign == expected else { throw .inconsistentBlockAlign(declared: blockAlign, expected: expected) }
        }

        func decode(_ data: UnsafeRawBufferPointer) -> [Int16] {
            let width = bits / 8
            let count = data.count / width
            var out = [Int16](repeating: 0, count: count)
            out.withUnsafeMutableBufferPointer { target in
                for i in 0..<count {
                    let at = i * width
                    let value: Int16
                    switch (isFloat, bits) {
                    case (false, 8): value = Int16(Int(data[at]) - 128) << 8
                    case (false, 16): value = Int16(bitPattern: u16(data, at))
                    case (false, 24): value = Int16(bitPattern: UInt16(data[at + 1]) | UInt16(data[at + 2]) << 8)
                    case (false, _): value = Int16(bitPattern: UInt16(truncatingIfNeeded: u32(data, at) >> 16))
                    case (true, 32): value = AudioMath.clampToInt16(Double(Float(bitPattern: u32(data, at))) * 32768)
                    case (true, _):
                        let bits = UInt64(u32(data, at)) | UInt64(u32(data, at + 4)) << 32
                        value = AudioMath.clampToInt16(Double(bitPattern: bits) * 32768)
                    }
                    target[i] = value
                }
            }
            return out
        }
    }

    static func fourCC(_ bytes: UnsafeRawBufferPointer, _ at: Int) -> String {
        Escaping.escaped((at..<at + 4).map { Unicode.Scalar(bytes[$0]) }, as: .bytes)
    }

    static func u16(_ bytes: UnsafeRawBufferPointer, _ at: Int) -> UInt16 {
        UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8
    }

    static func u32(_ bytes: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
        UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
    }

    static func appendU16(_ out: inout [UInt8], _ value: UInt16) {
        out.append(UInt8(truncatingIfNeeded: value))
        out.append(UInt8(truncatingIfNeeded: value >> 8))
    }

    static func appendU32(_ out: inout [UInt8], _ value: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }
}

/// Decoded WAV audio: 16-bit samples, interleaved when there are several channels.
public struct WAVAudio: Equatable, Sendable {
    public var sampleRate: Int
    public var channels: Int
    /// The bit depth the file stored (the samples here are always 16-bit).
    public var sourceBitsPerSample: Int
    /// Whether the file stored IEEE floats.
    public var sourceIsFloat: Bool
    /// The samples, interleaved by channel.
    public var samples: [Int16]

    public init(sampleRate: Int, channels: Int, sourceBitsPerSample: Int = 16, sourceIsFloat: Bool = false, samples: [Int16]) {
        self.sampleRate = sampleRate
        self.channels = channels
        self.sourceBitsPerSample = sourceBitsPerSample
        self.sourceIsFloat = sourceIsFloat
        self.samples = samples
    }

    /// Frames (samples per channel).
    public var frameCount: Int { channels > 0 ? samples.count / channels : 0 }

    /// How long the audio lasts.
    public var duration: Duration {
        sampleRate > 0 ? .microseconds(Int64(frameCount) * 1_000_000 / Int64(sampleRate)) : .zero
    }

    /// The audio as mono at the file's rate (channels averaged). The rate is converted outside
    /// this pure target, by speexdsp's resampler (`WAVFile.mono16k` in VoiceLinux).
    public func mono() -> [Int16] {
        AudioConversion.mono(samples, channels: channels)
    }
}

/// What is wrong with a WAV file, and what to do about it.
public enum WAVError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Fewer than the 12 bytes of a RIFF header.
    case tooShort(byteCount: Int)
    /// The file does not open with `RIFF`.
    case notRIFF(found: String)
    /// A RIFF file of another kind than `WAVE`.
    case notWAVE(found: String)
    /// A chunk claims more bytes than the file holds.
    case truncatedChunk(id: String, declared: Int, available: Int)
    /// A chunk claims more bytes than its RIFF container.
    case oversizedChunk(id: String, declared: Int, room: Int)
    /// The same chunk twice.
    case duplicateChunk(id: String)
    /// No `fmt ` chunk.
    case missingFormatChunk
    /// A `fmt ` chunk too small for its format.
    case formatChunkTooSmall(byteCount: Int)
    /// Compressed or otherwise non-PCM audio.
    case notPCM(formatTag: Int)
    /// A bit depth this reader does not decode.
    case unsupportedBitDepth(bits: Int, isFloat: Bool)
    /// Zero or too many channels.
    case invalidChannelCount(Int)
    /// Zero or an absurd sample rate.
    case invalidSampleRate(Int)
    /// The block alignment disagrees with channels × bytes per sample.
    case inconsistentBlockAlign(declared: Int, expected: Int)
    /// No `data` chunk.
    case missingDataChunk
    /// The data is not a whole number of frames.
    case oddDataSize(byteCount: Int, blockAlign: Int)

    private static let fix = "convert it with `sox INPUT -b 16 -e signed-integer OUTPUT.wav`"

    public var description: String {
        switch self {
        case .tooShort(let count):
            return "not a WAV file: only \(count) bytes, fewer than a RIFF header's 12; the file is empty or was cut short"
        case .notRIFF(let found):
            switch found {
            case "RIFX": return "big-endian WAV (RIFX) is not supported; \(Self.fix)"
            case "RF64": return "RF64 (WAV over 4 GiB) is not supported; cut it shorter or \(Self.fix)"
            default: return "not a WAV file: it starts with \"\(found)\" instead of \"RIFF\"; \(Self.fix)"
            }
        case .notWAVE(let found):
            return "a RIFF file of type \"\(found)\", not \"WAVE\"; \(Self.fix)"
        case .truncatedChunk(let id, let declared, let available):
            return "the \"\(id)\" chunk declares \(declared) bytes but the file holds only \(available): "
                + "the file was cut short or written to a pipe without its sizes fixed; re-save it with `sox INPUT OUTPUT.wav`"
        case .oversizedChunk(let id, let declared, let room):
            return "the \"\(id)\" chunk declares \(declared) bytes, more than the \(room) left in the RIFF container: "
                + "the header is corrupt; re-save it with `sox INPUT OUTPUT.wav`"
        case .duplicateChunk(let id):
            return "the file has two \"\(id)\" chunks; re-save it with `sox INPUT OUTPUT.wav`"
        case .missingFormatChunk:
            return "the file has no \"fmt \" chunk, so its format is unknown; \(Self.fix)"
        case .formatChunkTooSmall(let count):
            return "the \"fmt \" chunk has only \(count) bytes, too few for its format; \(Self.fix)"
        case .notPCM(let tag):
            let name: String
            switch tag {
            case 2: name = "Microsoft ADPCM"
            case 6: name = "A-law"
            case 7: name = "µ-law"
            case 0x11: name = "IMA ADPCM"
            case 0x55: name = "MP3"
            default: name = "format tag \(tag)"
            }
            return "the audio is \(name), not linear PCM; \(Self.fix)"
        case .unsupportedBitDepth(let bits, let isFloat):
            let supported = isFloat ? "32 or 64-bit float" : "8, 16, 24 or 32-bit integer"
            return "\(bits)-bit \(isFloat ? "float" : "integer") samples are not supported (\(supported) are); \(Self.fix)"
        case .invalidChannelCount(let count):
            return "the header says \(count) channels (1 to \(WAV.maximumChannels) are accepted): it is corrupt; \(Self.fix)"
        case .invalidSampleRate(let rate):
            return "the header says \(rate) Hz (1 to \(WAV.maximumSampleRate) are accepted): it is corrupt; \(Self.fix)"
        case .inconsistentBlockAlign(let declared, let expected):
            return "the block alignment is \(declared) bytes where channels × sample size make \(expected): "
                + "the header is corrupt; \(Self.fix)"
        case .missingDataChunk:
            return "the file has no \"data\" chunk: it holds no audio"
        case .oddDataSize(let count, let blockAlign):
            return "the data chunk has \(count) bytes, not a whole number of \(blockAlign)-byte frames: "
                + "the file was cut mid-sample; re-save it with `sox INPUT OUTPUT.wav`"
        }
    }
}

/// Channel conversion of 16-bit audio.
public enum AudioConversion {
    /// Averages interleaved channels into one.
    public static func mono(_ interleaved: [Int16], channels: Int) -> [Int16] {
        guard channels > 1 else { return interleaved }
        let frames = interleaved.count / channels
        var out = [Int16](repeating: 0, count: frames)
        for frame in 0..<frames {
            var sum = 0
            for channel in 0..<channels { sum += Int(interleaved[frame * channels + channel]) }
            out[frame] = Int16(sum / channels)
        }
        return out
    }

}
