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

    /// The user timeline and the configured apps' (with `apps: all`, the apps come from discovery).
    public var streams: [String] {
        (configuration.userEvents ? ["events"] : []) + (configuration.allApps ? [] : configuration.apps.map { "apps/\($0)" })
    }

    public var discoveryInterval: Duration { configuration.appsRefresh }

    /// With `apps: all`: the user timeline and every app the token can see now (`GET /v1/apps`).
    public func discoverStreams(now: Date) async throws(FeedError) -> [String]? {
        guard configuration.allApps else { return nil }
        var apps: [String] = []
        var page = 1
        while page <= 100 {
            let body = try await get(path: "/v1/apps", query: [("page", String(page)), ("per_page", "100")], now: now)
            let document: JSONValue
            do {
                document = try JSONValue.parse(body)
            } catch {
                throw FeedError.badResponse("GET /v1/apps: not JSON (\(error))")
            }
            guard let list = document["apps"]?.arrayValue else { throw FeedError.badResponse("GET /v1/apps: no \"apps\" list") }
            apps += list.compactMap { $0["name"]?.scalarText }.filter { !$0.isEmpty && !$0.contains("/") }
            let pagination = ScalingoDecoder.pagination(document["meta"]?["pagination"])
            guard !list.isEmpty, pagination.nextPage != nil || pagination.totalPages != nil, !pagination.isLast(page: page) else { break }
            page += 1
        }
        return streams + Array(Set(apps)).sorted().map { "apps/\($0)" }
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
        var result = await TimelineWalk.run(
            cursor: cursor, now: now, lateness: configuration.lateness, maxPages: configuration.maxPages,
            backfill: .seconds(configuration.backfillHours * 3600)
        ) { request throws(FeedError) in
            var pageNumber = 1
            if case .token(let token) = request { pageNumber = try page(of: token) }
            let page = try await fetch(path: path, query: pageQuery(pageNumber), pageNumber: pageNumber, now: now)
            let next = page.events.isEmpty || page.pagination.isLast(page: pageNumber) ? nil : token(page: pageNumber + 1)
            return TimelinePage(events: page.events, next: next, malformed: page.malformed)
        }
        if configuration.auditLogs {
            for index in result.events.indices where result.events[index].type == "run" {
                result.events[index].details = await auditLogDetails(for: result.events[index], now: now)
            }
        }
        return result
    }

    /// `{"audit_log": {"id", "excerpt", "truncated", "entries"}}`, or the reason it could not be read
    /// (the event is delivered either way: a one-off still running may have no log yet).
    func auditLogDetails(for event: Event, now: Date) async -> JSONValue? {
        guard let id = event.raw["type_data"]?["audit_log_id"]?.scalarText, !id.isEmpty, let app = event.app else { return nil }
        let allowed = CharacterSet.urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))
        let path = "/v1/apps/\(app.addingPercentEncoding(withAllowedCharacters: allowed) ?? app)/audit_logs/\(id.addingPercentEncoding(withAllowedCharacters: allowed) ?? id)"
        var details: [String: JSONValue] = ["id": .string(id)]
        do {
            let body = try await get(path: path, query: [], now: now)
            let excerpt = ScalingoAuditLog.excerpt(try JSONValue.parse(body), limit: configuration.auditLogExcerptBytes)
            details["excerpt"] = .string(excerpt.text)
            details["truncated"] = .bool(excerpt.truncated)
            details["entries"] = .integer(Int64(excerpt.entries))
        } catch {
            details["error"] = .string("the audit log could not be read: \(error)")
        }
        var merged = event.details?.objectValue ?? [:]
        merged["audit_log"] = .object(details)
        return .object(merged)
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

    /// One events page; past the last page some servers answer 404 rather than an empty list: the end, not an error.
    private func fetch(path: String, query: [(String, String)], pageNumber: Int, now: Date) async throws(FeedError) -> ScalingoDecoder.Page {
        do {
            let body = try await get(path: path, query: query, now: now)
            var page = try ScalingoDecoder.page(body, feed: configuration.name, environment: configuration.environment, fetchedAt: now)
            for index in page.events.indices {
                page.events[index] = ScalingoConfiguration.withDashboardLink(page.events[index], apiURL: configuration.apiURL)
            }
            return page
        } catch let error where error.status == 404 && pageNumber > 1 {
            return ScalingoDecoder.Page(events: [], pagination: ScalingoDecoder.Pagination(), malformed: 0)
        }
    }

    /// One authenticated GET, renewing the bearer once on a 401 and waiting out rate limits.
    private func get(path: String, query: [(String, String)], now: Date) async throws(FeedError) -> [UInt8] {
        let url = configuration.apiURL.trimmingTrailingSlash + path + (query.isEmpty ? "" : "?" + query.map { "\($0.0)=\($0.1)" }.joined(separator: "&"))
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
                return response.body
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
