import Dispatch
import HTTPTypes
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import NIOWebSocket
import ServiceLifecycle
import Synchronization
import VoiceCore
import WSClient

/// Deepgram's live speech-to-text over a WebSocket: streams the microphone from an
/// ``AudioRingBuffer`` and turns the server's messages into ``SpeechEvent``s.
///
/// Run it as a `Service` in the daemon's `ServiceGroup`. It connects to
/// ``DeepgramConfiguration/baseURL`` with the key in an `Authorization: Token` header (TLS with
/// certificate verification always on; plain `ws://` only to loopback), and then:
/// - sends the ring's audio in binary frames of 20 to 50 ms, `KeepAlive` when no audio flows for
///   4 s, `Finalize` when the daemon calls ``finalize()``, `CloseStream` on graceful shutdown;
/// - reports `Results`, `SpeechStarted` and `UtteranceEnd` through `onEvent`, in order, from its
///   own task (``DeepgramMessageParser`` documents the mapping);
///   counts and logs invalid and oversized messages and keeps the connection;
/// - reconnects with the backoff of ``DeepgramReconnectPolicy`` and reports the connection's
///   state through `onStatus` (``SpeechToTextStatus/offline(retryInterval:)`` after 5 failed attempts);
/// - holds audio during an outage and replays what is young enough after a reconnect, as
///   ``DeepgramAudioPump`` describes; while muted (``setMuted(_:)``) no audio leaves the device.
///
/// The client is the ring buffer's single consumer: one task reads it for the client's whole life.
/// It steps every poll interval (20 ms) only while audio flows; muted, disconnected or closed, it
/// sleeps until the next keep-alive or ring trim (at most 1 s) or until something changes.
/// The API key is never logged.
public final class DeepgramLiveClient: Service, Sendable {
    /// The validated configuration.
    public let configuration: DeepgramConfiguration
    /// Where the client connects (the URL holds no secret).
    public let endpoint: DeepgramEndpoint

    private let key: DeepgramKey
    private let audio: AudioRingBuffer
    private let clock: any VoiceClock
    private let logger: Logger
    private let onEvent: @Sendable (SpeechEvent) -> Void
    private let onStatus: @Sendable (SpeechToTextStatus) -> Void
    private let shutdownSignal = DeepgramSignal()
    /// Rung on every change the audio pump must act on; it sleeps on it while no audio flows.
    private let doorbell = Doorbell()
    private let state = Mutex(State())

    /// The open connection, shared by the receiving session and the audio pump.
    private struct Session: Sendable {
        let id: Int
        let outbound: WebSocketOutboundWriter
    }

    private struct State {
        var running = false
        var muted = false
        var finalizeRequested = false
        /// The ring's `written` count when the mute was lifted, until the pump has discarded
        /// what was captured before it (the pump does not drain the ring while idle).
        var unmutedAt: Int?
        var nextSessionID = 0
        var session: Session?
        /// Stops the attempt in flight, even one stuck before the upgrade.
        var abortAttempt: (@Sendable () -> Void)?
        var statistics = DeepgramStatistics()
    }

    /// Creates a client; nothing connects until ``run()``.
    ///
    /// - Parameters:
    ///   - configuration: endpoint, query parameters and timing; validated here.
    ///   - apiKey: the Deepgram key, sent only in the `Authorization` header.
    ///   - audio: the capture ring (16 kHz mono); this client becomes its single consumer.
    ///   - clock: the time source of every timer (frames, keep-alive, backoff).
    ///   - logger: where the client logs; the key never appears in it.
    ///   - onEvent: speech events, in order, from the client's receiving task.
    ///   - onStatus: connection state changes (online, reconnecting, offline, stopped).
    /// - Throws: ``DeepgramError`` for an invalid configuration or a refused URL (plain `ws://`
    ///   to a host that is not loopback).
    public init(
        configuration: DeepgramConfiguration,
        apiKey: DeepgramKey,
        audio: AudioRingBuffer,
        clock: any VoiceClock = SystemVoiceClock(),
        logger: Logger,
        onEvent: @escaping @Sendable (SpeechEvent) -> Void,
        onStatus: @escaping @Sendable (SpeechToTextStatus) -> Void = { _ in }
    ) throws(DeepgramError) {
        self.endpoint = try configuration.endpoint()
        self.configuration = configuration
        self.key = apiKey
        self.audio = audio
        self.clock = clock
        self.logger = logger
        self.onEvent = onEvent
        self.onStatus = onStatus
    }

