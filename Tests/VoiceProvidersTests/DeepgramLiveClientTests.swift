import Logging
import ServiceLifecycle
import ServiceLifecycleTestKit
import Testing
import VoiceCore
import VoiceProviders

/// The client against a loopback server speaking Deepgram's protocol. Durations are shortened
/// through the configuration; nothing asserts on wall-clock time, and every wait is bounded.
@Suite struct DeepgramLiveClientTests {
    static let key = "dg-test-key-5f3a9c0e"
    static let keepAlive = #"{"type":"KeepAlive"}"#
    static let finalize = #"{"type":"Finalize"}"#
    static let closeStream = #"{"type":"CloseStream"}"#

    /// A client under test and what it reported.
    struct Harness {
        let client: DeepgramLiveClient
        let ring: AudioRingBuffer
        let events: Recorder<SpeechEvent>
        let statuses: Recorder<SpeechToTextStatus>
        let logs: Recorder<String>
    }

    static func configuration(_ server: DeepgramLoopbackServer) -> DeepgramConfiguration {
        var configuration = DeepgramConfiguration(baseURL: server.baseURL)
        configuration.reconnectDelays = [.zero, .milliseconds(20), .milliseconds(40), .milliseconds(60), .milliseconds(80)]
        configuration.offlineRetryInterval = .milliseconds(100)
        configuration.stableConnection = .zero
        configuration.closeTimeout = .milliseconds(500)
        return configuration
    }

    /// Runs the client as a service would run (graceful shutdown included) around `body`, then
    /// shuts it down gracefully and waits for `run()` to return.
    @discardableResult
    static func withClient(
        _ configuration: DeepgramConfiguration, ring: AudioRingBuffer = AudioRingBuffer(),
        _ body: (Harness) async throws -> Void
    ) async throws -> Harness {
        let events = Recorder<SpeechEvent>()
        let statuses = Recorder<SpeechToTextStatus>()
        let logs = Recorder<String>()
        var logger = Logger(label: "deepgram-test") { _ in CapturingLogHandler(lines: logs) }
        logger.logLevel = .trace
        let client = try DeepgramLiveClient(
            configuration: configuration, apiKey: DeepgramKey(key), audio: ring, clock: SystemVoiceClock(),
            logger: logger, onEvent: { events.append($0) }, onStatus: { statuses.append($0) })
        let harness = Harness(client: client, ring: ring, events: events, statuses: statuses, logs: logs)
        try await testGracefulShutdown { trigger in
            let run = Task { try await client.run() }
            do {
                try await body(harness)
            } catch {
                run.cancel()
                _ = try? await run.value
                throw error
            }
            trigger.triggerGracefulShutdown()
            try await Self.finish(run)
        }
        return harness
    }

    /// Waits for `run()` to return, at most 10 s (then cancels it and fails, rather than hang).
    static func finish(_ run: Task<Void, any Error>, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let finished = Recorder<Bool>()
        let watchdog = Task {
            try await Task.sleep(for: .seconds(10))
            if finished.events.isEmpty {
                Issue.record("run() did not return within 10 s of the shutdown", sourceLocation: sourceLocation)
                run.cancel()
            }
        }
        defer { watchdog.cancel() }
        try await run.value
        finished.append(true)
    }

