import Glibc
import Synchronization
@testable import VoiceLinux

/// A PCM that fails on demand: scripted results for reads and writes (a positive count moves
/// that many frames, a negative one is returned as the error), and a record of every call.
final class FakePCM: PCMDevice, @unchecked Sendable {
    struct Record {
        var reads: [Int] = []
        var writes: [Int] = []
        var recovered: [Int32] = []
        var recoverResult: Int32 = 0
        var drops = 0
        var prepares = 0
        var prepareResult: Int32 = 0
        var waits = 0
        var waitResult: Int32 = 1
        var delay = 0
        var state = PCMState.prepared
        var written: [Int16] = []
        var nextSample: Int16 = 0
    }

    let format: PCMFormat
    let record = Mutex(Record())

    init(periodFrames: Int = 320, bufferFrames: Int = 1280) {
        format = PCMFormat(sampleRate: 16_000, channels: 1, periodFrames: periodFrames, bufferFrames: bufferFrames)
    }

    /// Results for the next reads (when none are left, reads return -EAGAIN).
    func scriptReads(_ results: [Int]) { record.withLock { $0.reads += results } }
    /// Results for the next writes (when none are left, writes take everything).
    func scriptWrites(_ results: [Int]) { record.withLock { $0.writes += results } }

    func readi(_ buffer: UnsafeMutablePointer<Int16>, frames: Int) -> Int {
        record.withLock { record in
            guard !record.reads.isEmpty else { return -Int(EAGAIN) }
            let result = record.reads.removeFirst()
            guard result > 0 else { return result }
            let count = min(result, frames)
            for i in 0..<count {
                buffer[i] = record.nextSample
                record.nextSample &+= 1
            }
            record.state = .running
            return count
        }
    }

    func writei(_ buffer: UnsafePointer<Int16>, frames: Int) -> Int {
        record.withLock { record in
            var count = frames
            if !record.writes.isEmpty {
                let result = record.writes.removeFirst()
                if result <= 0 { return result }
                count = min(result, frames)
            }
            record.written += UnsafeBufferPointer(start: buffer, count: count)
            record.state = .running
            return count
        }
    }

    func wait(milliseconds: Int32) -> Int32 {
        record.withLock {
            $0.waits += 1
            return $0.waitResult
        }
    }

    func recover(_ code: Int32) -> Int32 {
        record.withLock { record in
            record.recovered.append(code)
            if record.recoverResult == 0 { record.state = .prepared }
            return record.recoverResult == 0 ? 0 : record.recoverResult
        }
    }

    func drop() -> Int32 {
        record.withLock {
            $0.drops += 1
            $0.state = .setup
        }
        return 0
    }

    func prepare() -> Int32 {
        record.withLock { record -> Int32 in
            record.prepares += 1
            if record.prepareResult == 0 { record.state = .prepared }
            return record.prepareResult
        }
    }

    func delay() -> Int { record.withLock { $0.delay } }

    var state: PCMState { record.withLock { $0.state } }

    var written: [Int16] { record.withLock { $0.written } }
}

/// Hands out devices in turn and counts the attempts; an error in the list fails that attempt.
final class FakeOpener: Sendable {
    private let results: Mutex<[Result<FakePCM, ALSAError>]>
    let attempts = Atomic<Int>(0)

    init(_ results: [Result<FakePCM, ALSAError>]) { self.results = Mutex(results) }

    func open(_ configuration: PCMConfiguration) throws(ALSAError) -> any PCMDevice {
        attempts.add(1, ordering: .relaxed)
        let next = results.withLock { $0.isEmpty ? nil : $0.removeFirst() }
        switch next {
        case .success(let device)?: return device
        case .failure(let error)?: throw error
        case nil: throw .failed("snd_pcm_open", code: -ENODEV, device: configuration.device)
        }
    }
}

let noDevice = ALSAError.failed("snd_pcm_open", code: -ENODEV, device: "fake")

/// Collects what a callback reports, from any thread.
final class Collector<Value: Sendable>: Sendable {
    private let values = Mutex<[Value]>([])
    func append(_ value: Value) { values.withLock { $0.append(value) } }
    var all: [Value] { values.withLock { $0 } }
}

/// Polls `condition` until it holds or `timeout` passes: only for tests of real ALSA I/O.
func waitUntil(timeout: Duration = .seconds(5), _ condition: () -> Bool) -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if condition() { return true }
        usleep(1000)
    }
    return condition()
}
