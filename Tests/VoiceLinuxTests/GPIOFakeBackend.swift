import Glibc
import Synchronization
@testable import VoiceLinux

/// Output lines that remember their levels and every write.
final class FakeOutputLines: GPIOOutputLines, @unchecked Sendable {
    private struct State {
        var levels: [Bool]
        var writes: [(line: Int, high: Bool)] = []
        var failing: GPIOError?
    }

    private let state: Mutex<State>

    init(initialLevels: [Bool]) { state = Mutex(State(levels: initialLevels)) }

    var count: Int { state.withLock { $0.levels.count } }
    var levels: [Bool] { state.withLock { $0.levels } }
    var writeCount: Int { state.withLock { $0.writes.count } }

    /// Makes every write fail with `error` (nil: writes work again).
    func fail(with error: GPIOError?) { state.withLock { $0.failing = error } }

    func set(_ index: Int, high: Bool) throws(GPIOError) {
        let failure: GPIOError? = state.withLock { state in
            if let error = state.failing { return error }
            state.levels[index] = high
            state.writes.append((index, high))
            return nil
        }
        if let failure { throw failure }
    }
}

/// An edge source backed by a real pipe, so poll() in the reading thread works unchanged:
/// ``push(_:)`` queues edges and makes the fd readable.
final class FakeEdgeSource: GPIOEdgeSource, @unchecked Sendable {
    private struct State {
        var queued: [GPIOEdge] = []
        var level: Bool
        var reads = 0
        var readError: GPIOError?
    }

    private let state: Mutex<State>
    private let readEnd: Int32
    private let writeEnd: Int32

    init(level: Bool) {
        var ends: [Int32] = [-1, -1]
        _ = pipe(&ends)
        _ = fcntl(ends[0], F_SETFL, fcntl(ends[0], F_GETFL) | O_NONBLOCK)
        readEnd = ends[0]
        writeEnd = ends[1]
        state = Mutex(State(level: level))
    }

    deinit {
        close(readEnd)
        close(writeEnd)
    }

    var fileDescriptor: Int32 { readEnd }

    /// How many times the reader has read edges.
    var reads: Int { state.withLock { $0.reads } }
    /// Whether every pushed edge has been read.
    var isDrained: Bool { state.withLock { $0.queued.isEmpty } }

    /// Queues edges (the line's level follows the last one) and wakes the reader.
    func push(_ edges: [GPIOEdge]) {
        state.withLock { state in
            state.queued += edges
            if let last = edges.last { state.level = last.high }
        }
        var byte: UInt8 = 1
        _ = write(writeEnd, &byte, 1)
    }

    /// Makes the next read fail.
    func failReads(with error: GPIOError) {
        state.withLock { $0.readError = error }
        var byte: UInt8 = 1
        _ = write(writeEnd, &byte, 1)
    }

    func level() throws(GPIOError) -> Bool { state.withLock { $0.level } }

    func readEdges() throws(GPIOError) -> [GPIOEdge] {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(readEnd, &buffer, buffer.count) > 0 {}
        let (edges, error) = state.withLock { state -> ([GPIOEdge], GPIOError?) in
            state.reads += 1
            if let error = state.readError { return ([], error) }
            defer { state.queued = [] }
            return (state.queued, nil)
        }
        if let error { throw error }
        return edges
    }
}

/// A backend that hands out fakes and records what was requested.
final class FakeGPIOBackend: GPIOLineBackend, @unchecked Sendable {
    struct OutputRequest: Equatable {
        var chip: String
        var offsets: [UInt32]
        var consumer: String
        var initialLevels: [Bool]
    }

    private let state = Mutex<(outputs: [OutputRequest], outputLines: FakeOutputLines?, edgeSource: FakeEdgeSource?)>(([], nil, nil))
    /// The error the next open throws, if any.
    let openError: GPIOError?
    let buttonLevel: Bool

    init(openError: GPIOError? = nil, buttonLevel: Bool = true) {
        self.openError = openError
        self.buttonLevel = buttonLevel
    }

    var outputRequests: [OutputRequest] { state.withLock { $0.outputs } }
    var outputLines: FakeOutputLines? { state.withLock { $0.outputLines } }
    var edgeSource: FakeEdgeSource? { state.withLock { $0.edgeSource } }

    func openOutputs(chip: String, offsets: [UInt32], consumer: String, initialLevels: [Bool]) throws(GPIOError) -> any GPIOOutputLines {
        if let openError { throw openError }
        let lines = FakeOutputLines(initialLevels: initialLevels)
        state.withLock {
            $0.outputs.append(OutputRequest(chip: chip, offsets: offsets, consumer: consumer, initialLevels: initialLevels))
            $0.outputLines = lines
        }
        return lines
    }

    func openEdgeSource(chip: String, offset: UInt32, consumer: String, bias: GPIOBias) throws(GPIOError) -> any GPIOEdgeSource {
        if let openError { throw openError }
        let source = FakeEdgeSource(level: buttonLevel)
        state.withLock { $0.edgeSource = source }
        return source
    }
}
