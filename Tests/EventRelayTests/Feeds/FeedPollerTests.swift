import EventModel
import Feeds
import Foundation
import Testing

/// The poller alone, with a scripted feed and a recording ingest.
@Suite("Feed poller")
struct FeedPollerTests {
    /// A feed whose poll reads one event, then waits (for a rate limit, say) until cancelled, and
    /// returns what it read with the interruption.
    struct WaitingFeed: EventFeed {
        let entered: LockedValue<Bool>
        var name: String { "waiting" }
        var source: String { "test" }
        var streams: [String] { ["only"] }
        var interval: Duration { .seconds(3600) }

        func poll(stream: String, cursor: TimelineCursor?, now: Date) async -> StreamPoll {
            entered.value = true
            try? await Task.sleep(for: .seconds(3600))
            let event = Event(source: "test", feed: name, id: "read-before-the-wait", type: "x", time: now, raw: .object([:]))
            return StreamPoll(cursor: TimelineCursor(horizon: now), events: [event], pages: 1, failure: .transport("cancelled while waiting"))
        }
    }

    /// Refuses work from a cancelled task, as a database pool does.
    final class CancellableIngest: EventIngest, @unchecked Sendable {
        private let lock = NSLock()
        private var batches: [IngestBatch] = []
        var ingested: [IngestBatch] { lock.withLock { batches } }

        func checkpoint(stream: String) async throws -> FeedCheckpoint? { nil }

        func ingest(_ batch: IngestBatch) async throws -> IngestResult {
            try Task.checkCancellation()
            lock.withLock { batches.append(batch) }
            return IngestResult(newEvents: batch.events.count, duplicates: 0, deliveries: 0)
        }
    }

    /// stop() (graceful shutdown) interrupts a poll waiting on the platform at once, and what it
    /// had read is committed although its task is cancelled.
    @Test func stopInterruptsAWaitingPollAndWhatItReadIsCommitted() async throws {
        let entered = LockedValue(false)
        let ingest = CancellableIngest()
        let poller = FeedPoller(feed: WaitingFeed(entered: entered), ingest: ingest)
        let running = Task { await poller.run() }
        #expect(try await eventually { entered.value })
        poller.stop()
        await running.value
        let batch = try #require(ingest.ingested.first)
        #expect(batch.events.map(\.id) == ["read-before-the-wait"])
        #expect(batch.checkpoint?.stream == "waiting/only")
    }

    /// A platform answering 429 with an absurd Retry-After.
    struct RateLimitedFeed: EventFeed {
        var name: String { "limited" }
        var source: String { "test" }
        var streams: [String] { ["only"] }
        var interval: Duration { .seconds(30) }

        func poll(stream: String, cursor: TimelineCursor?, now: Date) async -> StreamPoll {
            StreamPoll(cursor: nil, events: [], pages: 0, failure: .rateLimited(retryAfter: .seconds(10 * 365 * 86400)))
        }
    }

    @Test func aRateLimitAskingForYearsPausesTheFeedForAnHourAtMost() async throws {
        let poller = FeedPoller(feed: RateLimitedFeed(), ingest: CancellableIngest())
        let running = Task { await poller.run() }
        #expect(try await eventually { poller.currentStatus.consecutiveFailures >= 1 })
        let status = poller.currentStatus
        let paused = try #require(status.pausedUntil)
        #expect(paused.timeIntervalSinceNow <= 3600 + 5 && paused.timeIntervalSinceNow > 3500, "\(paused)")
        poller.stop()
        await running.value
    }
}
