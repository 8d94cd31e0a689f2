import EventModel
import Foundation
import HTTPClient

/// Scalingo's event timelines: the user's (`/v1/events`) and each configured app's
/// (`/v1/apps/{app}/events`). Each is a stream with its own cursor; an event seen on both is
/// delivered once (the outbox keeps one delivery per event and subscription).
public struct ScalingoFeed: EventFeed {
    public let configuration: ScalingoConfiguration
    private let transport: any HTTPTransport
    private let auth: ScalingoAuth
    private let sleep: @Sendable (Duration) async throws -> Void

    /// Rate limits met in the middle of a walk are waited out (this many times per request, each
    /// wait at most `maxRateLimitWait`), so a long catch-up makes progress instead of restarting.
    static let rateLimitWaits = 3
    static let maxRateLimitWait: Duration = .seconds(120)
    /// Scalingo's 429 may come without Retry-After; its limit is 60 requests a minute.
    static let defaultRateLimitWait: Duration = .seconds(20)

    /// `sleep` is injected so tests can see the waits without taking them.
    public init(
        configuration: ScalingoConfiguration, transport: any HTTPTransport,
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.configuration = configuration
        self.transport = transport
        self.sleep = sleep
        auth = ScalingoAuth(authURL: configuration.authURL, token: configuration.token, transport: transport)
    }

    public var name: String { configuration.name }
    public var source: String { "scalingo" }
    public var interval: Duration { configuration.interval }

    public var streams: [String] {
        (configuration.userEvents ? ["events"] : []) + configuration.apps.map { "apps/\($0)" }
    }

    private func path(of stream: String) -> String {
        if stream == "events" { return "/v1/events" }
        let app = String(stream.dropFirst("apps/".count))
        let escaped = app.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? app
        return "/v1/apps/\(escaped)/events"
    }

    public func poll(stream: String, cursor: FeedCursor?, now: Date) async throws -> StreamPoll {
        let path = path(of: stream)
        guard let cursor else { return try await firstPoll(path: path, now: now) }
        var working = cursor
        var newEvents: [Event] = []
        var newlySeen: [(id: String, time: Date)] = []
        var malformed = 0
        var pageNumber = 1
        var truncated = false
        while true {
            let page = try await fetch(path: path, query: pageQuery(pageNumber), pageNumber: pageNumber, now: now)
            malformed += page.malformed
            let outcome = PageScan.scan(
                page: page.events.map { ($0.id, $0.time) }, pageNumber: pageNumber, pagination: page.pagination,
                cursor: &working, maxPages: configuration.maxPages)
            for index in outcome.newIndices {
                newEvents.append(page.events[index])
                newlySeen.append((page.events[index].id, page.events[index].time))
            }
            truncated = outcome.hitPageLimit
            guard outcome.readNextPage else { break }
            pageNumber += 1
        }
        working.advance(overlap: configuration.overlap)
        return StreamPoll(
            cursor: working, newlySeen: newlySeen, events: newEvents.sorted { $0.time < $1.time }, pages: pageNumber,
            malformed: malformed, truncated: truncated)
    }

    /// First start: the newest page becomes the baseline, so nothing old is sent; or, with a
    /// backfill window, the events of the last N hours are new.
    private func firstPoll(path: String, now: Date) async throws -> StreamPoll {
        if configuration.backfillHours > 0 {
            let page = try await fetch(path: path, query: [("from", String(configuration.backfillHours))], pageNumber: 1, now: now)
            var cursor = FeedCursor(horizon: now.addingTimeInterval(-Double(configuration.backfillHours) * 3600))
            var events: [Event] = []
            for event in page.events where cursor.classify(id: event.id, time: event.time) == .new {
                cursor.markSeen(id: event.id, time: event.time)
                events.append(event)
            }
            let seen = events.map { (id: $0.id, time: $0.time) }
            return StreamPoll(cursor: cursor, newlySeen: seen, events: events.sorted { $0.time < $1.time }, pages: 1, malformed: page.malformed)
        }
        let page = try await fetch(path: path, query: pageQuery(1), pageNumber: 1, now: now)
        let items = page.events.map { (id: $0.id, time: $0.time) }
        let cursor = PageScan.baseline(page: items, now: now, overlap: configuration.overlap)
        return StreamPoll(cursor: cursor, newlySeen: items, events: [], pages: 1, malformed: page.malformed)
    }

    private func pageQuery(_ page: Int) -> [(String, String)] {
        var query = [("page", String(page))]
        if let size = configuration.pageSize { query.append(("per_page", String(size))) }
        return query
    }

    /// One authenticated GET, renewing the bearer once on a 401 and waiting out rate limits.
    private func fetch(path: String, query: [(String, String)], pageNumber: Int, now: Date) async throws -> ScalingoDecoder.Page {
        let url = configuration.apiURL.trimmingTrailingSlash + path + "?" + query.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        var renewed = false
        var waits = 0
        while true {
            let bearer = try await auth.currentBearer(now: now)
            let request = HTTPRequest(url: url, headers: [("Authorization", "Bearer \(bearer)"), ("Accept", "application/json")])
            let response = try await ScalingoHTTP.execute(request, over: transport, what: "GET \(path)")
            switch response.status {
            case 200:
                return try ScalingoDecoder.page(response.body, feed: configuration.name, environment: configuration.environment, fetchedAt: now)
            case 404 where pageNumber > 1:
                // Past the last page some servers answer 404 rather than an empty list: the end, not an error.
                return ScalingoDecoder.Page(events: [], pagination: Pagination(), malformed: 0)
            case 401 where !renewed:
                renewed = true
                await auth.invalidate()
            case 401, 403:
                throw FeedError.unauthorized("GET \(path) was refused (HTTP \(response.status)) even with a fresh bearer")
            case 429 where waits < Self.rateLimitWaits:
                let failure = ScalingoHTTP.failure(response, what: "GET \(path)")
                let wait = failure.retryAfter ?? Self.defaultRateLimitWait
                guard wait <= Self.maxRateLimitWait else { throw failure }
                waits += 1
                try await sleep(wait)
            default:
                throw ScalingoHTTP.failure(response, what: "GET \(path)")
            }
        }
    }
}
