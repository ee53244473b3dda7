/// One final transcript segment from speech-to-text.
public struct TranscriptSegment: Equatable, Sendable, Codable {
    /// The recognised text, as the service sent it.
    public var text: String
    /// Start of the segment in the audio stream, in seconds.
    public var start: Double
    /// End of the segment in the audio stream, in seconds.
    public var end: Double
    /// The service's confidence, 0…1.
    public var confidence: Double

    public init(text: String, start: Double, end: Double, confidence: Double) {
        self.text = text
        self.start = start
        self.end = end
        self.confidence = confidence
    }

    /// The segment's duration in seconds (never negative).
    public var duration: Double { max(0, end - start) }
}

/// A mutation refused because the buffer is locked (the turn is COMMITTED).
public struct TranscriptLockedError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The refused operation: `setPartial`, `appendFinal` or `clear`.
    public var operation: String
    public var description: String {
        "transcript buffer is locked (turn committed): \(operation) refused; the controller must decide what new speech means"
    }
}

/// What the user has said in the current turn.
///
/// While locked (COMMITTED), every mutation throws ``TranscriptLockedError`` so the controller
/// has to decide explicitly what new speech means (cancel, or barge in) before it changes the text.
public struct TranscriptBuffer: Equatable, Sendable {
    /// The latest interim transcript, for display only.
    public private(set) var partial: String = ""
    /// The final segments, in arrival order.
    public private(set) var segments: [TranscriptSegment] = []
    /// Whether mutations are refused.
    public private(set) var isLocked = false

    public init() {}

    /// The complete text: every final's words joined by single spaces, with no stray spaces.
    public var text: String { Self.normalise(segments.map(\.text).joined(separator: " ")) }

    /// The complete text followed by the current partial, for detecting what is new.
    public var textIncludingPartial: String { Self.normalise(text + " " + partial) }

    /// Whether no final text has arrived.
    public var isEmpty: Bool { text.isEmpty }

    /// The duration-weighted confidence of the finals (the plain mean when every duration is zero),
    /// or `nil` with no finals.
    public var confidence: Double? {
        guard !segments.isEmpty else { return nil }
        let total = segments.reduce(0) { $0 + $1.duration }
        if total > 0 {
            return segments.reduce(0) { $0 + $1.confidence * $1.duration } / total
        }
        return segments.reduce(0) { $0 + $1.confidence } / Double(segments.count)
    }

    /// Replaces the interim transcript.
    public mutating func setPartial(_ text: String) throws(TranscriptLockedError) {
        try checkUnlocked("setPartial")
        partial = text
    }

    /// Appends a final segment; it supersedes the partial.
    public mutating func appendFinal(_ segment: TranscriptSegment) throws(TranscriptLockedError) {
        try checkUnlocked("appendFinal")
        segments.append(segment)
        partial = ""
    }

    /// Empties the buffer.
    public mutating func clear() throws(TranscriptLockedError) {
        try checkUnlocked("clear")
        segments.removeAll()
        partial = ""
    }

    /// Refuses mutations until ``unlock()``.
    public mutating func lock() { isLocked = true }
    /// Accepts mutations again.
    public mutating func unlock() { isLocked = false }

    private func checkUnlocked(_ operation: String) throws(TranscriptLockedError) {
        if isLocked { throw TranscriptLockedError(operation: operation) }
    }

    /// Collapses every run of white space to one space and trims both ends.
    public static func normalise(_ text: String) -> String {
        text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }
}
