/// Shows secrets the way logs, errors and API responses may show them: enough to recognise,
/// never enough to use. (Alertmanager's RedactURL/secretURL do the same job.)
public enum Redact {
    /// `https://hooks.slack.com/services/T0/B0/abcdefgh` → `https://hooks.slack.com/…efgh`.
    /// Scheme, host and port stay; user info, path and query are hidden but for the last four
    /// characters when the hidden part is long enough that four give nothing away.
    public static func url(_ text: String) -> String {
        guard let schemeEnd = text.range(of: "://") else { return "…" }
        let scheme = text[..<schemeEnd.lowerBound]
        var rest = text[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        rest = rest[authorityEnd...]
        let hidden = rest.drop(while: { $0 == "/" })
        if hidden.isEmpty { return "\(scheme)://\(authority)/" }
        let tail = hidden.count >= 16 ? String(hidden.suffix(4)) : ""
        return "\(scheme)://\(authority)/…\(tail)"
    }

    /// `whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw` → `whsec_…LaSw`.
    public static func secret(_ text: String) -> String {
        let prefix = text.hasPrefix("whsec_") ? "whsec_" : ""
        let body = text.dropFirst(prefix.count)
        let tail = body.count >= 16 ? String(body.suffix(4)) : ""
        return "\(prefix)…\(tail)"
    }
}

/// A string that never prints itself: `"\(token)"` in a log line shows `<redacted>`.
public struct SecretString: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    public let value: String
    public init(_ value: String) { self.value = value }
    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
}