    /// Starts a loopback server for `body` and stops it afterwards.
    static func withServer(_ body: (DeepgramLoopbackServer) async throws -> Void) async throws {
        let server = try await DeepgramLoopbackServer.start()
        do {
            try await body(server)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    /// Distinct samples, so order, loss and byte order all show.
    static func pattern(_ count: Int) -> [Int16] { (0..<count).map { Int16(truncatingIfNeeded: $0 &* 7 &+ 1) } }

    // MARK: Normal operation

    @Test func connectsWithTheStreamingQueryAndTokenAndSendsAudioInFramesOf20To50Milliseconds() async throws {
        try await Self.withServer { server in
            let samples = Self.pattern(16_000)
            let harness = try await Self.withClient(Self.configuration(server)) { harness in
                try await eventually("a connection") { server.connections.count == 1 }
                // As the capture thread would: 50 ms at a time.
                for start in stride(from: 0, to: samples.count, by: 800) {
                    harness.ring.write(Array(samples[start..<start + 800]))
                }
                try await eventually("1 s of audio at the server") { server.connections.first?.samples.count == 16_000 }
            }
            let connection = try #require(server.connections.first)
            #expect(connection.path.hasPrefix("/v1/listen?"))
            #expect(connection.query == [
                "model": "nova-3", "language": "en-US", "encoding": "linear16", "sample_rate": "16000",
                "channels": "1", "interim_results": "true", "punctuate": "true", "endpointing": "300",
                "utterance_end_ms": "1000", "vad_events": "true",
            ])
            #expect(connection.authorization == "Token \(Self.key)")
            #expect(connection.samples == samples, "every sample, in order, little-endian")
            #expect(connection.audioFrameSizes.count == 25)
            #expect(connection.audioFrameSizes.allSatisfy { (640...1600).contains($0) }, "20 to 50 ms of 16-bit samples")
            let statistics = harness.client.statistics
            #expect(statistics.audioFramesSent == 25)
            #expect(statistics.audioSamplesSent == 16_000)
            #expect(statistics.connections == 1)
        }
    }

