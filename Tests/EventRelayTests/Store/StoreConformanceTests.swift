import EventModel
import Foundation
import Sinks
import SQLiteStore
import Store
import Testing

/// The store contract, run against every implementation (SQLite now; PostgreSQL will join the
/// `Engine` list). Each test opens a fresh store of the engine it is given.
@Suite("Store conformance: outbox, leases, delivery log, subscription state")
struct StoreConformanceTests {
    enum Engine: String, CaseIterable, CustomTestStringConvertible {
        case sqlite
        var testDescription: String { rawValue }
    }

    /// A fresh store, and what to clean up.
    final class Opened: @unchecked Sendable {
        let store: any RelayStore
        private let directory: TemporaryDirectory

        init(_ engine: Engine) throws {
            directory = try TemporaryDirectory()
            switch engine {
            case .sqlite: store = try SQLiteStore(path: directory.path + "/relay.sqlite")
            }
        }

        deinit { directory.cleanup() }
    }

    static let t0 = Date(timeIntervalSince1970: 1_700_000_000)

    /// Owes `count` events to each subscription, created one millisecond apart (ids in that order).
    @discardableResult
    func owe(_ store: any RelayStore, _ count: Int, to subscriptions: [String], from first: Int = 0, at now: Date = t0) async throws -> [String] {
        var ids: [String] = []
        for index in first..<(first + count) {
            let created = now.addingTimeInterval(Double(index) / 1000)
            let event = Fixtures.event(type: "deployment", id: "e\(index)", time: created)
            let owed = subscriptions.map { subscription -> NewDelivery in
                let id = "dlv_\(String(format: "%06d", index))_\(subscription)"
                ids.append(id)
                return NewDelivery(id: id, eventKey: event.key, subscriptionID: subscription, matchedBy: "rule:r")
            }
            _ = try await store.commitIngest(IngestCommit(items: [IngestCommit.Item(event: event, deliveries: owed)], now: created))
        }
        return ids
    }

    func lease(_ token: Int64, until seconds: TimeInterval, owner: String = "a") -> Lease {
        Lease(owner: owner, token: token, until: Self.t0.addingTimeInterval(seconds))
    }

    func record(_ claimed: ClaimedDelivery, _ outcome: AttemptRecord.Outcome, next: AttemptRecord.Next, at seconds: TimeInterval = 1) -> AttemptRecord {
        AttemptRecord(
            deliveryID: claimed.delivery.id, subscriptionID: claimed.delivery.subscriptionID, leaseToken: claimed.lease.token,
            at: Self.t0.addingTimeInterval(seconds), outcome: outcome, statusCode: outcome == .delivered ? 204 : 503,
            error: outcome == .delivered ? nil : "HTTP 503", durationMilliseconds: 3, next: next)
    }

    @Test(arguments: Engine.allCases)
    func aLaneClaimsItsOwnDueDeliveriesOldestFirstAndEachOnce(engine: Engine) async throws {
        let opened = try Opened(engine)
        let store = opened.store
        try await owe(store, 5, to: ["a", "b"])
        let now = Self.t0.addingTimeInterval(1)
        let first = try await store.claimDeliveries(
            [LaneClaim(subscriptionID: "a", limit: 3, ordered: false), LaneClaim(subscriptionID: "b", limit: 10, ordered: false)],
            now: now, lease: lease(1, until: 60))
        #expect(first.map(\.subscriptionID) == ["a", "b"])
        #expect(first[0].deliveries.map(\.event.id) == ["e0", "e1", "e2"])
        #expect(first[0].deliveries.allSatisfy { $0.delivery.subscriptionID == "a" && $0.lease.token == 1 })
        #expect(first[1].deliveries.count == 5, "a lane's limit does not touch another lane")
        #expect(first[1].nextDue != nil && first[1].nextDue! > now, "b got fewer than asked: its next due is a leased row's lease end")
        let second = try await store.claimDeliveries([LaneClaim(subscriptionID: "a", limit: 10, ordered: false)], now: now, lease: lease(2, until: 60))
        #expect(second[0].deliveries.map(\.event.id) == ["e3", "e4"], "leased rows are not claimed again")
        let none = try await store.claimDeliveries([LaneClaim(subscriptionID: "a", limit: 10, ordered: false)], now: now, lease: lease(3, until: 60))
        #expect(none[0].deliveries.isEmpty)
        #expect(none[0].nextDue == Self.t0.addingTimeInterval(60), "the earliest lease end")
        let unknown = try await store.claimDeliveries([LaneClaim(subscriptionID: "zzz", limit: 10, ordered: false)], now: now, lease: lease(4, until: 60))
        #expect(unknown[0].deliveries.isEmpty && unknown[0].nextDue == nil, "nothing pending: no next due")
    }

