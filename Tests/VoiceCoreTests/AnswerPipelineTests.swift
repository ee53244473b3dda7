import Testing
@testable import VoiceCore

/// The answer on its way to the speaker, on its own: sentences in, requests and audio out.
@Suite struct AnswerPipelineTests {
    static let samples = [Int16](repeating: 100, count: 1600)   // 100 ms

    /// A pipeline with `sentences` queued and the first request started (id 1).
    func started(_ sentences: [String], released: Bool = false, preemptive: Bool = true) throws -> (AnswerPipeline, TTSRequest) {
        var answer = AnswerPipeline(released: released)
        answer.enqueue(sentences)
        #expect(answer.canStart(preemptive: preemptive))
        let requestResult = answer.startNext(id: 1, turn: 7, call: 3)
        let request = try #require(requestResult)
        return (answer, request)
    }

    @Test func requestsGoOneAtATimeInOrder() throws {
        var (answer, first) = try started(["One.", "Two."], released: true)
        #expect(first == TTSRequest(id: 1, turn: 7, segment: 0, text: "One.", voice: .primary, call: 3))
        #expect(!answer.canStart(preemptive: false), "one request at a time")
        let r1 = answer.startNext(id: 2, turn: 7, call: 3)
        #expect(r1 == nil)
        _ = answer.audio(Self.samples, request: 1)
        let r2 = answer.finished(request: 1)
        #expect(r2 == 0)
        let secondResult = answer.startNext(id: 2, turn: 7, call: 3)
        let second = try #require(secondResult)
        #expect(second.segment == 1 && second.text == "Two.")
    }

    @Test func audioBeforeTheReleaseIsHeldThenReleasedInOrder() throws {
        var (answer, _) = try started(["One."])
        let r3 = answer.audio(Self.samples, request: 1)
        #expect(r3 == nil)
        let r4 = answer.audio(Self.samples, request: 1)
        #expect(r4 == nil)
        let r5 = answer.finished(request: 1)
        #expect(r5 == nil, "the end is held with its audio")
        #expect(!answer.isDrained)
        let held = answer.release()
        #expect(held.audio.count == 2 && held.audio.allSatisfy { $0.turn == 7 && $0.segment == 0 })
        #expect(held.ends == [0])
        #expect(answer.heldAudio.isEmpty && answer.released)
        let r6 = answer.audio(Self.samples, request: 1)
        #expect(r6 == nil, "the request is over: late audio is dropped")
    }

    @Test func beforeTheReleaseOnlyTheFirstSentenceMayBeSynthesisedAhead() throws {
        var answer = AnswerPipeline()
        answer.enqueue(["One.", "Two."])
        #expect(!answer.canStart(preemptive: false))
        #expect(answer.canStart(preemptive: true))
        _ = answer.startNext(id: 1, turn: 7, call: 3)
        _ = answer.finished(request: 1)
        #expect(!answer.canStart(preemptive: true), "only the first sentence ahead of the commit")
        _ = answer.release()
        #expect(answer.canStart(preemptive: false))
    }

    @Test func outputOfAnotherRequestIsDropped() throws {
        var (answer, _) = try started(["One."], released: true)
        let r7 = answer.audio(Self.samples, request: 2)
        #expect(r7 == nil)
        let r8 = answer.finished(request: 2)
        #expect(r8 == nil)
        let r9 = answer.failed(request: 2)
        #expect(r9 == nil)
        let r10 = answer.audio([], request: 1)
        #expect(r10 == nil)
        #expect(answer.segments[0].samples == 0)
        let r11 = answer.cancelInFlight()
        #expect(r11?.id == 1)
        let r12 = answer.audio(Self.samples, request: 1)
        #expect(r12 == nil, "a cancelled request is not current")
    }

    @Test func aPrimaryFailureHandsTheSentenceToTheFallbackVoice() throws {
        var (answer, _) = try started(["One.", "Two."], released: true)
        _ = answer.audio(Self.samples, request: 1)
        let failureResult = answer.failed(request: 1)
        let failure = try #require(failureResult)
        #expect(failure.outcome == .fallback && failure.endSegment == 0, "the part played is ended")
        #expect(answer.ttsFailed && answer.voice == .fallback)
        let redoResult = answer.startNext(id: 2, turn: 7, call: 3)
        let redo = try #require(redoResult)
        #expect(redo.text == "One." && redo.voice == .fallback && redo.segment == 1)
        #expect(!answer.segments[0].counts, "the failed attempt is not counted as spoken")
    }

