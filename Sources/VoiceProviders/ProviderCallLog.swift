import Logging
import Synchronization

/// The last calls of one provider (the LLM, the TTS): each is kept for status and tests, logged
/// once as it ends, and handed to the observer. Shared by the chat and the speech clients.
final class ProviderCallLog: Sendable {
    /// How many records are kept.
    static let limit = 100

    private let recent = Mutex<[ProviderCallRecord]>([])
    private let logger: Logger
    private let message: Logger.Message
    private let idKey: String

    /// - Parameters:
    ///   - message: the log line of an ended call ("LLM call ended").
    ///   - idKey: the metadata key of the call's id (`call`, `request`).
    init(logger: Logger, message: Logger.Message, idKey: String) {
        self.logger = logger
        self.message = message
        self.idKey = idKey
    }

    /// The records, oldest first.
    var records: [ProviderCallRecord] { recent.withLock { $0 } }

    /// Keeps and logs `record` (with `detail`, e.g. the tokens or samples), then tells `observer`.
    func add(_ record: ProviderCallRecord, detail: (key: String, value: String),
             observer: (@Sendable (ProviderCallRecord) -> Void)?) {
        recent.withLock {
            $0.append(record)
            if $0.count > Self.limit { $0.removeFirst($0.count - Self.limit) }
        }
        logger.info(message, metadata: [
            idKey: "\(record.id)", "outcome": "\(record.outcome.rawValue)", "attempts": "\(record.attempts)",
            "status": "\(record.statuses.last ?? 0)", detail.key: "\(detail.value)",
            "first_byte_ms": "\(record.firstByteMs.map(String.init) ?? "-")", "latency_ms": "\(record.latencyMs)",
        ])
        observer?(record)
    }
}

extension ProviderCallRecord {
    /// The record of a call the controller cancelled.
    static func cancelled(_ service: Service, id: Int, turn: Int, summary: CallSummary) -> ProviderCallRecord {
        ProviderCallRecord(service: service, id: id, turn: turn, outcome: .cancelled, statuses: summary.statuses,
                           promptTokens: nil, completionTokens: nil, samples: nil, firstByteMs: summary.firstByteMs,
                           latencyMs: summary.latencyMs, error: nil)
    }
}
