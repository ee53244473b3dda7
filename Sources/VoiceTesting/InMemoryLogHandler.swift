import Logging
import Synchronization

/// Keeps every log entry in memory, with its metadata merged as a handler would send it (tests
/// check which lines are written and which journal fields they would carry).
public struct InMemoryLogHandler: LogHandler {
    /// One logged line.
    public struct Entry: Sendable {
        public var label: String
        public var level: Logger.Level
        public var message: String
        public var metadata: Logger.Metadata

        /// A metadata value as text (nil when absent).
        public subscript(key: String) -> String? { metadata[key].map { "\($0)" } }
    }

    /// Where the entries of every logger made by ``factory`` go.
    public final class Store: Sendable {
        private let list = Mutex<[Entry]>([])
        public init() {}
        public var entries: [Entry] { list.withLock { $0 } }
        func append(_ entry: Entry) { list.withLock { $0.append(entry) } }
    }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .trace
    public let label: String
    private let store: Store

    public init(label: String, store: Store) {
        self.label = label
        self.store = store
    }

    /// A logger with this handler, writing into `store`.
    public static func logger(label: String, store: Store) -> Logger {
        Logger(label: label) { InMemoryLogHandler(label: $0, store: store) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        store.append(Entry(label: label, level: event.level, message: event.message.description,
                           metadata: metadata.merging(event.metadata ?? [:]) { $1 }))
    }
}
