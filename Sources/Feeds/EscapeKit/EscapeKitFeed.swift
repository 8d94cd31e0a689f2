import EventModel
import Foundation
import HTTPClient

/// EscapeKit's event timeline: one stream, `events`, paged by id, highest first. A page holds at
/// most `page_size` events, all with ids below `page_from`; there is no next-page marker, so a
/// short page is the last, and the next page starts from the lowest id on this one.
///
/// The shared `TimelineWalk` decides what is new and how far to read: down past the previous
/// sweep's start minus `lateness` every poll, so an event stored late, below ids already read,
/// is still delivered as long as its id sorts above the events older than that line (ids that
/// follow timestamps do). A walk cut short (page limit, an error) resumes at the exact id where
/// it stopped: tokens are ids, so events arriving meanwhile never shift the pages.
public struct EscapeKitFeed: EventFeed {
    public let configuration: EscapeKitConfiguration
    private let transport: any HTTPTransport

    public init(configuration: EscapeKitConfiguration, transport: any HTTPTransport) {
        self.configuration = configuration
        self.transport = transport
    }

    public var name: String { configuration.name }
    public var source: String { EscapeKitFeedPlugin.kind }
    public var interval: Duration { configuration.interval }
    public var streams: [String] { ["events"] }

    /// Waits for a 429 without `Retry-After`; longer waits asked for are cut to `maxRateLimitWait`.
    public static let defaultRateLimitWait: Duration = .seconds(60)
    public static let maxRateLimitWait: Duration = .seconds(3600)

    public func poll(stream: String, cursor: TimelineCursor?, now: Date) async -> StreamPoll {
        await TimelineWalk.run(
            cursor: cursor, now: now, lateness: configuration.lateness, maxPages: configuration.maxPages,
            backfill: .seconds(configuration.backfillHours * 3600), order: .byID, isBelow: EscapeKitID.isBelow
        ) { request throws(FeedError) in
            switch request {
            case .first: try await page(from: nil, now: now)
            case .token(let token): try await page(from: token, now: now)
            }
        }
    }

    /// One page: the events below `from` (nil: the newest), and the token of the page after it:
    /// the lowest id on it. A short page is the last unless all of it is new (`mayBeLast`): a
    /// server may serve fewer than `page_size` events a page.
    public func page(from: String?, now: Date) async throws(FeedError) -> TimelinePage {
        if let from, from.isEmpty { throw FeedError.badResponse("unreadable resume point (an empty id)") }
        let response = try await get(url(pageFrom: from), now: now)
        let page = try EscapeKitDecoder.page(
            response.body, contentType: response.header("Content-Type"), feed: configuration.name, environment: configuration.environment,
            fetchedAt: now)
        if let from, let stray = page.events.first(where: { !EscapeKitID.isBelow($0.id, from) }) {
            // Paging on would read the same page forever.
            throw FeedError.badResponse("the server ignored page_from: asked for ids below \(from), got \(stray.id)")
        }
        let short = page.entries < configuration.pageSize
        guard let lowest = page.lowestID else {
            if short { return TimelinePage(events: page.events, next: nil, malformed: page.malformed) }
            throw FeedError.badResponse("a full page without any event id: cannot page on")
        }
        return TimelinePage(events: page.events, next: lowest, malformed: page.malformed, mayBeLast: short)
    }

    /// The events URL with `page_size`, the filters and `page_from` added to `api_url`'s query.
    public func url(pageFrom: String?) -> String {
        var query = [("page_size", String(configuration.pageSize))]
        for key in EscapeKitConfiguration.filterKeys {
            if let value = configuration.filters[key] { query.append((key, value)) }
        }
        if let pageFrom { query.append(("page_from", pageFrom)) }
        let allowed = CharacterSet.urlQueryAllowed.subtracting(CharacterSet(charactersIn: "&=+#?"))
        let text = query.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0.1)" }.joined(separator: "&")
        let base = configuration.apiURL
        if !base.contains("?") { return base + "?" + text }
        return base + (base.hasSuffix("?") || base.hasSuffix("&") ? "" : "&") + text
    }

    /// One authenticated GET; every status but 200 is an error (messages never hold the token,
    /// the URL or the body).
    private func get(_ url: String, now: Date) async throws(FeedError) -> HTTPResponse {
        let credential = configuration.authScheme.isEmpty ? configuration.token.value : "\(configuration.authScheme) \(configuration.token.value)"
        let request = HTTPRequest(url: url, headers: [(configuration.authHeader, credential), ("Accept", "application/json")])
        let response: HTTPResponse
        do {
            response = try await transport.execute(request)
        } catch {
            throw FeedError.transport("GET events: \(error)")
        }
        switch response.status {
        case 200:
            return response
        case 401, 403:
            throw FeedError.unauthorized(
                "GET events was refused (HTTP \(response.status)): check the token and auth_header/auth_scheme (\(configuration.authHeader))")
        case 429:
            throw FeedError.rateLimited(retryAfter: Self.retryAfter(response.header("Retry-After"), now: now) ?? Self.defaultRateLimitWait)
        default:
            throw FeedError.badStatus(response.status, "GET events failed")
        }
    }

    /// `Retry-After` cut to `maxRateLimitWait`; nil when absent or unreadable.
    public static func retryAfter(_ text: String?, now: Date) -> Duration? {
        text.flatMap { RetryAfter.parse($0, now: now) }.map { min($0, maxRateLimitWait) }
    }
}
