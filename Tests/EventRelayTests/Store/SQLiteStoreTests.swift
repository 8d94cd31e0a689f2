import EventModel
import Foundation
import GRDB
import SQLiteStore
import Store
import Testing

@Suite("SQLite store on a real file")
struct SQLiteStoreTests {
    static let t0 = Date(timeIntervalSince1970: 1_700_000_000)

    func commit(_ store: SQLiteStore, feed: String = "s/events", events: [Event], subscriptions: [String], at now: Date = t0) async throws {
        let deliveries = events.flatMap { event in
            subscriptions.map { NewDelivery(id: Identifier.make(prefix: "dlv", now: now), eventKey: event.key, subscriptionID: $0, matchedBy: "rule:r") }
        }
        _ = try await store.commitIngest(IngestCommit(
            items: events.map { event in IngestCommit.Item(event: event, deliveries: deliveries.filter { $0.eventKey == event.key }) },
            checkpoint: (feed, FeedCheckpoint(version: 1, data: Array("checkpoint of \(feed)".utf8))), now: now))
    }

    @Test func pollCommitsAreDurableAcrossReopening() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.path + "/relay.sqlite"
        do {
            let store = try SQLiteStore(path: path)
            try await commit(store, events: [Fixtures.event(type: "deployment", id: "e1", time: Self.t0)], subscriptions: ["a", "b"])
        }
        let reopened = try SQLiteStore(path: path)
        let checkpoint = try #require(try await reopened.loadCheckpoint(stream: "s/events"))
        #expect(checkpoint == FeedCheckpoint(version: 1, data: Array("checkpoint of s/events".utf8)))
        #expect(try await reopened.loadCheckpoint(stream: "s/apps/other") == nil)
        #expect(try await reopened.deliveryCounts()[.pending] == 2)
        let journal = try String(contentsOfFile: path + "-wal", encoding: .isoLatin1)
        #expect(!journal.isEmpty, "WAL mode writes a -wal file")
    }

    @Test func anEventSeenTwiceIsOwedOncePerSubscription() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try SQLiteStore(path: directory.path + "/relay.sqlite")
        let event = Fixtures.event(type: "deployment", id: "same", time: Self.t0)
        try await commit(store, feed: "s/events", events: [event], subscriptions: ["a"])
        try await commit(store, feed: "s/apps/web", events: [event], subscriptions: ["a"])
        #expect(try await store.deliveries(DeliveryQuery()).count == 1)
    }

    @Test func aCommitWithoutACheckpointLeavesTheStoredOneAlone() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try SQLiteStore(path: directory.path + "/relay.sqlite")
        try await commit(store, feed: "f", events: [], subscriptions: [])
        _ = try await store.commitIngest(IngestCommit(items: [], now: Self.t0))
        #expect(try await store.loadCheckpoint(stream: "f")?.data == Array("checkpoint of f".utf8))
    }

    @Test func anUnreadableStoredEventDeadLettersItsDeliveryAndTheRestOfTheClaimGoesOut() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.path + "/relay.sqlite"
        let store = try SQLiteStore(path: path)
        try await commit(store, events: (0..<3).map { Fixtures.event(type: "x", id: "e\($0)", time: Self.t0) }, subscriptions: ["a"])
        // Damage one event's stored body behind the store's back.
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in try db.execute(sql: "UPDATE events SET body = '{not json', body_format = 0 WHERE key = 'scalingo:e1'") }
        let claimed = try await store.claimDeliveries(
            [LaneClaim(subscriptionID: "a", limit: 10, ordered: false)], now: Self.t0.addingTimeInterval(1),
            lease: Lease(owner: "t", token: 5, until: Self.t0.addingTimeInterval(60)))
        #expect(claimed[0].deliveries.map(\.event.id).sorted() == ["e0", "e2"])
        let dead = try await store.deliveries(DeliveryQuery(status: .deadLetter))
        #expect(dead.map(\.eventKey) == ["scalingo:e1"])
        #expect(dead.first?.lastError?.contains("cannot be read") == true)
    }
}
