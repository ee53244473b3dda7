import Glibc
import Logging
import Synchronization

/// Log entries kept in memory, for asserting what an adapter logged.
final class LogRecorder: Sendable {
    struct Entry: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: Logger.Metadata
    }

    private let storage = Mutex<[Entry]>([])

    var entries: [Entry] { storage.withLock { $0 } }

    func messages(at level: Logger.Level) -> [String] { entries.filter { $0.level == level }.map(\.message) }

    /// A logger writing here, at trace level.
    func logger(_ label: String = "test") -> Logger {
        var logger = Logger(label: label) { _ in Handler(recorder: self) }
        logger.logLevel = .trace
        return logger
    }

    fileprivate func append(_ entry: Entry) { storage.withLock { $0.append(entry) } }

    private struct Handler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            recorder.append(Entry(level: event.level, message: event.message.description, metadata: metadata.merging(event.metadata ?? [:]) { $1 }))
        }
    }
}

/// Waits (really: a thread or a socket is involved) until `condition` holds, for at most `timeout`.
/// Returns whether it held.
func eventually(timeout: Duration = .seconds(5), _ condition: () -> Bool) async -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(2))
    }
    return condition()
}

/// Collects a stream's elements on a task of its own, so a test can wait for them with a bound.
final class StreamCollector<Element: Sendable>: Sendable {
    private let storage = Mutex<(elements: [Element], finished: Bool)>(([], false))
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(_ stream: AsyncStream<Element>) {
        let started = Task { [self] in
            for await element in stream { storage.withLock { $0.elements.append(element) } }
            storage.withLock { $0.finished = true }
        }
        task.withLock { $0 = started }
    }

    var elements: [Element] { storage.withLock { $0.elements } }
    var isFinished: Bool { storage.withLock { $0.finished } }

    /// Waits for at least `count` elements (bounded); returns them all.
    func waitFor(_ count: Int, timeout: Duration = .seconds(5)) async -> [Element] {
        _ = await eventually(timeout: timeout) { elements.count >= count }
        return elements
    }

    /// Waits for the stream to finish (bounded); returns whether it did.
    func waitForFinish(timeout: Duration = .seconds(5)) async -> Bool {
        await eventually(timeout: timeout) { isFinished }
    }

    /// Cancels the consuming task.
    func cancel() { task.withLock { $0?.cancel() } }
}
