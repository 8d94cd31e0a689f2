import EventModel
import Foundation
import Logging
import Metrics

/// How one stream of a feed is doing.
public struct StreamStatus: Sendable {
    public var name: String
    public var lastPollAt: Date?
    public var lastSuccessAt: Date?
    public var lastError: String?
    /// The last error's `FeedError.kind`, and its HTTP status if it had one (nil once a poll succeeds).
    public var lastErrorKind: String?
    public var lastErrorStatus: Int?
    public var consecutiveFailures = 0
    public var nextPollAt: Date?
    /// The cursor as last committed (nil before the stream's first poll).
    public var cursor: TimelineCursor?
    public var pagesLastPoll = 0
    /// The newest new event's time minus the relay's clock, from the last poll that found any:
    /// far below zero, the platform's clock is behind the relay's (or it stores events late).
    public var clockOffset: Duration?
    /// `clockOffset` is beyond what polling explains (`FeedPoller.isSkewed`).
    public var skewed = false

    public init(name: String) { self.name = name }

    public var isBehind: Bool { cursor?.isBehind ?? false }
}

/// How a feed is doing, for the admin API, /healthz and /metrics.
public struct FeedStatus: Sendable {
    public var name: String
    public var source: String
    public var interval: Duration
    public var streams: [StreamStatus]
    /// New events read (an event read on two streams, or pushed too, counts once).
    public var eventsSeen = 0
    public var deliveriesQueued = 0
    /// A rate limit pauses every stream of the feed (they share one token) until then.
    public var pausedUntil: Date?
    /// The feed's own remarks on its setup (an interval its rate limit cannot honour).
    public var notes: [String] = []

    public var lastPollAt: Date? { streams.compactMap(\.lastPollAt).max() }
    public var lastSuccessAt: Date? { streams.compactMap(\.lastSuccessAt).max() }
    public var nextPollAt: Date? { streams.compactMap(\.nextPollAt).min() }
    public var consecutiveFailures: Int { streams.map(\.consecutiveFailures).max() ?? 0 }
    /// The first failing stream's error, prefixed with the stream.
    public var lastError: String? {
        streams.first { $0.lastError != nil }.map { "\($0.name): \($0.lastError ?? "")" }
    }
    public var failingStreams: [String] { streams.filter { $0.lastError != nil }.map(\.name) }
    public var behindStreams: [String] { streams.filter(\.isBehind).map(\.name) }
}

/// Runs one feed: polls each stream on its own schedule and hands what it read, with the stream's
/// new checkpoint, to the ingest pipeline (which dedupes, routes and commits them in one
/// transaction) before that stream's next poll.
///
/// Each stream backs off on its own: an app timeline answering 404 never delays the user
/// timeline. A rate limit (the platform's, shared by the feed's token) pauses all of them. A poll
/// that read some pages and then failed commits what it read; its cursor's backlog says where
/// the next poll resumes. A stream that is behind (events never read) is polled again after
/// `catchUpInterval`; a sweep that only looks again for late inserts goes on at the interval.
public final class FeedPoller: Sendable {
    public let feed: any EventFeed
    private let ingest: any EventIngest
    private let clock: WallClock
    private let logger: Logger
    private let status: LockedValue<FeedStatus>
    private let stopping = LockedValue(false)
    /// The streams' tasks, cancelled by `stop()` so a poll waiting on the platform ends at once.
    private let streamsTask = LockedValue<Task<Void, Never>?>(nil)
    /// One doorbell per stream (each stream's loop is its only waiter), and one for discovery.
    private let wakeups = LockedValue<[String: Wakeup]>([:])
    private let discoveryWakeup = Wakeup()
    /// Streams found after the feed started (an app created later): where their first poll
    /// starts, so what happened on them since the discovery before is delivered, not skipped.
    private let startFrom = LockedValue<[String: Date]>([:])
    private let catchUpInterval: Duration

    /// The checkpoint format this poller writes (version 0: the v1 store's horizon and seen ids).
    static let checkpointVersion = 1

    public init(
        feed: any EventFeed, ingest: any EventIngest, clock: WallClock = .system, catchUpInterval: Duration = .seconds(2),
        logger: Logger = Logger(label: "event-relay.feed")
    ) {
        self.feed = feed
        self.ingest = ingest
        self.clock = clock
        self.catchUpInterval = min(catchUpInterval, feed.interval)
        var logger = logger
        logger[metadataKey: "feed"] = .string(feed.name)
        self.logger = logger
        wakeups.value = Dictionary(feed.streams.map { ($0, Wakeup()) }, uniquingKeysWith: { first, _ in first })
        status = LockedValue(FeedStatus(
            name: feed.name, source: feed.source, interval: feed.interval, streams: feed.streams.map(StreamStatus.init(name:)),
            notes: feed.notes))
    }