    @Test func aFailureBeforeTheReleaseForgetsTheHeldAudio() throws {
        var (answer, _) = try started(["One."])
        _ = answer.audio(Self.samples, request: 1)
        let failureResult = answer.failed(request: 1)
        let failure = try #require(failureResult)
        #expect(failure.endSegment == nil)
        #expect(answer.heldAudio.isEmpty && answer.segments[0].samples == 0)
        let r13 = answer.release()
        #expect(r13.audio.isEmpty, "nothing of the failed attempt is ever played")
    }

    @Test func aFallbackFailureSilencesTheRest() throws {
        var (answer, _) = try started(["One.", "Two."], released: true)
        _ = answer.failed(request: 1)
        _ = answer.startNext(id: 2, turn: 7, call: 3)
        let failureResult = answer.failed(request: 2)
        let failure = try #require(failureResult)
        #expect(failure.outcome == .silenced)
        #expect(answer.sentences.isEmpty && answer.isDrained)
    }

    @Test func theApologyIsSpokenInTheFallbackVoiceWithoutACall() throws {
        var answer = AnswerPipeline(released: true)
        answer.enqueue(["Half an answer."])
        answer.apologise("Sorry.")
        let requestResult = answer.startNext(id: 1, turn: 7, call: 3)
        let request = try #require(requestResult)
        #expect(request.text == "Sorry." && request.voice == .fallback && request.call == nil)
        #expect(answer.segments[0].isApology && answer.apologising)
    }

    @Test func whatWasPlayedFollowsThePlayback() throws {
        var (answer, _) = try started(["It is sunny.", "Enjoy your day!"], released: true)
        _ = answer.audio(Self.samples, request: 1)
        _ = answer.finished(request: 1)
        let r14 = answer.notePlayed()
        let r15 = answer.notePlayed()
        #expect(r14 && !r15, "the first audio is noted once")
        answer.segment(0, startedAt: .milliseconds(1000))
        #expect(answer.spokenText(at: .milliseconds(1050)) == "It is", "half of the audio: the whole words of half the text")
        answer.segment(0, finishedAt: .milliseconds(1100))
        #expect(!answer.isDrained, "the second sentence still waits")
        #expect(answer.spokenText(at: .milliseconds(1100)) == "It is sunny.")
        answer.dropQueued()
        #expect(answer.isDrained)
        let r16 = answer.segment(5, startedAt: .zero)
        #expect(!r16, "an unknown segment changes nothing")
    }

    @Test func theApologyIsLeftOutOfTheAnswer() throws {
        var (answer, _) = try started(["Yes."], released: true)
        _ = answer.audio(Self.samples, request: 1)
        _ = answer.finished(request: 1)
        answer.apologise("Sorry.")
        _ = answer.startNext(id: 2, turn: 7, call: nil)
        _ = answer.audio(Self.samples, request: 2)
        _ = answer.finished(request: 2)
        answer.segment(0, finishedAt: .milliseconds(100))
        answer.segment(1, finishedAt: .milliseconds(200))
        #expect(answer.spokenText(at: .milliseconds(200)) == "Yes. Sorry.")
        #expect(answer.spokenText(at: .milliseconds(200), answerOnly: true) == "Yes.")
    }

    @Test func theSynthesisedDurationCountsEverySegment() throws {
        var (answer, _) = try started(["One.", "Two."], released: true)
        _ = answer.audio(Self.samples, request: 1)
        _ = answer.finished(request: 1)
        _ = answer.startNext(id: 2, turn: 7, call: 3)
        _ = answer.audio(Self.samples + Self.samples, request: 2)
        #expect(answer.synthesisedDuration == .milliseconds(300))
        answer.dropQueued()
        #expect(answer.sentences.isEmpty)
    }

    @Test func prefixKeepsWholeWordsWithinTheFraction() {
        #expect(AnswerPipeline.prefix(of: "It is sunny.", fraction: 0.5) == "It is")
        #expect(AnswerPipeline.prefix(of: "It is sunny.", fraction: 0.1) == "")
        #expect(AnswerPipeline.prefix(of: "It is sunny.", fraction: 1) == "It is sunny.")
    }
}
