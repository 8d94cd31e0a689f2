import EventModel
import Foundation
import HTTPClient
import YAMLSupport

/// Scalingo's event timelines: the user's (`/v1/events`) and each configured app's
/// (`/v1/apps/{app}/events`). Each is a stream with its own cursor; an event seen on both is
/// delivered once (the outbox keeps one delivery per event and subscription).
public struct ScalingoFeed: EventFeed {
    public let configuration: ScalingoConfiguration
    private let transport: any HTTPTransport
    private let auth: ScalingoAuth
    private let sleep: @Sendable (Duration) async throws -> Void
    /// One allowance for every timeline of the feed: they share the token.
    private let budget: RequestBudget

    /// Rate limits met in the middle of a walk are waited out (this many times per request, each
    /// wait at most `maxRateLimitWait`), so a long catch-up makes progress instead of restarting.
    static let rateLimitWaits = 3
    static let maxRateLimitWait: Duration = .seconds(120)
    /// Scalingo's 429 may come without Retry-After; its limit is 60 requests a minute.
    static let defaultRateLimitWait: Duration = .seconds(20)

    /// `sleep` and `clock` are injected so tests can see the waits without taking them.
    public init(
        configuration: ScalingoConfiguration, transport: any HTTPTransport, clock: WallClock = .system,
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.configuration = configuration
        self.transport = transport
        self.sleep = sleep
        auth = ScalingoAuth(authURL: configuration.authURL, token: configuration.token, transport: transport)
        budget = RequestBudget(capacity: configuration.requestsPerMinute, per: .seconds(60), clock: clock, sleep: sleep)
    }

    public var notes: [String] {
        guard let fits = TokenBucket.intervalThatFits(
            streams: streams.count, interval: interval, capacity: configuration.requestsPerMinute, per: .seconds(60))
        else { return [] }
        return [
            "\(streams.count) timelines every \(DurationText.format(interval)) need more than the \(configuration.requestsPerMinute) requests a minute Scalingo allows a token: requests wait their turn, so each timeline is polled about every \(DurationText.format(fits))"
        ]
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

    /// Walks the stream newest first (see `TimelineWalk`): down past the last sweep's start minus
    /// the lateness window every poll, then on through any backlog an earlier walk could not
    /// finish. Events that arrive meanwhile only push older ones further down, so resuming at
    /// the same page number never skips one. A page token is `N` (page N at the server's default
    /// size) or `N/S` (page N of `per_page=S`); a token written with another page size is
    /// converted by offset, rounding down (a few events are read again, none skipped).
    public func poll(stream: String, cursor: TimelineCursor?, now: Date) async -> StreamPoll {
        let path = path(of: stream)
        return await TimelineWalk.run(
            cursor: cursor, now: now, lateness: configuration.lateness, maxPages: configuration.maxPages,
            backfill: .seconds(configuration.backfillHours * 3600)
        ) { request throws(FeedError) in
            var pageNumber = 1
            if case .token(let token) = request { pageNumber = try page(of: token) }
            let page = try await fetch(path: path, query: pageQuery(pageNumber), pageNumber: pageNumber, now: now)
            let next = page.events.isEmpty || page.pagination.isLast(page: pageNumber) ? nil : token(page: pageNumber + 1)
            return TimelinePage(events: page.events, next: next, malformed: page.malformed)
        }
    }

    public func token(page: Int) -> String {
        configuration.pageSize.map { "\(page)/\($0)" } ?? String(page)
    }

    public func page(of token: String) throws(FeedError) -> Int {
        let parts = token.split(separator: "/").map { Int($0) }
        guard (1...2).contains(parts.count), let page = parts[0], page >= 1, parts.count == 1 || (parts[1] ?? 0) >= 1 else {
            throw FeedError.badResponse("unreadable resume point \(token)")
        }
        let written = parts.count == 2 ? parts[1] : nil
        guard written != configuration.pageSize else { return page }
        let offset = (page - 1) * (written ?? ScalingoConfiguration.defaultPageSize)
        return offset / (configuration.pageSize ?? ScalingoConfiguration.defaultPageSize) + 1
    }

    private func pageQuery(_ page: Int) -> [(String, String)] {
        var query = [("page", String(page))]
        if let size = configuration.pageSize { query.append(("per_page", String(size))) }
        return query
    }

    /// One authenticated GET, renewing the bearer once on a 401 and waiting out rate limits.
    private func fetch(path: String, query: [(String, String)], pageNumber: Int, now: Date) async throws(FeedError) -> ScalingoDecoder.Page {
        let url = configuration.apiURL.trimmingTrailingSlash + path + "?" + query.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        var renewed = false
        var waits = 0
        while true {
            do {
                try await budget.acquire()
            } catch {
                throw FeedError.transport("GET \(path): cancelled while waiting for the request budget")
            }
            let bearer = try await auth.currentBearer(now: now)
            let request = HTTPRequest(url: url, headers: [("Authorization", "Bearer \(bearer)"), ("Accept", "application/json")])
            let response = try await ScalingoHTTP.execute(request, over: transport, what: "GET \(path)")
            switch response.status {
            case 200:
                return try ScalingoDecoder.page(response.body, feed: configuration.name, environment: configuration.environment, fetchedAt: now)
            case 404 where pageNumber > 1:
                // Past the last page some servers answer 404 rather than an empty list: the end, not an error.
                return ScalingoDecoder.Page(events: [], pagination: ScalingoDecoder.Pagination(), malformed: 0)
            case 401 where !renewed:
                renewed = true
                await auth.invalidate()
            case 401, 403:
                throw FeedError.unauthorized("GET \(path) was refused (HTTP \(response.status)) even with a fresh bearer")
            case 429 where waits < Self.rateLimitWaits:
                budget.drain()
                let failure = ScalingoHTTP.failure(response, what: "GET \(path)")
                let wait = failure.retryAfter ?? Self.defaultRateLimitWait
                guard wait <= Self.maxRateLimitWait else { throw failure }
                waits += 1
                do {
                    try await sleep(wait)
                } catch {
                    throw FeedError.transport("GET \(path): cancelled while waiting out a rate limit")
                }
            default:
                throw ScalingoHTTP.failure(response, what: "GET \(path)")
            }
        }
    }
}
