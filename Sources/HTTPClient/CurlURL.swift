import CCurl

/// libcurl's own reading of a URL (`curl_url`), with the flags `CURLOPT_URL` uses: the host and
/// port a transfer of that URL would connect to. The relay parses destination URLs itself
/// (`DestinationURL`); this lets tests check that both readings agree.
public enum CurlURL {
    public struct Parts: Sendable, Equatable {
        public var scheme: String
        public var host: String
        /// The explicit port, or the scheme's default.
        public var port: Int
    }

    /// nil when libcurl refuses the URL (or cannot allocate a handle).
    public static func parse(_ text: String) -> Parts? {
        guard curlGlobalInitResult == CURLE_OK, let handle = curl_url() else { return nil }
        defer { curl_url_cleanup(handle) }
        // What lib/transfer.c passes when a transfer starts (CURLOPT_PATH_AS_IS and
        // CURLOPT_DISALLOW_USERNAME_IN_URL unset).
        let flags = UInt32(CURLU_GUESS_SCHEME) | UInt32(CURLU_NON_SUPPORT_SCHEME)
        guard curl_url_set(handle, CURLUPART_URL, text, flags) == CURLUE_OK,
              let scheme = part(handle, CURLUPART_SCHEME, 0),
              let host = part(handle, CURLUPART_HOST, 0),
              let portText = part(handle, CURLUPART_PORT, UInt32(CURLU_DEFAULT_PORT)), let port = Int(portText)
        else { return nil }
        return Parts(scheme: scheme, host: host, port: port)
    }

    private static func part(_ handle: OpaquePointer, _ which: CURLUPart, _ flags: UInt32) -> String? {
        var value: UnsafeMutablePointer<CChar>?
        guard curl_url_get(handle, which, &value, flags) == CURLUE_OK, let value else { return nil }
        defer { curl_free(value) }
        return String(cString: value)
    }
}
