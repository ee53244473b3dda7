import FoundationEssentials
import Glibc
import Logging
import Synchronization
import VoiceCore

/// The microphone mute, kept in the state directory so that it survives a restart and a
/// reboot: the file exists while muted. A speaker the user muted must not come back listening.
public final class MuteState: Sendable {
    public let file: String
    private let on: Atomic<Bool>

    /// Reads the kept mute from `file`.
    public init(file: String) {
        self.file = file
        on = Atomic(FileManager.default.fileExists(atPath: file))
    }

    /// Whether the microphone was muted when last set.
    public var isOn: Bool { on.load(ordering: .relaxed) }

    /// Records the mute durably (the file is written, synced and its directory synced before this
    /// returns), or removes it.
    public func persist(_ muted: Bool) throws(MuteStateError) {
        on.store(muted, ordering: .relaxed)
        if muted {
            let fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw MuteStateError(file: file, errno: errno) }
            let written = "muted\n".withCString { write(fd, $0, 6) }
            let synced = fsync(fd)
            close(fd)
            guard written == 6, synced == 0 else { throw MuteStateError(file: file, errno: errno) }
        } else if unlink(file) != 0 && errno != ENOENT {
            throw MuteStateError(file: file, errno: errno)
        }
        let directory = PathText.directory(of: file)
        let dfd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
    }
}

/// The mute could not be written to the state directory.
public struct MuteStateError: Error, CustomStringConvertible {
    public var file: String
    public var errno: Int32
    public var description: String { "\(file): \(String(cString: strerror(errno)))" }
}

/// Errors that happen outside a turn (a device lost, speech-to-text offline, a sync failure),
/// fanned out to whoever shows them (`voicectl watch`).
public final class ErrorFanout: Sendable {
    private let observers = Mutex<[@Sendable (String) -> Void]>([])

    public init() {}

    public func observe(_ observer: @escaping @Sendable (String) -> Void) { observers.withLock { $0.append(observer) } }

    public func send(_ message: String) {
        for observer in observers.withLock({ $0 }) { observer(message) }
    }
}

/// Logs the ring buffer's overflows from the capture thread, at most once per 10 s, with the
/// audio dropped since the last line.
final class OverflowLog: Sendable {
    private let ring: AudioRingBuffer
    private let clock: any VoiceClock
    private let logger: Logger
    private let reporter = Mutex(RingOverflowReporter())
    private let lastSeen = Atomic<Int>(0)

    init(ring: AudioRingBuffer, clock: any VoiceClock, logger: Logger) {
        self.ring = ring
        self.clock = clock
        self.logger = logger
    }

    /// Called per captured frame: cheap unless the ring overflowed since the last call.
    func check() {
        let statistics = ring.statistics
        guard statistics.overflowEvents != lastSeen.load(ordering: .relaxed) else { return }
        let now = clock.now
        guard let report = reporter.withLock({ $0.check(statistics, at: now) }) else { return }
        lastSeen.store(statistics.overflowEvents, ordering: .relaxed)
        logger.warning("audio ring buffer overflowed: the oldest audio was dropped", metadata: [
            "event": "ring_overflow", "dropped_samples": "\(report.droppedSamples)", "dropped_ms": "\(report.droppedMilliseconds)",
            "overflows": "\(report.overflows)", "dropped_samples_total": "\(report.totalDroppedSamples)",
        ])
    }
}
