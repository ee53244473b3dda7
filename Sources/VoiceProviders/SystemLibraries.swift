import CCurl

/// Versions of the libraries the network providers link, for `voiced --version`.
public enum ProviderLibraries {
    /// libcurl's version line, e.g. `libcurl/7.88.1 OpenSSL/3.0.15 ...`.
    public static var curlVersion: String { String(cString: curl_version()) }
}
