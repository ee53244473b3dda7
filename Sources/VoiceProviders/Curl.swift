import CCurl

/// A libcurl call that failed, with the call's name and libcurl's own explanation.
public enum CurlError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `curl_easy_init`, `curl_multi_init` or `curl_slist_append` returned NULL (out of memory).
    case allocationFailed(String)
    /// A `CURLcode` other than `CURLE_OK`.
    case easy(call: String, code: Int, message: String)
    /// A `CURLMcode` other than `CURLM_OK`.
    case multi(call: String, code: Int, message: String)
    /// The HTTP loop has been shut down (the daemon is stopping): no transfer runs any more.
    case stopped
    /// The HTTP loop's thread could not be started (the system is out of threads or memory).
    case threadStart(String)

    public var description: String {
        switch self {
        case .allocationFailed(let call): "libcurl: \(call) failed (out of memory?)"
        case .easy(let call, let code, let message): "libcurl: \(call) failed with CURLcode \(code): \(message)"
        case .multi(let call, let code, let message): "libcurl: \(call) failed with CURLMcode \(code): \(message)"
        case .stopped: "the HTTP loop has been shut down"
        case .threadStart(let reason): "the HTTP loop cannot start: \(reason)"
        }
    }
}

/// Turns every `CURLcode` into a typed error; the one place that reads libcurl's return codes.
@inline(__always)
func curlCheck(_ code: CURLcode, _ call: @autoclosure () -> String) throws(CurlError) {
    guard code != CURLE_OK else { return }
    throw .easy(call: call(), code: Int(code.rawValue), message: String(cString: curl_easy_strerror(code)))
}

/// Turns every `CURLMcode` into a typed error.
@inline(__always)
func curlCheck(_ code: CURLMcode, _ call: @autoclosure () -> String) throws(CurlError) {
    guard code != CURLM_OK else { return }
    throw .multi(call: call(), code: Int(code.rawValue), message: String(cString: curl_multi_strerror(code)))
}

/// libcurl's global state, set up once before the first handle is made.
enum CurlGlobal {
    /// `curl_global_init`'s result; Swift runs a static initialiser exactly once, thread-safely.
    static let initialised: CURLcode = curl_global_init(Int(CURL_GLOBAL_DEFAULT))

    static func ensure() throws(CurlError) {
        try curlCheck(initialised, "curl_global_init")
    }
}

/// One easy handle (`CURL *`): made by `init`, freed by `deinit`.
///
/// Not thread-safe: set it up on one thread, then hand it to the ``CurlLoop``, which alone uses
/// it until the transfer ends.
final class CurlEasy {
    let handle: UnsafeMutableRawPointer

    init() throws(CurlError) {
        try CurlGlobal.ensure()
        guard let handle = curl_easy_init() else { throw .allocationFailed("curl_easy_init") }
        self.handle = handle
    }

    deinit { curl_easy_cleanup(handle) }

    func set(_ option: CURLoption, _ value: Int, _ name: @autoclosure () -> String) throws(CurlError) {
        try curlCheck(voiced_http_setopt_long(handle, option, value), "curl_easy_setopt(\(name()))")
    }

    /// Sets a string option; libcurl copies the string (all options used here are copied).
    func set(_ option: CURLoption, _ value: String, _ name: @autoclosure () -> String) throws(CurlError) {
        try curlCheck(voiced_http_setopt_string(handle, option, value), "curl_easy_setopt(\(name()))")
    }

    func set(_ option: CURLoption, pointer: UnsafeMutableRawPointer?, _ name: @autoclosure () -> String) throws(CurlError) {
        try curlCheck(voiced_http_setopt_pointer(handle, option, pointer), "curl_easy_setopt(\(name()))")
    }

    func set(headers: CurlHeaderList) throws(CurlError) {
        try curlCheck(voiced_http_setopt_slist(handle, CURLOPT_HTTPHEADER, headers.list), "curl_easy_setopt(CURLOPT_HTTPHEADER)")
    }

