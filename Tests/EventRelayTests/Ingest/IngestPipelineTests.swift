import EventModel
import Foundation
import Sinks
import GRDB
import Ingest
import Rules
import SQLiteStore
import Store
import Testing

/// The ingest pipeline on a real SQLite file: stages, dedupe across streams, feeds and push,
/// outbox and checkpoint in one transaction.
@Suite("Ingest pipeline")
struct IngestPipelineTests {
    static let t0 = Date(timeIntervalSince1970: 1_700_000_000)

    static func catalog() -> SubscriptionCatalog {
        let ops = Subscription.slack("ops", url: "https://hooks.slack.test/x", origin: .rules)
        let rules = [Rule(name: "locks", filter: EventFilter(types: ["login_lock"]), subscriptionIDs: ["ops"])]
        return SubscriptionCatalog(ruleSet: RuleSet(rules: rules, subscriptions: [ops], files: []))
    }

    static func event(_ id: String, type: String = "login_lock", feed: String = "scalingo", source: String = "scalingo") -> Event {
        Fixtures.event(type: type, source: source, id: id, time: t0)
    }

    /// Counts how often it is woken.
    final class Doorbell: @unchecked Sendable {
        private let lock = NSLock()
        private var rings = 0
        func ring() { lock.withLock { rings += 1 } }
        var count: Int { lock.withLock { rings } }
    }

