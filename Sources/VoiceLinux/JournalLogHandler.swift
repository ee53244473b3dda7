import CSystemd
import Glibc
import Logging
import Synchronization
import VoiceCore

// Logging under systemd: every entry goes to journald as structured fields through
// sd_journal_sendv, so operators can filter on them:
//
//   journalctl -u voiced TURN_ID=42
//   journalctl MESSAGE_ID=258a89ba5b80492bbf3fb47a51dc68b2     (every completed turn)
//
// Secrets (API keys, tokens in URLs, credentials) are never passed to a logger anywhere in
// voiced, so no handler needs to redact them; this handler writes what it is given.

/// One journal field, `NAME=value`.
public struct JournalField: Hashable, Sendable, CustomStringConvertible {
    /// The field's name: `[A-Z0-9_]`, not starting with `_` or a digit.
    public var name: String
    /// The value, any text (newlines included).
    public var value: String

    /// The field `name=value`.
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }

    public var description: String { "\(name)=\(value)" }
}

/// The fixed 128-bit `MESSAGE_ID`s of the events people filter on, chosen by the `event` metadata
/// key (`logger.info("turn completed", metadata: ["event": "turn_completed", "turn": "42"])`).
public enum JournalMessageID {
    /// A turn ended with its answer spoken (`event=turn_completed`).
    public static let turnCompleted = "258a89ba5b80492bbf3fb47a51dc68b2"
    /// A turn was interrupted by the button or by barge-in (`event=turn_interrupted`).
    public static let turnInterrupted = "4c585fefbd0545ff91eed96479895302"
    /// A speech-to-text, LLM or text-to-speech provider failed (`event=provider_error`).
    public static let providerError = "d1ada5c266f149ada6f48c4f6a336279"

    /// The `event` metadata value of each id.
    public static let byEvent: [String: String] = [
        "turn_completed": turnCompleted,
        "turn_interrupted": turnInterrupted,
        "provider_error": providerError,
    ]
}

