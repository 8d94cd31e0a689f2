import Delivery
import EventModel
import Foundation
import SQLiteStore
import Store
import Testing

@Suite("Retention: the pruner works through a backlog in batches")
struct OutboxPrunerTests {
    @Test func aPassPrunesEverythingPastRetentionInBatchesAndKeepsTheRest() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try SQLiteStore(path: directory.path + "/relay.sqlite")
        let t0 = Date(timeIntervalSince1970: 1_700_000_000)
        let events = (0..<12).map { Fixtures.event(type: "x", id: "e\($0)", time: t0) }
        _ = try await store.commitIngest(IngestCommit(
            items: events.map { IngestCommit.Item(event: $0, deliveries: [NewDelivery(id: "dlv_\($0.id)", eventKey: $0.key, subscriptionID: "a", matchedBy: "r")]) },
            now: t0))
        let lease = Lease(owner: "t", token: 1, until: t0.addingTimeInterval(60))
        let claimed = try await store.claimDeliveries([LaneClaim(subscriptionID: "a", limit: 10, ordered: false)], now: t0, lease: lease)[0].deliveries
        try await store.recordAttempts(claimed.map {
            AttemptRecord(deliveryID: $0.delivery.id, subscriptionID: "a", leaseToken: 1, at: t0, outcome: .delivered, next: .delivered)
        })
        let later = t0.addingTimeInterval(8 * 86400)
        let pruner = OutboxPruner(
            store: store, retention: RetentionPolicy(delivered: .seconds(7 * 86400), deadLetters: .seconds(30 * 86400)), batch: 3,
            clock: WallClock { later })
        let pruned = try await pruner.prune()
        #expect(pruned == PruneResult(deliveries: 10, events: 10), "four batches of 3, the last short")
        #expect(try await store.deliveryCounts() == allStatuses([.pending: 2, .delivered: 0, .deadLetter: 0]))
        #expect(try await pruner.prune() == PruneResult())
    }
}
