import Testing
import VoiceProviders

/// Base URLs: TLS to any host, plain text only on loopback.
@Suite struct EndpointTests {
    @Test(arguments: ["https://api.openai.com/v1", "wss://api.deepgram.com/v1/listen", "http://127.0.0.1:8080/v1",
                      "http://localhost:11434/v1", "ws://127.0.0.1:9/v1/listen", "http://[::1]:8080", "http://127.1.2.3"])
    func accepted(_ url: String) throws {
        #expect(throws: Never.self) { try Endpoint(url) }
    }

    @Test func plainTextToAnyOtherHostIsRefused() {
        for (url, host) in [("http://api.openai.com/v1", "api.openai.com"), ("http://192.168.1.10:8080/v1", "192.168.1.10"),
                            ("ws://api.deepgram.com/v1/listen", "api.deepgram.com"), ("http://127.0.0.1.example.com", "127.0.0.1.example.com"),
                            ("http://128.0.0.1", "128.0.0.1")] {
            #expect(throws: ProviderSetupError.insecureScheme(scheme: url.hasPrefix("ws") ? "ws" : "http", host: host)) { try Endpoint(url) }
        }
    }

    @Test func theRefusalSaysWhatToDo() {
        let error = ProviderSetupError.insecureScheme(scheme: "http", host: "api.openai.com")
        #expect(error.description.contains("use https://"))
    }

    @Test func otherMistakesAreRefused() {
        #expect(throws: ProviderSetupError.unsupportedScheme("ftp")) { try Endpoint("ftp://127.0.0.1") }
        #expect(throws: ProviderSetupError.self) { try Endpoint("https://user:pass@api.openai.com/v1") }
        #expect(throws: ProviderSetupError.self) { try Endpoint("https://api.openai.com/v1?key=1") }
        #expect(throws: ProviderSetupError.self) { try Endpoint("not a url") }
    }

    @Test func trailingSlashesAreDropped() throws {
        #expect(try Endpoint("https://api.openai.com/v1/").appending(path: "/chat/completions") == "https://api.openai.com/v1/chat/completions")
    }
}
