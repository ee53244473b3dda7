import Hummingbird
import HummingbirdTLS
import Logging
import Synchronization
import Testing
@testable import VoiceCore
import VoiceProviders

/// Certificate verification is always on: a TLS server on loopback whose certificate no one
/// trusts is refused before a single request byte reaches it.
@Suite struct TLSVerificationTests {
    /// A throw-away self-signed certificate for 127.0.0.1, made for this test only and trusted by
    /// nothing (openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -days 36500).
    static let certificate = """
        -----BEGIN CERTIFICATE-----
        MIIBmzCCAUGgAwIBAgIUUn0ARhGqHzWtwlXksHXaH/PD55UwCgYIKoZIzj0EAwIw
        FDESMBAGA1UEAwwJMTI3LjAuMC4xMCAXDTI2MTEyODIwMjkwNFoYDzIxMjYxMTA0
        MjAyOTA0WjAUMRIwEAYDVQQDDAkxMjcuMC4wLjEwWTATBgcqhkjOPQIBBggqhkjO
        PQMBBwNCAAR/7oUovhgwWRQiw5x3KETlRyFVlQysmSYiesnHe6B4LdDMOISGcjka
        f6N0mahj5opLs3OUnoxdCi9reFeNv1poo28wbTAdBgNVHQ4EFgQUCVjafOOiROaK
        LvilUQAgNH9IaQwwHwYDVR0jBBgwFoAUCVjafOOiROaKLvilUQAgNH9IaQwwDwYD
        VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARhwR/AAABgglsb2NhbGhvc3QwCgYIKoZI
        zj0EAwIDSAAwRQIgAvrjxOLhyDtUMTLhZDJaBvfoisoCt6EL2jLSlkM+Uv0CIQCX
        qA10sNzLsjJ//G1gCnCOTUR/l6V59zJZfz/qYe38bg==
        -----END CERTIFICATE-----
        """
    static let key = """
        -----BEGIN PRIVATE KEY-----
        MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgBKkPUve1Ls/5aZpm
        YAyDVdKs3dxillCFjn4yOOd6B72hRANCAAR/7oUovhgwWRQiw5x3KETlRyFVlQys
        mSYiesnHe6B4LdDMOISGcjkaf6N0mahj5opLs3OUnoxdCi9reFeNv1po
        -----END PRIVATE KEY-----
        """

    @Test func anUntrustedCertificateIsRefused() async throws {
        let reached = Mutex(false)
        let router = Router()
        router.post("/v1/chat/completions") { _, _ -> String in
            reached.withLock { $0 = true }
            return "data: [DONE]\n\n"
        }
        let tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(try NIOSSLCertificate(bytes: Array(Self.certificate.utf8), format: .pem))],
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(Self.key.utf8), format: .pem)))
        let (ports, portSink) = AsyncStream<Int?>.makeStream()
        var logger = Logger(label: "test.tls")
        logger.logLevel = .critical
        let app = Application(router: router, server: try .tls(.http1(), tlsConfiguration: tls),
                              configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { portSink.yield($0.localAddress?.port) }, logger: logger)
        let server = Task { try await app.run() }
        defer { server.cancel() }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next() ?? nil)

        let chat = try OpenAIChat(configuration: OpenAIChatConfiguration(baseURL: "https://127.0.0.1:\(port)/v1"))
        let events = Recorder<LLMEvent>()
        chat.start(chatRequest()) { events.append($0) }
        #expect(await events.wait { $0.contains(where: \.isTerminal) })
        let failure = try #require(events.events.last?.failure)
        #expect(failure.contains("certificate verification failed"), "\(failure)")
        #expect(chat.records.last?.statuses == [0], "not retried: the same certificate would be refused again")
        #expect(!reached.withLock { $0 }, "no request reached the server")
    }
}
