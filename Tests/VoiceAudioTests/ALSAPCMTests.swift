import Foundation
import Glibc
import Testing
import VoiceCore
@testable import VoiceLinux

/// The PCM handle against ALSA's user-space `null` and `file` PCMs (no sound card needed).
@Suite struct ALSAPCMTests {
    static func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("voiced-\(getpid())-\(UUID().uuidString.prefix(8))-\(name)").path
    }

    @Test func playbackNegotiatesShortPeriodsAndBuffer() throws {
        let pcm = try ALSAPCM(.playback(device: "null"))
        #expect(pcm.format.sampleFormat == "S16_LE")
        #expect(pcm.format.sampleRate == 16_000 && pcm.format.channels == 1)
        #expect(pcm.format.periodFrames > 0 && pcm.format.period <= .milliseconds(20))
        #expect(pcm.format.buffer <= .milliseconds(80))
        #expect(pcm.state == .prepared)
    }

    @Test func captureNegotiatesTwentyMillisecondPeriodsAndAtMostFour() throws {
        let pcm = try ALSAPCM(.capture(device: "null"))
        #expect(pcm.format.periodFrames == 320)
        #expect(pcm.format.bufferFrames <= 4 * pcm.format.periodFrames)
        var frame = [Int16](repeating: 7, count: 320)
        #expect(frame.withUnsafeMutableBufferPointer { pcm.readi($0.baseAddress!, frames: 320) } == 320)
    }

    @Test func theFilePCMRecordsExactlyWhatWasWritten() throws {
        let path = Self.temporaryPath("out.raw")
        defer { unlink(path) }
        let samples = (0..<960).map { Int16(truncatingIfNeeded: $0 * 37) }
        do {
            let pcm = try ALSAPCM(.playback(device: "file:'\(path)',raw"))
            var offset = 0
            while offset < samples.count {
                let count = samples.withUnsafeBufferPointer { pcm.writei($0.baseAddress! + offset, frames: min(320, samples.count - offset)) }
                #expect(count > 0)
                offset += max(count, 0)
            }
        }  // closing flushes the file
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let recorded = stride(from: 0, to: bytes.count - 1, by: 2).map { Int16(bitPattern: UInt16(bytes[$0]) | UInt16(bytes[$0 + 1]) << 8) }
        #expect(recorded == samples)
    }

    @Test func aPrivateConfigurationDefinesACaptureFromAFile() throws {
        let path = Self.temporaryPath("in.raw")
        defer { unlink(path) }
        let samples = (0..<640).map { Int16($0) }
        try Data(WAV.encode(samples).dropFirst(WAV.headerSize)).write(to: URL(fileURLWithPath: path))
        var configuration = PCMConfiguration.capture(device: "mic")
        configuration.configurationText = "pcm.mic { type file slave.pcm { type null } file \"/dev/null\" infile \"\(path)\" format raw }"
        let pcm = try ALSAPCM(configuration)
        var frame = [Int16](repeating: 0, count: 320)
        #expect(frame.withUnsafeMutableBufferPointer { pcm.readi($0.baseAddress!, frames: 320) } == 320)
        #expect(frame == Array(samples[0..<320]))
        #expect(frame.withUnsafeMutableBufferPointer { pcm.readi($0.baseAddress!, frames: 320) } == 320)
        #expect(frame == Array(samples[320..<640]))
    }

    @Test func dropStopsAtOnceAndPrepareMakesItReadyAgain() throws {
        let pcm = try ALSAPCM(.playback(device: "null"))
        let silence = [Int16](repeating: 0, count: 320)
        #expect(silence.withUnsafeBufferPointer { pcm.writei($0.baseAddress!, frames: 320) } == 320)
        #expect(pcm.state == .running)
        #expect(pcm.drop() == 0)
        #expect(pcm.state == .setup)
        #expect(silence.withUnsafeBufferPointer { pcm.writei($0.baseAddress!, frames: 320) } == -Int(EBADFD))
        #expect(pcm.prepare() == 0)
        #expect(pcm.state == .prepared)
        #expect(silence.withUnsafeBufferPointer { pcm.writei($0.baseAddress!, frames: 320) } == 320)
    }

    @Test func anUnknownPCMIsATypedErrorNamingTheCall() {
        #expect(throws: ALSAError.failed("snd_pcm_open", code: -ENOENT, device: "no-such-pcm")) {
            try ALSAPCM(.playback(device: "no-such-pcm"))
        }
    }

    @Test func limitsTheDeviceCannotMeetAreATypedErrorNamingTheCall() {
        var configuration = PCMConfiguration.playback(device: "null")
        configuration.maximumPeriod = .zero  // no period is that short
        #expect {
            try ALSAPCM(configuration)
        } throws: { error in
            guard let error = error as? ALSAError, case .call(let call, let code, _, _) = error else { return false }
            return call.hasPrefix("snd_pcm_hw_params") && code == -EINVAL
        }
    }

    @Test func aBadPrivateConfigurationIsATypedError() {
        var configuration = PCMConfiguration.capture(device: "mic")
        configuration.configurationText = "pcm.mic { type"
        #expect(throws: ALSAError.self) { try ALSAPCM(configuration) }
    }
}
