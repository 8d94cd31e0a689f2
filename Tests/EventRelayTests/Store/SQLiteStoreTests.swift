import EventModel
import Foundation
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

    @Test func claimLeasesRecordsAndRetries() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try SQLiteStore(path: directory.path + "/relay.sqlite")
        try await commit(store, events: [Fixtures.event(type: "x", id: "e1", time: Self.t0), Fixtures.event(type: "y", id: "e2", time: Self.t0)], subscriptions: ["a"])
        let claimed = try await store.claimDueDeliveries(now: Self.t0, limit: 10, leaseUntil: Self.t0.addingTimeInterval(60))
        #expect(claimed.count == 2)
        #expect(Set(claimed.map(\.event.id)) == ["e1", "e2"])
        #expect(try await store.claimDueDeliveries(now: Self.t0, limit: 10, leaseUntil: Self.t0.addingTimeInterval(60)).isEmpty, "leased")

        let first = claimed[0].delivery.id, second = claimed[1].delivery.id
        try await store.recordAttempts([
            AttemptRecord(deliveryID: first, at: Self.t0, outcome: .delivered, statusCode: 200, durationMilliseconds: 12),
            AttemptRecord(deliveryID: second, at: Self.t0, outcome: .retry, statusCode: 503, error: "HTTP 503", nextAttemptAt: Self.t0.addingTimeInterval(30)),
        ])
        #expect(try await store.delivery(id: first)?.status == .delivered)
        #expect(try await store.claimDueDeliveries(now: Self.t0.addingTimeInterval(10), limit: 10, leaseUntil: Self.t0.addingTimeInterval(70)).isEmpty)
        let due = try await store.claimDueDeliveries(now: Self.t0.addingTimeInterval(31), limit: 10, leaseUntil: Self.t0.addingTimeInterval(90))
        #expect(due.map(\.delivery.id) == [second])
        #expect(due.first?.delivery.attempts == 1)
        try await store.recordAttempts([AttemptRecord(deliveryID: second, at: Self.t0, outcome: .failed, statusCode: 404, error: "HTTP 404")])
        #expect(try await store.attempts(deliveryID: second).map(\.outcome) == [.retry, .failed])

        let retried = try await store.retryDelivery(id: second, now: Self.t0.addingTimeInterval(100))
        #expect(retried?.status == .pending)
        #expect(try await store.retryDelivery(id: "nope", now: Self.t0) == nil)
    }

    @Test func leasesOfADeadProcessAreReleasedAtStart() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try SQLiteStore(path: directory.path + "/relay.sqlite")
        try await commit(store, events: [Fixtures.event(type: "x", id: "e1", time: Self.t0)], subscriptions: ["a"])
        _ = try await store.claimDueDeliveries(now: Self.t0, limit: 10, leaseUntil: Self.t0.addingTimeInterval(3600))
        try await store.releaseAllLeases()
        #expect(try await store.claimDueDeliveries(now: Self.t0, limit: 10, leaseUntil: Self.t0.addingTimeInterval(60)).count == 1)
    }

    @Test func subscriptionsRoundTripAndDeletingOneFailsWhatWasOwed() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try SQLiteStore(path: directory.path + "/relay.sqlite")
        let subscription = Subscription(
            id: "ops", kind: .slack, url: "https://hooks.slack.com/services/x", slackIcon: ":x:",
            filter: EventFilter(types: ["deployment"], fields: ["type_data.status": ["*-error"]]), createdAt: Self.t0, updatedAt: Self.t0)
        try await store.insertSubscription(subscription)
        await #expect(throws: StoreError.self) { try await store.insertSubscription(subscription) }
        #expect(try await store.subscription(id: "ops") == subscription)
        var changed = subscription
        changed.slackUsername = "Bot"
        try await store.updateSubscription(changed)
        #expect(try await store.listSubscriptions() == [changed])

        try await commit(store, events: [Fixtures.event(type: "deployment", id: "e1", time: Self.t0)], subscriptions: ["ops"])
        #expect(try await store.deleteSubscription(id: "ops", now: Self.t0))
        #expect(try await store.deleteSubscription(id: "ops", now: Self.t0) == false)
        let owed = try await store.deliveries(DeliveryQuery(subscriptionID: "ops"))
        #expect(owed.map(\.status) == [.failed])
        #expect(owed.first?.lastError == "subscription deleted")
    }

    @Test func aCommitWithoutACheckpointLeavesTheStoredOneAlone() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try SQLiteStore(path: directory.path + "/relay.sqlite")
        try await commit(store, feed: "f", events: [], subscriptions: [])
        _ = try await store.commitIngest(IngestCommit(items: [], now: Self.t0))
        #expect(try await store.loadCheckpoint(stream: "f")?.data == Array("checkpoint of f".utf8))
    }
}
