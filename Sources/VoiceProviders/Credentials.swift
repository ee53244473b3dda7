import FoundationEssentials
import Glibc
import VoiceCore

/// A secret (an API key). It never prints itself: `description`, `debugDescription`, string
/// interpolation, `dump` and `Mirror` all show `<redacted>`, and it is not `Codable`, so it cannot
/// end up in a log line, an error message or a saved config by accident.
public struct Secret: Equatable, Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    private let value: String

    /// Wraps `value`, trimmed of surrounding white space (files often end in a newline).
    /// Returns nil for an empty value.
    public init?(_ value: String) {
        let trimmed = value.trimmingWhitespacesAndNewlines()
        guard !trimmed.isEmpty else { return nil }
        self.value = trimmed
    }

    /// The secret itself, for the one place that needs it: the request header.
    public func reveal() -> String { value }

    /// `text` with every occurrence of the secret replaced by `<redacted>` (for server messages
    /// that echo a key back).
    public func redact(_ text: String) -> String {
        text.replacingEvery(value, with: "<redacted>")
    }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "Secret(<redacted>)" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

/// File errors in words, without full Foundation's `localizedDescription`.
public enum FileErrorText {
    /// Why a file could not be read or written: the system's message for the errno behind it
    /// ("Permission denied"), or that the file is not UTF-8 text.
    public static func describe(_ error: any Error) -> String {
        if let cocoa = error as? CocoaError {
            if let posix = cocoa.underlying as? POSIXError { return String(cString: strerror(posix.code.rawValue)) }
            if cocoa.code == .fileReadCorruptFile || cocoa.code == .fileReadInapplicableStringEncoding {
                return "the file is not UTF-8 text"
            }
        }
        return "\(error)"
    }
}

/// Why a credential could not be read.
public enum CredentialError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The name is not a plain file name.
    case invalidName(String)
    /// The credentials file exists but cannot be read.
    case unreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalidName(let name):
            "invalid credential name '\(name)': use a plain file name such as openai_api_key"
        case .unreadable(let path, let reason):
            "cannot read the credential file \(path): \(reason); check its permissions (systemd LoadCredential= sets them)"
        }
    }
}

/// Where keys come from: under systemd (`$CREDENTIALS_DIRECTORY` set), only a file
/// `$CREDENTIALS_DIRECTORY/<name>` (`LoadCredential=`); in a development run without it, an
/// environment variable. Never the config file. A service's environment is visible to other
/// processes of the same user and ends up in core dumps, so a speaker never takes keys from it.
public struct CredentialSource: Sendable {
    /// The environment to read (`$CREDENTIALS_DIRECTORY` and the fallback variables).
    public var environment: [String: String]

    /// Reads the process's environment.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    /// The credential `name` (`openai_api_key`) from `$CREDENTIALS_DIRECTORY/<name>` when that
    /// directory is set (the environment is then ignored), else from the environment variable
    /// `variable` (`OPENAI_API_KEY`); nil when there is none or it is empty.
    public func load(_ name: String, environmentVariable variable: String) throws(CredentialError) -> Secret? {
        guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else { throw .invalidName(name) }
        if let directory = environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty {
            let path = directory + "/" + name
            if FileManager.default.fileExists(atPath: path) {
                do {
                    let text = try String(contentsOfFile: path, encoding: .utf8)
                    if let secret = Secret(text) { return secret }
                } catch {
                    throw .unreadable(path: path, reason: FileErrorText.describe(error))
                }
            }
            return nil  // under systemd, keys come only from credentials
        }
        return environment[variable].flatMap(Secret.init)
    }

    /// Loads one of the providers' keys.
    public func load(_ credential: CredentialName) throws(CredentialError) -> Secret? {
        try load(credential.file, environmentVariable: credential.variable)
    }
}

/// A credential's file name under `$CREDENTIALS_DIRECTORY` and its environment variable.
public struct CredentialName: Equatable, Sendable {
    public var file: String
    public var variable: String

    public init(file: String, variable: String) {
        self.file = file
        self.variable = variable
    }

    public static let deepgram = CredentialName(file: "deepgram_api_key", variable: "DEEPGRAM_API_KEY")
    public static let openAI = CredentialName(file: "openai_api_key", variable: "OPENAI_API_KEY")
    public static let elevenLabs = CredentialName(file: "elevenlabs_api_key", variable: "ELEVENLABS_API_KEY")
}