    @Test(arguments: Engine.allCases)
    func aLanesNextDueIsItsEarliestWaitingRetryNotTheRowsJustClaimed(engine: Engine) async throws {
        let opened = try Opened(engine)
        let store = opened.store
        try await owe(store, 3, to: ["a"])
        let claim = [LaneClaim(subscriptionID: "a", limit: 1, ordered: false)]
        let first = try await store.claimDeliveries(claim, now: Self.t0.addingTimeInterval(1), lease: lease(1, until: 60))[0].deliveries
        try await store.recordAttempts([record(first[0], .retry, next: .retry(at: Self.t0.addingTimeInterval(5)))])
        let rest = try await store.claimDeliveries(
            [LaneClaim(subscriptionID: "a", limit: 10, ordered: false)], now: Self.t0.addingTimeInterval(2), lease: lease(2, until: 60))
        #expect(rest[0].deliveries.map(\.event.id) == ["e1", "e2"])
        #expect(rest[0].nextDue == Self.t0.addingTimeInterval(5), "the retry at +5 s, not the lease end of what was just claimed")
    }

    @Test(arguments: Engine.allCases)
    func aProbeTakesTheLanesNextDeliveryBeforeItsTimeButNeverALeasedOne(engine: Engine) async throws {
        let opened = try Opened(engine)
        let store = opened.store
        try await owe(store, 2, to: ["a"])
        let head = try await store.claimDeliveries(
            [LaneClaim(subscriptionID: "a", limit: 1, ordered: true)], now: Self.t0.addingTimeInterval(1), lease: lease(1, until: 60))[0].deliveries
        let probe = [LaneClaim(subscriptionID: "a", limit: 1, ordered: true, probe: true)]
        #expect(try await store.claimDeliveries(probe, now: Self.t0.addingTimeInterval(2), lease: lease(2, until: 60))[0].deliveries.isEmpty, "the head is leased")
        try await store.recordAttempts([record(head[0], .retry, next: .retry(at: Self.t0.addingTimeInterval(3600)))])
        let probed = try await store.claimDeliveries(probe, now: Self.t0.addingTimeInterval(3), lease: lease(3, until: 60))[0].deliveries
        #expect(probed.map(\.event.id) == ["e0"], "the head, an hour before its retry")
        #expect(probed.first?.delivery.nextAttemptAt == Self.t0.addingTimeInterval(3600), "its own time travels with it")
        // A failed probe keeps the delivery's time and attempts.
        try await store.recordAttempts([
            AttemptRecord(
                deliveryID: probed[0].delivery.id, subscriptionID: "a", leaseToken: 3, at: Self.t0.addingTimeInterval(3), outcome: .retry,
                statusCode: 500, error: "HTTP 500", next: .wait(until: Self.t0.addingTimeInterval(3600)), counted: false),
        ])
        let after = try #require(try await store.delivery(id: probed[0].delivery.id))
        #expect(after.attempts == 1 && after.nextAttemptAt == Self.t0.addingTimeInterval(3600))
        #expect(try await store.attempts(deliveryID: after.id).map(\.outcome) == [.retry, .retry], "the probe is in the log")
        // Probes go every second: the same failure of the same delivery is logged once a minute.
        func probeFailed(_ second: TimeInterval, _ status: Int) -> AttemptRecord {
            AttemptRecord(
                deliveryID: after.id, subscriptionID: "a", at: Self.t0.addingTimeInterval(second), outcome: .retry, statusCode: status,
                error: "HTTP \(status)", next: .wait(until: Self.t0.addingTimeInterval(3600)), counted: false)
        }
        for second in [4.0, 5, 6] { try await store.recordAttempts([probeFailed(second, 503)]) }
        try await store.recordAttempts([probeFailed(7, 502)])
        try await store.recordAttempts([probeFailed(64, 503)])
        let logged = try await store.attempts(deliveryID: after.id)
        #expect(logged.map(\.statusCode) == [503, 500, 502, 503], "503s at +4…6 s repeat the one at +1 s; +64 s is a minute on")
        #expect(logged.last?.at == Self.t0.addingTimeInterval(64))
        // An unordered lane's probe: its soonest unleased delivery.
        let unordered = [LaneClaim(subscriptionID: "a", limit: 1, ordered: false, probe: true)]
        let soonest = try await store.claimDeliveries(unordered, now: Self.t0.addingTimeInterval(70), lease: lease(70, until: 130))[0]
        #expect(soonest.deliveries.map(\.event.id) == ["e1"])
        #expect(try await store.claimDeliveries(unordered, now: Self.t0.addingTimeInterval(71), lease: lease(71, until: 130))[0].deliveries.isEmpty,
            "the soonest is leased: no probe")
    }

    @Test(arguments: Engine.allCases)
    func anExpiredLeaseIsRecoveredByTheNextClaimNotReleasedWholesale(engine: Engine) async throws {
        let opened = try Opened(engine)
        let store = opened.store
        try await owe(store, 2, to: ["a"])
        let claim = [LaneClaim(subscriptionID: "a", limit: 10, ordered: false)]
        let dead = try await store.claimDeliveries(claim, now: Self.t0.addingTimeInterval(1), lease: lease(1, until: 30, owner: "dead"))
        #expect(dead[0].deliveries.count == 2)
        #expect(try await store.claimDeliveries(claim, now: Self.t0.addingTimeInterval(29), lease: lease(2, until: 90))[0].deliveries.isEmpty)
        let recovered = try await store.claimDeliveries(claim, now: Self.t0.addingTimeInterval(30), lease: lease(3, until: 90, owner: "alive"))
        #expect(recovered[0].deliveries.map(\.event.id) == ["e0", "e1"])

        // The first owner wakes up and records: fenced, nothing changes.
        let fenced = try await store.recordAttempts(dead[0].deliveries.map { record($0, .delivered, next: .delivered) })
        #expect(Set(fenced) == Set(dead[0].deliveries.map(\.delivery.id)))
        #expect(try await store.deliveryCounts()[.pending] == 2)
        #expect(try await store.attempts(deliveryID: dead[0].deliveries[0].delivery.id).map(\.outcome) == [.delivered], "the attempt is logged: it happened")
        // The current owner's outcome is recorded.
        let kept = try await store.recordAttempts(recovered[0].deliveries.map { record($0, .delivered, next: .delivered, at: 31) })
        #expect(kept.isEmpty)
        #expect(try await store.deliveryCounts()[.delivered] == 2)
    }

    @Test(arguments: Engine.allCases)
    func anOrderedLaneNeverOvertakesADeliveryWaitingForItsRetry(engine: Engine) async throws {
        let opened = try Opened(engine)
        let store = opened.store
        try await owe(store, 4, to: ["a"])
        let fifo = [LaneClaim(subscriptionID: "a", limit: 2, ordered: true)]
        let now = Self.t0.addingTimeInterval(1)
        let batch = try await store.claimDeliveries(fifo, now: now, lease: lease(1, until: 60))
        #expect(batch[0].deliveries.map(\.event.id) == ["e0", "e1"])
        #expect(try await store.claimDeliveries(fifo, now: now, lease: lease(2, until: 60))[0].deliveries.isEmpty, "the head is in flight")
        // e0 fails and waits 10 s; e1 was not sent (put back without counting).
        try await store.recordAttempts([
            record(batch[0].deliveries[0], .retry, next: .retry(at: Self.t0.addingTimeInterval(11))),
            record(batch[0].deliveries[1], .deferred, next: .wait(until: now)),
        ])
        let blocked = try await store.claimDeliveries(fifo, now: Self.t0.addingTimeInterval(5), lease: lease(3, until: 60))
        #expect(blocked[0].deliveries.isEmpty, "e1..e3 are due but e0 is first")
        #expect(blocked[0].nextDue == Self.t0.addingTimeInterval(11))
        let resumed = try await store.claimDeliveries(
            [LaneClaim(subscriptionID: "a", limit: 10, ordered: true)], now: Self.t0.addingTimeInterval(11), lease: lease(4, until: 60))
        #expect(resumed[0].deliveries.map(\.event.id) == ["e0", "e1", "e2", "e3"])
        #expect(resumed[0].deliveries[0].delivery.attempts == 1)
        #expect(resumed[0].deliveries[1].delivery.attempts == 0, "a deferred delivery was not attempted")
    }

    /// Owes one event of `app` (index `index`, created `index` ms after t0) to subscription "a".
    func oweApp(_ store: any RelayStore, _ app: String, _ index: Int) async throws {
        let created = Self.t0.addingTimeInterval(Double(index) / 1000)
        let event = Fixtures.event(type: "deployment", app: app, id: "e\(index)", time: created)
        let owed = NewDelivery(id: "dlv_\(String(format: "%06d", index))_a", eventKey: event.key, subscriptionID: "a", matchedBy: "rule:r")
        _ = try await store.commitIngest(IngestCommit(items: [IngestCommit.Item(event: event, deliveries: [owed])], now: created))
    }

    @Test(arguments: Engine.allCases)
    func aLaneOrderedByKeyHoldsOnlyTheKeyOfADeliveryWaitingForItsRetry(engine: Engine) async throws {
        let opened = try Opened(engine)
        let store = opened.store
        // web: e0 e2 e4 e6; api: e1 e3 e5 e7; then a deep run of worker: e8 … e107.
        for index in 0..<8 { try await oweApp(store, index % 2 == 0 ? "web" : "api", index) }
        for index in 8..<108 { try await oweApp(store, "worker", index) }
        let keyed = { (limit: Int) in [LaneClaim(subscriptionID: "a", limit: limit, ordered: false, keyed: true)] }
        let now = Self.t0.addingTimeInterval(1)
        // Fewer keys than slots: each key's run, a row per key per turn, oldest head first.
        let first = try await store.claimDeliveries(keyed(9), now: now, lease: lease(1, until: 60))[0]
        #expect(first.deliveries.map(\.event.id) == ["e0", "e1", "e8", "e2", "e3", "e9", "e4", "e5", "e10"])
        #expect(Set(first.deliveries.map(\.orderKey)).count == 3)
        // Everything of those keys now waits behind a leased row: nothing more is claimed.
        let none = try await store.claimDeliveries(keyed(10), now: now, lease: lease(2, until: 60))[0]
        #expect(none.deliveries.isEmpty && none.nextDue == Self.t0.addingTimeInterval(60), "each key waits for its leased head")
        // web's head fails and waits 10 s (its run put back); api and worker are delivered.
        let web = first.deliveries.filter { ["e0", "e2", "e4"].contains($0.event.id) }
        try await store.recordAttempts(
            [record(web[0], .retry, next: .retry(at: Self.t0.addingTimeInterval(11)))]
                + web.dropFirst().map { record($0, .deferred, next: .wait(until: now)) }
                + first.deliveries.filter { !["e0", "e2", "e4"].contains($0.event.id) }.map { record($0, .delivered, next: .delivered) })
        let next = try await store.claimDeliveries(keyed(4), now: Self.t0.addingTimeInterval(5), lease: lease(3, until: 60))[0]
        #expect(next.deliveries.map(\.event.id) == ["e7", "e11", "e12", "e13"], "api and worker go on; web waits behind e0")
        #expect(!next.deliveries.contains { $0.event.id == "e6" || $0.event.id == "e2" })
        // More keys than slots: the oldest heads.
        try await store.recordAttempts(next.deliveries.map { record($0, .delivered, next: .delivered) })
        for index in 200..<210 { try await oweApp(store, "app\(index)", index) }
        let many = try await store.claimDeliveries(keyed(3), now: Self.t0.addingTimeInterval(6), lease: lease(4, until: 60))[0]
        #expect(many.deliveries.map(\.event.id) == ["e14", "e200", "e201"], "worker's head is older than the new apps'")
        // When web's retry is due, its run follows in order.
        try await store.recordAttempts(many.deliveries.map { record($0, .delivered, next: .delivered) })
        let later = try await store.claimDeliveries(keyed(40), now: Self.t0.addingTimeInterval(11), lease: lease(5, until: 60))[0]
        #expect(later.deliveries.filter { $0.orderKey == web[0].orderKey }.map(\.event.id) == ["e0", "e2", "e4", "e6"])
        // A probe takes one key's head (drawn among the keys, so one refused delivery is not every
        // probe), due or not, when its lease is over.
        var firstOfKey: [String: String] = [:]
        for item in later.deliveries where firstOfKey[item.orderKey] == nil { firstOfKey[item.orderKey] = item.event.id }
        let probe = try await store.claimDeliveries(
            [LaneClaim(subscriptionID: "a", limit: 1, ordered: false, keyed: true, probe: true)], now: Self.t0.addingTimeInterval(70),
            lease: lease(6, until: 130))[0]
        #expect(probe.deliveries.count == 1 && probe.deliveries.allSatisfy { firstOfKey[$0.orderKey] == $0.event.id }, "\(probe.deliveries.map(\.event.id))")
        let leased = try await store.claimDeliveries(
            [LaneClaim(subscriptionID: "a", limit: 1, ordered: false, keyed: true, probe: true)], now: Self.t0.addingTimeInterval(71),
            lease: lease(7, until: 131))[0]
        #expect(leased.deliveries.first?.event.id != probe.deliveries.first?.event.id, "a leased head is not probed again")
    }

    @Test(arguments: Engine.allCases)
    func outcomesMoveDeliveriesAndOnlyCountedAttemptsCount(engine: Engine) async throws {
        let opened = try Opened(engine)
        let store = opened.store
        try await owe(store, 3, to: ["a"])
        let claim = [LaneClaim(subscriptionID: "a", limit: 10, ordered: false)]
        let claimed = try await store.claimDeliveries(claim, now: Self.t0.addingTimeInterval(1), lease: lease(1, until: 60))[0].deliveries
        let (ok, limited, broken) = (claimed[0], claimed[1], claimed[2])
        try await store.recordAttempts([
            record(ok, .delivered, next: .delivered),
            AttemptRecord(
                deliveryID: limited.delivery.id, subscriptionID: "a", leaseToken: 1, at: Self.t0.addingTimeInterval(1), outcome: .rateLimited,
                statusCode: 429, error: "HTTP 429", next: .wait(until: Self.t0.addingTimeInterval(20))),
            record(broken, .failed, next: .deadLetter),
        ])
        #expect(try await store.delivery(id: ok.delivery.id)?.status == .delivered)
        #expect(try await store.delivery(id: ok.delivery.id)?.deliveredAt != nil)
        let waiting = try #require(try await store.delivery(id: limited.delivery.id))
        #expect(waiting.status == .pending && waiting.attempts == 0, "a 429 is pacing, not an attempt that counts")
        #expect(waiting.nextAttemptAt == Self.t0.addingTimeInterval(20))
        let dead = try #require(try await store.delivery(id: broken.delivery.id))
        #expect(dead.status == .deadLetter && dead.attempts == 1 && dead.lastStatusCode == 503)
        #expect(try await store.attempts(deliveryID: limited.delivery.id).map(\.outcome) == [.rateLimited])
        #expect(try await store.deliveryCounts() == allStatuses([.pending: 1, .delivered: 1, .deadLetter: 1]))

        // A dead letter retried by hand starts a fresh schedule, due now; others are refused.
        let retried = try #require(try await store.retryDelivery(id: broken.delivery.id, now: Self.t0.addingTimeInterval(100)))
        #expect(retried.status == .pending && retried.attempts == 0 && retried.nextAttemptAt == Self.t0.addingTimeInterval(100))
        #expect(try await store.retryDelivery(id: ok.delivery.id, now: Self.t0)?.status == .delivered, "a delivered one stays delivered")
        #expect(try await store.retryDelivery(id: "nope", now: Self.t0) == nil)
        #expect(try await store.deliveryCounts() == allStatuses([.pending: 2, .delivered: 1, .deadLetter: 0]))
        #expect(try await store.deliveryCountsBySubscription() == ["a": [.pending: 2, .delivered: 1]])
    }

    @Test(arguments: Engine.allCases)
    func expeditingMakesWaitingRetriesDueButLeavesLeasedOnesAlone(engine: Engine) async throws {
        let opened = try Opened(engine)
        let store = opened.store
        try await owe(store, 3, to: ["a"])
        let claim = [LaneClaim(subscriptionID: "a", limit: 2, ordered: false)]
        let claimed = try await store.claimDeliveries(claim, now: Self.t0.addingTimeInterval(1), lease: lease(1, until: 60))[0].deliveries
        try await store.recordAttempts([record(claimed[0], .retry, next: .retry(at: Self.t0.addingTimeInterval(3600)))])
        let inFlight = try await store.claimDeliveries(claim, now: Self.t0.addingTimeInterval(2), lease: lease(2, until: 60))[0].deliveries
        #expect(inFlight.map(\.event.id) == ["e2"])
        try await store.expediteRetries(subscriptionID: "a", now: Self.t0.addingTimeInterval(5))
        let due = try await store.claimDeliveries(
            [LaneClaim(subscriptionID: "a", limit: 10, ordered: false)], now: Self.t0.addingTimeInterval(5), lease: lease(3, until: 60))
        #expect(due[0].deliveries.map(\.event.id) == ["e0"], "e0's retry is due now; e1 and e2 are still leased")
    }

    /// A story's chat message is remembered per subscription, replaced when posted anew, and
    /// forgotten with its subscription.
    @Test(arguments: Engine.allCases)
    func messageThreadsAreKeptPerSubscriptionAndGoWithIt(engine: Engine) async throws {
        let opened = try Opened(engine)
        let store = opened.store
        try await store.insertSubscription(Subscription.slack("chat", url: "https://hooks.slack.com/services/x"))
        #expect(try await store.thread(subscriptionID: "chat", key: "app/deployment/1") == nil)
        try await store.saveThread(subscriptionID: "chat", key: "app/deployment/1", MessageThread(channel: "C1", ts: "1.1"), now: Self.t0)
        try await store.saveThread(subscriptionID: "other", key: "app/deployment/1", MessageThread(channel: "C9", ts: "9.9"), now: Self.t0)
        #expect(try await store.thread(subscriptionID: "chat", key: "app/deployment/1") == MessageThread(channel: "C1", ts: "1.1"))
        try await store.saveThread(subscriptionID: "chat", key: "app/deployment/1", MessageThread(channel: "C1", ts: "2.2"), now: Self.t0)
        #expect(try await store.thread(subscriptionID: "chat", key: "app/deployment/1")?.ts == "2.2")
        #expect(try await store.deleteSubscription(id: "chat", now: Self.t0))
        #expect(try await store.thread(subscriptionID: "chat", key: "app/deployment/1") == nil)
        #expect(try await store.thread(subscriptionID: "other", key: "app/deployment/1")?.ts == "9.9")
        #expect(try await store.pruneThreads(before: Self.t0) == 0, "begun at t0: kept")
        #expect(try await store.pruneThreads(before: Self.t0.addingTimeInterval(1)) == 1)
        #expect(try await store.thread(subscriptionID: "other", key: "app/deployment/1") == nil)
    }

    @Test(arguments: Engine.allCases)
    func subscriptionStateRoundTripsAndDeletingASubscriptionDeadLettersWhatWasOwed(engine: Engine) async throws {
        let opened = try Opened(engine)
        let store = opened.store
        let subscription = Subscription(
            id: "ops", settings: SlackSettings(url: SecretString("https://hooks.slack.com/services/x"), icon: ":x:"),
            filter: EventFilter(types: ["deployment"]), delivery: DeliveryOptions(rateLimit: RateLimit(count: 30, per: .seconds(60), burst: 5)),
            createdAt: Self.t0, updatedAt: Self.t0)
        try await store.insertSubscription(subscription)
        #expect(try await store.subscription(id: "ops") == subscription)
        #expect(try await store.subscriptionStates().isEmpty)

        try await store.setPaused(subscriptionID: "ops", true, now: Self.t0)
        try await store.setFailingSince(subscriptionID: "ops", Self.t0.addingTimeInterval(-60), now: Self.t0)
        var state = try #require(try await store.subscriptionStates()["ops"])
        #expect(state.pausedAt == Self.t0 && state.failingSince == Self.t0.addingTimeInterval(-60) && state.isHeld)
        try await store.setPaused(subscriptionID: "ops", false, now: Self.t0)
        try await store.setDisabled(subscriptionID: "ops", reason: "HTTP 410: gone", now: Self.t0)
        state = try #require(try await store.subscriptionStates()["ops"])
        #expect(state.pausedAt == nil && state.disabledReason == "HTTP 410: gone" && state.failingSince == nil && state.isHeld)
        try await store.setDisabled(subscriptionID: "ops", reason: nil, now: Self.t0)
        #expect(try await store.subscriptionStates()["ops"]?.isHeld == false)
        try await store.setPaused(subscriptionID: "ops", true, now: Self.t0)
        try await store.setDisabled(subscriptionID: "ops", reason: "failing", now: Self.t0)
        try await store.setFailingSince(subscriptionID: "ops", Self.t0, now: Self.t0)
        try await store.resume(subscriptionID: "ops", now: Self.t0)
        #expect(try await store.subscriptionStates()["ops"] == SubscriptionState(), "a resume clears all three")

        try await owe(store, 2, to: ["ops", "other"])
        #expect(try await store.subscriptionsWithPendingDeliveries() == ["ops", "other"])
        #expect(try await store.deleteSubscription(id: "ops", now: Self.t0))
        #expect(try await store.deleteSubscription(id: "ops", now: Self.t0) == false)
        let owed = try await store.deliveries(DeliveryQuery(subscriptionID: "ops"))
        #expect(owed.map(\.status) == [.deadLetter, .deadLetter])
        #expect(owed.first?.lastError == "subscription deleted")
        #expect(try await store.subscriptionStates()["ops"] == nil)
        #expect(try await store.subscriptionsWithPendingDeliveries() == ["other"])
        #expect(try await store.deadLetterPending(subscriptionID: "other", reason: "subscription no longer exists", now: Self.t0) == 2)
        #expect(try await store.deliveryCounts()[.deadLetter] == 4)
    }

    /// Settles every pending delivery of `subscription`: delivered, or dead-lettered when `dead` holds.
    func settle(_ store: any RelayStore, _ subscription: String, at seconds: TimeInterval, dead: (ClaimedDelivery) -> Bool = { _ in false }) async throws {
        let claimed = try await store.claimDeliveries(
            [LaneClaim(subscriptionID: subscription, limit: 1000, ordered: false)], now: Self.t0.addingTimeInterval(seconds),
            lease: lease(Int64(seconds * 1000) + 7, until: seconds + 60))[0].deliveries
        try await store.recordAttempts(claimed.map { dead($0) ? record($0, .failed, next: .deadLetter, at: seconds) : record($0, .delivered, next: .delivered, at: seconds) })
    }

    @Test(arguments: Engine.allCases)
    func theDeliveryLogFiltersBySubscriptionStatusEventSourceAndTimeAndPagesByCursor(engine: Engine) async throws {
        let opened = try Opened(engine)
        let store = opened.store
        try await owe(store, 6, to: ["a", "b"])
        try await settle(store, "a", at: 1, dead: { $0.event.id == "e2" || $0.event.id == "e4" })
        #expect(try await store.deliveries(DeliveryQuery()).count == 12)
        #expect(try await store.deliveries(DeliveryQuery(subscriptionID: "b")).allSatisfy { $0.subscriptionID == "b" && $0.status == .pending })
        #expect(try await store.deliveries(DeliveryQuery(status: .deadLetter)).map(\.eventKey) == ["scalingo:e4", "scalingo:e2"], "newest first")
        #expect(try await store.deliveries(DeliveryQuery(eventKey: "scalingo:e3")).map(\.subscriptionID).sorted() == ["a", "b"])
        #expect(try await store.deliveries(DeliveryQuery(source: "scalingo")).count == 12)
        #expect(try await store.deliveries(DeliveryQuery(source: "scaling")).isEmpty, "a source is matched whole")
        // e0..e5 were created 1 ms apart.
        let window = try await store.deliveries(DeliveryQuery(since: Self.t0.addingTimeInterval(0.002), until: Self.t0.addingTimeInterval(0.004)))
        #expect(Set(window.map(\.eventKey)) == ["scalingo:e2", "scalingo:e3"])
        var pages: [[String]] = []
        var cursor: String?
        repeat {
            let page = try await store.deliveries(DeliveryQuery(limit: 5, before: cursor))
            pages.append(page.map(\.id))
            cursor = page.count == 5 ? page.last?.id : nil
        } while cursor != nil
        #expect(pages.map(\.count) == [5, 5, 2])
        #expect(Set(pages.flatMap { $0 }).count == 12, "every delivery once across pages")
    }

    @Test(arguments: Engine.allCases)
    func bulkRetryTakesOnlyTheDeadLettersTheFiltersSelect(engine: Engine) async throws {
        let opened = try Opened(engine)
        let store = opened.store
        try await owe(store, 4, to: ["a", "b"])
        try await settle(store, "a", at: 1, dead: { _ in true })
        try await settle(store, "b", at: 1, dead: { $0.event.id != "e0" })
        let retried = try await store.retryDeadLetters(DeliveryQuery(subscriptionID: "a", limit: 3), of: ["a", "b"], now: Self.t0.addingTimeInterval(5))
        let fresh = retried.allSatisfy { $0.status == .pending && $0.attempts == 0 && $0.subscriptionID == "a" }
        #expect(retried.count == 3 && fresh)
        #expect(try await store.deliveryCountsBySubscription()["a"] == [.pending: 3, .deadLetter: 1])
        let rest = try await store.retryDeadLetters(DeliveryQuery(status: .delivered, limit: 100), of: ["b"], now: Self.t0.addingTimeInterval(5))
        #expect(rest.count == 3, "the status asked for is ignored, and only the subscriptions given (a's last stays dead)")
        #expect(try await store.deliveryCountsBySubscription()["a"]?[.deadLetter] == 1)
        #expect(try await store.deliveryCountsBySubscription()["b"] == [.pending: 3, .delivered: 1])
        #expect(try await store.retryDeadLetters(DeliveryQuery(), of: [], now: Self.t0).isEmpty)
    }

    /// An id alone matches that id under every source (and nothing else: not a prefix, not another id).
    @Test(arguments: Engine.allCases)
    func anEventIdAloneMatchesItUnderEverySource(engine: Engine) async throws {
        let opened = try Opened(engine)
        let store = opened.store
        try await owe(store, 3, to: ["a", "b"])
        for (source, id) in [("qovery", "e1"), ("qovery", "e10"), ("a-b", "e1"), ("z", "e1"), ("z", "x")] {
            let event = Fixtures.event(type: "deployment", source: source, id: id, time: Self.t0)
            let owed = [NewDelivery(id: "dlv_\(source)_\(id)", eventKey: event.key, subscriptionID: "a", matchedBy: "rule:r")]
            _ = try await store.commitIngest(IngestCommit(items: [IngestCommit.Item(event: event, deliveries: owed)], now: Self.t0))
        }
        let keys = try await store.deliveries(DeliveryQuery(eventID: "e1")).map { "\($0.eventKey) \($0.subscriptionID)" }
        #expect(keys.sorted() == ["a-b:e1 a", "qovery:e1 a", "scalingo:e1 a", "scalingo:e1 b", "z:e1 a"])
        #expect(try await store.deliveries(DeliveryQuery(subscriptionID: "b", eventID: "e1")).map(\.eventKey) == ["scalingo:e1"])
        #expect(try await store.deliveries(DeliveryQuery(eventID: "e")).isEmpty, "an id is matched whole")
        #expect(try await store.deliveries(DeliveryQuery(eventID: "x")).map(\.eventKey) == ["z:x"])
        #expect(try await store.deliveryCounts(DeliveryQuery(eventID: "e1")) == allStatuses([.pending: 5, .delivered: 0, .deadLetter: 0]))
    }

    /// The counts of a query are of the rows it selects (all pages), whichever way the engine
    /// answers them (kept counts for subscription and status, rows otherwise).
    @Test(arguments: Engine.allCases)
    func theCountsOfAQueryAreOfWhatItSelects(engine: Engine) async throws {
        let opened = try Opened(engine)
        let store = opened.store
        try await owe(store, 6, to: ["a", "b"])
        try await settle(store, "a", at: 1, dead: { $0.event.id == "e2" || $0.event.id == "e4" })
        func tally(_ query: DeliveryQuery) async throws -> [DeliveryStatus: Int] {
            var all = query
            (all.limit, all.before) = (1000, nil)
            var counts = allStatuses([:])
            for delivery in try await store.deliveries(all) { counts[delivery.status, default: 0] += 1 }
            return counts
        }
        let queries = [
            DeliveryQuery(), DeliveryQuery(subscriptionID: "a"), DeliveryQuery(subscriptionID: "b"), DeliveryQuery(subscriptionID: "none"),
            DeliveryQuery(status: .deadLetter), DeliveryQuery(status: .pending, subscriptionID: "a"), DeliveryQuery(status: .delivered, subscriptionID: "a"),
            DeliveryQuery(eventKey: "scalingo:e2"), DeliveryQuery(subscriptionID: "a", eventKey: "scalingo:e2"), DeliveryQuery(eventID: "e3"),
            DeliveryQuery(source: "scalingo"),
            DeliveryQuery(subscriptionID: "b", source: "qovery"), DeliveryQuery(since: Self.t0.addingTimeInterval(0.002), until: Self.t0.addingTimeInterval(0.004)),
            DeliveryQuery(status: .delivered, subscriptionID: "a", since: Self.t0.addingTimeInterval(0.003)), DeliveryQuery(limit: 2, before: "dlv_000003_a"),
        ]
        for query in queries {
            #expect(try await store.deliveryCounts(query) == (try await tally(query)), "\(query)")
        }
        #expect(try await store.deliveryCounts(DeliveryQuery(subscriptionID: "a")) == allStatuses([.pending: 0, .delivered: 4, .deadLetter: 2]))
        #expect(try await store.deliveryCounts(DeliveryQuery(subscriptionID: "b")) == allStatuses([.pending: 6, .delivered: 0, .deadLetter: 0]))
        #expect(try await store.deliveryCounts(DeliveryQuery(status: .deadLetter, subscriptionID: "b")) == allStatuses([.pending: 0, .delivered: 0, .deadLetter: 0]))
        #expect(try await store.deliveryCounts(DeliveryQuery(limit: 1)) == allStatuses([.pending: 6, .delivered: 4, .deadLetter: 2]), "the limit does not count")
    }

    @Test(arguments: Engine.allCases)
    func aReplayOwesTheWindowsSettledEventsAgainUnderNewIds(engine: Engine) async throws {
        let opened = try Opened(engine)
        let store = opened.store
        try await owe(store, 5, to: ["a"])
        try await settle(store, "a", at: 1, dead: { $0.event.id == "e1" })
        let before = try await store.deliveries(DeliveryQuery(subscriptionID: "a"))
        let replayed = try await store.replay(
            subscriptionID: "a", since: Self.t0.addingTimeInterval(0.001), until: Self.t0.addingTimeInterval(0.004), limit: 2,
            now: Self.t0.addingTimeInterval(10))
        #expect(replayed.count == 2 && replayed.truncated, "e1, e2 of e1..e3 (limit 2)")
        let fresh = try await store.deliveries(DeliveryQuery(status: .pending, subscriptionID: "a"))
        #expect(fresh.map(\.eventKey).sorted() == ["scalingo:e1", "scalingo:e2"])
        #expect(fresh.allSatisfy { $0.matchedBy.hasPrefix("replay of dlv_") && !before.map(\.id).contains($0.id) })
        let claimed = try await store.claimDeliveries(
            [LaneClaim(subscriptionID: "a", limit: 10, ordered: true)], now: Self.t0.addingTimeInterval(11), lease: lease(50, until: 70))
        #expect(claimed[0].deliveries.map(\.event.id) == ["e1", "e2"], "the stored events, in their order")
        let key = Fixtures.event(type: "deployment", id: "e1").orderKey
        #expect(claimed[0].deliveries.allSatisfy { $0.orderKey == key }, "a replay keeps its event's order key")
        #expect(try await store.replay(subscriptionID: "a", since: Self.t0.addingTimeInterval(5), until: Self.t0.addingTimeInterval(6), limit: 10, now: Self.t0) == (0, false))
        // Replaying the same window again owes nothing more: e1 and e2 are still owed, e3 once.
        let again = try await store.replay(
            subscriptionID: "a", since: Self.t0.addingTimeInterval(0.001), until: Self.t0.addingTimeInterval(0.004), limit: 10,
            now: Self.t0.addingTimeInterval(12))
        #expect(again.count == 1 && !again.truncated)
        #expect(try await store.deliveries(DeliveryQuery(status: .pending, subscriptionID: "a")).count == 3)
    }

    @Test(arguments: Engine.allCases)
    func pruningDeletesSettledRowsPastTheirRetentionButNeverPendingOnes(engine: Engine) async throws {
        let opened = try Opened(engine)
        let store = opened.store
        try await owe(store, 6, to: ["a"])
        try await settle(store, "a", at: 10, dead: { ["e0", "e1"].contains($0.event.id) })
        try await owe(store, 1, to: ["a"], from: 6)
        // Delivered ones (settled at t0+10) older than t0+20: pruned; dead letters only before t0+5: kept.
        let first = try await store.prune(deliveredBefore: Self.t0.addingTimeInterval(20), deadBefore: Self.t0.addingTimeInterval(5), limit: 3)
        #expect(first == PruneResult(deliveries: 3, events: 3))
        let second = try await store.prune(deliveredBefore: Self.t0.addingTimeInterval(20), deadBefore: Self.t0.addingTimeInterval(5), limit: 3)
        #expect(second.deliveries == 1)
        #expect(try await store.deliveryCounts() == allStatuses([.pending: 1, .delivered: 0, .deadLetter: 2]))
        let third = try await store.prune(deliveredBefore: Self.t0.addingTimeInterval(20), deadBefore: Self.t0.addingTimeInterval(20), limit: 100)
        #expect(third.deliveries == 2)
        #expect(try await store.deliveries(DeliveryQuery()).map(\.eventKey) == ["scalingo:e6"], "the pending one stays, with its event")
        let claimed = try await store.claimDeliveries([LaneClaim(subscriptionID: "a", limit: 1, ordered: true)], now: Self.t0.addingTimeInterval(30), lease: lease(9, until: 90))
        #expect(claimed[0].deliveries.first?.event.id == "e6")
        // A pruned event is still remembered for dedupe: ingesting it again owes nothing.
        let again = try await store.commitIngest(IngestCommit(
            items: [IngestCommit.Item(event: Fixtures.event(type: "deployment", id: "e0", time: Self.t0), deliveries: [
                NewDelivery(id: "dlv_again", eventKey: "scalingo:e0", subscriptionID: "a", matchedBy: "rule:r"),
            ])], now: Self.t0.addingTimeInterval(40)))
        #expect(again.duplicates == 1 && again.deliveries == 0)
    }
}