    @Test func serverMessagesBecomeSpeechEventsInOrder() async throws {
        try await Self.withServer { server in
            let harness = try await Self.withClient(Self.configuration(server)) { harness in
                try await eventually("a connection") { server.connections.count == 1 }
                server.send(#"{"type":"SpeechStarted","channel":[0,1],"timestamp":0.5}"#)
                server.send(DeepgramMessageParserTests.results("what's the", isFinal: false))
                server.send(#"{"type":"Warning","description":"something new"}"#)
                server.send(DeepgramMessageParserTests.results("What's the weather?", isFinal: true, speechFinal: true))
                server.send(#"{"type":"UtteranceEnd","channel":[0,1],"last_word_end":3.7}"#)
                try await eventually("five events") { harness.events.events.count == 5 }
            }
            #expect(harness.events.events == [
                .speechStarted, .partial("what's the"),
                .final(text: "What's the weather?", confidence: 0.987, start: 2.25, end: 3.75), .speechEnded,
                .speechEnded,
            ])
            let statistics = harness.client.statistics
            #expect(statistics.unknownMessages == 1)
            #expect(statistics.messages == 6, "five, and the Metadata that answers CloseStream")
            #expect(statistics.invalidMessages == 0)
        }
    }

    @Test func finalizeAndShutdownFlushTheAudioThenSendFinalizeAndCloseStream() async throws {
        try await Self.withServer { server in
            let harness = try await Self.withClient(Self.configuration(server)) { harness in
                try await eventually("a connection") { server.connections.count == 1 }
                harness.ring.write(Self.pattern(1_000))  // 62.5 ms: one 40 ms frame now, 22.5 ms left
                try await eventually("one frame") { server.connections.first?.samples.count == 640 }
                harness.client.finalize()
                try await eventually("Finalize") { server.connections.first?.texts.contains(Self.finalize) == true }
                harness.ring.write(Self.pattern(400))  // 25 ms, flushed by CloseStream
            }
            let connection = try #require(server.connections.first)
            #expect(connection.received == [
                .audio(bytes: 1_280), .audio(bytes: 720), .text(Self.finalize), .audio(bytes: 800), .text(Self.closeStream),
            ])
            #expect(harness.statuses.events == [.online, .stopped])
            let statistics = harness.client.statistics
            #expect(statistics.finalizesSent == 1)
            #expect(statistics.closeStreamsSent == 1)
            #expect(statistics.messages == 1, "the server's Metadata was read before closing")
            try await eventually("the server saw the close") { server.connections.first?.closed == true }
        }
    }

    @Test func aKeepAliveGoesOutWhileNoAudioFlows() async throws {
        try await Self.withServer { server in
            var configuration = Self.configuration(server)
            configuration.keepAliveInterval = .milliseconds(100)
            let harness = try await Self.withClient(configuration) { _ in
                try await eventually("two keep-alives") {
                    (server.connections.first?.texts.filter { $0 == Self.keepAlive }.count ?? 0) >= 2
                }
            }
            #expect(server.connections.first?.audioFrameSizes == [])
            #expect(harness.client.statistics.keepAlivesSent >= 2)
            #expect(harness.client.statistics.connections == 1)
        }
    }

    // MARK: Garbage from the server

    @Test func invalidAndOversizedMessagesAreCountedAndTheConnectionSurvives() async throws {
        try await Self.withServer { server in
            let harness = try await Self.withClient(Self.configuration(server)) { harness in
                try await eventually("a connection") { server.connections.count == 1 }
                server.send("this is not JSON")
                server.send(#"{"type":"Results","channel":{"alternatives":[]}}"#)
                // 1.5 MiB: over the 1 MiB message limit, under the connection's frame limit.
                server.send(#"{"type":"Results","padding":""# + String(repeating: "x", count: 3 << 19) + #""}"#)
                server.send(#"{"type":"SpeechStarted","channel":[0,1],"timestamp":0.5}"#)
                try await eventually("the event after the garbage") { harness.events.events == [.speechStarted] }
            }
            let statistics = harness.client.statistics
            #expect(statistics.invalidMessages == 2)
            #expect(statistics.oversizedMessages == 1)
            #expect(statistics.connections == 1, "the connection survived")
            #expect(server.connections.count == 1)
            #expect(harness.statuses.events == [.online, .stopped])
        }
    }

    // MARK: Reconnecting

    @Test func whenTheServerClosesMidStreamTheClientReconnectsOnTheBackoffSchedule() async throws {
        try await Self.withServer { server in
            let harness = try await Self.withClient(Self.configuration(server)) { harness in
                try await eventually("a connection") { harness.statuses.events == [.online] }
                harness.ring.write(Self.pattern(1_280))
                try await eventually("audio") { server.connections.first?.samples.count == 1_280 }
                server.rejectUpgrades(2)
                server.closeCurrentConnection()
                try await eventually("a second connection") { harness.statuses.events.count == 5 }
                harness.ring.write(Self.pattern(640))
                try await eventually("audio on the new connection") { server.connections.last?.samples.count == 640 }
            }
            #expect(harness.statuses.events == [
                .online, .reconnecting(attempt: 1, delay: .zero), .reconnecting(attempt: 2, delay: .milliseconds(20)),
                .reconnecting(attempt: 3, delay: .milliseconds(40)), .online, .stopped,
            ])
            #expect(server.rejectedUpgrades == 2)
            #expect(server.connections.count == 2)
            let statistics = harness.client.statistics
            #expect(statistics.connectionAttempts == 4)
            #expect(statistics.failedAttempts == 2)
            #expect(statistics.connections == 2)
            #expect(statistics.reconnects == 1)
        }
    }

    @Test func fiveFailedAttemptsReportOfflineAndASlowRetryRecovers() async throws {
        try await Self.withServer { server in
            server.rejectUpgrades(.max)
            let harness = try await Self.withClient(Self.configuration(server)) { harness in
                try await eventually("offline") { harness.statuses.events.contains(.offline(retryInterval: .milliseconds(100))) }
                try await eventually("a slow retry") { server.rejectedUpgrades >= 6 }
                server.rejectUpgrades(0)
                try await eventually("back online") { harness.statuses.events.last == .online }
            }
            #expect(harness.statuses.events == [
                .reconnecting(attempt: 2, delay: .milliseconds(20)), .reconnecting(attempt: 3, delay: .milliseconds(40)),
                .reconnecting(attempt: 4, delay: .milliseconds(60)), .reconnecting(attempt: 5, delay: .milliseconds(80)),
                .offline(retryInterval: .milliseconds(100)), .online, .stopped,
            ])
            #expect(harness.client.statistics.failedAttempts == server.rejectedUpgrades)
            #expect(harness.logs.events.contains { $0.contains("refused the WebSocket upgrade") && $0.contains("API key") })
        }
    }

    @Test func anUpgradeThatNeverAnswersTimesOutAndCountsAsAFailedAttempt() async throws {
        try await Self.withServer { server in
            server.stallUpgrades(true)
            var configuration = Self.configuration(server)
            configuration.connectTimeout = .milliseconds(100)
            let harness = try await Self.withClient(configuration) { harness in
                try await eventually("two timed-out attempts") { harness.statuses.events.count >= 2 }
                server.stallUpgrades(false)
                try await eventually("online") { harness.statuses.events.last == .online }
            }
            #expect(Array(harness.statuses.events.prefix(2)) == [
                .reconnecting(attempt: 2, delay: .milliseconds(20)), .reconnecting(attempt: 3, delay: .milliseconds(40)),
            ])
            #expect(server.stalledUpgrades >= 1)
            #expect(harness.client.statistics.failedAttempts >= 2)
            #expect(harness.logs.events.contains { $0.contains("connect timeout") })
        }
    }

    @Test func aGracefulShutdownDuringAStalledUpgradeStopsAtOnce() async throws {
        try await Self.withServer { server in
            server.stallUpgrades(true)
            var configuration = Self.configuration(server)
            configuration.connectTimeout = .seconds(60)
            let started = ContinuousClock.now
            let harness = try await Self.withClient(configuration) { _ in
                try await eventually("a stalled upgrade") { server.stalledUpgrades >= 1 }
            }
            #expect(harness.statuses.events == [.stopped])
            #expect(ContinuousClock.now - started < .seconds(20), "it did not wait for the 60 s connect timeout")
        }
    }

    // MARK: Outage replay

    @Test func afterAnOutageAudioUnderThreeSecondsOldIsSent() async throws {
        try await Self.withServer { server in
            server.rejectUpgrades(.max)
            let samples = Self.pattern(2 * 16_000)
            let harness = try await Self.withClient(Self.configuration(server)) { harness in
                try await eventually("a failed attempt") { !harness.statuses.events.isEmpty }
                harness.ring.write(samples)
                server.rejectUpgrades(0)
                try await eventually("the held audio") { server.connections.first?.samples.count == samples.count }
            }
            #expect(server.connections.first?.samples == samples)
            #expect(harness.client.statistics.outageSamplesDropped == 0)
        }
    }

    @Test func afterAnOutageAudioOverThreeSecondsOldIsDroppedAndCounted() async throws {
        try await Self.withServer { server in
            server.rejectUpgrades(.max)
            let samples = Self.pattern(6 * 16_000)  // over the 5 s outage buffer, too
            let harness = try await Self.withClient(Self.configuration(server)) { harness in
                try await eventually("a failed attempt") { !harness.statuses.events.isEmpty }
                harness.ring.write(samples)
                server.rejectUpgrades(0)
                try await eventually("the young audio") { server.connections.first?.samples.count == 3 * 16_000 }
            }
            #expect(server.connections.first?.samples == Array(samples.suffix(3 * 16_000)), "the newest 3 s")
            #expect(harness.client.statistics.outageSamplesDropped == 3 * 16_000)
            #expect(harness.client.statistics.audioSamplesSent == 3 * 16_000)
        }
    }

    // MARK: Mute

    @Test func whileMutedNoAudioLeavesTheDevice() async throws {
        try await Self.withServer { server in
            var configuration = Self.configuration(server)
            configuration.keepAliveInterval = .milliseconds(100)
            let harness = try await Self.withClient(configuration) { harness in
                try await eventually("a connection") { server.connections.count == 1 }
                harness.client.setMuted(true)
                #expect(harness.client.isMuted)
                harness.ring.write(Self.pattern(16_000))
                try await eventually("the ring drained") {
                    harness.ring.fill == 0 && harness.client.statistics.mutedSamplesDiscarded == 16_000
                }
                try await eventually("the stream kept alive") {
                    (server.connections.first?.texts.filter { $0 == Self.keepAlive }.count ?? 0) >= 1
                }
                #expect(server.connections.first?.samples.isEmpty == true)
                #expect(harness.client.statistics.audioSamplesSent == 0)
                harness.client.setMuted(false)
                harness.ring.write(Self.pattern(3_200))
                try await eventually("audio after unmuting") { server.connections.first?.samples.count == 3_200 }
            }
            #expect(harness.client.statistics.audioSamplesSent == 3_200)
            #expect(harness.client.statistics.mutedSamplesDiscarded == 16_000)
        }
    }

    @Test func audioCapturedWhileMutedNeverLeavesEvenWhenTheMuteIsLiftedBeforeTheRingWasDrained() async throws {
        try await Self.withServer { server in
            let harness = try await Self.withClient(Self.configuration(server)) { harness in
                try await eventually("a connection") { server.connections.count == 1 }
                harness.client.setMuted(true)
                // While muted the pump sleeps (up to a second) instead of draining every 20 ms,
                // so these samples are still in the ring when the mute is lifted.
                harness.ring.write(Self.pattern(16_000))
                harness.client.setMuted(false)
                harness.ring.write(Self.pattern(3_200))
                try await eventually("audio after unmuting") { (server.connections.first?.samples.count ?? 0) >= 3_200 }
            }
            #expect(harness.client.statistics.audioSamplesSent == 3_200)
            #expect(harness.client.statistics.mutedSamplesDiscarded == 16_000)
            #expect(server.connections.first?.samples.count == 3_200)
        }
    }

    // MARK: Secrets

    @Test func theKeyNeverAppearsInTheLogs() async throws {
        try await Self.withServer { server in
            server.rejectUpgrades(1)
            let harness = try await Self.withClient(Self.configuration(server)) { harness in
                try await eventually("a connection") { server.connections.count == 1 }
                harness.ring.write(Self.pattern(3_200))
                server.send(DeepgramMessageParserTests.results("hello", isFinal: true, speechFinal: true))
                server.send("garbage")
                try await eventually("events") { harness.events.events.count == 2 }
            }
            let logs = harness.logs.events
            #expect(logs.contains { $0.contains("Deepgram stream open") })
            #expect(logs.contains { $0.contains("connection attempt failed") })
            #expect(logs.count > 10, "trace logging was on")
            #expect(!logs.contains { $0.contains(Self.key) })
            #expect(server.connections.first?.authorization == "Token \(Self.key)", "yet the server got it")
        }
    }

    @Test func aGracefulShutdownWhileOfflineStopsWithoutWaitingForTheSlowRetry() async throws {
        try await Self.withServer { server in
            server.rejectUpgrades(.max)
            var configuration = Self.configuration(server)
            configuration.offlineRetryInterval = .seconds(30)
            let started = ContinuousClock.now
            let harness = try await Self.withClient(configuration) { harness in
                try await eventually("offline") { harness.statuses.events.contains(.offline(retryInterval: .seconds(30))) }
            }
            #expect(harness.statuses.events.last == .stopped)
            #expect(ContinuousClock.now - started < .seconds(20), "it did not sit out the 30 s retry")
        }
    }

    @Test func cancellationStopsAConnectedClient() async throws {
        try await Self.withServer { server in
            let statuses = Recorder<SpeechToTextStatus>()
            let client = try DeepgramLiveClient(
                configuration: Self.configuration(server), apiKey: DeepgramKey(Self.key), audio: AudioRingBuffer(),
                logger: Logger(label: "deepgram-test"), onEvent: { _ in }, onStatus: { statuses.append($0) })
            let run = Task { try await client.run() }
            try await eventually("online") { statuses.events == [.online] }
            run.cancel()
            try await Self.finish(run)
            #expect(statuses.events == [.online, .stopped])
            #expect(client.statistics.closeStreamsSent == 0, "cancellation is not a graceful shutdown")
        }
    }

    // MARK: TLS

    @Test func wssVerifiesCertificatesSoAnUntrustedServerIsNeverReached() async throws {
        let server = try await DeepgramLoopbackServer.start(tls: UntrustedTestCertificate.serverConfiguration())
        do {
            #expect(server.baseURL.hasPrefix("wss://localhost:"))
            let harness = try await Self.withClient(Self.configuration(server)) { harness in
                try await eventually("two failed attempts") { harness.statuses.events.count >= 2 }
            }
            #expect(harness.client.statistics.connections == 0)
            #expect(server.connections.isEmpty, "no WebSocket was opened past the TLS handshake")
            #expect(harness.logs.events.contains { $0.contains("TLS failed") && $0.contains("CERTIFICATE_VERIFY_FAILED") })
            #expect(!harness.statuses.events.contains(.online))
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    @Test func runningTwiceIsRefused() async throws {
        try await Self.withServer { server in
            try await Self.withClient(Self.configuration(server)) { harness in
                try await eventually("the first run online") { harness.statuses.events == [.online] }
                await #expect(throws: DeepgramError.alreadyRunning) { try await harness.client.run() }
            }
        }
    }
}