    // MARK: Controls, callable from any thread

    /// Asks Deepgram to finalise what it has heard (`{"type":"Finalize"}`): call it when a turn
    /// ends. Audio waiting in the ring (at least 20 ms) goes first. Ignored while disconnected.
    public func finalize() {
        state.withLock { $0.finalizeRequested = true }
        doorbell.ring()
    }

    /// The mute switch: while on, the ring is drained and discarded, and no audio leaves the
    /// device (the connection stays open with keep-alives).
    public func setMuted(_ muted: Bool) {
        let written = audio.statistics.written
        let changed = state.withLock { state -> Bool in
            defer { state.muted = muted }
            guard state.muted != muted else { return false }
            state.unmutedAt = muted ? nil : written
            return true
        }
        if changed { doorbell.ring() }
        if changed { logger.info("Microphone streaming \(muted ? "muted" : "unmuted")", metadata: ["stt.muted": "\(muted)"]) }
    }

    /// Whether the mute switch is on.
    public var isMuted: Bool { state.withLock { $0.muted } }

    /// The counters so far.
    public var statistics: DeepgramStatistics { state.withLock { $0.statistics } }

    // MARK: Service

    /// Connects, streams and reconnects until the task is cancelled or a graceful shutdown
    /// completes (audio flushed, `CloseStream` sent, the server's last results read or
    /// `closeTimeout` elapsed). Reports ``SpeechToTextStatus/stopped`` at the end.
    ///
    /// - Throws: ``DeepgramError/alreadyRunning`` if called twice; connection errors never escape
    ///   (they are retried and reported through `onStatus`).
    public func run() async throws {
        let alreadyRunning = state.withLock { state -> Bool in
            defer { state.running = true }
            return state.running
        }
        if alreadyRunning { throw DeepgramError.alreadyRunning }
        logger.notice(
            "Deepgram live client starting",
            metadata: ["stt.url": "\(endpoint.url)", "stt.model": "\(configuration.model)"])
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.pumpLoop() }
                await self.connectionLoop()
                group.cancelAll()
            }
        } onGracefulShutdown: {
            self.beginShutdown()
        }
        logger.notice("Deepgram live client stopped")
        onStatus(.stopped)
    }

    private func beginShutdown() {
        logger.debug("Deepgram live client shutting down")
        shutdownSignal.fire()
        doorbell.ring()
        // Not connected yet: there is nothing to close gracefully, so stop the attempt now.
        let abort = state.withLock { $0.session == nil ? $0.abortAttempt : nil }
        abort?()
    }

    // MARK: Connecting and reconnecting

    private enum Outcome {
        case failed(reason: String)
        case closed(openedAt: VoiceInstant, reason: String)
        case stopped
    }

    private func connectionLoop() async {
        var policy = DeepgramReconnectPolicy(configuration: configuration)
        var decision = policy.start(at: clock.now)
        while true {
            guard await wait(until: decision.instant) else { return }
            let outcome = await connectOnce()
            let now = clock.now
            switch outcome {
            case .stopped:
                return
            case .failed(let reason):
                decision = policy.attemptFailed(at: now)
                logger.warning(
                    "Deepgram connection attempt failed",
                    metadata: ["stt.reason": "\(reason)", "stt.failures": "\(policy.consecutiveFailures)"])
            case .closed(let openedAt, let reason):
                if shutdownSignal.isFired || Task.isCancelled { return }
                policy.connected()
                decision = policy.connectionLost(openedAt: openedAt, at: now)
                logger.warning(
                    "Deepgram connection lost",
                    metadata: ["stt.reason": "\(reason)", "stt.uptime_ms": "\((now - openedAt).wholeMilliseconds)"])
            }
            if shutdownSignal.isFired || Task.isCancelled { return }
            switch decision {
            case .reconnect(let attempt, let delay, _):
                logger.info(
                    "Deepgram reconnecting",
                    metadata: ["stt.attempt": "\(attempt)", "stt.delay_ms": "\(delay.wholeMilliseconds)"])
                onStatus(.reconnecting(attempt: attempt, delay: delay))
            case .offline:
                logger.error(
                    "Speech-to-text offline: every reconnect attempt failed; retrying slowly",
                    metadata: ["stt.retry_interval_ms": "\(configuration.offlineRetryInterval.wholeMilliseconds)"])
                onStatus(.offline(retryInterval: configuration.offlineRetryInterval))
            case .retryOffline:
                logger.debug("Deepgram still offline; next attempt scheduled")
            }
        }
    }

    /// Sleeps until `deadline`; false when shutdown or cancellation came first.
    private func wait(until deadline: VoiceInstant) async -> Bool {
        if shutdownSignal.isFired || Task.isCancelled { return false }
        if deadline > clock.now {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { try? await self.clock.sleep(until: deadline) }
                group.addTask { await self.shutdownSignal.wait() }
                _ = await group.next()
                group.cancelAll()
            }
        }
        return !(shutdownSignal.isFired || Task.isCancelled)
    }

    /// Why an attempt was stopped before its WebSocket opened.
    private enum Abandonment: Equatable, Sendable {
        case timeout, shutdown, cancellation
    }

    /// One connection attempt: when its WebSocket opened (or that it was abandoned first), and
    /// its result, delivered once by whichever finishes first.
    private final class AttemptRecord: Sendable {
        typealias Outcome = Result<WebSocketCloseFrame?, any Error>

        private struct State {
            var openedAt: VoiceInstant?
            var abandonment: Abandonment?
            var result: Outcome?
            var waiter: CheckedContinuation<Outcome, Never>?
        }

        private let state = Mutex(State())

        var openedAt: VoiceInstant? { state.withLock { $0.openedAt } }
        var abandonment: Abandonment? { state.withLock { $0.abandonment } }

        /// Marks the WebSocket open unless the attempt was abandoned first; returns whether it was marked.
        func markOpenedUnlessAbandoned(_ instant: VoiceInstant) -> Bool {
            state.withLock { state in
                guard state.abandonment == nil else { return false }
                state.openedAt = instant
                return true
            }
        }

        /// Abandons the attempt unless its WebSocket opened; returns whether this call abandoned it.
        func abandonUnlessOpened(_ reason: Abandonment) -> Bool {
            state.withLock { state in
                guard state.openedAt == nil, state.abandonment == nil else { return false }
                state.abandonment = reason
                return true
            }
        }

        /// Delivers the result; later calls are ignored.
        func complete(_ result: Outcome) {
            let waiter = state.withLock { state -> CheckedContinuation<Outcome, Never>? in
                guard state.result == nil else { return nil }
                state.result = result
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: result)
        }

        /// Waits for the result.
        func result() async -> Outcome {
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state -> Outcome? in
                    if let result = state.result { return result }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        }
    }

    private func connectOnce() async -> Outcome {
        let record = AttemptRecord()
        let sessionID = state.withLock { state -> Int in
            state.statistics.connectionAttempts += 1
            state.nextSessionID += 1
            return state.nextSessionID
        }
        var webSocketConfiguration = WebSocketClientConfiguration(
            maxFrameSize: configuration.connectionMessageLimitBytes,
            closeTimeout: configuration.closeTimeout,
            autoPing: configuration.pingInterval.map { .enabled(timePeriod: $0) } ?? .disabled,
            // Invalid UTF-8 then fails JSON parsing and is counted, instead of closing the connection.
            validateUTF8: false
        )
        webSocketConfiguration.additionalHeaders[.authorization] = key.authorizationHeaderValue
        let tlsConfiguration: TLSConfiguration?
        if endpoint.usesTLS {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.certificateVerification = .fullVerification  // never weakened, whatever the configuration
            tlsConfiguration = tls
        } else {
            tlsConfiguration = nil
        }
        let url = endpoint.url
        let logger = logger
        // One event-loop thread per attempt and its connection: swift-websocket waits for the
        // upgrade response on a future that ignores task cancellation, so an attempt stuck there
        // (a server that accepts TCP and never answers) can only be stopped by shutting its
        // event loop down, which closes the socket. Only ever done before the upgrade: an open
        // connection is stopped by cancellation, and swift-websocket closes it properly.
        let eventLoopGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        // Detached on purpose: inside the ServiceGroup, swift-websocket would answer a graceful
        // shutdown by closing the socket at once; detached from the shutdown task-local, the
        // client can first flush its audio, send CloseStream and read the last results.
        // Cancellation is forwarded below.
        let task = Task.detached {
            do {
                let closeFrame = try await WebSocketClient(
                    url: url, configuration: webSocketConfiguration, tlsConfiguration: tlsConfiguration,
                    eventLoopGroup: eventLoopGroup, logger: logger
                ) { inbound, outbound, _ in
                    try await self.runSession(id: sessionID, inbound: inbound, outbound: outbound, record: record)
                }.run()
                record.complete(.success(closeFrame))
            } catch {
                record.complete(.failure(error))
            }
        }
        let clock = clock
        let closeTimeout = configuration.closeTimeout
        let abort: @Sendable (Abandonment) -> Void = { reason in
            guard record.abandonUnlessOpened(reason) else {
                if reason == .cancellation { task.cancel() }
                return
            }
            task.cancel()
            eventLoopGroup.shutdownGracefully(queue: .global()) { _ in }
            // Should even that leave the attempt hanging, stop waiting for it.
            Task {
                try? await clock.sleep(until: clock.now + closeTimeout)
                record.complete(.failure(CancellationError()))
            }
        }
        state.withLock { $0.abortAttempt = { abort(.shutdown) } }
        if shutdownSignal.isFired { abort(.shutdown) }
        let deadline = clock.now + configuration.connectTimeout
        let watchdog = Task {
            // A server that accepts TCP but never answers the upgrade must not stall the client.
            guard (try? await clock.sleep(until: deadline)) != nil else { return }
            abort(.timeout)
        }
        let result = await withTaskCancellationHandler {
            await record.result()
        } onCancel: {
            abort(.cancellation)
        }
        watchdog.cancel()
        state.withLock { $0.abortAttempt = nil }
        if record.abandonment == nil { try? await eventLoopGroup.shutdownGracefully() }

        let openedAt = record.openedAt
        switch result {
        case .success(let closeFrame):
            let reason = closeFrame.map { "server closed the stream (code \($0.closeCode), reason \($0.reason ?? "none"))" }
                ?? "server closed the stream"
            if let openedAt { return .closed(openedAt: openedAt, reason: reason) }
            state.withLock { $0.statistics.failedAttempts += 1 }
            return .failed(reason: reason)
        case .failure(let error):
            switch record.abandonment {
            case .shutdown, .cancellation: return .stopped
            case .timeout, nil: break
            }
            if Task.isCancelled || (shutdownSignal.isFired && openedAt == nil) { return .stopped }
            if record.abandonment == .timeout {
                state.withLock { $0.statistics.failedAttempts += 1 }
                return .failed(reason: "no WebSocket upgrade within \(configuration.connectTimeout) (connect timeout)")
            }
            if Self.isOversize(error) { state.withLock { $0.statistics.oversizedMessages += 1 } }
            let reason = Self.describe(error)
            if let openedAt { return .closed(openedAt: openedAt, reason: reason) }
            state.withLock { $0.statistics.failedAttempts += 1 }
            return .failed(reason: reason)
        }
    }

    private static func isOversize(_ error: any Error) -> Bool {
        if let error = error as? WebSocketClientError, error == .serverSentMessageTooLarge { return true }
        if let error = error as? NIOWebSocketError, case .invalidFrameLength = error { return true }
        return false
    }

    /// An actionable description of a connection error (errors never carry the key).
    private static func describe(_ error: any Error) -> String {
        switch error {
        case let error as WebSocketClientError where error == .webSocketUpgradeFailed:
            "the server refused the WebSocket upgrade: check the API key (HTTP 401), the model and "
                + "language (HTTP 400), and that the URL is a Deepgram listen endpoint"
        case let error as WebSocketClientError where error == .serverSentMessageTooLarge:
            "the server sent a frame over the connection's size limit"
        case let error as NIOSSLError:
            "TLS failed (certificates are always verified): \(error)"
        case is NIOSSLExtraError:
            "TLS failed (certificates are always verified): \(error)"
        case let error as NIOWebSocketError:
            "WebSocket protocol error: \(error)"
        default:
            "\(error)"
        }
    }

    // MARK: One open connection

    private func runSession(
        id: Int, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, record: AttemptRecord
    ) async throws {
        let openedAt = clock.now
        // Opened after the attempt was given up (timeout, shutdown): close at once.
        guard record.markOpenedUnlessAbandoned(openedAt) else { return }
        let connections = state.withLock { state -> Int in
            state.session = Session(id: id, outbound: outbound)
            state.statistics.connections += 1
            if state.statistics.connections > 1 { state.statistics.reconnects += 1 }
            return state.statistics.connections
        }
        doorbell.ring()
        defer {
            state.withLock { if $0.session?.id == id { $0.session = nil } }
            doorbell.ring()
        }
        logger.notice(
            "Deepgram stream open",
            metadata: ["stt.host": "\(endpoint.host)", "stt.connections": "\(connections)"])
        onStatus(.online)

        let closeGrace = configuration.closeTimeout + configuration.pollInterval
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.receive(inbound) }
            group.addTask {
                // After a shutdown request the pump sends CloseStream within one poll; the
                // server then has `closeTimeout` to send its last results and close.
                await self.shutdownSignal.wait()
                try? await self.clock.sleep(until: self.clock.now + closeGrace)
            }
            defer { group.cancelAll() }
            do {
                _ = try await group.next()
            } catch {
                if !shutdownSignal.isFired { throw error }
            }
        }
    }

    private func receive(_ inbound: WebSocketInboundStream) async throws {
        for try await message in inbound.messages(maxSize: configuration.connectionMessageLimitBytes) {
            switch message {
            case .text(let text):
                handle(text)
            case .binary(let buffer):
                state.withLock {
                    $0.statistics.messages += 1
                    $0.statistics.invalidMessages += 1
                }
                logger.warning(
                    "Ignoring a binary message from Deepgram", metadata: ["stt.bytes": "\(buffer.readableBytes)"])
            }
        }
    }

    private func handle(_ text: String) {
        state.withLock { $0.statistics.messages += 1 }
        let message: DeepgramServerMessage
        do {
            message = try DeepgramMessageParser.parse(text, maxBytes: configuration.maxMessageBytes)
        } catch {
            // The content may hold what the user said: log its size and the reason only.
            switch error {
            case .oversized:
                state.withLock { $0.statistics.oversizedMessages += 1 }
            case .invalidJSON, .missingField:
                state.withLock { $0.statistics.invalidMessages += 1 }
            }
            logger.warning(
                "Skipping a Deepgram message",
                metadata: ["stt.reason": "\(error)", "stt.bytes": "\(text.utf8.count)"])
            return
        }
        switch message {
        case .results(let results):
            logger.trace(
                "Deepgram results",
                metadata: [
                    "stt.final": "\(results.isFinal)", "stt.speech_final": "\(results.speechFinal)",
                    "stt.chars": "\(results.transcript.count)",
                ])
        case .speechStarted, .utteranceEnd:
            logger.trace("Deepgram voice activity", metadata: ["stt.message": "\(message)"])
        case .metadata(let requestID, let duration):
            logger.debug(
                "Deepgram stream metadata",
                metadata: ["stt.request_id": "\(requestID ?? "none")", "stt.duration_s": "\(duration ?? 0)"])
        case .error(let description):
            state.withLock { $0.statistics.serverErrors += 1 }
            logger.warning("Deepgram reported an error", metadata: ["stt.error": "\(description)"])
        case .unknown(let type):
            state.withLock { $0.statistics.unknownMessages += 1 }
            logger.debug("Ignoring a Deepgram message of unknown type", metadata: ["stt.type": "\(type)"])
        }
        for event in DeepgramMessageParser.speechEvents(for: message) {
            onEvent(event)
        }
    }

    // MARK: The audio pump: the ring buffer's single consumer

    private func pumpLoop() async {
        var pump = DeepgramAudioPump(configuration: configuration, now: clock.now)
        var scratch = [Int16](repeating: 0, count: max(pump.frameSamples, 4096))
        var attached: Int?
        var next = clock.now
        var wake = DeepgramAudioPump.Wake.poll
        // While nothing flows the pump still drains (muted) or trims (disconnected) the ring
        // before it fills: at least four times per ring, and at least once a second.
        let ringDuration = Duration.seconds(Double(audio.statistics.capacity) / Double(DeepgramConfiguration.sampleRate))
        let idleSlack = max(configuration.pollInterval, min(.seconds(1), ringDuration / 4))
        while !Task.isCancelled {
            switch wake {
            case .poll:
                next = max(next + configuration.pollInterval, clock.now)
                do { try await clock.sleep(until: next) } catch { return }
            case .idle(let deadline):
                await doorbell.sleep(until: deadline, clock: clock)
                if Task.isCancelled { return }
                next = clock.now
            }

            let (session, muted, finalize, unmutedAt) = state.withLock { state in
                defer {
                    state.finalizeRequested = false
                    state.unmutedAt = nil
                }
                return (state.session, state.muted, state.finalizeRequested, state.unmutedAt)
            }
            if let mark = unmutedAt, !muted {
                // Audio captured before the unmute never leaves: `written` is read before
                // `fill`, so a sample captured in between is dropped too, never sent.
                let written = audio.statistics.written
                let before = audio.fill - (written - mark)
                if before > 0 { await execute([.discard(samples: before, reason: .muted)], on: nil, scratch: &scratch) }
            }
            if let attachedID = attached, session?.id != attachedID {
                // The connection changed: let the pump see the gap, so the replay rule applies.
                let actions = pump.step(.init(now: clock.now, fill: audio.fill, muted: muted, connected: false))
                await execute(actions, on: nil, scratch: &scratch)
            }
            attached = session?.id
            if finalize, session == nil { logger.debug("Finalize requested while disconnected: ignored") }
            let closing = shutdownSignal.isFired
            let input = DeepgramAudioPump.Input(
                now: clock.now, fill: audio.fill, muted: muted, connected: session != nil,
                finalize: finalize && session != nil, close: closing && session != nil)
            let actions = pump.step(input)
            await execute(actions, on: session, scratch: &scratch)
            wake = pump.nextWake(after: input, idleSlack: idleSlack)
        }
    }


    private func execute(_ actions: [DeepgramAudioPump.Action], on session: Session?, scratch: inout [Int16]) async {
        for action in actions {
            switch action {
            case .discard(let samples, let reason):
                let dropped = drain(samples, scratch: &scratch)
                state.withLock {
                    if reason == .muted {
                        $0.statistics.mutedSamplesDiscarded += dropped
                    } else {
                        $0.statistics.outageSamplesDropped += dropped
                    }
                }
                if reason == .tooOldToReplay {
                    logger.warning(
                        "Dropping held audio too old to replay after the reconnect",
                        metadata: ["stt.samples": "\(dropped)"])
                } else {
                    logger.trace("Discarding audio", metadata: ["stt.samples": "\(dropped)", "stt.reason": "\(reason.rawValue)"])
                }
            case .sendAudio(let samples):
                guard let session else { continue }
                let count = min(samples, scratch.count)
                let read = scratch.withUnsafeMutableBufferPointer { pointer in
                    audio.read(into: UnsafeMutableBufferPointer(rebasing: pointer[0..<count]))
                }
                guard read > 0 else { continue }
                var buffer = ByteBufferAllocator().buffer(capacity: read * 2)
                for sample in scratch[0..<read] { buffer.writeInteger(sample, endianness: .little) }
                do {
                    try await session.outbound.write(.binary(buffer))
                    state.withLock {
                        $0.statistics.audioFramesSent += 1
                        $0.statistics.audioSamplesSent += read
                    }
                    logger.trace("Sent audio", metadata: ["stt.samples": "\(read)"])
                } catch {
                    // The connection broke under us: this frame is lost; what is still in the
                    // ring waits for the reconnect.
                    state.withLock { $0.statistics.outageSamplesDropped += read }
                    logger.debug("Audio send failed", metadata: ["stt.error": "\(error)"])
                    return
                }
            case .sendKeepAlive:
                guard await send(#"{"type":"KeepAlive"}"#, on: session) else { return }
                state.withLock { $0.statistics.keepAlivesSent += 1 }
            case .sendFinalize:
                guard await send(#"{"type":"Finalize"}"#, on: session) else { return }
                state.withLock { $0.statistics.finalizesSent += 1 }
            case .sendCloseStream:
                guard await send(#"{"type":"CloseStream"}"#, on: session) else { return }
                state.withLock { $0.statistics.closeStreamsSent += 1 }
            }
        }
    }

    private func send(_ text: String, on session: Session?) async -> Bool {
        guard let session else { return false }
        do {
            try await session.outbound.write(.text(text))
            logger.debug("Sent control message", metadata: ["stt.message": "\(text)"])
            return true
        } catch {
            logger.debug("Control message send failed", metadata: ["stt.error": "\(error)"])
            return false
        }
    }

    /// Reads and drops up to `count` of the oldest samples; returns how many were dropped.
    private func drain(_ count: Int, scratch: inout [Int16]) -> Int {
        var dropped = 0
        while dropped < count {
            let chunk = min(count - dropped, scratch.count)
            let read = scratch.withUnsafeMutableBufferPointer { pointer in
                audio.read(into: UnsafeMutableBufferPointer(rebasing: pointer[0..<chunk]))
            }
            if read == 0 { break }
            dropped += read
        }
        return dropped
    }
}

extension DeepgramLiveClient: SpeechToTextProvider {}

extension ProviderEntry where Input == SpeechToTextWiring, Made == any SpeechToTextProvider {
    /// Deepgram live over a WebSocket: `[stt] provider = "deepgram"`. The key is required.
    static var deepgram: Self {
        Self(name: "deepgram", preflight: { context in _ = try DeepgramKey.required(context) }) { context, wiring in
            let stt = context.config.stt
            return try DeepgramLiveClient(
                configuration: DeepgramConfiguration(baseURL: stt.baseURL, model: stt.model, language: stt.language,
                                                     endpointing: stt.endpointing, utteranceEnd: stt.utteranceEnd),
                apiKey: try DeepgramKey.required(context), audio: wiring.audio, clock: context.clock,
                logger: context.logger("voiced.stt"), onEvent: wiring.onEvent, onStatus: wiring.onStatus)
        }
    }
}

extension DeepgramKey {
    /// The key from the credentials: a missing or malformed one is an error that says where it goes.
    static func required(_ context: ProviderContext) throws -> DeepgramKey {
        let secret: Secret?
        do {
            secret = try context.key(.deepgram)
        } catch {
            throw ProviderKeyError(description: "the Deepgram API key is unusable: \(error)")
        }
        guard let secret else {
            throw ProviderKeyError(description: "no Deepgram API key: set the systemd credential \(CredentialName.deepgram.file) or \(CredentialName.deepgram.variable)")
        }
        do {
            return try DeepgramKey(secret.reveal())
        } catch {
            throw ProviderKeyError(description: "the Deepgram API key is unusable: \(error)")
        }
    }
}
