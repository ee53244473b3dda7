import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import Synchronization
import Testing
import VoiceCore
import VoiceProviders

// Test support for the Deepgram client's tests: a loopback server that speaks Deepgram's live
// protocol (Hummingbird + HummingbirdWebSocket), a log handler that keeps every record, and
// small collectors. The client's tests exercise it.

/// A loopback server speaking Deepgram's `/v1/listen` protocol.
///
/// It records every upgrade request (path with query, `Authorization` header) and, per
/// connection, what arrived in order (binary frame sizes and their samples, text messages). On
/// `CloseStream` it answers with `Metadata` and closes, as Deepgram does. Tests push server
/// messages with ``send(_:)``, close a connection with ``closeCurrentConnection()`` and refuse
/// upgrades (HTTP 401) with ``rejectUpgrades(_:)``.
final class DeepgramLoopbackServer: Sendable {
    enum Received: Equatable, Sendable {
        case audio(bytes: Int)
        case text(String)
    }

    struct Connection: Sendable {
        var path: String
        var authorization: String?
        var received: [Received] = []
        var samples: [Int16] = []
        var closed = false

        var audioFrameSizes: [Int] {
            received.compactMap { if case .audio(let bytes) = $0 { bytes } else { nil } }
        }

        var texts: [String] {
            received.compactMap { if case .text(let text) = $0 { text } else { nil } }
        }

        /// The query parameters of the upgrade request.
        var query: [String: String] {
            guard let query = path.split(separator: "?", maxSplits: 1).dropFirst().first else { return [:] }
            var result: [String: String] = [:]
            for pair in query.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                result[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
            }
            return result
        }
    }

    enum Command: Sendable {
        case send(String)
        case close
    }

    private struct State {
        var connections: [Connection] = []
        var outboxes: [Int: AsyncStream<Command>.Continuation] = [:]
        var rejectRemaining = 0
        var rejectedUpgrades = 0
        var stalling = false
        var stalledUpgrades = 0
    }

    private let state = Mutex(State())
    private let group: Mutex<ServiceGroup?> = Mutex(nil)
    private let task: Mutex<Task<Void, any Error>?> = Mutex(nil)
    private let portBox = Mutex(0)
    private let usesTLS: Bool

    /// The port the server listens on, on 127.0.0.1.
    var port: Int { portBox.withLock { $0 } }

    /// `ws://127.0.0.1:<port>/v1/listen`, or `wss://localhost:<port>/v1/listen` with TLS.
    var baseURL: String { usesTLS ? "wss://localhost:\(port)/v1/listen" : "ws://127.0.0.1:\(port)/v1/listen" }

    private init(usesTLS: Bool) { self.usesTLS = usesTLS }

    /// Starts a server on an ephemeral loopback port, behind TLS if `tls` is given.
    static func start(tls: TLSConfiguration? = nil) async throws -> DeepgramLoopbackServer {
        let server = DeepgramLoopbackServer(usesTLS: tls != nil)
        var logger = Logger(label: "fake-deepgram")
        logger.logLevel = .critical
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let router = Router()
        // A refused upgrade falls through to the router: answer like Deepgram does to a bad key.
        router.get("/v1/listen") { _, _ -> Response in throw HTTPError(.unauthorized) }
        let webSocketServer = HTTPServerBuilder.http1WebSocketUpgrade(
            configuration: .init(ws: .init(autoPing: .disabled, closeTimeout: .milliseconds(500)))
        ) { request, _, _ in
            try await server.stallWhileAsked()
            guard server.admit() else { return .dontUpgrade }
            let path = request.path ?? ""
            let authorization = request.headerFields[.authorization]
            return .upgrade([:]) { inbound, outbound, _ in
                try await server.serve(path: path, authorization: authorization, inbound: inbound, outbound: outbound)
            }
        }
        let app = Application(
            router: router,
            server: try tls.map { try HTTPServerBuilder.tls(webSocketServer, tlsConfiguration: $0) } ?? webSocketServer,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            },
            logger: logger
        )
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        server.group.withLock { $0 = group }
        server.task.withLock { $0 = Task { try await group.run() } }
        var iterator = ports.makeAsyncIterator()
        let port = await iterator.next() ?? 0
        #expect(port > 0, "the loopback server did not start")
        server.portBox.withLock { $0 = port }
        return server
    }

    /// Stops the server and waits for it.
    func stop() async {
        stallUpgrades(false)
        let outboxes = state.withLock { Array($0.outboxes.values) }
        for outbox in outboxes { outbox.yield(.close) }
        if let group = group.withLock({ $0 }) { await group.triggerGracefulShutdown() }
        if let task = task.withLock({ $0 }) { _ = try? await task.value }
    }

    // MARK: Scripting

    /// Refuses the next `count` upgrades (`Int.max`: all until told otherwise; 0: none).
    func rejectUpgrades(_ count: Int) { state.withLock { $0.rejectRemaining = count } }

    /// Leaves upgrade requests unanswered (TCP open, no HTTP response) until told otherwise.
    func stallUpgrades(_ stall: Bool) { state.withLock { $0.stalling = stall } }

    /// Sends a text message on the newest open connection.
    func send(_ text: String) {
        let outbox = state.withLock { state in state.outboxes.max(by: { $0.key < $1.key })?.value }
        outbox?.yield(.send(text))
    }

    /// Closes the newest open connection from the server's side.
    func closeCurrentConnection() {
        let outbox = state.withLock { state in state.outboxes.max(by: { $0.key < $1.key })?.value }
        outbox?.yield(.close)
    }

    // MARK: Observations

    var connections: [Connection] { state.withLock { $0.connections } }
    var rejectedUpgrades: Int { state.withLock { $0.rejectedUpgrades } }
    var stalledUpgrades: Int { state.withLock { $0.stalledUpgrades } }

    // MARK: Serving

    private func stallWhileAsked() async throws {
        guard state.withLock({ state in
            if state.stalling { state.stalledUpgrades += 1 }
            return state.stalling
        }) else { return }
        while state.withLock({ $0.stalling }) { try await Task.sleep(for: .milliseconds(10)) }
    }

    private func admit() -> Bool {
        state.withLock { state in
            guard state.rejectRemaining > 0 else { return true }
            if state.rejectRemaining != .max { state.rejectRemaining -= 1 }
            state.rejectedUpgrades += 1
            return false
        }
    }

    private func serve(
        path: String, authorization: String?, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter
    ) async throws {
        let (commands, outbox) = AsyncStream.makeStream(of: Command.self)
        let id = state.withLock { state -> Int in
            state.connections.append(Connection(path: path, authorization: authorization))
            let id = state.connections.count - 1
            state.outboxes[id] = outbox
            return id
        }
        defer {
            state.withLock { state in
                state.connections[id].closed = true
                state.outboxes[id] = nil
            }
            outbox.finish()
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    switch message {
                    case .binary(var buffer):
                        var samples: [Int16] = []
                        let bytes = buffer.readableBytes
                        while let sample = buffer.readInteger(endianness: .little, as: Int16.self) { samples.append(sample) }
                        self.state.withLock { state in
                            state.connections[id].received.append(.audio(bytes: bytes))
                            state.connections[id].samples += samples
                        }
                    case .text(let text):
                        self.state.withLock { $0.connections[id].received.append(.text(text)) }
                        if text.contains(#""CloseStream""#) {
                            // Deepgram flushes, sends its summary and closes the socket.
                            try await outbound.write(.text(DeepgramLoopbackServer.metadata))
                            return
                        }
                    }
                }
            }
            group.addTask {
                for await command in commands {
                    switch command {
                    case .send(let text): try await outbound.write(.text(text))
                    case .close: return
                    }
                }
            }
            _ = try await group.next()
            group.cancelAll()
        }
    }

    static let metadata = """
        {"type":"Metadata","transaction_key":"deprecated","request_id":"fake-0001","sha256":"00",\
        "created":"2025-01-01T00:00:00.000Z","duration":1.0,"channels":1,"models":[],"model_info":{}}
        """
}

