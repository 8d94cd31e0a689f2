import EventModel
import Foundation

/// One platform feed (one folder under Feeds/ per platform). A feed reads one or more streams
/// (Scalingo: the user timeline and each app's events); each stream has its own durable cursor.
/// The generic `FeedPoller` does the rest: routing, the outbox, the schedule, status.
public protocol EventFeed: Sendable {
    /// The configured feed name; checkpoints are stored as `<name>/<stream>`.
    var name: String { get }
    /// The platform: `scalingo`, …
    var source: String { get }
    var streams: [String] { get }
    var interval: Duration { get }
    /// Reads what is new on `stream` since `cursor` (nil: the stream's first start). Never throws:
    /// a failure after some pages were read returns them with `failure` set and the rest as the
    /// cursor's backlog, so the next poll resumes where this one stopped.
    func poll(stream: String, cursor: TimelineCursor?, now: Date) async -> StreamPoll
    /// What an operator should know about how the feed is set up (shown in `GET /v1/feeds`):
    /// an interval the platform's rate limit cannot honour, say.
    var notes: [String] { get }
    /// For a feed whose streams come and go (Scalingo `apps: all`): the streams now, all of them;
    /// nil for a feed whose streams are fixed. Asked every `discoveryInterval`.
    func discoverStreams(now: Date) async throws(FeedError) -> [String]?
    var discoveryInterval: Duration { get }
}

extension EventFeed {
    public var notes: [String] { [] }
    public func discoverStreams(now: Date) async throws(FeedError) -> [String]? { nil }
    public var discoveryInterval: Duration { .seconds(300) }
}

/// What one poll of one stream found.
public struct StreamPoll: Sendable {
    /// The cursor after this poll; nil when nothing was read (the first page failed).
    public var cursor: TimelineCursor?
    /// New events to route, oldest first.
    public var events: [Event]
    public var pages: Int
    /// Events the feed could not read (no id): counted and logged, not routable.
    public var malformed: Int
    /// Why the poll stopped early, if it did.
    public var failure: FeedError?
    /// The newest new event's time minus the relay's clock when it was read (see
    /// `TimelineWalk.clockOffset`); nil when nothing new was read.
    public var clockOffset: Duration?

    public init(
        cursor: TimelineCursor?, events: [Event], pages: Int, malformed: Int = 0, failure: FeedError? = nil, clockOffset: Duration? = nil
    ) {
        self.cursor = cursor
        self.events = events
        self.pages = pages
        self.malformed = malformed
        self.failure = failure
        self.clockOffset = clockOffset
    }
}

/// One page as a feed read it: events newest first, the token of the next page (nil: the last).
public struct TimelinePage: Sendable {
    public var events: [Event]
    public var next: String?
    public var malformed: Int
    /// The platform has no next-page marker and the page was short: perhaps the last one (a
    /// server may cap pages below the size asked for). `TimelineWalk.receive` decides.
    public var mayBeLast: Bool

    public init(events: [Event], next: String?, malformed: Int = 0, mayBeLast: Bool = false) {
        self.events = events
        self.next = next
        self.malformed = malformed
        self.mayBeLast = mayBeLast
    }
}

extension TimelineWalk {
    /// Runs a walk to its end with the feed's page fetcher: the one loop every timeline feed shares.
    public static func run(
        cursor: TimelineCursor?, now: Date, lateness: Duration, maxPages: Int, backfill: Duration = .zero, order: Order = .byTime,
        isBelow: @escaping IDOrder = byteOrder,
        fetch: (Request) async throws(FeedError) -> TimelinePage
    ) async -> StreamPoll {
        var walk = TimelineWalk(
            cursor: cursor, now: now, lateness: lateness, maxPages: maxPages, backfill: backfill, order: order, isBelow: isBelow)
        var events: [Event] = []
        var malformed = 0
        var step = walk.firstStep
        while case .fetch(let request) = step {
            let page: TimelinePage
            do {
                page = try await fetch(request)
            } catch {
                walk.interrupted(at: request)
                return StreamPoll(
                    cursor: walk.pages == 0 ? nil : walk.cursor, events: events.sorted { $0.time < $1.time }, pages: walk.pages,
                    malformed: malformed, failure: error, clockOffset: walk.clockOffset)
            }
            malformed += page.malformed
            let (new, next) = walk.receive(page.events.map { ($0.id, $0.time) }, next: page.next, mayBeLast: page.mayBeLast)
            events.append(contentsOf: new.map { page.events[$0] })
            step = next
        }
        return StreamPoll(
            cursor: walk.cursor, events: events.sorted { $0.time < $1.time }, pages: walk.pages, malformed: malformed,
            clockOffset: walk.clockOffset)
    }
}

/// Why a poll failed. A struct over a private code; every message is safe to log (no tokens).
public struct FeedError: Error, Sendable, CustomStringConvertible {
    private enum Code: String, Sendable {
        case unauthorized
        case rateLimited = "rate_limited"
        case badStatus = "http_status"
        case badResponse = "bad_response"
        case transport
        case store
    }
    private let code: Code
    public let message: String
    /// For rate limits: how long the platform asked us to wait.
    public let retryAfter: Duration?
    /// The HTTP status of an unexpected answer.
    public let status: Int?

    private init(_ code: Code, _ message: String, retryAfter: Duration? = nil, status: Int? = nil) {
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
        self.status = status
    }

    public static func unauthorized(_ message: String) -> FeedError { FeedError(.unauthorized, message) }
    public static func rateLimited(retryAfter: Duration?) -> FeedError {
        FeedError(.rateLimited, "rate limited by the platform (429)", retryAfter: retryAfter)
    }
    public static func badStatus(_ status: Int, _ detail: String) -> FeedError { FeedError(.badStatus, "HTTP \(status): \(detail)", status: status) }
    public static func badResponse(_ message: String) -> FeedError { FeedError(.badResponse, message) }
    public static func transport(_ message: String) -> FeedError { FeedError(.transport, message) }
    /// The relay's own store failed to commit what was read.
    public static func store(_ message: String) -> FeedError { FeedError(.store, message) }

    /// What kind of failure, in one bounded word (`unauthorized`, `rate_limited`, `http_status`,
    /// `bad_response`, `transport`, `store`): never the message, so it may be shown to anyone.
    public var kind: String { code.rawValue }

    public var isRateLimit: Bool { code == .rateLimited }
    public var isUnauthorized: Bool { code == .unauthorized }
    public var description: String { message }
}

extension Array where Element == JSONValue {
    /// Each item read by `read`; those it cannot read (no id, not an object) are counted, not
    /// dropped silently and never fatal to the page.
    public func decodeEach<T>(_ read: (JSONValue) -> T?) -> (decoded: [T], malformed: Int) {
        var decoded: [T] = []
        var malformed = 0
        for item in self {
            if let value = read(item) { decoded.append(value) } else { malformed += 1 }
        }
        return (decoded, malformed)
    }
}
