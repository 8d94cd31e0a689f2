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

    /// `Retry-After` clamped to 1 s … 1 h; the default when absent or unreadable.
    static func retryAfter(_ value: String?, now: Date) -> Duration {
        guard let wait = value.flatMap({ RetryAfter.parse($0, now: now) }) else { return defaultRateLimitWait }
        return min(max(wait, .seconds(1)), maxRateLimitWait)
    }

    static func looksLikeHTML(_ body: [UInt8]) -> Bool {
        guard let first = body.first(where: { ![0x20, 0x09, 0x0A, 0x0D, 0xEF, 0xBB, 0xBF].contains($0) }) else { return false }
        return first == UInt8(ascii: "<")
    }
}