/// A swift-log handler writing to journald with `sd_journal_sendv`.
///
/// Fields: `MESSAGE` (the message, then its metadata as `key=value`, so `journalctl -u voiced`
/// reads well on its own), `PRIORITY` (from the level), `SYSLOG_IDENTIFIER=voiced`, `MESSAGE_ID`
/// for the events in ``JournalMessageID``, `CODE_FILE` / `CODE_LINE` / `CODE_FUNC`, `LOGGER` (the
/// logger's label), `ERROR` when one is attached, and one field per metadata key: `turn` →
/// `TURN_ID`, `session` → `SESSION_ID`, `state` → `STATE`, any other key upper-cased with
/// characters outside `[A-Z0-9_]` turned into `_` (see ``fieldName(forMetadataKey:)``).
///
/// When sending fails (journald overloaded, a message too large for a datagram) the entry is
/// written to standard error as a readable line instead, which systemd also collects, without the
/// fields. With no journald at all libsystemd drops entries silently, so use this handler only
/// under systemd (``VoicedLogging/bootstrap(level:destination:)`` checks).
public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    /// The level: the shared one when there is one (so it can change for every logger at once).
    public var logLevel: Logger.Level {
        get { sharedLevel?.level ?? ownLevel }
        set { if let sharedLevel { sharedLevel.level = newValue } else { ownLevel = newValue } }
    }
    private var ownLevel: Logger.Level = .info
    /// A level shared with other handlers (``VoicedLogging/level``), read at every entry.
    public var sharedLevel: SharedLogLevel?
    /// The logger's label (the `LOGGER` field).
    public let label: String
    /// `SYSLOG_IDENTIFIER`.
    public let identifier: String
    private let send: @Sendable ([JournalField]) -> Int32
    private let fallback: @Sendable (String) -> Void

    /// - Parameters:
    ///   - send: delivers the fields and returns 0 or a negative errno (``sendToJournal(_:)``).
    ///   - fallback: where a line goes when `send` fails (standard error).
    public init(
        label: String, identifier: String = "voiced", metadataProvider: Logger.MetadataProvider? = nil,
        send: @escaping @Sendable ([JournalField]) -> Int32 = JournalLogHandler.sendToJournal,
        fallback: @escaping @Sendable (String) -> Void = StderrLogHandler.standardError
    ) {
        self.label = label
        self.identifier = identifier
        self.metadataProvider = metadataProvider
        self.send = send
        self.fallback = fallback
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = mergedMetadata(handler: metadata, provider: metadataProvider, event: event.metadata)
        let fields = Self.fields(
            level: event.level, message: event.message.description, metadata: merged, error: event.error,
            label: label, identifier: identifier, file: event.file, function: event.function, line: event.line
        )
        if send(fields) < 0 {
            fallback(StderrLogHandler.line(level: event.level, message: event.message.description, metadata: merged, label: label, timestamp: nil))
        }
    }

    /// The fields of one entry, in order: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER, MESSAGE_ID (for
    /// known events), CODE_FILE, CODE_LINE, CODE_FUNC, LOGGER, ERROR, then the metadata fields
    /// sorted by key. Pure: what ``log(event:)`` sends.
    public static func fields(
        level: Logger.Level, message: String, metadata: Logger.Metadata, error: (any Error)? = nil,
        label: String, identifier: String = "voiced", file: String, function: String, line: UInt
    ) -> [JournalField] {
        var fields = [
            JournalField("MESSAGE", StderrLogHandler.messageWithMetadata(message, metadata)),
            JournalField("PRIORITY", String(priority(level))),
            JournalField("SYSLOG_IDENTIFIER", identifier),
        ]
        if case .string(let event) = metadata["event"], let id = JournalMessageID.byEvent[event] {
            fields.append(JournalField("MESSAGE_ID", id))
        }
        fields += [
            JournalField("CODE_FILE", file),
            JournalField("CODE_LINE", String(line)),
            JournalField("CODE_FUNC", function),
            JournalField("LOGGER", label),
        ]
        if let error { fields.append(JournalField("ERROR", "\(error)")) }
        for key in metadata.keys.sorted() {
            guard let value = metadata[key] else { continue }
            fields.append(JournalField(fieldName(forMetadataKey: key), StderrLogHandler.text(of: value)))
        }
        return fields
    }

    /// The syslog priority of a level: trace and debug 7, info 6, notice 5, warning 4, error 3,
    /// critical 2.
    public static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// Fields this handler sets itself, and journald's own: metadata never overrides them.
    static let reservedNames: Set<String> = [
        "MESSAGE", "MESSAGE_ID", "PRIORITY", "SYSLOG_IDENTIFIER", "SYSLOG_FACILITY", "SYSLOG_PID", "SYSLOG_TIMESTAMP",
        "SYSLOG_RAW", "CODE_FILE", "CODE_LINE", "CODE_FUNC", "LOGGER", "ERROR", "ERRNO", "TID", "INVOCATION_ID",
        "USER_INVOCATION_ID", "UNIT", "USER_UNIT", "DOCUMENTATION",
    ]

    /// The journal field of a metadata key: `turn` → `TURN_ID`, `session` → `SESSION_ID`, `state`
    /// → `STATE`; otherwise upper-cased, every character outside `[A-Z0-9_]` made `_`, leading
    /// underscores dropped (they mark journald's trusted fields), `F_` before a leading digit, at
    /// most 64 characters; a name this handler or journald sets itself gets `META_` in front.
    public static func fieldName(forMetadataKey key: String) -> String {
        switch key {
        case "turn": return "TURN_ID"
        case "session": return "SESSION_ID"
        case "state": return "STATE"
        default: break
        }
        var name = String(key.uppercased().unicodeScalars.map { scalar -> Character in
            switch scalar {
            case "A"..."Z", "0"..."9", "_": Character(scalar)
            default: "_"
            }
        })
        while name.hasPrefix("_") { name.removeFirst() }
        if name.isEmpty { name = "FIELD" }
        if let first = name.first, first.isASCII, first.isNumber { name = "F_" + name }
        if reservedNames.contains(name) { name = "META_" + name }
        return String(name.prefix(64))
    }

    /// Sends `fields` with `sd_journal_sendv`; returns 0 or a negative errno.
    ///
    /// libsystemd returns 0 when no journald listens at all (no /run/systemd/journal/socket): the
    /// entry is silently dropped. That is why ``VoicedLogging/bootstrap(level:destination:)``
    /// picks this handler only when `JOURNAL_STREAM` shows systemd is there.
    public static let sendToJournal: @Sendable ([JournalField]) -> Int32 = { fields in
        let encoded = fields.map { Array("\($0.name)=\($0.value)".utf8) }
        let total = encoded.reduce(0) { $0 + $1.count }
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(total, 1), alignment: 1)
        defer { storage.deallocate() }
        var vectors: [iovec] = []
        vectors.reserveCapacity(encoded.count)
        var offset = 0
        for bytes in encoded {
            let slice = UnsafeMutableRawBufferPointer(rebasing: storage[offset..<(offset + bytes.count)])
            slice.copyBytes(from: bytes)
            vectors.append(iovec(iov_base: slice.baseAddress, iov_len: bytes.count))
            offset += bytes.count
        }
        return vectors.withUnsafeBufferPointer { buffer in
            sd_journal_sendv(buffer.baseAddress, Int32(buffer.count))
        }
    }
}

