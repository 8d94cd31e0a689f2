import Foundation

/// HTTP `Retry-After` (RFC 9110): delta-seconds or an HTTP date. One reading for every platform
/// feed and every sink.
public enum RetryAfter {
    /// The wait the header asks for (an HTTP date in the past is zero); nil when it is absent,
    /// negative or unreadable.
    public static func parse(_ value: String, now: Date) -> Duration? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(trimmed) {
            // Callers cap it to their own bounds; this only keeps date arithmetic finite.
            return seconds >= 0 ? .seconds(min(seconds, 1_000_000_000)) : nil
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        // IMF-fixdate, and the two obsolete forms RFC 9110 still accepts.
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            formatter.dateFormat = format
            if let date = formatter.date(from: trimmed) {
                return .milliseconds(Int64(min(max(0, date.timeIntervalSince(now)), 1e9) * 1000))
            }
        }
        return nil
    }
}
