import Testing
import VoiceCore
import VoiceProviders

/// The pure half of the protocol: server JSON in, speech events out.
@Suite struct DeepgramMessageParserTests {
    static func results(
        _ transcript: String, isFinal: Bool, speechFinal: Bool = false,
        start: Double = 2.25, duration: Double = 1.5, confidence: Double = 0.987
    ) -> String {
        // The shape Deepgram's /v1/listen sends, extra fields included.
        """
        {"type":"Results","channel_index":[0,1],"duration":\(duration),"start":\(start),\
        "is_final":\(isFinal),"speech_final":\(speechFinal),"channel":{"alternatives":[\
        {"transcript":"\(transcript)","confidence":\(confidence),"words":[{"word":"what's","start":2.3,\
        "end":2.5,"confidence":0.99,"punctuated_word":"What's"}]}]},"metadata":{"request_id":"5d6c",\
        "model_info":{"name":"general-nova-3","version":"2025-01-01","arch":"nova-3"},"model_uuid":"1e2f"},\
        "from_finalize":false}
        """
    }

    @Test func controlAndBidiCharactersAreStrippedFromTranscripts() throws {
        let message = try DeepgramMessageParser.parse(Self.results("book\\u0000ing\\u0007 a \\u202Etable", isFinal: true))
        guard case .results(let results) = message else { Issue.record("not results: \(message)"); return }
        #expect(results.transcript == "booking a table")
    }

    @Test func interimResultsBecomePartials() throws {
        let events = try DeepgramMessageParser.speechEvents(for: Self.results("what's the", isFinal: false))
        #expect(events == [.partial("what's the")])
    }

    @Test func finalResultsWithWordsBecomeFinalsWithConfidenceAndTimes() throws {
        let message = try DeepgramMessageParser.parse(Self.results("What's the weather like?", isFinal: true))
        #expect(message == .results(DeepgramResults(
            transcript: "What's the weather like?", confidence: 0.987, start: 2.25, duration: 1.5,
            isFinal: true, speechFinal: false)))
        #expect(DeepgramMessageParser.speechEvents(for: message)
            == [.final(text: "What's the weather like?", confidence: 0.987, start: 2.25, end: 3.75)])
    }

    @Test func speechFinalAddsSpeechEndedAfterTheFinal() throws {
        let events = try DeepgramMessageParser.speechEvents(for: Self.results("Hello.", isFinal: true, speechFinal: true))
        #expect(events == [.final(text: "Hello.", confidence: 0.987, start: 2.25, end: 3.75), .speechEnded])
    }

    @Test func aFinalWithoutWordsClearsThePartialInsteadOfAddingAnEmptyFinal() throws {
        #expect(try DeepgramMessageParser.speechEvents(for: Self.results("", isFinal: true)) == [.partial("")])
        #expect(try DeepgramMessageParser.speechEvents(for: Self.results("  ", isFinal: true, speechFinal: true))
            == [.partial(""), .speechEnded])
    }

    @Test func speechStartedAndUtteranceEndMapToTheStartAndEndOfSpeech() throws {
        let started = #"{"type":"SpeechStarted","channel":[0,1],"timestamp":4.5}"#
        let ended = #"{"type":"UtteranceEnd","channel":[0,1],"last_word_end":2.395}"#
        #expect(try DeepgramMessageParser.parse(started) == .speechStarted(timestamp: 4.5))
        #expect(try DeepgramMessageParser.parse(ended) == .utteranceEnd(lastWordEnd: 2.395))
        #expect(try DeepgramMessageParser.speechEvents(for: started) == [.speechStarted])
        #expect(try DeepgramMessageParser.speechEvents(for: ended) == [.speechEnded])
    }

    @Test func metadataIsParsedButYieldsNoEvents() throws {
        let metadata = """
            {"type":"Metadata","transaction_key":"deprecated","request_id":"a1b2","sha256":"00",\
            "created":"2025-01-01T00:00:00.000Z","duration":25.9,"channels":1,"models":["1e2f"],\
            "model_info":{"1e2f":{"name":"general-nova-3","version":"x","arch":"nova-3"}}}
            """
        #expect(try DeepgramMessageParser.parse(metadata) == .metadata(requestID: "a1b2", duration: 25.9))
        #expect(try DeepgramMessageParser.speechEvents(for: metadata) == [])
    }

    @Test func unknownTypesAreIgnoredWhateverTheirFields() throws {
        let message = #"{"type":"Warning","start":"not a number","channel":"x"}"#
        #expect(try DeepgramMessageParser.parse(message) == .unknown(type: "Warning"))
        #expect(try DeepgramMessageParser.speechEvents(for: message) == [])
    }

    @Test func errorMessagesCarryTheirDescription() throws {
        let message = #"{"type":"Error","description":"Bad audio","message":"DATA-0000","variant":"x"}"#
        #expect(try DeepgramMessageParser.parse(message) == .error(description: "Bad audio: DATA-0000: x"))
        #expect(try DeepgramMessageParser.parse(#"{"type":"Error"}"#) == .error(description: "unspecified error"))
    }

    @Test(arguments: [
        "not json", "", "[1,2]", "{}", #"{"type":3}"#, #"{"type":"Results","channel":{"alternatives":[{"transcript":"a"#,
        #"{"type":"Results","is_final":"yes","channel":{"alternatives":[{"transcript":"a"}]}}"#,
    ])
    func invalidJSONIsRejected(text: String) {
        #expect {
            _ = try DeepgramMessageParser.parse(text)
        } throws: { error in
            guard case .invalidJSON = error as? DeepgramMessageError else { return false }
            return true
        }
    }

    @Test func resultsWithoutATranscriptAreRejected() {
        #expect(throws: DeepgramMessageError.missingField(type: "Results", field: "channel.alternatives[0]")) {
            try DeepgramMessageParser.parse(#"{"type":"Results","is_final":true,"channel":{"alternatives":[]}}"#)
        }
        #expect(throws: DeepgramMessageError.missingField(type: "Results", field: "channel.alternatives[0]")) {
            try DeepgramMessageParser.parse(#"{"type":"Results","is_final":true}"#)
        }
        #expect(throws: DeepgramMessageError.missingField(type: "Results", field: "channel.alternatives[0].transcript")) {
            try DeepgramMessageParser.parse(#"{"type":"Results","channel":{"alternatives":[{"confidence":1}]}}"#)
        }
    }

    @Test func messagesOverTheLimitAreRejectedBeforeDecoding() throws {
        let started = #"{"type":"SpeechStarted","channel":[0,1],"timestamp":1.0}"#
        let size = started.utf8.count
        #expect(try DeepgramMessageParser.parse(started, maxBytes: size) == .speechStarted(timestamp: 1.0))
        #expect(throws: DeepgramMessageError.oversized(bytes: size, limit: size - 1)) {
            try DeepgramMessageParser.parse(started, maxBytes: size - 1)
        }
        // The default limit is 1 MiB, counted in UTF-8 bytes.
        let big = #"{"type":"Results","pad":""# + String(repeating: "é", count: 1 << 19) + #""}"#
        #expect(throws: DeepgramMessageError.oversized(bytes: big.utf8.count, limit: 1 << 20)) {
            try DeepgramMessageParser.parse(big)
        }
    }

    @Test func nonASCIITranscriptsSurvive() throws {
        let events = try DeepgramMessageParser.speechEvents(for: Self.results("Grüß dich, 東京 👋", isFinal: false))
        #expect(events == [.partial("Grüß dich, 東京 👋")])
    }
}
