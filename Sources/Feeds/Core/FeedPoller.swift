import EventModel
import Foundation
import Logging
import Metrics
import Rules
import Store

/// How a feed is doing, for the admin API and /metrics.
public struct FeedStatus: Sendable {
    public var name: String
    public var source: String
    public var streams: [String]
    public var interval: Duration
    public var lastPollAt: Date?
    public var lastSuccessAt: Date?
    public var lastError: String?
    public var consecutiveFailures: Int
    public var eventsSeen: Int
    public var deliveriesQueued: Int
    public var nextPollAt: Date?
}

/// Runs one feed: polls each stream on the feed's interval, routes new events through the rules,
/// and commits — cursor, events and deliveries in one transaction — before the next poll.
/// Failures back off exponentially (honouring a platform's Retry-After); nothing is committed
/// from a failed poll, so nothing is lost or skipped.
public final class FeedPoller: Sendable {
    public let feed: any EventFeed
    private let store: any RelayStore
    private let catalog: SubscriptionCatalog
    private let onDeliveries: @Sendable () -> Void
    private let clock: WallClock
    private let logger: Logger
    private let status: LockedValue<FeedStatus>
    private let stopping = LockedValue(false)
    private let wakeup = Wakeup()
    /// Each stream's cursor as last committed. This poller is the store's only writer for its
    /// streams (one relay per data directory), so the store is read once per stream, at start.
    private let cursors = LockedValue<[String: FeedCursor]>([:])

    public init(
        feed: any EventFeed, store: any RelayStore, catalog: SubscriptionCatalog, clock: WallClock = .system,
        logger: Logger = Logger(label: "event-relay.feed"), onDeliveries: @escaping @Sendable () -> Void = {}
    ) {
        self.feed = feed
        self.store = store
        self.catalog = catalog
        self.clock = clock
        var logger = logger
        logger[metadataKey: "feed"] = .string(feed.name)
        self.logger = logger
        self.onDeliveries = onDeliveries
        status = LockedValue(FeedStatus(
            name: feed.name, source: feed.source, streams: feed.streams, interval: feed.interval, consecutiveFailures: 0,
            eventsSeen: 0, deliveriesQueued: 0))
    }

    public var currentStatus: FeedStatus { status.value }

    /// Ends the loop after the poll in progress (if any) has committed.
    public func stop() {
        stopping.value = true
        wakeup.ring()
    }

    public func run() async {
        logger.info("feed started", metadata: ["streams": "\(feed.streams.joined(separator: ", "))"])
        var failures = 0
        var waiter = wakeup.makeWaiter()
        while !stopping.value && !Task.isCancelled {
            var wait = feed.interval
            do {
                try await pollOnce()
                failures = 0
            } catch let error as FeedError {
                failures += 1
                wait = backoff(failures: failures, error: error)
                logger.warning("poll failed; retrying later", metadata: [
                    "error": "\(error)", "retry_in": "\(wait)", "failures": "\(failures)",
                ])
            } catch {
                failures += 1
                wait = backoff(failures: failures, error: nil)
                logger.error("poll failed; retrying later", metadata: ["error": "\(error)", "retry_in": "\(wait)"])
            }
            let next = clock.now.addingTimeInterval(wait.timeInterval)
            status.withValue { $0.nextPollAt = next }
            await waiter.wait(timeout: wait)
        }
        logger.info("feed stopped")
    }

    /// Failed polls wait interval × 2^(n-1), at most 5 minutes (or the interval, if longer); a
    /// rate limit waits as long as asked (at least 60 s when the platform does not say).
    func backoff(failures: Int, error: FeedError?) -> Duration {
        if let error, error.isRateLimit {
            return max(error.retryAfter ?? .seconds(60), feed.interval)
        }
        let cap = max(300, feed.interval.timeInterval)
        let seconds = min(cap, feed.interval.timeInterval * pow(2.0, Double(min(max(failures - 1, 0), 20))))
        return .milliseconds(Int64(seconds * 1000))
    }

    /// Polls every stream once and commits what each found. Throws the first stream's error after
    /// trying them all (one broken app feed does not stop the others).
    public func pollOnce() async throws {
        let started = clock.now
        status.withValue { $0.lastPollAt = started }
        var firstError: (any Error)?
        for stream in feed.streams {
            do {
                try await poll(stream: stream)
            } catch {
                Counter(label: "event_relay_feed_poll_errors_total", dimensions: [("feed", feed.name)]).increment()
                if firstError == nil { firstError = error }
            }
        }
        if let firstError {
            status.withValue {
                $0.lastError = "\(firstError)"
                $0.consecutiveFailures += 1
            }
            throw firstError
        }
        status.withValue {
            $0.lastSuccessAt = started
            $0.lastError = nil
            $0.consecutiveFailures = 0
        }
    }

    private func poll(stream: String) async throws {
        let key = "\(feed.name)/\(stream)"
        let now = clock.now
        let cached = cursors.value[key]
        let cursor = cached != nil ? cached : try await store.loadCursor(feed: key)
        let result = try await feed.poll(stream: stream, cursor: cursor, now: now)
        let router = catalog.router
        var deliveries: [NewDelivery] = []
        var routed: [Event] = []
        for event in result.events {
            let matches = router.route(event)
            guard !matches.isEmpty else { continue }
            routed.append(event)
            for match in matches {
                deliveries.append(NewDelivery(
                    id: Identifier.make(prefix: "dlv", now: now), eventKey: event.key, subscriptionID: match.subscriptionID,
                    matchedBy: match.matchedBy))
            }
        }
        try await store.commitPoll(PollCommit(
            feed: key, horizon: result.cursor.horizon, newlySeen: result.newlySeen, events: routed, deliveries: deliveries, now: now))
        cursors.withValue { $0[key] = result.cursor }
        Counter(label: "event_relay_feed_events_total", dimensions: [("feed", feed.name)]).increment(by: result.events.count)
        Counter(label: "event_relay_deliveries_queued_total", dimensions: [("feed", feed.name)]).increment(by: deliveries.count)
        if result.truncated {
            logger.warning("stopped at the page limit with new events still coming; older ones on this stream will not be read (raise max_pages)", metadata: [
                "stream": "\(stream)", "pages": "\(result.pages)",
            ])
        }
        if result.malformed > 0 {
            logger.warning("skipped events without an id", metadata: ["stream": "\(stream)", "count": "\(result.malformed)"])
        }
        status.withValue {
            $0.eventsSeen += result.events.count
            $0.deliveriesQueued += deliveries.count
        }
        if cursor == nil {
            logger.info("stream baseline set", metadata: [
                "stream": "\(stream)", "horizon": "\(Timestamp.format(result.cursor.horizon))", "backfilled": "\(result.events.count)",
            ])
        } else if !result.events.isEmpty {
            logger.info("new events", metadata: [
                "stream": "\(stream)", "events": "\(result.events.count)", "deliveries": "\(deliveries.count)", "pages": "\(result.pages)",
            ])
        }
        if !deliveries.isEmpty { onDeliveries() }
    }
}
