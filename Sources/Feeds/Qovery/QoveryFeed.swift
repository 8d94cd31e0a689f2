import EventModel
import Foundation
import HTTPClient

/// One Qovery organization's audit events, newest first, as one stream
/// (`organization/{organizationId}`, so pointing a feed at another organization starts afresh).
///
/// Paging is keyset: `links.next` carries a continue token (a nanosecond timestamp) and is
/// followed exactly as given, relative or absolute. That link is the page token handed to
/// `TimelineWalk`, so a backlog resumes with the very link Qovery gave. The walk decides what
/// is new (baseline, lateness sweeps for late inserts, the page limit, errors mid-walk).
public struct QoveryFeed: EventFeed {
    public let configuration: QoveryConfiguration
    private let transport: any HTTPTransport

    public init(configuration: QoveryConfiguration, transport: any HTTPTransport) {
        self.configuration = configuration
        self.transport = transport
    }

    public var name: String { configuration.name }
    public var source: String { QoveryFeedPlugin.kind }
    public var interval: Duration { configuration.interval }
    public var streams: [String] { ["organization/\(configuration.organizationID)"] }

    /// `/organization/{id}/events`.
    var path: String { "/organization/\(configuration.organizationID)/events" }

    private var what: String { "GET \(path)" }

    public func poll(stream: String, cursor: TimelineCursor?, now: Date) async -> StreamPoll {
        let backfill = Duration.seconds(configuration.backfillHours * 3600)
        // Backfilling a first start: the first page is also bounded by the API (`fromTimestamp`).
        let since = cursor == nil && backfill > .zero ? now.addingTimeInterval(-backfill.timeInterval) : nil
        return await TimelineWalk.run(
            cursor: cursor, now: now, lateness: configuration.lateness, maxPages: configuration.maxPages, backfill: backfill
        ) { request throws(FeedError) in
            let url: String
            switch request {
            case .first: url = firstPageURL(since: since)
            case .token(let link): url = try resolve(link)
            }
            let page = try await fetch(url: url, now: now)
            return TimelinePage(events: page.events, next: page.events.isEmpty ? nil : page.next, malformed: page.malformed)
        }
    }

    /// The newest page: `pageSize`, the configured filters and, on a backfilling first start, `fromTimestamp`.
    public func firstPageURL(since: Date? = nil) -> String {
        var query: [(String, String)] = []
        if let size = configuration.pageSize { query.append(("pageSize", String(size))) }
        query += configuration.filters.query
        if let since { query.append(("fromTimestamp", QoveryDecoder.nanoseconds(since))) }
        let base = Self.trimmingTrailingSlashes(configuration.apiURL) + path
        guard !query.isEmpty else { return base }
        return base + "?" + query.map { "\($0.0)=\(Self.escape($0.1))" }.joined(separator: "&")
    }

    /// `links.next` as a URL to request: an absolute link as it is, a relative one resolved
    /// against the API (RFC 3986). The token goes only where `api_url` points: a link to another
    /// scheme, host or port (Qovery's public host behind a proxy, or an `api_url` changed while a
    /// backlog was pending) keeps its path and query, exactly, on `api_url`.
    public func resolve(_ link: String) throws(FeedError) -> String {
        let api = Self.trimmingTrailingSlashes(configuration.apiURL)
        guard let base = URL(string: api + path) else { throw FeedError.badResponse("api_url is not a URL") }
        let isAbsolute = URLComponents(string: link)?.scheme != nil
        guard let url = isAbsolute ? URL(string: link) : URL(string: link, relativeTo: base)?.absoluteURL,
              let components = URLComponents(url: url, resolvingAgainstBaseURL: true)
        else { throw FeedError.badResponse("links.next is not a URL") }
        func origin(_ url: URL) -> String {
            let scheme = url.scheme?.lowercased() ?? ""
            let port = url.port ?? (scheme == "https" ? 443 : scheme == "http" ? 80 : -1)
            return "\(scheme)://\(url.host?.lowercased() ?? ""):\(port)"
        }
        if origin(url) == origin(base) { return isAbsolute ? link : url.absoluteString }
        return api + components.percentEncodedPath + (components.percentEncodedQuery.map { "?\($0)" } ?? "")
    }

    /// One authenticated GET of an events page.
    private func fetch(url: String, now: Date) async throws(FeedError) -> QoveryDecoder.Page {
        let request = HTTPRequest(url: url, headers: [
            ("Authorization", "\(configuration.authScheme.headerPrefix) \(configuration.token.value)"), ("Accept", "application/json"),
        ])
        let response = try await QoveryHTTP.execute(request, over: transport, what: what)
        guard response.status == 200 else { throw QoveryHTTP.failure(response, what: what, scheme: configuration.authScheme, now: now) }
        return try QoveryDecoder.page(response.body, feed: configuration.name, environment: configuration.environment, fetchedAt: now)
    }

    static func trimmingTrailingSlashes(_ text: String) -> String {
        var text = text
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }

    /// A query value, percent-encoded (filters are free text: `triggeredBy` may hold spaces or `&`).
    static func escape(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: CharacterSet.urlQueryAllowed.subtracting(CharacterSet(charactersIn: "&=+?#"))) ?? value
    }
}
