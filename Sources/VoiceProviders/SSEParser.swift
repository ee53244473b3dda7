/// One server-sent event.
public struct SSEEvent: Equatable, Sendable {
    /// The `event:` field, if any (nil means the default type, `message`).
    public var event: String?
    /// The `data:` lines, joined with `\n`.
    public var data: String
    /// The last `id:` seen so far.
    public var id: String?

    public init(event: String? = nil, data: String, id: String? = nil) {
        self.event = event
        self.data = data
        self.id = id
    }
}

/// A server-sent-events stream broke a limit.
public enum SSEError: Error, Equatable, Sendable, CustomStringConvertible {
    /// One event (or one line) is larger than the parser accepts.
    case eventTooLarge(limit: Int)

    public var description: String {
        switch self {
        case .eventTooLarge(let limit): "a server-sent event is larger than \(limit) bytes"
        }
    }
}

/// An incremental parser of `text/event-stream` (the WHATWG rules): feed it the bytes as they
/// arrive, split anywhere, and it returns each event once its blank line has arrived.
///
/// Lines end with LF, CR or CRLF (a CRLF split across two reads counts once); `:` starts a
/// comment; `data:` lines of one event are joined with `\n`; one space after the colon is
/// dropped; a leading byte-order mark is skipped; fields other than `data`, `event` and `id`
/// are ignored. Text is decoded as UTF-8 per line, so a character split across reads is intact.
/// An event still open when the stream ends is discarded, as the standard says.
public struct SSEParser: Sendable {
    /// The largest event (all its lines together) accepted.
    public let maxEventBytes: Int
    private var line: [UInt8] = []
    private var data: [UInt8] = []
    private var hasData = false
    private var eventType: String?
    private var lastEventID: String?
    private var afterCR = false
    private var atStart = true
    private var bomMatched = 0

    public init(maxEventBytes: Int = 1 << 20) {
        self.maxEventBytes = maxEventBytes
    }

    /// Parses the next bytes of the stream; returns the events they complete, in order.
    /// After an error the parser starts afresh at the next event.
    public mutating func feed(_ bytes: some Sequence<UInt8>) throws(SSEError) -> [SSEEvent] {
        var events: [SSEEvent] = []
        for byte in bytes {
            if atStart {
                // Skip a UTF-8 byte-order mark (EF BB BF) at the very start.
                let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
                if byte == bom[bomMatched] {
                    bomMatched += 1
                    if bomMatched == bom.count { atStart = false }
                    continue
                }
                atStart = false
                if bomMatched > 0 {
                    let partial = bom.prefix(bomMatched)
                    bomMatched = 0
                    for earlier in partial { try append(earlier) }
                }
            }
            switch byte {
            case 0x0A:  // LF
                if afterCR {
                    afterCR = false
                } else if let event = endLine() {
                    events.append(event)
                }
            case 0x0D:  // CR
                afterCR = true
                if let event = endLine() { events.append(event) }
            default:
                afterCR = false
                try append(byte)
            }
        }
        return events
    }

    private mutating func append(_ byte: UInt8) throws(SSEError) {
        line.append(byte)
        if line.count + data.count > maxEventBytes {
            reset()
            throw .eventTooLarge(limit: maxEventBytes)
        }
    }

    private mutating func reset() {
        line = []
        data = []
        hasData = false
        eventType = nil
    }

    /// Handles a complete line; returns the event a blank line completes.
    private mutating func endLine() -> SSEEvent? {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            guard hasData else {
                eventType = nil
                return nil
            }
            if data.last == 0x0A { data.removeLast() }
            let event = SSEEvent(event: eventType, data: String(decoding: data, as: UTF8.self), id: lastEventID)
            data.removeAll(keepingCapacity: true)
            hasData = false
            eventType = nil
            return event
        }
        if line.first == UInt8(ascii: ":") { return nil }  // a comment
        let field: ArraySlice<UInt8>
        var value: ArraySlice<UInt8>
        if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            field = line[..<colon]
            value = line[(colon + 1)...]
            if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
        } else {
            field = line[...]
            value = []
        }
        switch String(decoding: field, as: UTF8.self) {
        case "data":
            data.append(contentsOf: value)
            data.append(0x0A)
            hasData = true
        case "event":
            eventType = String(decoding: value, as: UTF8.self)
        case "id":
            if !value.contains(0) { lastEventID = String(decoding: value, as: UTF8.self) }
        default:
            break  // `retry` and unknown fields
        }
        return nil
    }
}
