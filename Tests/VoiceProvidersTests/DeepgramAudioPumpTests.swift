import Testing
import VoiceCore
import VoiceProviders
import VoiceTesting

/// Frames, keep-alive, mute, outage buffer and replay, on a manual clock: no sleeping.
@Suite final class DeepgramAudioPumpTests {
    static let ms = 16  // samples per millisecond at 16 kHz

    let clock = ManualClock()
    var pump = DeepgramAudioPump(configuration: DeepgramConfiguration(), now: .zero)

    func step(
        fill: Int, muted: Bool = false, connected: Bool = true, finalize: Bool = false, close: Bool = false
    ) -> [DeepgramAudioPump.Action] {
        pump.step(.init(now: clock.now, fill: fill, muted: muted, connected: connected, finalize: finalize, close: close))
    }

    @Test func audioLeavesInFramesOfExactlyFortyMillisecondsAndARemainderWaits() {
        #expect(pump.frameSamples == 40 * Self.ms)
        #expect(step(fill: 100 * Self.ms) == [.sendAudio(samples: 640), .sendAudio(samples: 640)])
        #expect(step(fill: 39 * Self.ms) == [])
    }

    @Test(arguments: [20, 25, 50])
    func theFrameDurationIsConfigurableFromTwentyToFiftyMilliseconds(milliseconds: Int) throws {
        var configuration = DeepgramConfiguration()
        configuration.frameDuration = .milliseconds(milliseconds)
        configuration.pollInterval = .milliseconds(10)
        try configuration.validate()
        var pump = DeepgramAudioPump(configuration: configuration, now: .zero)
        #expect(pump.step(.init(now: .zero, fill: milliseconds * Self.ms, connected: true))
            == [.sendAudio(samples: milliseconds * Self.ms)])
    }

    @Test(arguments: [10, 19, 51, 100])
    func framesOutsideTwentyToFiftyMillisecondsAreRefused(milliseconds: Int) {
        var configuration = DeepgramConfiguration()
        configuration.frameDuration = .milliseconds(milliseconds)
        configuration.pollInterval = .milliseconds(5)
        #expect(throws: DeepgramError.self) { try configuration.validate() }
    }

    @Test func aKeepAliveGoesOutAfterFourSecondsWithoutAudio() {
        #expect(step(fill: 0) == [])  // connects at t = 0
        clock.advance(by: .milliseconds(3_999))
        #expect(step(fill: 0) == [])
        clock.advance(by: .milliseconds(1))
        #expect(step(fill: 0) == [.sendKeepAlive])
        clock.advance(by: .seconds(2))
        #expect(step(fill: 0) == [])
        clock.advance(by: .seconds(2))
        #expect(step(fill: 0) == [.sendKeepAlive])
        // Audio resets the keep-alive clock.
        clock.advance(by: .seconds(1))
        #expect(step(fill: 640) == [.sendAudio(samples: 640)])
        clock.advance(by: .milliseconds(3_999))
        #expect(step(fill: 0) == [])
        clock.advance(by: .milliseconds(1))
        #expect(step(fill: 0) == [.sendKeepAlive])
    }

    @Test func theKeepAliveClockStartsWhenTheConnectionOpens() {
        #expect(step(fill: 0, connected: false) == [])
        clock.advance(by: .seconds(10))
        #expect(step(fill: 0) == [])  // just connected: not idle yet
        clock.advance(by: .seconds(4))
        #expect(step(fill: 0) == [.sendKeepAlive])
    }

    @Test func finalizeFlushesARemainderOfAtLeastTwentyMillisecondsFirst() {
        #expect(step(fill: 640 + 400, finalize: true) == [.sendAudio(samples: 640), .sendAudio(samples: 400), .sendFinalize])
        // Under 20 ms stays in the ring for the next frame.
        #expect(step(fill: 640 + 100, finalize: true) == [.sendAudio(samples: 640), .sendFinalize])
        #expect(step(fill: 0, finalize: true) == [.sendFinalize])
    }

    @Test func closeFlushesAndSendsCloseStreamOnceThenNothingMore() {
        #expect(step(fill: 700, close: true) == [.sendAudio(samples: 640), .sendCloseStream])
        clock.advance(by: .seconds(10))
        #expect(step(fill: 2_000, close: true) == [])
        #expect(step(fill: 2_000) == [])
    }

    @Test func mutedAudioIsDiscardedAndTheStreamIsKeptAlive() {
        #expect(step(fill: 5_000, muted: true) == [.discard(samples: 5_000, reason: .muted)])
        clock.advance(by: .seconds(4))
        #expect(step(fill: 320, muted: true) == [.discard(samples: 320, reason: .muted), .sendKeepAlive])
        #expect(step(fill: 0, muted: true, finalize: true) == [.sendFinalize])
    }

    // MARK: When to step again (no polling while nothing flows)

    func wake(fill: Int = 0, muted: Bool = false, connected: Bool = true, close: Bool = false) -> DeepgramAudioPump.Wake {
        let input = DeepgramAudioPump.Input(now: clock.now, fill: fill, muted: muted, connected: connected, close: close)
        _ = pump.step(input)
        return pump.nextWake(after: input, idleSlack: .seconds(1))
    }

    @Test func streamingStepsEveryPollButMutedWaitsForTheNextKeepAlive() {
        #expect(wake(fill: 640) == .poll)
        clock.advance(by: .milliseconds(3_500))
        // Muted and connected: nothing to send until the keep-alive, 4 s after the last audio.
        #expect(wake(fill: 640, muted: true) == .idle(until: .milliseconds(4_000)))
        clock.advance(by: .milliseconds(500))
        // The keep-alive went out at 4 s; the next wake is the slack (1 s), before the next keep-alive.
        #expect(wake(muted: true) == .idle(until: .milliseconds(5_000)))
    }

    @Test func disconnectedOrClosedTheClientWakesOnlyToTrimTheRing() {
        #expect(wake(fill: 16_000, connected: false) == .idle(until: .milliseconds(1_000)))
        #expect(wake(fill: 640, close: true) == .idle(until: .milliseconds(1_000)))
        // Once CloseStream went, an open connection gets nothing more: no keep-alive deadline.
        clock.advance(by: .seconds(10))
        #expect(wake(fill: 0) == .idle(until: .milliseconds(11_000)))
    }

    @Test func mutedAudioIsDiscardedDuringAnOutageToo() {
        #expect(step(fill: 3_000, muted: true, connected: false) == [.discard(samples: 3_000, reason: .muted)])
    }

    @Test func anOutageKeepsOnlyTheNewestFiveSeconds() {
        #expect(step(fill: 16_000, connected: true) .count == 25)
        #expect(step(fill: 4 * 16_000, connected: false) == [])
        #expect(step(fill: 6 * 16_000, connected: false) == [.discard(samples: 16_000, reason: .outageOverflow)])
        // Finalize while disconnected does nothing.
        #expect(step(fill: 5 * 16_000, connected: false, finalize: true) == [])
    }

    @Test func afterAReconnectAudioUnderThreeSecondsOldIsSent() {
        _ = step(fill: 0, connected: true)
        _ = step(fill: 0, connected: false)
        let actions = step(fill: 2 * 16_000, connected: true)
        #expect(actions == Array(repeating: .sendAudio(samples: 640), count: 50))
    }

    @Test func afterAReconnectAudioOverThreeSecondsOldIsDropped() {
        _ = step(fill: 0, connected: false)
        let actions = step(fill: 4 * 16_000 + 100, connected: true)
        #expect(actions.first == .discard(samples: 16_000 + 100, reason: .tooOldToReplay))
        #expect(actions.dropFirst().allSatisfy { $0 == .sendAudio(samples: 640) })
        #expect(actions.count == 1 + 75)  // 3 s of 40 ms frames
    }

    @Test func theReplayRuleAppliesOnlyAtTheReconnect() {
        _ = step(fill: 0, connected: true)
        // Connected all along: a backlog (a slow network) is sent, not dropped.
        #expect(step(fill: 4 * 16_000).count == 100)
    }

    @Test func theLimitsFollowTheConfiguration() {
        var configuration = DeepgramConfiguration()
        configuration.replayMaxAge = .milliseconds(500)
        configuration.outageBufferLimit = .seconds(1)
        let pump = DeepgramAudioPump(configuration: configuration, now: .zero)
        #expect(pump.replaySamples == 8_000)
        #expect(pump.outageLimitSamples == 16_000)
        #expect(pump.minimumFrameSamples == 320)
    }
}
