import EventModel
import Foundation

/// One platform feed (one folder under Feeds/ per platform). A feed reads one or more streams
/// (Scalingo: the user timeline and each app's events); each stream has its own durable cursor.
/// The generic `FeedPoller` does the rest: routing, the outbox, the schedule, status.
public protocol EventFeed: Sendable {
    /// The configured feed name; cursors are stored as `<name>/<stream>`.
    var name: String { get }
    /// The platform: `scalingo`, …
    var source: String { get }
    var streams: [String] { get }
    var interval: Duration { get }
    /// Reads what is new on `stream` since `cursor` (nil: the feed's first start, which sets a
    /// baseline). Throws `FeedError`; on error nothing is committed.
    func poll(stream: String, cursor: FeedCursor?, now: Date) async throws -> StreamPoll
}

/// What one poll of one stream found.
public struct StreamPoll: Sendable {
    /// The cursor after this poll (horizon advanced, new ids marked seen).
    public var cursor: FeedCursor
    /// Ids this poll marked seen (to persist).
    public var newlySeen: [(id: String, time: Date)]
    /// New events to route, oldest first.
    public var events: [Event]
    public var pages: Int
    /// Events the feed could not read (no id): counted and logged, not routable.
    public var malformed: Int
    /// The walk stopped at the page limit with news still coming: older unseen events were not read.
    public var truncated: Bool

    public init(
        cursor: FeedCursor, newlySeen: [(id: String, time: Date)], events: [Event], pages: Int, malformed: Int = 0,
        truncated: Bool = false
    ) {
        self.cursor = cursor
        self.newlySeen = newlySeen
        self.events = events
        self.pages = pages
        self.malformed = malformed
        self.truncated = truncated
    }
}

/// Why a poll failed. A struct over a private code; every message is safe to log (no tokens).
public struct FeedError: Error, Sendable, CustomStringConvertible {
    private enum Code: Sendable { case unauthorized, rateLimited, badStatus, badResponse, transport }
    private let code: Code
    public let message: String
    /// For rate limits: how long the platform asked us to wait.
    public let retryAfter: Duration?

    private init(_ code: Code, _ message: String, retryAfter: Duration? = nil) {
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
    }

    public static func unauthorized(_ message: String) -> FeedError { FeedError(.unauthorized, message) }
    public static func rateLimited(retryAfter: Duration?) -> FeedError {
        FeedError(.rateLimited, "rate limited by the platform (429)", retryAfter: retryAfter)
    }
    public static func badStatus(_ status: Int, _ detail: String) -> FeedError { FeedError(.badStatus, "HTTP \(status): \(detail)") }
    public static func badResponse(_ message: String) -> FeedError { FeedError(.badResponse, message) }
    public static func transport(_ message: String) -> FeedError { FeedError(.transport, message) }

    public var isRateLimit: Bool { code == .rateLimited }
    public var isUnauthorized: Bool { code == .unauthorized }
    public var description: String { message }
}
