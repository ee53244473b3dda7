/// Why a speculative call is cancelled.
public enum CancellationReason: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// The new text contains a correction marker (the marker as configured).
    case correctionMarker(String)
    /// The user simply went on talking.
    case newSpeech

    /// The reason's name in records and JSON: `correction_marker` or `new_speech`.
    public var code: String {
        switch self {
        case .correctionMarker: "correction_marker"
        case .newSpeech: "new_speech"
        }
    }

    public var description: String {
        switch self {
        case .correctionMarker(let word): "correction_marker(\(word))"
        case .newSpeech: "new_speech"
        }
    }
}

/// Finds correction markers ("actually", "wait", "sorry", "no") in what the user said after the
/// speculative call began.
///
/// Markers match whole words, ignoring case and punctuation: "No," and "WAIT!" match; "know",
/// "nothing", "nowhere", "sorrow" and "waiter" do not. A marker may be several words ("hold on").
public struct CancellationDetector: Equatable, Sendable {
    /// The default markers.
    public static let defaultMarkers = ["actually", "wait", "sorry", "no"]

    /// The markers, as configured.
    public let markers: [String]
    private let markerWords: [[String]]

    public init(markers: [String] = CancellationDetector.defaultMarkers) {
        let usable = markers.filter { !Self.words(in: $0).isEmpty }
        self.markers = usable
        self.markerWords = usable.map { Self.words(in: $0) }
    }

    /// The reason for cancelling, given only the text that is new since the speculative call began.
    public func reason(newText: String) -> CancellationReason {
        let words = Self.words(in: newText)
        for (index, marker) in markerWords.enumerated() where Self.contains(words, marker) {
            return .correctionMarker(markers[index])
        }
        return .newSpeech
    }

    /// The reason for cancelling, given the whole text now and the text when the call began.
    /// Only the words after the longest common prefix of the two are scanned.
    public func reason(text: String, since baseline: String) -> CancellationReason {
        reason(newText: Self.newWords(in: text, since: baseline).joined(separator: " "))
    }

    /// The words of `text` after its longest common word prefix with `baseline`.
    public static func newWords(in text: String, since baseline: String) -> [String] {
        let now = words(in: text)
        let before = words(in: baseline)
        var common = 0
        while common < now.count, common < before.count, now[common] == before[common] { common += 1 }
        return Array(now[common...])
    }

    /// Lower-cased words: runs of letters, digits and apostrophes.
    public static func words(in text: String) -> [String] {
        var words: [String] = []
        var current = ""
        for character in text.lowercased() {
            if character.isLetter || character.isNumber || character == "'" || character == "\u{2019}" {
                current.append(character == "\u{2019}" ? "'" : character)
            } else if !current.isEmpty {
                words.append(current)
                current = ""
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    private static func contains(_ words: [String], _ marker: [String]) -> Bool {
        guard !marker.isEmpty, words.count >= marker.count else { return false }
        for start in 0...(words.count - marker.count) where Array(words[start..<start + marker.count]) == marker {
            return true
        }
        return false
    }
}
