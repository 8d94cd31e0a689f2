import EventModel
import Foundation
import HTTPClient

/// Qovery's HTTP answers as `FeedError`s. Tokens are static (an API token or a JWT the operator
/// made): a 401 or 403 is reported and backed off, never "refreshed". No message carries the
/// token, the Authorization header or a response body.
enum QoveryHTTP {
    /// Used when a 429 says nothing about when to come back.
    static let defaultRateLimitWait: Duration = .seconds(60)
    /// A Retry-After longer than this (a garbled date, a year away) is taken as this.
    static let maxRateLimitWait: Duration = .seconds(3600)

    static func execute(_ request: HTTPRequest, over transport: any HTTPTransport, what: String) async throws(FeedError) -> HTTPResponse {
        do {
            return try await transport.execute(request)
        } catch {
            // HTTPClientError never prints the URL or headers.
            throw FeedError.transport("\(what): \(error)")
        }
    }

    /// Any answer but 200.
    static func failure(_ response: HTTPResponse, what: String, scheme: QoveryConfiguration.AuthScheme, now: Date) -> FeedError {
        switch response.status {
        case 401, 403:
            let hint = scheme == .token
                ? "an API token is sent as \"Token …\"; a JWT needs auth_scheme: bearer"
                : "a JWT is sent as \"Bearer …\"; an API token needs auth_scheme: token"
            return FeedError.unauthorized(
                "\(what) was refused (HTTP \(response.status)): the token is invalid, expired or not allowed on this organization (\(hint))")
        case 429:
            return FeedError.rateLimited(retryAfter: retryAfter(response.header("Retry-After"), now: now))
        case 404:
            return FeedError.badStatus(404, "\(what): no such organization, or the token cannot see it")
        default:
            let kind = looksLikeHTML(response.body) ? " (an HTML error page)" : ""
            return FeedError.badStatus(response.status, "\(what) failed\(kind)")
        }
    }

    /// `Retry-After` as delta-seconds or an HTTP date, clamped to 1 s … 1 h; the default when
    /// absent or unreadable.
    static func retryAfter(_ value: String?, now: Date) -> Duration {
        guard let text = value?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return defaultRateLimitWait }
        var seconds: Double
        if let whole = Int64(text) {
            seconds = Double(whole)
        } else if let date = httpDate(text) {
            seconds = date.timeIntervalSince(now).rounded(.up)
        } else {
            return defaultRateLimitWait
        }
        seconds = min(max(seconds, 1), maxRateLimitWait.timeInterval)
        return .seconds(Int64(seconds))
    }

    /// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), and the two obsolete forms RFC 9110 still accepts.
    static func httpDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }

    static func looksLikeHTML(_ body: [UInt8]) -> Bool {
        guard let first = body.first(where: { ![0x20, 0x09, 0x0A, 0x0D, 0xEF, 0xBB, 0xBF].contains($0) }) else { return false }
        return first == UInt8(ascii: "<")
    }
}
