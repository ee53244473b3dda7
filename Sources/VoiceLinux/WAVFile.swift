import Glibc
import VoiceCore
import VoiceDSP

/// A WAV file that could not be read or written.
public enum WAVFileError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file could not be opened or read (`reason` is the system's `strerror`).
    case cannotRead(path: String, reason: String)
    /// The file could not be created or written.
    case cannotWrite(path: String, reason: String)
    /// The file was read but is not a usable WAV.
    case invalid(path: String, WAVError)
    /// The audio could not be converted to 16 kHz.
    case cannotConvert(path: String, ResamplerError)

    public var description: String {
        switch self {
        case .cannotRead(let path, let reason): "cannot read \(path): \(reason)"
        case .cannotWrite(let path, let reason): "cannot write \(path): \(reason)"
        case .invalid(let path, let error): "\(path): \(error)"
        case .cannotConvert(let path, let error): "\(path): \(error); convert it with `sox INPUT -r 16000 -c 1 OUTPUT.wav`"
        }
    }
}

/// Reading and writing WAV files (parsing itself is ``WAV`` in VoiceCore).
public enum WAVFile {
    /// The largest file read (1 GiB: over 9 hours of 16 kHz mono; anything bigger is a mistake).
    public static let maximumSize = 1 << 30

    /// Reads and parses the WAV file at `path`.
    public static func read(_ path: String, options: WAV.ReadOptions = WAV.ReadOptions()) throws(WAVFileError) -> WAVAudio {
        let bytes = try readBytes(path)
        do {
            return try WAV.parse(bytes, options: options)
        } catch {
            throw .invalid(path: path, error)
        }
    }

    /// Reads the WAV file at `path` as 16 kHz mono, converting channels and sample rate.
    public static func readMono16k(_ path: String, options: WAV.ReadOptions = WAV.ReadOptions()) throws(WAVFileError) -> [Int16] {
        let audio = try read(path, options: options)
        do {
            return try mono16k(audio)
        } catch {
            throw .cannotConvert(path: path, error)
        }
    }

    /// `audio` as 16 kHz mono: channels averaged, the rate converted by speexdsp's resampler.
    public static func mono16k(_ audio: WAVAudio) throws(ResamplerError) -> [Int16] {
        try SpeexResampler.convert(audio.mono(), from: audio.sampleRate, to: PlaybackChunk.sampleRate)
    }

    /// Writes `samples` (16 kHz mono unless told otherwise) as a 16-bit WAV file.
    public static func write(_ samples: [Int16], to path: String, sampleRate: Int = PlaybackChunk.sampleRate) throws(WAVFileError) {
        let writer = try WAVFileWriter(path: path, sampleRate: sampleRate)
        try writer.append(samples)
    }

    static func readBytes(_ path: String) throws(WAVFileError) -> [UInt8] {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .cannotRead(path: path, reason: systemError()) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .cannotRead(path: path, reason: systemError()) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw .cannotRead(path: path, reason: "not a regular file") }
        let size = Int(info.st_size)
        guard size <= maximumSize else {
            throw .cannotRead(path: path, reason: "\(size) bytes, over the \(maximumSize) accepted: cut it shorter")
        }
        var bytes = [UInt8](repeating: 0, count: size)
        var total = 0
        while total < size {
            let count = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + total, size - total) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .cannotRead(path: path, reason: systemError())
            }
            if count == 0 { break }
            total += count
        }
        if total < size { bytes.removeLast(size - total) }
        return bytes
    }
}

/// Appends 16-bit PCM to a WAV file that stays valid after every append: the header's sizes are
/// rewritten each time, so a person can listen to it while it grows, or after a crash.
///
/// Owns its file descriptor: `init` creates the file (truncating it), `deinit` closes it.
public final class WAVFileWriter {
    public let path: String
    public let sampleRate: Int
    /// Bytes of audio written.
    public private(set) var dataByteCount = 0
    private let fd: Int32

    /// Creates (or truncates) `path` and writes a header for empty audio.
    public init(path: String, sampleRate: Int = PlaybackChunk.sampleRate) throws(WAVFileError) {
        self.path = path
        self.sampleRate = sampleRate
        fd = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .cannotWrite(path: path, reason: systemError()) }
        do {
            try write(WAV.header(sampleRate: sampleRate, dataByteCount: 0), at: 0)
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }

    /// Samples written.
    public var sampleCount: Int { dataByteCount / 2 }

    /// Appends `samples` and updates the header's sizes.
    public func append(_ samples: [Int16]) throws(WAVFileError) {
        guard !samples.isEmpty else { return }
        let room = Int(UInt32.max) - WAV.headerSize - dataByteCount
        let accepted = min(samples.count, max(0, room / 2))
        guard accepted > 0 else { throw .cannotWrite(path: path, reason: "the WAV format's 4 GiB limit was reached") }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(accepted * 2)
        WAV.appendSamples(&bytes, Array(samples.prefix(accepted)))
        try write(bytes, at: WAV.headerSize + dataByteCount)
        dataByteCount += bytes.count
        try write(WAV.littleEndianBytes(UInt32(36 + dataByteCount)), at: WAV.riffSizeOffset)
        try write(WAV.littleEndianBytes(UInt32(dataByteCount)), at: WAV.dataSizeOffset)
    }

    private func write(_ bytes: [UInt8], at offset: Int) throws(WAVFileError) {
        var done = 0
        while done < bytes.count {
            let count = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + done, bytes.count - done, off_t(offset + done)) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .cannotWrite(path: path, reason: systemError())
            }
            done += count
        }
    }
}

func systemError() -> String { String(cString: strerror(errno)) }