    public var currentStatus: FeedStatus { status.value }

    /// Ends polling now: a poll in progress is interrupted (its requests cancelled) and commits
    /// what it had read; the next start resumes from there.
    public func stop() {
        stopping.value = true
        wakeups.value.values.forEach { $0.ring() }
        discoveryWakeup.ring()
        streamsTask.value?.cancel()
    }

    /// Makes every stream due now (`POST /v1/feeds/{id}/poll`), rate-limit pauses aside.
    public func pollNow() {
        let now = clock.now
        status.withValue { status in
            for index in status.streams.indices { status.streams[index].nextPollAt = now }
        }
        wakeups.value.values.forEach { $0.ring() }
    }

    /// Runs each stream on its own task: a timeline that hangs until its request times out, or
    /// fails and backs off, never holds up the others.
    public func run() async {
        logger.info("feed started", metadata: ["streams": "\(feed.streams.joined(separator: ", "))"])
        let start = clock.now
        status.withValue { status in
            for index in status.streams.indices { status.streams[index].nextPollAt = start }
        }
        let task = Task {
            await withDiscardingTaskGroup { group in
                for stream in feed.streams {
                    group.addTask { await self.runStream(stream) }
                }
                await discoverStreams(group: &group)
            }
        }
        streamsTask.value = task
        if stopping.value { task.cancel() }
        await withTaskCancellationHandler { await task.value } onCancel: { task.cancel() }
        logger.info("feed stopped")
    }

    /// For a feed whose streams come and go (Scalingo `apps: all`): asks the platform every
    /// `discoveryInterval`, starts a task for each new stream and ends the task of each one gone.
    private func discoverStreams(group: inout DiscardingTaskGroup) async {
        var waiter = discoveryWakeup.makeWaiter()
        var previous: Date?
        var failures = 0
        let started = clock.now
        while !stopping.value && !Task.isCancelled {
            let now = clock.now
            var wait = feed.discoveryInterval
            do {
                guard let found = try await feed.discoverStreams(now: now) else { return }
                // The first look failed: apps found later are read back to the feed's start.
                if previous == nil && failures > 0 { previous = started }
                failures = 0
                let (added, removed) = status.withValue { status -> ([String], [String]) in
                    let known = Set(status.streams.map(\.name))
                    let added = found.filter { !known.contains($0) }
                    let removed = status.streams.map(\.name).filter { !found.contains($0) }
                    status.streams.removeAll { removed.contains($0.name) }
                    status.streams += added.map { name in
                        var entry = StreamStatus(name: name)
                        entry.nextPollAt = now
                        return entry
                    }
                    return (added, removed)
                }
                if let previous {
                    // Found after the feed started: its first poll reads back to the discovery before.
                    startFrom.withValue { for stream in added { $0[stream] = previous.addingTimeInterval(-Self.discoveryMargin.timeInterval) } }
                }
                wakeups.withValue { wakeups in
                    for stream in added { wakeups[stream] = Wakeup() }
                    for stream in removed { wakeups.removeValue(forKey: stream)?.ring() }
                }
                for stream in added { group.addTask { await self.runStream(stream) } }
                if !added.isEmpty || !removed.isEmpty {
                    logger.notice("streams changed", metadata: ["added": "\(added.joined(separator: ", "))", "removed": "\(removed.joined(separator: ", "))"])
                }
                previous = now
            } catch {
                failures += 1
                wait = backoff(failures: failures, error: error)
                logger.warning("could not list the feed's streams; retrying later", metadata: ["error": "\(error)", "retry_in": "\(wait)"])
            }
            await waiter.wait(timeout: wait)
        }
    }

    /// How far before the previous discovery a newly found stream's first poll reads.
    static let discoveryMargin: Duration = .seconds(300)

    /// Whether `doorbell` is still the stream's: an app removed and found again gets a new one,
    /// so the loop of its first life ends instead of polling beside the new one.
    private func isActive(_ stream: String, _ doorbell: Wakeup) -> Bool { wakeups.value[stream] === doorbell }