    @Test func routesWritesTheOutboxAndTheCheckpointTogether() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try SQLiteStore(path: directory.path + "/relay.sqlite")
        let doorbell = Doorbell()
        let pipeline = IngestPipeline(store: store, stages: IngestPipeline.standardStages(catalog: Self.catalog()), onDeliveries: doorbell.ring)
        let checkpoint = FeedCheckpoint(version: 1, data: Array("at page 3".utf8))
        let result = try await pipeline.ingest(IngestBatch(
            events: [Self.event("a"), Self.event("b", type: "restart")], checkpoint: ("scalingo/events", checkpoint), now: Self.t0))
        #expect(result == IngestResult(newEvents: 2, duplicates: 0, deliveries: 1))
        #expect(try await pipeline.checkpoint(stream: "scalingo/events") == checkpoint)
        let owed = try await store.deliveries(DeliveryQuery())
        #expect(owed.map(\.eventKey) == ["scalingo:a"] && owed.map(\.subscriptionID) == ["ops"] && owed.map(\.matchedBy) == ["rule:locks"])
        #expect(doorbell.count == 1, "the dispatcher is woken once the outbox has rows")
        _ = try await pipeline.ingest(IngestBatch(events: [Self.event("c", type: "restart")], now: Self.t0))
        #expect(doorbell.count == 1, "not for a batch that owes nothing")
    }

    @Test func anEventFromAnotherStreamFeedOrPushIsIngestedOnce() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try SQLiteStore(path: directory.path + "/relay.sqlite")
        let pipeline = IngestPipeline(store: store, stages: IngestPipeline.standardStages(catalog: Self.catalog()))
        let first = try await pipeline.ingest(IngestBatch(events: [Self.event("x"), Self.event("quiet", type: "restart")], now: Self.t0))
        #expect(first.newEvents == 2)
        // The app timeline, a second feed on the same account, and a push all bring the same events.
        for feed in ["scalingo", "scalingo-eu", "pushed"] {
            let again = try await pipeline.ingest(IngestBatch(events: [Self.event("x", feed: feed), Self.event("quiet", type: "restart", feed: feed)], now: Self.t0))
            #expect(again == IngestResult(newEvents: 0, duplicates: 2, deliveries: 0))
        }
        // The same id from another platform is another event.
        let other = try await pipeline.ingest(IngestBatch(events: [Self.event("x", source: "qovery")], now: Self.t0))
        #expect(other == IngestResult(newEvents: 1, duplicates: 0, deliveries: 1))
        // Twice within one batch: once.
        let twice = try await pipeline.ingest(IngestBatch(events: [Self.event("y"), Self.event("y")], now: Self.t0))
        #expect(twice == IngestResult(newEvents: 1, duplicates: 1, deliveries: 1))
        #expect(try await store.deliveries(DeliveryQuery()).count == 3)
    }

    /// A later stage sees what routing decided and may hold some of it back (mutes, throttles).
    struct DropEverything: IngestStage {
        var name: String { "mute-all" }
        func apply(to events: inout [StagedEvent], state: inout PolicyStates, now: Date) {
            for index in events.indices { events[index].deliveries.removeAll() }
        }
    }

    @Test func stagesRunInOrderBeforeTheCommit() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try SQLiteStore(path: directory.path + "/relay.sqlite")
        let pipeline = IngestPipeline(store: store, stages: IngestPipeline.standardStages(catalog: Self.catalog()) + [DropEverything()])
        let result = try await pipeline.ingest(IngestBatch(events: [Self.event("m")], now: Self.t0))
        #expect(result == IngestResult(newEvents: 1, duplicates: 0, deliveries: 0))
        #expect(try await store.deliveries(DeliveryQuery()).isEmpty)
        let again = try await pipeline.ingest(IngestBatch(events: [Self.event("m")], now: Self.t0))
        #expect(again.duplicates == 1, "a muted event is still remembered: unmuting later does not send it")
    }

    @Test func aCursorWrittenByTheFirstSchemaIsReadAsCheckpointVersionZero() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.path + "/relay.sqlite"
        // A v1 database, as the previous release left it.
        do {
            let queue = try DatabaseQueue(path: path)
            try await queue.write { db in
                try db.execute(sql: """
                    CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
                    INSERT INTO grdb_migrations VALUES ('v1: subscriptions, feed cursors, events, outbox');
                    CREATE TABLE subscriptions (id TEXT PRIMARY KEY, kind TEXT NOT NULL, url TEXT NOT NULL, signing_secret TEXT,
                        slack_icon TEXT, slack_username TEXT, filter TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
                    CREATE TABLE feed_cursors (feed TEXT PRIMARY KEY, horizon INTEGER NOT NULL, updated_at INTEGER NOT NULL);
                    CREATE TABLE feed_seen (feed TEXT NOT NULL, event_id TEXT NOT NULL, event_time INTEGER NOT NULL, PRIMARY KEY (feed, event_id)) WITHOUT ROWID;
                    CREATE TABLE events (key TEXT PRIMARY KEY, source TEXT NOT NULL, feed TEXT NOT NULL, type TEXT NOT NULL, time INTEGER NOT NULL,
                        body TEXT NOT NULL, created_at INTEGER NOT NULL);
                    CREATE TABLE deliveries (id TEXT PRIMARY KEY, event_key TEXT NOT NULL REFERENCES events(key), subscription_id TEXT NOT NULL,
                        matched_by TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL,
                        lease_until INTEGER, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, delivered_at INTEGER,
                        last_status_code INTEGER, last_error TEXT);
                    CREATE UNIQUE INDEX deliveries_once ON deliveries(event_key, subscription_id);
                    CREATE INDEX deliveries_due ON deliveries(status, next_attempt_at);
                    CREATE INDEX deliveries_by_subscription ON deliveries(subscription_id, id);
                    CREATE TABLE delivery_attempts (delivery_id TEXT NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE, at INTEGER NOT NULL,
                        outcome TEXT NOT NULL, status_code INTEGER, error TEXT, duration_ms INTEGER NOT NULL);
                    INSERT INTO feed_cursors VALUES ('scalingo/events', 1700000000000, 1700000000000);
                    INSERT INTO feed_seen VALUES ('scalingo/events', 'old-1', 1700000100000);
                    INSERT INTO events VALUES ('scalingo:old-1', 'scalingo', 'scalingo', 'login_lock', 1700000100000, '{}', 1700000100000);
                    """)
            }
        }
        let store = try SQLiteStore(path: path)
        let checkpoint = try #require(try await store.loadCheckpoint(stream: "scalingo/events"))
        #expect(checkpoint.version == 0)
        let legacy = try JSONValue.parse(checkpoint.data)
        #expect(legacy["horizon"] == .integer(1_700_000_000_000))
        #expect(legacy["seen"] == .array([.array([.string("old-1"), .integer(1_700_000_100_000)])]))
        // The events already stored count as ingested.
        let again = try await store.commitIngest(IngestCommit(items: [.init(event: Self.event("old-1"), deliveries: [])], now: Self.t0))
        #expect(again.duplicates == 1)
        // The stream's first commit replaces the old cursor.
        _ = try await store.commitIngest(IngestCommit(items: [], checkpoint: ("scalingo/events", FeedCheckpoint(version: 1, data: [1])), now: Self.t0))
        #expect(try await store.loadCheckpoint(stream: "scalingo/events") == FeedCheckpoint(version: 1, data: [1]))
    }
}
