import FoundationEssentials
import VoiceCore

/// Why a provider could not be set up (bad configuration, refused URL, libcurl failure).
public enum ProviderSetupError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The base URL does not parse, or has parts a base URL may not have.
    case invalidURL(url: String, reason: String)
    /// Plain `http`/`ws` to a host that is not loopback.
    case insecureScheme(scheme: String, host: String)
    /// A scheme other than http(s) or ws(s).
    case unsupportedScheme(String)
    /// A configuration value out of range.
    case invalidSetting(name: String, reason: String)
    /// libcurl refused to set up the transfer.
    case curl(CurlError)

    public var description: String {
        switch self {
        case .invalidURL(let url, let reason):
            "invalid base URL '\(url)': \(reason)"
        case .insecureScheme(let scheme, let host):
            "refusing plain \(scheme):// to '\(host)': unencrypted connections are allowed only to loopback "
                + "(localhost, 127.0.0.0/8, ::1); use \(scheme == "ws" ? "wss" : "https"):// for remote hosts"
        case .unsupportedScheme(let scheme):
            "unsupported URL scheme '\(scheme)': use https:// (or http:// for a server on loopback)"
        case .invalidSetting(let name, let reason):
            "invalid setting \(name): \(reason)"
        case .curl(let error):
            error.description
        }
    }
}

/// A provider's base URL, checked once: `https` and `wss` to any host; plain `http` and `ws` only
/// to loopback hosts, so that keys and speech never cross a network unencrypted.
public struct Endpoint: Equatable, Sendable, CustomStringConvertible {
    /// The URL without a trailing slash.
    public let url: String
    /// `http`, `https`, `ws` or `wss`.
    public let scheme: String
    /// The host, without brackets for IPv6.
    public let host: String

    /// Checks `string`; throws ``ProviderSetupError`` with the reason when it is refused.
    public init(_ string: String) throws(ProviderSetupError) {
        try self.init(string, allowQuery: false)
    }

    /// Checks a base URL, or (`allowQuery`) a full request URL.
    init(_ string: String, allowQuery: Bool) throws(ProviderSetupError) {
        let trimmed = string.trimmingWhitespaces()
        guard let components = URLComponents(string: trimmed), let scheme = components.scheme?.lowercased() else {
            throw .invalidURL(url: string, reason: "not an absolute URL")
        }
        guard ["http", "https", "ws", "wss"].contains(scheme) else { throw .unsupportedScheme(scheme) }
        guard var host = components.host, !host.isEmpty else { throw .invalidURL(url: string, reason: "no host") }
        guard components.user == nil, components.password == nil else {
            throw .invalidURL(url: "\(scheme)://\(host)", reason: "credentials in the URL are not allowed; keys come from credentials files")
        }
        guard components.fragment == nil, allowQuery || components.query == nil else {
            throw .invalidURL(url: string, reason: "a base URL takes no query (?...) or fragment (#...)")
        }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if scheme == "http" || scheme == "ws", !Self.isLoopback(host: host) {
            throw .insecureScheme(scheme: scheme, host: host)
        }
        var url = trimmed
        while url.hasSuffix("/") { url.removeLast() }
        self.url = url
        self.scheme = scheme
        self.host = host
    }

    /// Whether connections stay on this machine: `localhost`, 127.0.0.0/8 or `::1`.
    public static func isLoopback(host: String) -> Bool {
        let name = host.lowercased().trimming(where: { $0 == "[" || $0 == "]" })
        if name == "localhost" || name == "localhost." || name == "::1" || name == "0:0:0:0:0:0:0:1" { return true }
        let octets = name.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets.first == "127" else { return false }
        return octets.allSatisfy { octet in
            guard let value = Int(octet), !octet.isEmpty, octet.count <= 3 else { return false }
            return (0...255).contains(value)
        }
    }

    /// Whether the endpoint is on this machine.
    public var isLoopback: Bool { Self.isLoopback(host: host) }

    /// The URL of `path` (which starts with `/`) under this endpoint.
    public func appending(path: String) -> String { url + path }

    public var description: String { url }
}
