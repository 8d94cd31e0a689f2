import CCurl
import Foundation

/// libcurl must be initialised once per process before any handle exists. A global `let` is
/// initialised lazily and exactly once, from whichever thread touches it first.
let curlGlobalInitResult: CURLcode = curl_global_init(Int(CURL_GLOBAL_ALL))

/// The one Swift owner of a `CURL *` easy handle (the corelibs-foundation EasyHandle pattern):
/// created in `init`, cleaned up in `deinit`, reset between uses so the pool can lend it again.
final class EasyHandle {
    let raw: UnsafeMutableRawPointer

    init() throws(HTTPClientError) {
        guard curlGlobalInitResult == CURLE_OK else {
            throw HTTPClientError.transport.with(detail: "curl_global_init failed: \(CurlCode.describe(curlGlobalInitResult))")
        }
        guard let handle = curl_easy_init() else {
            throw HTTPClientError.transport.with(detail: "curl_easy_init returned NULL")
        }
        raw = handle
    }

    deinit {
        curl_easy_cleanup(raw)
    }

    /// Clears every option so the handle can carry another request (keeps nothing of the last one).
    func reset() {
        curl_easy_reset(raw)
    }

    func set(_ option: CURLoption, _ value: Int) throws(HTTPClientError) {
        try check(ercurl_easy_setopt_long(raw, option, value), option)
    }

    func set(_ option: CURLoption, offset value: Int64) throws(HTTPClientError) {
        try check(ercurl_easy_setopt_off(raw, option, curl_off_t(value)), option)
    }

    func set(_ option: CURLoption, _ value: String) throws(HTTPClientError) {
        // libcurl copies string options (CURLOPT_URL and friends) before returning.
        let code = value.withCString { ercurl_easy_setopt_string(raw, option, $0) }
        try check(code, option)
    }

    func set(_ option: CURLoption, pointer value: UnsafeMutableRawPointer?) throws(HTTPClientError) {
        try check(ercurl_easy_setopt_pointer(raw, option, value), option)
    }

    func set(_ option: CURLoption, list value: UnsafeMutablePointer<curl_slist>?) throws(HTTPClientError) {
        try check(ercurl_easy_setopt_slist(raw, option, value), option)
    }

    func set(_ option: CURLoption, callback value: ercurl_data_callback) throws(HTTPClientError) {
        try check(ercurl_easy_setopt_callback(raw, option, value), option)
    }

    /// CURLOPT_OPENSOCKETFUNCTION with its CURLOPT_OPENSOCKETDATA.
    func setOpenSocket(_ callback: ercurl_opensocket_callback, context: UnsafeMutableRawPointer) throws(HTTPClientError) {
        try check(ercurl_easy_setopt_opensocket(raw, callback), CURLOPT_OPENSOCKETFUNCTION)
        try set(CURLOPT_OPENSOCKETDATA, pointer: context)
    }

    /// CURLOPT_PREREQFUNCTION with its CURLOPT_PREREQDATA.
    func setPrerequest(_ callback: ercurl_prereq_callback, context: UnsafeMutableRawPointer) throws(HTTPClientError) {
        try check(ercurl_easy_setopt_prereq(raw, callback), CURLOPT_PREREQFUNCTION)
        try set(CURLOPT_PREREQDATA, pointer: context)
    }

    func responseCode() -> Int {
        var code = 0
        guard ercurl_easy_getinfo_long(raw, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK else { return 0 }
        return code
    }

    private func check(_ code: CURLcode, _ option: CURLoption) throws(HTTPClientError) {
        guard code == CURLE_OK else {
            throw HTTPClientError.invalidRequest.with(
                detail: "curl_easy_setopt(\(option.rawValue)) failed: \(CurlCode.describe(code))")
        }
    }
}

/// A `curl_slist` of request headers, owned and freed by Swift.
final class HeaderList {
    private(set) var raw: UnsafeMutablePointer<curl_slist>?

    init(_ lines: [String]) throws(HTTPClientError) {
        for line in lines {
            guard let appended = curl_slist_append(raw, line) else {
                throw HTTPClientError.invalidRequest.with(detail: "curl_slist_append failed")
            }
            raw = appended
        }
    }

    deinit {
        if let raw { curl_slist_free_all(raw) }
    }
}

/// The one Swift owner of a `CURLM *` multi handle.
final class MultiHandle {
    let raw: UnsafeMutableRawPointer

    init(configuration: HTTPClientConfiguration) throws(HTTPClientError) {
        guard curlGlobalInitResult == CURLE_OK else {
            throw HTTPClientError.transport.with(detail: "curl_global_init failed: \(CurlCode.describe(curlGlobalInitResult))")
        }
        guard let handle = curl_multi_init() else {
            throw HTTPClientError.transport.with(detail: "curl_multi_init returned NULL")
        }
        raw = handle
        try set(CURLMOPT_MAX_HOST_CONNECTIONS, configuration.maxConnectionsPerHost)
        try set(CURLMOPT_MAX_TOTAL_CONNECTIONS, configuration.maxTotalConnections)
        try set(CURLMOPT_MAXCONNECTS, configuration.maxTotalConnections)
    }

    deinit {
        let code = curl_multi_cleanup(raw)
        if code != CURLM_OK { CurlCode.report("curl_multi_cleanup", CurlCode.describe(code)) }
    }

    func set(_ option: CURLMoption, _ value: Int) throws(HTTPClientError) {
        let code = ercurl_multi_setopt_long(raw, option, value)
        guard code == CURLM_OK else {
            throw HTTPClientError.transport.with(detail: "curl_multi_setopt(\(option.rawValue)) failed: \(CurlCode.describe(code))")
        }
    }
}

enum CurlCode {
    /// For failures with no caller to throw to (cleanup, wake-ups): one line on stderr.
    static func report(_ call: String, _ detail: String) {
        FileHandle.standardError.write(Data("event-relay: libcurl \(call) failed: \(detail)\n".utf8))
    }

    static func describe(_ code: CURLcode) -> String {
        guard let text = curl_easy_strerror(code) else { return "code \(code.rawValue)" }
        return String(cString: text)
    }

    static func describe(_ code: CURLMcode) -> String {
        guard let text = curl_multi_strerror(code) else { return "code \(code.rawValue)" }
        return String(cString: text)
    }
}
