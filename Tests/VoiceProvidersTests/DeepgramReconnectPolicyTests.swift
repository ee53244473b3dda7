import Testing
import VoiceCore
import VoiceProviders
import VoiceTesting

/// The backoff schedule on a manual clock: no sleeping.
@Suite struct DeepgramReconnectPolicyTests {
    let configuration = DeepgramConfiguration()

    @Test func theDefaultScheduleIsZeroOneTwoFourEightSecondsThenOfflineEveryThirty() {
        let clock = ManualClock()
        var policy = DeepgramReconnectPolicy(configuration: configuration)
        // Up for a minute, then lost: attempt 1 goes at once.
        clock.advance(by: .seconds(60))
        var decision = policy.connectionLost(openedAt: .zero, at: clock.now)
        #expect(decision == .reconnect(attempt: 1, delay: .zero, at: .milliseconds(60_000)))

        var delays: [Duration] = []
        while case .reconnect(_, let delay, let at) = decision {
            delays.append(delay)
            clock.advance(to: at)
            decision = policy.attemptFailed(at: clock.now)
        }
        #expect(delays == [.zero, .seconds(1), .seconds(2), .seconds(4), .seconds(8)])
        #expect(clock.now == .milliseconds(60_000 + 15_000))
        #expect(decision == .offline(retryAt: .milliseconds(75_000 + 30_000)))
        #expect(policy.isOffline)

        // Offline: retry every 30 s, reporting nothing new.
        clock.advance(to: decision.instant)
        decision = policy.attemptFailed(at: clock.now)
        #expect(decision == .retryOffline(retryAt: .milliseconds(135_000)))
    }

    @Test func startupConnectsAtOnceAndCountsItsAttemptAsTheFirst() {
        var policy = DeepgramReconnectPolicy(configuration: configuration)
        let clock = ManualClock()
        var decision = policy.start(at: clock.now)
        var attempts: [Int] = []
        while case .reconnect(let attempt, _, let at) = decision {
            attempts.append(attempt)
            clock.advance(to: at)
            decision = policy.attemptFailed(at: clock.now)
        }
        #expect(attempts == [1, 2, 3, 4, 5])
        #expect(clock.now == .milliseconds(15_000))
        guard case .offline = decision else {
            Issue.record("expected offline after five failed attempts, got \(decision)")
            return
        }
    }

    @Test func aStableConnectionResetsTheScheduleAndEndsOffline() {
        var policy = DeepgramReconnectPolicy(configuration: configuration)
        var now = VoiceInstant.zero
        for _ in 0..<5 { now = policy.attemptFailed(at: now).instant }
        #expect(policy.isOffline)
        #expect(policy.connected() == true, "connected() says the client was offline")
        let opened = now
        now = opened + .seconds(2)
        #expect(policy.connectionLost(openedAt: opened, at: now) == .reconnect(attempt: 1, delay: .zero, at: now))
        #expect(policy.consecutiveFailures == 0)
        #expect(!policy.isOffline)
    }

    @Test func aConnectionDroppedBeforeItIsStableCountsAsAFailedAttempt() {
        var policy = DeepgramReconnectPolicy(configuration: configuration)
        let opened = VoiceInstant.zero
        // A server that accepts and drops at once cannot make the client spin at delay 0.
        let decision = policy.connectionLost(openedAt: opened, at: opened + .milliseconds(300))
        #expect(decision == .reconnect(attempt: 2, delay: .seconds(1), at: .milliseconds(1_300)))
        #expect(policy.consecutiveFailures == 1)
    }

    @Test func aFlappingServerEndsOfflineToo() {
        var policy = DeepgramReconnectPolicy(configuration: configuration)
        var now = VoiceInstant.zero
        var decision = policy.start(at: now)
        for _ in 0..<5 {
            now = decision.instant
            policy.connected()
            decision = policy.connectionLost(openedAt: now, at: now + .milliseconds(100))
        }
        guard case .offline = decision else {
            Issue.record("expected offline, got \(decision)")
            return
        }
    }

    @Test func theScheduleComesFromTheConfiguration() {
        var configuration = configuration
        configuration.reconnectDelays = [.milliseconds(10), .milliseconds(20)]
        configuration.offlineRetryInterval = .milliseconds(50)
        var policy = DeepgramReconnectPolicy(configuration: configuration)
        #expect(policy.attemptFailed(at: .zero) == .reconnect(attempt: 2, delay: .milliseconds(20), at: .milliseconds(20)))
        #expect(policy.attemptFailed(at: .milliseconds(20)) == .offline(retryAt: .milliseconds(70)))
    }
}