/// Readable lines on standard error, for a shell or a dev machine:
/// `2026-11-28T20:31:07.412 info voiced.gpio: button ready chip=gpiochip0 line=4`.
public struct StderrLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    /// The level: the shared one when there is one (so it can change for every logger at once).
    public var logLevel: Logger.Level {
        get { sharedLevel?.level ?? ownLevel }
        set { if let sharedLevel { sharedLevel.level = newValue } else { ownLevel = newValue } }
    }
    private var ownLevel: Logger.Level = .info
    /// A level shared with other handlers (``VoicedLogging/level``), read at every entry.
    public var sharedLevel: SharedLogLevel?
    /// The logger's label, shown after the level.
    public let label: String
    private let timestamps: Bool
    private let write: @Sendable (String) -> Void

    /// - Parameters:
    ///   - timestamps: start each line with the local time (off when something else stamps lines).
    ///   - write: where each line goes, without its newline (standard error).
    public init(
        label: String, timestamps: Bool = true, metadataProvider: Logger.MetadataProvider? = nil,
        write: @escaping @Sendable (String) -> Void = StderrLogHandler.standardError
    ) {
        self.label = label
        self.timestamps = timestamps
        self.metadataProvider = metadataProvider
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = mergedMetadata(handler: metadata, provider: metadataProvider, event: event.metadata)
        if let error = event.error { merged["error"] = "\(error)" }
        write(Self.line(
            level: event.level, message: event.message.description, metadata: merged, label: label,
            timestamp: timestamps ? Self.localTimestamp() : nil
        ))
    }

    /// One line: `[timestamp ]level label: message key=value ...`.
    public static func line(level: Logger.Level, message: String, metadata: Logger.Metadata, label: String, timestamp: String?) -> String {
        let prefix = timestamp.map { "\($0) " } ?? ""
        return "\(prefix)\(level) \(label): \(messageWithMetadata(message, metadata))"
    }

    /// The message followed by its metadata, sorted by key, as `key=value` (values with spaces,
    /// quotes or `=` are quoted).
    public static func messageWithMetadata(_ message: String, _ metadata: Logger.Metadata) -> String {
        guard !metadata.isEmpty else { return message }
        let pairs = metadata.keys.sorted().compactMap { key -> String? in
            guard let value = metadata[key] else { return nil }
            return "\(key)=\(quoted(text(of: value)))"
        }
        return ([message] + pairs).joined(separator: " ")
    }

    /// A metadata value as text.
    static func text(of value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let string): string
        case .stringConvertible(let convertible): convertible.description
        default: value.description
        }
    }

    private static func quoted(_ text: String) -> String { Escaping.escaped(text, as: .logfmt) }

    /// The local time with milliseconds, e.g. `2026-11-28T20:31:07.412`.
    static func localTimestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var local = tm()
        localtime_r(&seconds, &local)
        var buffer = [CChar](repeating: 0, count: 32)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S", &local)
        let milliseconds = Int(now.tv_nsec / 1_000_000)
        let text = String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text + "." + String(repeating: "0", count: milliseconds < 10 ? 2 : milliseconds < 100 ? 1 : 0) + String(milliseconds)
    }

    /// Writes `line` and a newline to standard error in one write(2), so lines from several
    /// threads never interleave.
    public static let standardError: @Sendable (String) -> Void = { line in
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}

