import EventModel
import Foundation
import GRDB
@testable import Sinks
@testable import SQLiteStore
import Store
import Testing

/// Events are claimed as their stored bytes. A database written before `events.body_format`
/// existed (schema v6, the previous release) keeps working: its bodies are decoded and re-encoded when claimed.
@Suite("SQLite store: stored event bytes, and databases from before them")
struct StoredEventMigrationTests {
    static let t0 = Date(timeIntervalSince1970: 1_700_000_000)
    static let lease = Lease(owner: "test", token: 7, until: t0.addingTimeInterval(60))
    static let claim = [LaneClaim(subscriptionID: "hook", limit: 10, ordered: true)]

    /// A v6 database with one pending delivery whose event body an earlier release wrote:
    /// other key order, the actor's `username`, no `feed`, no `summary`.
    static func writeV6Database(at path: String) throws {
        let queue = try DatabaseQueue(path: path)
        try SQLiteStore.migrator.migrate(queue, upTo: "v6: delivery log: replays, lookups by status, retention")
        let body = #"{"type":"deployment","source":"scalingo","id":"e1","time":"2023-11-14T22:13:20.000Z","app":"web","actor":{"username":"ann"},"raw":{"id":"e1","n":1}}"#
        try queue.write { db in
            try db.execute(
                sql: "INSERT INTO events (key, source, feed, type, time, body, created_at) VALUES ('scalingo:e1', 'scalingo', 'scalingo', 'deployment', 1700000000000, ?, 1700000000000)",
                arguments: [body])
            try db.execute(sql: """
                INSERT INTO deliveries (id, event_key, subscription_id, matched_by, status, attempts, next_attempt_at, created_at, updated_at)
                VALUES ('dlv_1', 'scalingo:e1', 'hook', 'rule:r', 'pending', 0, 1700000000000, 1700000000000, 1700000000000)
                """)
        }
        try queue.close()
    }

    @Test func aDeliveryStoredBeforeTheMigrationIsClaimedAndRenderedAsNow() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try Self.writeV6Database(at: directory.path + "/relay.sqlite")
        let store = try SQLiteStore(path: directory.path + "/relay.sqlite")
        let claimed = try await store.claimDeliveries(Self.claim, now: Self.t0, lease: Self.lease)
        let item = try #require(claimed.first?.deliveries.first)
        #expect(item.event.key == "scalingo:e1")
        let event = try item.event.decoded()
        #expect(event.actor?.name == "ann" && event.feed == "scalingo" && event.summary == "deployment on web by ann")
        #expect(item.event.json == Array(try Event.makeEncoder().encode(event)), "re-encoded in the canonical form")
        let context = DeliveryContext(deliveryID: "dlv_1", subscriptionID: "hook", matchedBy: "rule:r", attempt: 1, now: Self.t0)
        #expect(WebhookPayload.body(item.event, context: context) == WebhookPayload.encodedBody(event, context: context))
        // The old row and new ones live side by side.
        let new = Fixtures.event(type: "deployment", id: "e2", time: Self.t0)
        _ = try await store.commitIngest(IngestCommit(
            items: [IngestCommit.Item(event: new, deliveries: [NewDelivery(id: "dlv_2", eventKey: new.key, subscriptionID: "hook", matchedBy: "rule:r")])],
            now: Self.t0))
        try await store.recordAttempts([AttemptRecord(
            deliveryID: "dlv_1", subscriptionID: "hook", leaseToken: Self.lease.token, at: Self.t0, outcome: .delivered, statusCode: 204, next: .delivered)])
        let next = try await store.claimDeliveries(Self.claim, now: Self.t0, lease: Lease(owner: "test", token: 8, until: Self.t0.addingTimeInterval(60)))
        let second = try #require(next.first?.deliveries.first)
        #expect(second.event.key == new.key)
        #expect(try second.event.decoded() == new)
        #expect(second.event.json == Array(try Event.makeEncoder().encode(new)))
    }

    @Test func aCorruptStoredEventDeadLettersItsDeliverySayingWhich() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try Self.writeV6Database(at: directory.path + "/relay.sqlite")
        let queue = try DatabaseQueue(path: directory.path + "/relay.sqlite")
        try await queue.write { db in try db.execute(sql: "UPDATE events SET body = '{not json'") }
        try queue.close()
        let store = try SQLiteStore(path: directory.path + "/relay.sqlite")
        let claimed = try await store.claimDeliveries(Self.claim, now: Self.t0, lease: Self.lease)
        #expect(claimed.first?.deliveries.isEmpty == true)
        let dead = try await store.deliveries(DeliveryQuery(status: .deadLetter))
        #expect(dead.count == 1 && dead.first?.lastError?.contains("cannot be read") == true, "\(dead)")
    }

    /// Deliveries still owed when the relay is upgraded to ordering by key get their event's key
    /// (read from the stored body), so they stay in order with the same app's new deliveries.
    @Test func deliveriesOwedBeforeKeysExistedGetTheirEventsKey() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.path + "/relay.sqlite"
        try Self.writeV6Database(at: path)
        let store = try SQLiteStore(path: path)
        let new = Fixtures.event(type: "deployment", app: "web", source: "scalingo", id: "e2", time: Self.t0)
        #expect(new.orderKey == Event(source: "scalingo", feed: "x", id: "e1", type: "t", time: Self.t0, app: "web", raw: .null).orderKey)
        _ = try await store.commitIngest(IngestCommit(
            items: [IngestCommit.Item(event: new, deliveries: [NewDelivery(id: "dlv_2", eventKey: new.key, subscriptionID: "hook", matchedBy: "rule:r")])],
            now: Self.t0))
        let keyed = [LaneClaim(subscriptionID: "hook", limit: 10, ordered: false, keyed: true)]
        let claimed = try await store.claimDeliveries(keyed, now: Self.t0, lease: Self.lease)[0].deliveries
        #expect(claimed.map(\.delivery.id) == ["dlv_1", "dlv_2"], "one key: the old row first, then the new one")
        #expect(Set(claimed.map(\.orderKey)) == [new.orderKey])
    }
}
