import EventModel
import Foundation
import HTTPClient

/// Exchanges the API token for a bearer (`POST /v1/tokens/exchange`, Basic auth with an empty
/// user and the token as password). The bearer is a JWT whose `exp` says when it expires (an
/// hour, today); it is renewed five minutes before that, and at once when the API answers 401.
/// A bearer without a readable `exp` is taken to last an hour.
actor ScalingoAuth {
    private let authURL: String
    private let token: SecretString
    private let transport: any HTTPTransport
    private var bearer: (value: String, expires: Date)?

    static let lifetime: TimeInterval = 3600
    static let renewBefore: TimeInterval = 300

    init(authURL: String, token: SecretString, transport: any HTTPTransport) {
        self.authURL = authURL
        self.token = token
        self.transport = transport
    }

    func currentBearer(now: Date) async throws(FeedError) -> String {
        if let bearer, now < bearer.expires.addingTimeInterval(-Self.renewBefore) { return bearer.value }
        return try await exchange(now: now)
    }

    func invalidate() {
        bearer = nil
    }

    /// The `exp` claim of a JWT (`header.payload.signature`, base64url), if it has one.
    static func expiry(ofJWT token: String) -> Date? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        var payload = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while payload.count % 4 != 0 { payload += "=" }
        guard let data = Data(base64Encoded: payload), let claims = try? JSONValue.parse(Array(data)) else { return nil }
        let seconds: Double? = switch claims["exp"] {
        case .integer(let value): Double(value)
        case .number(let value): value
        case .string(let text): Double(text)
        default: nil
        }
        guard let seconds, seconds.isFinite, seconds > 0, seconds < 1e11 else { return nil }
        return Date(timeIntervalSince1970: seconds)
    }

    private func exchange(now: Date) async throws(FeedError) -> String {
        let credentials = Data(":\(token.value)".utf8).base64EncodedString()
        let request = HTTPRequest(
            method: .POST, url: authURL.trimmingTrailingSlash + "/v1/tokens/exchange",
            headers: [("Authorization", "Basic \(credentials)"), ("Accept", "application/json")])
        let response = try await ScalingoHTTP.execute(request, over: transport, what: "token exchange")
        switch response.status {
        case 200, 201:
            guard let value = try? JSONValue.parse(response.body), let bearer = value["token"]?.stringValue, !bearer.isEmpty else {
                throw FeedError.badResponse("token exchange answered without a token")
            }
            self.bearer = (bearer, Self.expiry(ofJWT: bearer) ?? now.addingTimeInterval(Self.lifetime))
            return bearer
        case 401, 403:
            throw FeedError.unauthorized("the Scalingo API token was refused by the token exchange (HTTP \(response.status))")
        default:
            throw ScalingoHTTP.failure(response, what: "token exchange")
        }
    }
}

extension String {
    var trimmingTrailingSlash: String {
        var text = self
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }
}

/// What the auth and API calls share: transport errors and failure statuses as `FeedError`s.
enum ScalingoHTTP {
    static func execute(_ request: HTTPRequest, over transport: any HTTPTransport, what: String) async throws(FeedError) -> HTTPResponse {
        do {
            return try await transport.execute(request)
        } catch {
            throw FeedError.transport("\(what): \(error)")
        }
    }

    /// A 429 (with its Retry-After, if any) or any other unexpected status.
    static func failure(_ response: HTTPResponse, what: String) -> FeedError {
        if response.status == 429 {
            return FeedError.rateLimited(retryAfter: response.header("Retry-After").flatMap { RetryAfter.parse($0, now: Date()) })
        }
        return FeedError.badStatus(response.status, "\(what) failed")
    }
}