/// A log level shared by every handler that holds it and read at each entry, so the level of
/// every logger (values copied all over the daemon) changes at once (`log.level`, live).
public final class SharedLogLevel: Sendable {
    private let raw: Atomic<Int>

    public init(_ level: Logger.Level) { raw = Atomic(Self.index(level)) }

    public var level: Logger.Level {
        get { Logger.Level.allCases[raw.load(ordering: .relaxed)] }
        set { raw.store(Self.index(newValue), ordering: .relaxed) }
    }

    private static func index(_ level: Logger.Level) -> Int { Logger.Level.allCases.firstIndex(of: level) ?? 2 }
}

/// Choosing the handler once, in `main`.
public enum VoicedLogging {
    /// The level of every handler ``bootstrap(level:destination:)`` makes; setting it changes the
    /// level of every logger in the process at once.
    public static let level = SharedLogLevel(.info)

    /// Where log entries go.
    public enum Destination: String, Hashable, Sendable {
        /// journald, with fields.
        case journal
        /// Readable lines on standard error.
        case stderr
    }

    /// journald when systemd connected standard error to the journal: `JOURNAL_STREAM` is set and
    /// names standard error's device and inode (`<device>:<inode>`, as systemd.exec(5) advises
    /// checking, since children inherit the variable even when their stderr is redirected).
    public static func destination(journalStream: String?, stderrDevice: UInt64?, stderrInode: UInt64?) -> Destination {
        guard let journalStream else { return .stderr }
        let parts = journalStream.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return .stderr }
        guard let stderrDevice, let stderrInode else { return .stderr }
        return device == stderrDevice && inode == stderrInode ? .journal : .stderr
    }

    /// ``destination(journalStream:stderrDevice:stderrInode:)`` for this process.
    public static func detectDestination() -> Destination {
        var status = stat()
        let statted = fstat(STDERR_FILENO, &status) == 0
        return destination(
            journalStream: getenv("JOURNAL_STREAM").map { String(cString: $0) },
            stderrDevice: statted ? UInt64(status.st_dev) : nil,
            stderrInode: statted ? UInt64(status.st_ino) : nil
        )
    }

    /// A handler for `label` writing to `destination`, at `level`.
    public static func makeHandler(label: String, destination: Destination, level: Logger.Level,
                                   shared: SharedLogLevel? = nil) -> any LogHandler {
        switch destination {
        case .journal:
            var handler = JournalLogHandler(label: label)
            handler.sharedLevel = shared
            if shared == nil { handler.logLevel = level }
            return handler
        case .stderr:
            var handler = StderrLogHandler(label: label)
            handler.sharedLevel = shared
            if shared == nil { handler.logLevel = level }
            return handler
        }
    }

    /// Bootstraps swift-log once for the process (call it first thing in `main`): journald under
    /// systemd, readable stderr lines otherwise, unless `destination` forces one. Returns the
    /// destination chosen.
    @discardableResult
    public static func bootstrap(level: Logger.Level = .info, destination: Destination? = nil) -> Destination {
        let chosen = destination ?? detectDestination()
        Self.level.level = level
        LoggingSystem.bootstrap { label in makeHandler(label: label, destination: chosen, level: level, shared: Self.level) }
        return chosen
    }
}

/// Handler metadata, then the provider's, then the entry's: later ones win.
private func mergedMetadata(handler: Logger.Metadata, provider: Logger.MetadataProvider?, event: Logger.Metadata?) -> Logger.Metadata {
    var merged = handler
    if let provided = provider?.get(), !provided.isEmpty { merged.merge(provided) { $1 } }
    if let event, !event.isEmpty { merged.merge(event) { $1 } }
    return merged
}