    private func runStream(_ stream: String) async {
        guard let doorbell = wakeups.value[stream] else { return }
        var waiter = doorbell.makeWaiter()
        while !stopping.value && !Task.isCancelled && isActive(stream, doorbell) {
            let now = clock.now
            let due = status.withValue { status -> Date in
                let next = status.streams.first { $0.name == stream }?.nextPollAt ?? now
                return max(next, status.pausedUntil ?? next)
            }
            if due <= now {
                await poll(stream: stream)
                continue
            }
            await waiter.wait(timeout: .milliseconds(Int64(min(due.timeIntervalSince(now), 86400) * 1000) + 1))
        }
    }

    /// Failed polls wait interval × 2^(n-1), at most 5 minutes (or the interval, if longer); a
    /// rate limit waits as long as asked, at most an hour (60 s when the platform does not say).
    func backoff(failures: Int, error: FeedError?) -> Duration {
        if let error, error.isRateLimit {
            // A platform asking for more than an hour is not believed: the feed would stall for it.
            return max(min(error.retryAfter ?? .seconds(60), .seconds(3600)), feed.interval)
        }
        let cap = max(300, feed.interval.timeInterval)
        let seconds = min(cap, feed.interval.timeInterval * pow(2.0, Double(min(max(failures - 1, 0), 20))))
        return .milliseconds(Int64(seconds * 1000))
    }

    private func poll(stream: String) async {
        let key = "\(feed.name)/\(stream)"
        let now = clock.now
        updateStream(stream) { $0.lastPollAt = now }
        let failure: FeedError?
        do {
            failure = try await pollAndCommit(stream: stream, key: key, now: now)
        } catch {
            // The store failed: nothing of this poll was committed, and the cached cursor is unchanged.
            failure = FeedError.store("the store could not commit the poll: \(error)")
        }
        let finished = clock.now
        guard let failure else {
            let recovered = updateStream(stream) { entry -> Bool in
                let recovered = entry.lastError != nil
                entry.lastSuccessAt = now
                entry.lastError = nil
                entry.lastErrorKind = nil
                entry.lastErrorStatus = nil
                entry.consecutiveFailures = 0
                entry.nextPollAt = finished.addingTimeInterval((entry.isBehind ? catchUpInterval : feed.interval).timeInterval)
                return recovered
            }
            if recovered == true { logger.notice("stream recovered", metadata: ["stream": "\(stream)"]) }
            return
        }
        // Interrupted by stop(): what was read is committed; not a failure of the platform.
        if stopping.value { return }
        Counter(label: "event_relay_feed_poll_errors_total", dimensions: [("feed", feed.name)]).increment()
        guard let (failures, changed) = updateStream(stream, { entry -> (Int, Bool) in
            let changed = entry.lastError != failure.message
            entry.consecutiveFailures += 1
            entry.lastError = failure.message
            entry.lastErrorKind = failure.kind
            entry.lastErrorStatus = failure.status
            entry.nextPollAt = finished.addingTimeInterval(backoff(failures: entry.consecutiveFailures, error: failure).timeInterval)
            return (entry.consecutiveFailures, changed)
        }) else { return }
        let wait = backoff(failures: failures, error: failure)
        if failure.isRateLimit {
            status.withValue { $0.pausedUntil = finished.addingTimeInterval(wait.timeInterval) }
        }
        // State changes are logged once, not on every failed poll.
        let metadata: Logger.Metadata = [
            "stream": "\(stream)", "error": "\(failure)", "retry_in": "\(wait)", "failures": "\(failures)",
        ]
        if changed { logger.warning("stream poll failed; retrying later", metadata: metadata) } else { logger.debug("stream poll failed again", metadata: metadata) }
    }