/// Collects values from callbacks on any thread.
/// Waits, polling every 5 ms, until `condition` holds; records an issue and throws after `timeout`.
func eventually(
    _ what: @autoclosure () -> String, timeout: Duration = .seconds(5),
    sourceLocation: SourceLocation = #_sourceLocation, _ condition: () -> Bool
) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while !condition() {
        if clock.now >= deadline {
            Issue.record("timed out waiting for \(what())", sourceLocation: sourceLocation)
            throw CancellationError()
        }
        try await Task.sleep(for: .milliseconds(5))
    }
}

/// A self-signed certificate for `localhost` (valid until 2126) and its key, made for these
/// tests only: no client trusts it, which is the point.
enum UntrustedTestCertificate {
    static let certificatePEM = """
        -----BEGIN CERTIFICATE-----
        MIIBmzCCAUGgAwIBAgIUD1Y+mnESzN3H7R5G4pnTcD7kOCYwCgYIKoZIzj0EAwIw
        FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyODIwMjEwMVoYDzIxMjYxMTA0
        MjAyMTAxWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
        PQMBBwNCAAS6jm6ttgR1bg4Vm3IgfW122slDxrjkczrnWqW5RwmzCQFW3zsnQnfH
        ZiMjehFXSQ7Riu+qkrWkBACaPoSVsiNfo28wbTAdBgNVHQ4EFgQUqZpzqb4exuRl
        U9HXBwvwCEXyEK0wHwYDVR0jBBgwFoAUqZpzqb4exuRlU9HXBwvwCEXyEK0wDwYD
        VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
        zj0EAwIDSAAwRQIhAIEtzsxokzolkWPEFdJ01XBCLFph33vSsZQmiFK6WyimAiBK
        aMW6ua/N0EsbdUxyXtYyDDHLbjndEsZyaBul+uEDkQ==
        -----END CERTIFICATE-----
        """
    static let privateKeyPEM = """
        -----BEGIN PRIVATE KEY-----
        MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgGqWiv3YbEFeykVmS
        mavrGouUae0dY3HBjcw8jqFAKH2hRANCAAS6jm6ttgR1bg4Vm3IgfW122slDxrjk
        czrnWqW5RwmzCQFW3zsnQnfHZiMjehFXSQ7Riu+qkrWkBACaPoSVsiNf
        -----END PRIVATE KEY-----
        """

    /// A server TLS configuration presenting the certificate.
    static func serverConfiguration() throws -> TLSConfiguration {
        let certificate = try NIOSSLCertificate(bytes: Array(certificatePEM.utf8), format: .pem)
        let key = try NIOSSLPrivateKey(bytes: Array(privateKeyPEM.utf8), format: .pem)
        return TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(certificate)], privateKey: .privateKey(key))
    }
}
