import Testing
import VoiceCore
import VoiceDSP
import VoiceLinux

@Suite struct WAVTests {
    /// A hand-built WAV: `format` overrides fields of a 16-bit mono 16 kHz fmt chunk.
    static func wav(tag: UInt16 = 1, channels: UInt16 = 1, rate: UInt32 = 16_000, bits: UInt16 = 16,
                    blockAlign: UInt16? = nil, data: [UInt8] = [1, 0, 2, 0], dataSize: UInt32? = nil,
                    riffSize: UInt32? = nil, extraChunks: [UInt8] = [], formatFirst: Bool = true) -> [UInt8] {
        func u16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
        func u32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xFF) } }
        let align = blockAlign ?? channels * bits / 8
        let fmt = Array("fmt ".utf8) + u32(16) + u16(tag) + u16(channels) + u32(rate) + u32(rate * UInt32(align)) + u16(align) + u16(bits)
        var dataChunk = Array("data".utf8) + u32(dataSize ?? UInt32(data.count)) + data
        if data.count % 2 == 1 { dataChunk.append(0) }
        let body = Array("WAVE".utf8) + extraChunks + (formatFirst ? fmt + dataChunk : dataChunk + fmt)
        return Array("RIFF".utf8) + u32(riffSize ?? UInt32(body.count)) + body
    }

    @Test func encodedAudioParsesBack() throws {
        let samples: [Int16] = [0, 1, -1, 32767, -32768, 1234]
        let audio = try WAV.parse(WAV.encode(samples))
        #expect(audio == WAVAudio(sampleRate: 16_000, channels: 1, samples: samples))
        #expect(WAV.encode(samples).count == WAV.headerSize + 12)
    }

    @Test func chunksMayComeInAnyOrderAmongOthers() throws {
        let list = Array("LIST".utf8) + [3, 0, 0, 0, 7, 7, 7, 0]  // odd size, padded
        let audio = try WAV.parse(Self.wav(extraChunks: list, formatFirst: false))
        #expect(audio.samples == [1, 2])
    }

    @Test func otherDepthsBecomeSixteenBits() throws {
        #expect(try WAV.parse(Self.wav(bits: 8, data: [128, 255, 0, 128])).samples == [0, 127 << 8, -32768, 0])
        #expect(try WAV.parse(Self.wav(bits: 24, data: [0xFF, 0x34, 0x12, 0, 0, 0x80])).samples == [0x1234, -32768])
        #expect(try WAV.parse(Self.wav(bits: 32, data: [0, 0, 0x34, 0x12])).samples == [0x1234])
        let half = Float(0.5).bitPattern
        let floatData = (0..<4).map { UInt8((half >> (8 * UInt32($0))) & 0xFF) }
        #expect(try WAV.parse(Self.wav(tag: 3, bits: 32, data: floatData)).samples == [16384])
    }

    /// Found by scripts/fuzz.sh wav: a NaN float sample trapped in the conversion to Int16.
    @Test func floatSamplesThatAreNotNumbersReadAsSilence() throws {
        var data: [UInt8] = []
        for value in [Float.nan, .infinity, -.infinity, 0.5] {
            data += (0..<4).map { UInt8((value.bitPattern >> (8 * UInt32($0))) & 0xFF) }
        }
        #expect(try WAV.parse(Self.wav(tag: 3, bits: 32, data: data)).samples == [0, .max, .min, 16384])
        var double: [UInt8] = []
        for value in [Double.nan, -Double.nan] {
            double += (0..<8).map { UInt8((value.bitPattern >> (8 * UInt64($0))) & 0xFF) }
        }
        #expect(try WAV.parse(Self.wav(tag: 3, bits: 64, data: double)).samples == [0, 0])
    }

    @Test func stereoAtAnotherRateBecomesSixteenKilohertzMono() throws {
        // 1 s of 48 kHz stereo: left a 440 Hz tone, right silence.
        let tone = (0..<48_000).map { AudioMath.clampToInt16(10_000 * AudioMath.sin(2 * Double.pi * 440 * Double($0) / 48_000)) }
        var interleaved: [Int16] = []
        for sample in tone { interleaved += [sample, 0] }
        let audio = try WAV.parse(WAV.encode(interleaved, sampleRate: 48_000, channels: 2))
        #expect(audio.channels == 2 && audio.frameCount == 48_000 && audio.duration == .seconds(1))
        #expect(audio.mono().count == 48_000)
        let mono = try WAVFile.mono16k(audio)
        #expect(mono.count == 16_000)
        // Half the amplitude (averaged with silence): RMS of 5000 / sqrt 2.
        #expect(abs(AudioMath.rms(mono) - 5000 / 2.0.squareRoot()) < 100)
    }

    @Test func espeakRateIsResampledBySpeexdsp() throws {
        // A 1 kHz tone at espeak's 22 050 Hz: speexdsp's resampler keeps its length, level and pitch.
        let tone = (0..<22_050).map { AudioMath.clampToInt16(10_000 * AudioMath.sin(2 * Double.pi * 1000 * Double($0) / 22_050)) }
        let out = try SpeexResampler.convert(tone, from: 22_050, to: 16_000)
        #expect(abs(out.count - 16_000) <= 2)
        #expect(abs(AudioMath.rms(Array(out[1000..<15_000])) - AudioMath.rms(Array(tone[1000..<20_000]))) < 200)
        #expect(try SpeexResampler.convert(tone, from: 16_000, to: 16_000) == tone)
    }

    @Test func truncatedDataIsReadOnRequest() throws {
        let bytes = Self.wav(data: [1, 0, 2, 0, 3], dataSize: 0x7FFF_F000, riffSize: 0x7FFF_F024)
        let lenient = try WAV.parse(Array(bytes.dropLast()), options: WAV.ReadOptions(acceptTruncatedData: true))
        #expect(lenient.samples == [1, 2])
    }

    static let badInputs: [(String, [UInt8], WAVError)] = [
        ("empty", [], .tooShort(byteCount: 0)),
        ("an MP3", Array("ID3\u{4}\0\0\0\0\0\0\0\0\0".utf8), .notRIFF(found: "ID3\\x04")),
        ("big-endian", Array("RIFX".utf8) + [4, 0, 0, 0] + Array("WAVE".utf8), .notRIFF(found: "RIFX")),
        ("an AVI", Array("RIFF".utf8) + [4, 0, 0, 0] + Array("AVI ".utf8), .notWAVE(found: "AVI ")),
        ("no chunks", Array("RIFF".utf8) + [4, 0, 0, 0] + Array("WAVE".utf8), .missingFormatChunk),
        ("µ-law", wav(tag: 7, bits: 8), .notPCM(formatTag: 7)),
        ("12-bit", wav(bits: 12, blockAlign: 2), .unsupportedBitDepth(bits: 12, isFloat: false)),
        ("16-bit float", wav(tag: 3, bits: 16), .unsupportedBitDepth(bits: 16, isFloat: true)),
        ("no channels", wav(channels: 0, blockAlign: 2), .invalidChannelCount(0)),
        ("rate 0", wav(rate: 0), .invalidSampleRate(0)),
        ("bad block align", wav(blockAlign: 3), .inconsistentBlockAlign(declared: 3, expected: 2)),
        ("odd data size", wav(data: [1, 0, 2]), .oddDataSize(byteCount: 3, blockAlign: 2)),
        ("cut short", Array(wav(data: [1, 0, 2, 0, 3, 0]).dropLast(2)), .truncatedChunk(id: "RIFF", declared: 42, available: 40)),
        ("data past the end", wav(data: [1, 0], dataSize: 100),
         .truncatedChunk(id: "data", declared: 100, available: 2)),
        ("data past its container", wav(data: [1, 0, 2, 0], dataSize: 4, riffSize: 38),
         .oversizedChunk(id: "data", declared: 4, room: 2)),
        ("no data", Array(wav().prefix(36)).replacingRIFFSize(28), .missingDataChunk),
        ("two fmt chunks", wav(extraChunks: Array(wav()[12..<36])), .duplicateChunk(id: "fmt ")),
    ]

    @Test(arguments: badInputs.indices)
    func badInputIsRejectedWithASpecificError(index: Int) {
        let (name, bytes, expected) = Self.badInputs[index]
        #expect(throws: expected, "\(name)") { try WAV.parse(bytes) }
    }

    @Test func errorsSayWhatToDo() {
        #expect(WAVError.notPCM(formatTag: 0x55).description.contains("MP3"))
        #expect(WAVError.notPCM(formatTag: 0x55).description.contains("sox"))
        #expect(WAVError.oddDataSize(byteCount: 3, blockAlign: 2).description.contains("cut mid-sample"))
        #expect(WAVError.notRIFF(found: "RIFX").description.contains("big-endian"))
    }
}

private extension Array where Element == UInt8 {
    func replacingRIFFSize(_ size: UInt32) -> [UInt8] {
        var copy = self
        for i in 0..<4 { copy[4 + i] = UInt8((size >> (8 * UInt32(i))) & 0xFF) }
        return copy
    }
}