    /// Reads the stream from its cursor and commits what it found; returns why it stopped early.
    private func pollAndCommit(stream: String, key: String, now: Date) async throws -> FeedError? {
        let cached = status.withValue { $0.streams.first { $0.name == stream }?.cursor }
        var cursor = cached
        if cursor == nil { cursor = try await loadCursor(key: key) }
        if cursor == nil, let start = startFrom.value[stream] {
            cursor = TimelineCursor(horizon: start)
        }
        let result = await feed.poll(stream: stream, cursor: cursor, now: now)
        guard let newCursor = result.cursor else { return result.failure }
        let encoded = try JSONEncoder().encode(newCursor)
        let batch = IngestBatch(
            events: result.events, checkpoint: (key, FeedCheckpoint(version: Self.checkpointVersion, data: Array(encoded))), now: now)
        // What was read is committed even when shutdown cancels the poll (in a wait for the
        // platform's rate limit, say): a task of its own does not inherit the cancellation.
        let ingest = self.ingest
        let outcome = try await Task { try await ingest.ingest(batch) }.value
        let wasBehind = cursor?.isBehind ?? false
        let skewed = result.clockOffset.map { Self.isSkewed($0, interval: feed.interval) }
        let skewChanged = updateStream(stream) { entry -> Bool in
            entry.cursor = newCursor
            entry.pagesLastPoll = result.pages
            guard let skewed else { return false }
            entry.clockOffset = result.clockOffset
            defer { entry.skewed = skewed }
            return entry.skewed != skewed
        } ?? false
        if let offset = result.clockOffset {
            Gauge(label: "event_relay_feed_clock_offset_seconds", dimensions: [("feed", feed.name)]).record(offset.timeInterval)
            if skewChanged, skewed == true {
                // Nothing is lost to it (the walk's lines follow the platform's clock), but times
                // shown and lateness windows are off by as much.
                logger.warning("platform clock skew: new events are stamped far from the relay's clock; they are kept", metadata: [
                    "stream": "\(stream)", "offset_seconds": "\(Int(offset.timeInterval.rounded()))",
                ])
            } else if skewChanged {
                logger.notice("platform clock back in line with the relay's", metadata: [
                    "stream": "\(stream)", "offset_seconds": "\(Int(offset.timeInterval.rounded()))",
                ])
            }
        }
        status.withValue {
            $0.eventsSeen += outcome.newEvents
            $0.deliveriesQueued += outcome.deliveries
        }
        Counter(label: "event_relay_feed_events_total", dimensions: [("feed", feed.name)]).increment(by: outcome.newEvents)
        Counter(label: "event_relay_deliveries_queued_total", dimensions: [("feed", feed.name)]).increment(by: outcome.deliveries)
        if result.malformed > 0 {
            logger.warning("skipped events without an id", metadata: ["stream": "\(stream)", "count": "\(result.malformed)"])
        }
        if let backlog = newCursor.backlog, newCursor.isBehind, !wasBehind {
            logger.warning("stream is behind: more is new than one poll reads; the next polls resume where this one stopped", metadata: [
                "stream": "\(stream)", "pages": "\(result.pages)", "reached": "\(Timestamp.format(backlog.reached))",
                "until": "\(Timestamp.format(backlog.lower))",
            ])
        } else if !newCursor.isBehind && wasBehind {
            logger.notice("stream caught up with its backlog", metadata: ["stream": "\(stream)"])
        }
        if cursor == nil {
            logger.info("stream started", metadata: [
                "stream": "\(stream)", "horizon": "\(Timestamp.format(newCursor.horizon))", "backfilled": "\(result.events.count)",
            ])
        } else if !result.events.isEmpty {
            logger.info("new events", metadata: [
                "stream": "\(stream)", "events": "\(outcome.newEvents)", "already_seen_elsewhere": "\(outcome.duplicates)",
                "deliveries": "\(outcome.deliveries)", "pages": "\(result.pages)",
            ])
        }
        return result.failure
    }

    /// New events stamped further behind the relay's clock than one interval and a minute (so not
    /// explained by the wait between polls), or more than a minute ahead of it.
    public static func isSkewed(_ offset: Duration, interval: Duration) -> Bool {
        offset > .seconds(60) || offset < .zero - interval - .seconds(60)
    }

    private func loadCursor(key: String) async throws -> TimelineCursor? {
        guard let checkpoint = try await ingest.checkpoint(stream: key) else { return nil }
        guard checkpoint.version <= Self.checkpointVersion else {
            throw CheckpointError("\(key): checkpoint version \(checkpoint.version) was written by a newer release")
        }
        do {
            // Version 0 (the v1 store's horizon and seen ids) is a subset of version 1.
            return try JSONDecoder().decode(TimelineCursor.self, from: Data(checkpoint.data))
        } catch {
            throw CheckpointError("\(key): unreadable checkpoint (\(error))")
        }
    }

    /// Changes a stream's status; nil when the stream is gone (an app deleted while it was polled:
    /// its last answer must not bring it back).
    @discardableResult
    private func updateStream<T>(_ stream: String, _ change: (inout StreamStatus) -> T) -> T? {
        status.withValue { status in
            guard let index = status.streams.firstIndex(where: { $0.name == stream }) else { return nil }
            return change(&status.streams[index])
        }
    }
}

/// A stored checkpoint this release cannot read.
struct CheckpointError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