    /// Sets the request body; libcurl copies it (`CURLOPT_COPYPOSTFIELDS`).
    func set(body: [UInt8]) throws(CurlError) {
        try curlCheck(voiced_http_setopt_offset(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)),
                      "curl_easy_setopt(CURLOPT_POSTFIELDSIZE_LARGE)")
        let code = body.withUnsafeBytes { bytes in
            voiced_http_setopt_pointer(handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress))
        }
        try curlCheck(code, "curl_easy_setopt(CURLOPT_COPYPOSTFIELDS)")
    }

    func set(write callback: curl_write_callback, for option: CURLoption, _ name: @autoclosure () -> String) throws(CurlError) {
        try curlCheck(voiced_http_setopt_write(handle, option, callback), "curl_easy_setopt(\(name()))")
    }

    func set(transferInfo callback: curl_xferinfo_callback) throws(CurlError) {
        try curlCheck(voiced_http_setopt_xferinfo(handle, callback), "curl_easy_setopt(CURLOPT_XFERINFOFUNCTION)")
    }

    /// The last response's HTTP status (0 before any response).
    func responseCode() throws(CurlError) -> Int {
        var code = 0
        try curlCheck(voiced_http_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &code), "curl_easy_getinfo(CURLINFO_RESPONSE_CODE)")
        return code
    }
}

/// A list of request header lines (`struct curl_slist *`), freed by `deinit`.
///
/// libcurl does not copy the list: it must outlive the transfer, so the transfer keeps it.
final class CurlHeaderList {
    private(set) var list: UnsafeMutablePointer<curl_slist>?

    init(_ lines: [String]) throws(CurlError) {
        for line in lines {
            guard let appended = curl_slist_append(list, line) else {
                curl_slist_free_all(list)
                list = nil
                throw .allocationFailed("curl_slist_append")
            }
            list = appended
        }
    }

    deinit { curl_slist_free_all(list) }
}

/// One multi handle (`CURLM *`): made by `init`, freed by `deinit`. Used only by the
/// ``CurlLoop``'s thread, except ``wakeup()``, which libcurl allows from any thread.
final class CurlMulti: @unchecked Sendable {
    // @unchecked: only `curl_multi_wakeup` is called from other threads, which libcurl allows.
    let handle: UnsafeMutableRawPointer

    init() throws(CurlError) {
        try CurlGlobal.ensure()
        guard let handle = curl_multi_init() else { throw .allocationFailed("curl_multi_init") }
        self.handle = handle
    }

    deinit { curl_multi_cleanup(handle) }

    func add(_ easy: CurlEasy) throws(CurlError) {
        try curlCheck(curl_multi_add_handle(handle, easy.handle), "curl_multi_add_handle")
    }

    func remove(_ easy: CurlEasy) throws(CurlError) {
        try curlCheck(curl_multi_remove_handle(handle, easy.handle), "curl_multi_remove_handle")
    }

    /// Moves every transfer along as far as it can go without blocking.
    func perform() throws(CurlError) {
        var running: Int32 = 0
        try curlCheck(curl_multi_perform(handle, &running), "curl_multi_perform")
    }

    /// Waits for socket activity, a wakeup or the timeout.
    func poll(timeoutMilliseconds: Int32) throws(CurlError) {
        try curlCheck(curl_multi_poll(handle, nil, 0, timeoutMilliseconds, nil), "curl_multi_poll")
    }

    /// Interrupts ``poll(timeoutMilliseconds:)`` from any thread.
    func wakeup() {
        _ = curl_multi_wakeup(handle)
    }

    /// The next finished transfer: its easy handle and result.
    func nextDone() -> (easy: UnsafeMutableRawPointer, result: CURLcode)? {
        var left: Int32 = 0
        while let message = curl_multi_info_read(handle, &left) {
            if message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle {
                return (easy, message.pointee.data.result)
            }
        }
        return nil
    }
}
