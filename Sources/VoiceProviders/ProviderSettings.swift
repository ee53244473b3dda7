import Synchronization

/// Settings a provider checks before it takes them.
protocol CheckedSettings: Sendable {
    /// Throws ``ProviderSetupError`` naming the setting that cannot be used.
    func check() throws(ProviderSetupError)
}

/// A provider's live settings: checked before they are taken, and read by each request as it
/// starts (a request in flight keeps what it started with).
final class LiveSettingsBox<Settings: CheckedSettings>: Sendable {
    private let value: Mutex<Settings>

    init(_ settings: Settings) throws(ProviderSetupError) {
        try settings.check()
        value = Mutex(settings)
    }

    var current: Settings { value.withLock { $0 } }

    /// Takes `settings` from the next request on; throws, and keeps the old ones, when they are refused.
    func update(_ settings: Settings) throws(ProviderSetupError) {
        try settings.check()
        value.withLock { $0 = settings }
    }
}

/// How a provider's failures read, for the controller and the log: actionable, and never holding the key.
struct FailureWording: Sendable {
    /// Who answered, as a sentence starts: "ElevenLabs", "the LLM server at api.openai.com".
    var service: String
    /// What failed: "TTS request", "LLM call".
    var request: String
    var host: String
    var credential: CredentialName
    var apiKey: Secret?

    func describe(_ failure: AttemptFailure, attempts: Int) -> String {
        if failure.isAuthentication, case .status(let code, _, _) = failure {
            let source = "$CREDENTIALS_DIRECTORY/\(credential.file) or \(credential.variable)"
            if apiKey == nil {
                return "\(service) requires an API key (HTTP \(code)) and none is set: put it in \(source)"
            }
            return "\(service) refused the API key (HTTP \(code)): check the API key in \(source)"
        }
        let text = "\(request) to \(host) failed after \(attempts) \(attempts == 1 ? "try" : "tries"): \(failure)"
        return apiKey?.redact(text) ?? text
    }
}
