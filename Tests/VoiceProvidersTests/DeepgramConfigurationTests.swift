import Logging
import Testing
import VoiceCore
import VoiceProviders

/// The endpoint: query parameters, the loopback rule for plain ws://, and the key wrapper.
@Suite struct DeepgramConfigurationTests {
    @Test func theDefaultEndpointIsDeepgramWithTheStreamingParameters() throws {
        let endpoint = try DeepgramConfiguration().endpoint()
        #expect(endpoint.url == "wss://api.deepgram.com/v1/listen?model=nova-3&language=en-US&encoding=linear16"
            + "&sample_rate=16000&channels=1&interim_results=true&punctuate=true&endpointing=300"
            + "&utterance_end_ms=1000&vad_events=true")
        #expect(endpoint.usesTLS)
        #expect(endpoint.host == "api.deepgram.com")
        #expect(endpoint.port == 443)
    }

    @Test func modelLanguageAndTimingAreConfigurable() throws {
        var configuration = DeepgramConfiguration(baseURL: "wss://stt.example.org:8443/v1/listen?tier=x")
        configuration.model = "nova-2-general"
        configuration.language = "de"
        configuration.endpointing = nil
        configuration.utteranceEnd = .milliseconds(1500)
        let endpoint = try configuration.endpoint()
        #expect(endpoint.url == "wss://stt.example.org:8443/v1/listen?tier=x&model=nova-2-general&language=de"
            + "&encoding=linear16&sample_rate=16000&channels=1&interim_results=true&punctuate=true"
            + "&endpointing=false&utterance_end_ms=1500&vad_events=true")
        #expect(endpoint.port == 8443)
    }

    @Test(arguments: [
        "ws://api.deepgram.com/v1/listen", "ws://10.0.0.5:8080/v1/listen", "ws://192.168.1.2/v1/listen",
        "ws://128.0.0.1/v1/listen", "ws://127.0.0.1.nip.io/v1/listen", "ws://localhost.example.com/v1/listen",
        "ws://127.0.0.256/v1/listen", "ws://0.0.0.0/v1/listen", "WS://fake-cloud.lan/v1/listen",
    ])
    func plainWebSocketsToHostsThatAreNotLoopbackAreRefused(url: String) {
        #expect {
            _ = try DeepgramConfiguration(baseURL: url).endpoint()
        } throws: { error in
            guard case .insecureRemoteURL = error as? DeepgramError else { return false }
            return "\(error)".contains("wss://")
        }
    }

    @Test(arguments: [
        "ws://127.0.0.1:8080/v1/listen", "ws://127.8.9.10/v1/listen", "ws://localhost:1234/v1/listen",
        "ws://LOCALHOST/v1/listen",
    ])
    func plainWebSocketsToLoopbackAreAccepted(url: String) throws {
        let endpoint = try DeepgramConfiguration(baseURL: url).endpoint()
        #expect(!endpoint.usesTLS)
    }

    @Test func loopbackMeans127Slash8ColonColonOneAndLocalhost() {
        for host in ["127.0.0.1", "127.255.255.254", "localhost", "::1", "[::1]", "0:0:0:0:0:0:0:1", "0::1"] {
            #expect(DeepgramConfiguration.isLoopbackHost(host), "\(host)")
        }
        for host in ["126.0.0.1", "127.0.0", "127.0.0.1.5", "127.0.0.01x", "::2", "::", "::ffff:127.0.0.1",
                     "1::1", "example.com", "", "127.0.0.1:80", "[::1", "::1::"] {
            #expect(!DeepgramConfiguration.isLoopbackHost(host), "\(host)")
        }
    }

    @Test func anIPv6LoopbackLiteralIsRefusedBecauseTheWebSocketClientCannotParseIt() {
        #expect(throws: DeepgramError.unsupportedIPv6Literal(host: "::1")) {
            try DeepgramConfiguration(baseURL: "ws://[::1]:8080/v1/listen").endpoint()
        }
    }

    @Test func otherSchemesAndMalformedURLsAreRefused() {
        #expect(throws: DeepgramError.unsupportedScheme("https")) {
            try DeepgramConfiguration(baseURL: "https://api.deepgram.com/v1/listen").endpoint()
        }
        #expect(throws: DeepgramError.invalidURL("no scheme or host")) {
            try DeepgramConfiguration(baseURL: "no scheme or host").endpoint()
        }
        #expect(throws: DeepgramError.self) {
            try DeepgramConfiguration(baseURL: "wss://user:secret@api.deepgram.com/v1/listen").endpoint()
        }
    }

    @Test func theClientRefusesANonLoopbackPlainWebSocketAtCreation() {
        #expect(throws: DeepgramError.insecureRemoteURL(host: "api.deepgram.com")) {
            _ = try DeepgramLiveClient(
                configuration: DeepgramConfiguration(baseURL: "ws://api.deepgram.com/v1/listen"),
                apiKey: DeepgramKey("k"), audio: AudioRingBuffer(capacity: 16), logger: Logger(label: "test"),
                onEvent: { _ in })
        }
    }

    @Test func theKeyNeverPrintsItself() throws {
        let key = try DeepgramKey("dg-secret-0123456789")
        let renderings = ["\(key)", String(describing: key), String(reflecting: key), "\([key])",
                          { var out = ""; dump(key, to: &out); return out }()]
        for rendering in renderings {
            #expect(!rendering.contains("dg-secret"), "\(rendering)")
            #expect(rendering.contains("redacted"))
        }
    }

    @Test func anEmptyOrMultiLineKeyIsRefusedWithoutQuotingIt() {
        #expect(throws: DeepgramError.missingAPIKey) { try DeepgramKey("  \n") }
        #expect {
            try DeepgramKey("dg-secret\r\nX-Injected: 1")
        } throws: { error in
            guard case .invalidAPIKey = error as? DeepgramError else { return false }
            return !"\(error)".contains("dg-secret")
        }
    }

    @Test func outOfRangeSettingsAreRefusedByName() {
        var configuration = DeepgramConfiguration()
        configuration.reconnectDelays = []
        #expect(throws: DeepgramError.invalidConfiguration("reconnect delays must hold at least one delay")) {
            try configuration.validate()
        }
        configuration = DeepgramConfiguration()
        configuration.replayMaxAge = .seconds(6)
        #expect(throws: DeepgramError.self) { try configuration.validate() }
    }
}
