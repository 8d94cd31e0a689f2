/// Shows secrets the way logs, errors and API responses may show them: enough to recognise,
/// never enough to use. (Alertmanager's RedactURL/secretURL do the same job.)
public enum Redact {
    /// `https://hooks.slack.com/services/T0/B0/abcdefgh` → `https://hooks.slack.com/…efgh`.
    /// Read by `DestinationURL`, the one strict reading, so the host shown is the host a delivery
    /// connects to: scheme, host and port stay; path and query are hidden but for the last four
    /// characters when the hidden part is long enough that four give nothing away. A URL that
    /// reading refuses shows as `<invalid URL>`, nothing of it.
    public static func url(_ text: String) -> String {
        (try? DestinationURL(text))?.redacted ?? invalidURL
    }

    public static let invalidURL = "<invalid URL>"

    /// `whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw` → `whsec_…LaSw`.
    public static func secret(_ text: String) -> String {
        let prefix = text.hasPrefix("whsec_") ? "whsec_" : ""
        let body = text.dropFirst(prefix.count)
        let tail = body.count >= 16 ? String(body.suffix(4)) : ""
        return "\(prefix)…\(tail)"
    }
}

/// A string that never prints itself: `"\(token)"` in a log line shows `<redacted>`.
/// `dump()` and other reflection show no more. Only code building a request reads `value`.
public struct SecretString: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public let value: String
    public init(_ value: String) { self.value = value }
    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
