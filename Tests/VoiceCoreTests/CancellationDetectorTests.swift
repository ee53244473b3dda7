import Testing
@testable import VoiceCore

@Suite struct CancellationDetectorTests {
    static let truePositives: [(String, String)] = [
        ("actually make it Tuesday", "actually"),
        ("No, not that one", "no"),
        ("WAIT! stop", "wait"),
        ("sorry I meant four", "sorry"),
        ("Actually.", "actually"),
        ("oh wait", "wait"),
        ("no", "no"),
        ("the second one... no.", "no"),
        ("Sorry—the other one", "sorry"),
    ]
    static let falsePositives = [
        "I know the answer", "nothing else", "nowhere to go", "such sorrow", "call the waiter",
        "the notion of it", "awaiting results", "factually correct", "nobody", "snow", "",
    ]

    @Test(arguments: truePositives.map { [$0.0, $0.1] })
    func markerWordsMatchWholeWordsIgnoringCaseAndPunctuation(row: [String]) {
        #expect(CancellationDetector().reason(newText: row[0]) == .correctionMarker(row[1]))
    }

    @Test(arguments: falsePositives)
    func wordsThatMerelyContainAMarkerDoNotMatch(text: String) {
        #expect(CancellationDetector().reason(newText: text) == .newSpeech)
    }

    @Test func onlyTextNewSinceTheCallBeganIsScanned() {
        let detector = CancellationDetector()
        // "No" was said before the speculative call began: it is not a correction now.
        #expect(detector.reason(text: "No I want tea please", since: "No I want tea") == .newSpeech)
        #expect(detector.reason(text: "Book it for Monday. Actually Tuesday", since: "Book it for Monday.") == .correctionMarker("actually"))
    }

    @Test func aRevisedTranscriptScansFromTheFirstChangedWord() {
        let words = CancellationDetector.newWords(in: "set a timer wait no", since: "set a timer for ten")
        #expect(words == ["wait", "no"])
    }

    @Test func markersAreConfigurableAndMayBeSeveralWords() {
        let detector = CancellationDetector(markers: ["hold on", "scratch that", "  "])
        #expect(detector.markers == ["hold on", "scratch that"])
        #expect(detector.reason(newText: "Hold on, the other one") == .correctionMarker("hold on"))
        #expect(detector.reason(newText: "hold the door on") == .newSpeech)
        #expect(detector.reason(newText: "actually yes") == .newSpeech)
    }

    @Test func reasonsHaveTheirRecordCodes() {
        #expect(CancellationReason.newSpeech.code == "new_speech")
        #expect(CancellationReason.correctionMarker("wait").code == "correction_marker")
    }
}
