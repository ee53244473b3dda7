import Testing
import VoiceProviders

/// The retry rules as pure decisions: no network, no clock.
@Suite struct RetryPolicyTests {
    let chat = RetryPolicy.chat
    func status(_ code: Int, retryAfter: Duration? = nil) -> AttemptFailure { .status(code: code, retryAfter: retryAfter, detail: "") }

    @Test func rateLimitHonoursRetryAfter() {
        #expect(chat.decide(failures: [status(429, retryAfter: .seconds(3))], elapsed: .zero, outputDelivered: false) == .retry(after: .seconds(3)))
    }

    @Test func rateLimitWithoutRetryAfterBacksOffExponentially() {
        #expect(chat.decide(failures: [status(429)], elapsed: .zero, outputDelivered: false) == .retry(after: .seconds(1)))
        #expect(chat.decide(failures: [status(429), status(429)], elapsed: .seconds(1), outputDelivered: false) == .retry(after: .seconds(2)))
    }

    @Test func rateLimitStopsAtThreeTries() {
        #expect(chat.decide(failures: Array(repeating: status(429), count: 3), elapsed: .seconds(3), outputDelivered: false) == .giveUp)
    }

    @Test func rateLimitStaysWithinTenSeconds() {
        #expect(chat.decide(failures: [status(429, retryAfter: .seconds(4))], elapsed: .seconds(6), outputDelivered: false)
                == .retry(after: .seconds(4)))
        #expect(chat.decide(failures: [status(429, retryAfter: .seconds(4))], elapsed: .milliseconds(6001), outputDelivered: false)
                == .giveUp)
        #expect(chat.decide(failures: [status(429, retryAfter: .seconds(11))], elapsed: .zero, outputDelivered: false) == .giveUp)
    }

    @Test func serverErrorsNetworkErrorsAndTimeoutsGetOneRetryEach() {
        for failure in [status(500), status(503), AttemptFailure.network("reset"), .firstByteTimeout(.seconds(5))] {
            #expect(chat.decide(failures: [failure], elapsed: .zero, outputDelivered: false) == .retry(after: .zero))
            #expect(chat.decide(failures: [failure, failure], elapsed: .zero, outputDelivered: false) == .giveUp)
        }
        #expect(chat.decide(failures: [.firstByteTimeout(.seconds(5)), status(500)], elapsed: .seconds(5), outputDelivered: false)
                == .retry(after: .zero))
    }

    @Test func authenticationAndOtherClientErrorsAreNeverRetried() {
        for code in [400, 401, 403, 404, 422] {
            #expect(chat.decide(failures: [status(code)], elapsed: .zero, outputDelivered: false) == .giveUp)
        }
        #expect(chat.decide(failures: [.invalidResponse("text/html")], elapsed: .zero, outputDelivered: false) == .giveUp)
        #expect(chat.decide(failures: [.setup("bad URL")], elapsed: .zero, outputDelivered: false) == .giveUp)
    }

    @Test func nothingIsRetriedOnceOutputWasDelivered() {
        #expect(chat.decide(failures: [.network("closed")], elapsed: .zero, outputDelivered: true) == .giveUp)
        #expect(chat.decide(failures: [status(429)], elapsed: .zero, outputDelivered: true) == .giveUp)
    }

    @Test func attemptsAreCappedWhateverTheReasons() {
        let mixed: [AttemptFailure] = [status(429), status(500), .network("x"), .firstByteTimeout(.seconds(5))]
        #expect(chat.decide(failures: mixed, elapsed: .seconds(1), outputDelivered: false) == .giveUp)
    }

    @Test func speechDoesNotWaitForARateLimit() {
        #expect(RetryPolicy.speech.decide(failures: [status(429, retryAfter: .seconds(1))], elapsed: .zero, outputDelivered: false) == .giveUp)
        #expect(RetryPolicy.speech.decide(failures: [status(502)], elapsed: .zero, outputDelivered: false) == .retry(after: .zero))
    }

    @Test func retryAfterParsesSecondsAndDates() {
        let now = 1_445_412_480.0  // Wed, 21 Oct 2015 07:28:00 GMT
        #expect(RetryAfter.parse("120", now: now) == .seconds(120))
        #expect(RetryAfter.parse(" 0 ", now: now) == .zero)
        #expect(RetryAfter.parse("Wed, 21 Oct 2015 07:28:05 GMT", now: now) == .seconds(5))
        #expect(RetryAfter.parse("Wed, 21 Oct 2015 07:27:00 GMT", now: now) == .zero, "a past date means now")
        #expect(RetryAfter.parse("Sun, 06 Nov 1994 08:49:37 GMT", now: 784_111_777) == .zero)
        #expect(RetryAfter.parse("soon", now: now) == nil)
        #expect(RetryAfter.parse("-5", now: now) == nil)
        #expect(RetryAfter.parse("Wed, 32 Oct 2015 07:28:05 GMT", now: now) == nil)
    }
}
