import EventModel
import Foundation

/// Everything the relay persists, behind one protocol: SQLite is the embedded default
/// (`SQLiteStore`); other engines implement the same contract. Every method is one transaction.
public protocol RelayStore: Sendable {
    // MARK: Subscriptions (created over the admin API)

    func listSubscriptions() async throws -> [Subscription]
    func subscription(id: String) async throws -> Subscription?
    /// Throws `StoreError.conflict` when the id exists.
    func insertSubscription(_ subscription: Subscription) async throws
    /// Throws `StoreError.notFound` when the id does not exist.
    func updateSubscription(_ subscription: Subscription) async throws
    /// Returns false when the id does not exist. Pending deliveries to it are marked failed.
    func deleteSubscription(id: String, now: Date) async throws -> Bool

    // MARK: Feeds

    /// A stream's checkpoint as last committed (`<feed>/<stream>`), nil before its first poll.
    func loadCheckpoint(stream: String) async throws -> FeedCheckpoint?
    /// Atomically: each event not ingested before (by `Event.key`, whatever brought it) is
    /// remembered, and stored with its deliveries when it has any; events ingested before are
    /// skipped whole. The stream's checkpoint, if given, is written in the same transaction, so an
    /// event is marked seen exactly when its deliveries exist.
    func commitIngest(_ commit: IngestCommit) async throws -> IngestResult

    // MARK: Outbox

    /// Leases up to `limit` pending deliveries that are due, oldest first, until `leaseUntil`.
    func claimDueDeliveries(now: Date, limit: Int, leaseUntil: Date) async throws -> [ClaimedDelivery]
    /// Records attempts (a batch, in one transaction): the attempt log and each delivery's new state.
    func recordAttempts(_ attempts: [AttemptRecord]) async throws
    /// Ends every lease (at start-up: the previous process is gone, its in-flight deliveries are pending again).
    func releaseAllLeases() async throws
    /// When the next pending delivery is due, if any.
    func nextDueTime() async throws -> Date?

    func deliveries(_ query: DeliveryQuery) async throws -> [Delivery]
    func delivery(id: String) async throws -> Delivery?
    func attempts(deliveryID: String) async throws -> [AttemptRecord]
    /// Puts a failed delivery back in the queue, due now. Returns nil when there is no such delivery.
    func retryDelivery(id: String, now: Date) async throws -> Delivery?
    func deliveryCounts() async throws -> [DeliveryStatus: Int]

    /// Checks the store answers (for /healthz).
    func ping() async throws
}

public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    private enum Code: Sendable, Equatable {
        case conflict
        case notFound
        case corrupt
        case unavailable
    }

    private let code: Code
    public let detail: String

    private init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public static func conflict(_ detail: String) -> StoreError { StoreError(.conflict, detail) }
    public static func notFound(_ detail: String) -> StoreError { StoreError(.notFound, detail) }
    public static func corrupt(_ detail: String) -> StoreError { StoreError(.corrupt, detail) }
    public static func unavailable(_ detail: String) -> StoreError { StoreError(.unavailable, detail) }

    public var isConflict: Bool { code == .conflict }
    public var isNotFound: Bool { code == .notFound }

    public var description: String { detail }
}

/// One ingest transaction (see `RelayStore.commitIngest`).
public struct IngestCommit: Sendable {
    public struct Item: Sendable {
        public var event: Event
        /// What routing owes for the event; empty: it is only remembered, for dedupe.
        public var deliveries: [NewDelivery]

        public init(event: Event, deliveries: [NewDelivery]) {
            self.event = event
            self.deliveries = deliveries
        }
    }

    public var items: [Item]
    public var checkpoint: (stream: String, value: FeedCheckpoint)?
    public var now: Date

    public init(items: [Item], checkpoint: (stream: String, value: FeedCheckpoint)? = nil, now: Date) {
        self.items = items
        self.checkpoint = checkpoint
        self.now = now
    }
}

public struct NewDelivery: Sendable, Hashable {
    public var id: String
    public var eventKey: String
    public var subscriptionID: String
    public var matchedBy: String

    public init(id: String, eventKey: String, subscriptionID: String, matchedBy: String) {
        self.id = id
        self.eventKey = eventKey
        self.subscriptionID = subscriptionID
        self.matchedBy = matchedBy
    }
}

public struct ClaimedDelivery: Sendable {
    public var delivery: Delivery
    public var event: Event

    public init(delivery: Delivery, event: Event) {
        self.delivery = delivery
        self.event = event
    }
}

public struct AttemptRecord: Sendable, Hashable {
    public enum Outcome: String, Sendable, Codable {
        case delivered
        case retry
        case failed
        /// Not sent (rate-limited subscription, shutdown): rescheduled without counting an attempt.
        case deferred
    }

    public var deliveryID: String
    public var at: Date
    public var outcome: Outcome
    public var statusCode: Int?
    public var error: String?
    public var durationMilliseconds: Int
    /// For retry and deferred: when to try next.
    public var nextAttemptAt: Date?

    public init(
        deliveryID: String, at: Date, outcome: Outcome, statusCode: Int? = nil, error: String? = nil,
        durationMilliseconds: Int = 0, nextAttemptAt: Date? = nil
    ) {
        self.deliveryID = deliveryID
        self.at = at
        self.outcome = outcome
        self.statusCode = statusCode
        self.error = error
        self.durationMilliseconds = durationMilliseconds
        self.nextAttemptAt = nextAttemptAt
    }
}

public struct DeliveryQuery: Sendable {
    public var status: DeliveryStatus?
    public var subscriptionID: String?
    public var limit: Int
    /// Return deliveries with ids lower than this (ids sort by creation time): paging backwards.
    public var before: String?

    public init(status: DeliveryStatus? = nil, subscriptionID: String? = nil, limit: Int = 100, before: String? = nil) {
        self.status = status
        self.subscriptionID = subscriptionID
        self.limit = limit
        self.before = before
    }
}
