import EventModel
import Foundation

/// Everything the relay persists, as focused contracts: subscriptions (and their delivery
/// state), ingest (dedupe, outbox rows and feed checkpoints in one transaction), the outbox
/// (claiming under a lease, recording outcomes fenced by it) and the delivery log (what the API
/// shows). SQLite is the embedded default (`SQLiteStore`); another engine implements the same
/// contracts and passes the same conformance suite (Tests/EventRelayTests/Store/StoreConformance).
/// Every method is one transaction.
public typealias RelayStore = SubscriptionStore & IngestStore & OutboxStore & DeliveryLogStore & MessageThreads & PolicyStateStore
    & MuteStore

/// Subscriptions created over the admin API, and the delivery state of every subscription
/// (also those declared in rules files): paused, disabled, failing since.
public protocol SubscriptionStore: Sendable {
    func listSubscriptions() async throws -> [Subscription]
    func subscription(id: String) async throws -> Subscription?
    /// Throws `StoreError.conflict` when the id exists.
    func insertSubscription(_ subscription: Subscription) async throws
    /// Throws `StoreError.notFound` when the id does not exist.
    func updateSubscription(_ subscription: Subscription) async throws
    /// Returns false when the id does not exist. Pending deliveries to it are dead-lettered.
    func deleteSubscription(id: String, now: Date) async throws -> Bool

    /// The delivery state of every subscription that has one.
    func subscriptionStates() async throws -> [String: SubscriptionState]
    /// Paused by an operator (true) or resumed (false).
    func setPaused(subscriptionID: String, _ paused: Bool, now: Date) async throws
    /// Disabled with a reason, or enabled again (nil).
    func setDisabled(subscriptionID: String, reason: String?, now: Date) async throws
    /// Paused, disabled and failing-since all cleared, in one write: an operator's resume.
    func resume(subscriptionID: String, now: Date) async throws
    /// When the current run of failures began (nil: it ended).
    func setFailingSince(subscriptionID: String, _ since: Date?, now: Date) async throws

    /// Checks the store answers (for /healthz).
    func ping() async throws
}

/// Where feeds and push hand events over.
public protocol IngestStore: Sendable {
    /// A stream's checkpoint as last committed (`<feed>/<stream>`), nil before its first poll.
    func loadCheckpoint(stream: String) async throws -> FeedCheckpoint?
    /// Atomically: each event not ingested before (by `Event.key`, whatever brought it) is
    /// remembered, and stored with its deliveries when it has any; events ingested before are
    /// skipped whole. The stream's checkpoint, if given, is written in the same transaction, so an
    /// event is marked seen exactly when its deliveries exist.
    func commitIngest(_ commit: IngestCommit) async throws -> IngestResult
}

/// The deliveries owed, claimed by lane under a lease.
public protocol OutboxStore: Sendable {
    /// For each lane, leases up to `limit` of its pending deliveries that are due and not leased:
    /// oldest due first, or (ordered lanes) oldest first, stopping at the first that is not due,
    /// or (lanes ordered by key) so for each key apart.
    /// A leased delivery is not due again before its lease ends: a lease that ends without an
    /// outcome (its owner died) makes the delivery due again, and another owner may claim it.
    /// When a lane gets fewer than asked, its result says when its next delivery is due.
    func claimDeliveries(_ lanes: [LaneClaim], now: Date, lease: Lease) async throws -> [LaneClaimResult]
    /// Records attempts (a batch, in one transaction): the attempt log and each delivery's new
    /// state. A record whose lease token no longer matches (the lease ended and the delivery was
    /// claimed again) changes no state; its id is returned.
    @discardableResult
    func recordAttempts(_ attempts: [AttemptRecord]) async throws -> [String]
    /// Pending deliveries of the subscription waiting for a retry are due now.
    func expediteRetries(subscriptionID: String, now: Date) async throws
    /// Subscriptions with pending deliveries.
    func subscriptionsWithPendingDeliveries() async throws -> Set<String>
    /// Dead-letters every pending delivery of a subscription (which no longer exists).
    func deadLetterPending(subscriptionID: String, reason: String, now: Date) async throws -> Int
}

/// What was delivered, how, and what is owed: for the API and metrics.
public protocol DeliveryLogStore: Sendable {
    func deliveries(_ query: DeliveryQuery) async throws -> [Delivery]
    func delivery(id: String) async throws -> Delivery?
    func attempts(deliveryID: String) async throws -> [DeliveryAttempt]
    /// Puts a dead letter back in the queue, due now, with a fresh schedule. Nil when there is no such delivery.
    func retryDelivery(id: String, now: Date) async throws -> Delivery?
    /// Counts by status, kept incrementally (never a scan of the outbox).
    func deliveryCounts() async throws -> [DeliveryStatus: Int]
    /// Counts by subscription and status, kept incrementally.
    func deliveryCountsBySubscription() async throws -> [String: [DeliveryStatus: Int]]
    /// Counts by status (every status, 0 when none) of the deliveries the query selects, all of
    /// them: its limit and cursor are ignored, and with a status filter the other statuses are 0.
    /// A query by subscription and status only is answered from the counts kept incrementally;
    /// one by event, source or time counts the rows it selects.
    func deliveryCounts(_ query: DeliveryQuery) async throws -> [DeliveryStatus: Int]
    /// Puts the dead letters the query selects (its status is ignored), of these subscriptions
    /// only, back in the queue, due now with fresh schedules, up to `query.limit`; returns them.
    func retryDeadLetters(_ query: DeliveryQuery, of subscriptions: Set<String>, now: Date) async throws -> [Delivery]
    /// Owes the subscription, again, every event that was delivered or dead-lettered to it and
    /// whose delivery was created in [since, until) (each event once, and none still owed): new
    /// deliveries (new ids, so receivers that drop duplicates take them), at most `limit`.
    /// Returns how many, and whether more remain.
    func replay(subscriptionID: String, since: Date, until: Date, limit: Int, now: Date) async throws -> (count: Int, truncated: Bool)
    /// Deletes delivered deliveries settled before `deliveredBefore` and dead letters settled
    /// before `deadBefore` (with their attempts, and events nothing refers to any more), at most
    /// `limit` deliveries per call.
    func prune(deliveredBefore: Date, deadBefore: Date, limit: Int) async throws -> PruneResult
}

/// A subscription's delivery state.
public struct SubscriptionState: Sendable, Equatable {
    public var pausedAt: Date?
    public var disabledAt: Date?
    public var disabledReason: String?
    public var failingSince: Date?

    public init(pausedAt: Date? = nil, disabledAt: Date? = nil, disabledReason: String? = nil, failingSince: Date? = nil) {
        self.pausedAt = pausedAt
        self.disabledAt = disabledAt
        self.disabledReason = disabledReason
        self.failingSince = failingSince
    }

    /// Nothing is sent: paused or disabled.
    public var isHeld: Bool { pausedAt != nil || disabledAt != nil }
}

/// A lease on claimed deliveries: who holds it, a token unique to the claim, and until when.
public struct Lease: Sendable, Hashable {
    public var owner: String
    public var token: Int64
    public var until: Date

    public init(owner: String, token: Int64, until: Date) {
        self.owner = owner
        self.token = token
        self.until = until
    }
}

/// A request to claim up to `limit` due deliveries of one subscription.
public struct LaneClaim: Sendable, Equatable {
    public var subscriptionID: String
    public var limit: Int
    /// Oldest first, stopping at the first that is not due (FIFO), rather than any due ones.
    public var ordered: Bool
    /// In order per `orderKey`: for each key, its oldest pending rows up to the first that is
    /// not due (a retry waiting, or one in flight); the keys' turns shared round-robin, oldest
    /// head first. (`ordered` is false then.)
    public var keyed: Bool
    /// A breaker's probe: the lane's next delivery (its head, when ordered) even if it is not
    /// due yet, when it is not leased; `limit` is 1.
    public var probe: Bool

    public init(subscriptionID: String, limit: Int, ordered: Bool, keyed: Bool = false, probe: Bool = false) {
        self.subscriptionID = subscriptionID
        self.limit = limit
        self.ordered = ordered
        self.keyed = keyed
        self.probe = probe
    }
}

public struct LaneClaimResult: Sendable {
    public var subscriptionID: String
    public var deliveries: [ClaimedDelivery]
    /// When fewer than asked were claimed: when the lane's next pending delivery is due (nil: none is pending).
    public var nextDue: Date?

    public init(subscriptionID: String, deliveries: [ClaimedDelivery], nextDue: Date?) {
        self.subscriptionID = subscriptionID
        self.deliveries = deliveries
        self.nextDue = nextDue
    }
}

public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    private enum Code: Sendable, Equatable {
        case conflict
        case notFound
        case corrupt
        case unavailable
        case stale
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
    /// A compare-and-set lost: what was read changed before the write (read again, decide again).
    public static func stale(_ detail: String) -> StoreError { StoreError(.stale, detail) }

    public var isConflict: Bool { code == .conflict }
    public var isNotFound: Bool { code == .notFound }
    public var isStale: Bool { code == .stale }

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
    /// Policy state changed by this batch's stages, each a compare-and-set: if any entry's
    /// version is not the one read, or any item's event was ingested since the stages read
    /// (`IngestContext.seenEventKeys`), nothing is written and `StoreError.stale` is thrown.
    public var stateWrites: [PolicyStateWrite]

    public init(
        items: [Item], checkpoint: (stream: String, value: FeedCheckpoint)? = nil, now: Date, stateWrites: [PolicyStateWrite] = []
    ) {
        self.stateWrites = stateWrites
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
    /// `pending` (to send), or the status a policy settled it with (muted, throttled…).
    public var status: DeliveryStatus
    /// Not sent before this time (quiet hours that delay); nil: due now.
    public var notBefore: Date?
    /// What the policy said of it (see `Delivery.note`).
    public var note: String?

    public init(
        id: String, eventKey: String, subscriptionID: String, matchedBy: String, status: DeliveryStatus = .pending, notBefore: Date? = nil,
        note: String? = nil
    ) {
        self.status = status
        self.notBefore = notBefore
        self.note = note
        self.id = id
        self.eventKey = eventKey
        self.subscriptionID = subscriptionID
        self.matchedBy = matchedBy
    }
}

public struct ClaimedDelivery: Sendable {
    public var delivery: Delivery
    /// The event as stored: its bytes, not decoded (a webhook splices them into its body).
    public var event: StoredEvent
    public var lease: Lease

    /// The event's `Event.orderKey`, as stored with the delivery: a lane ordered by key sends
    /// the deliveries of one key one after another.
    public var orderKey: String

    public init(delivery: Delivery, event: StoredEvent, lease: Lease, orderKey: String = "") {
        self.delivery = delivery
        self.event = event
        self.lease = lease
        self.orderKey = orderKey
    }
}

/// One attempt at one delivery (or a delivery put back without one), and what follows it.
public struct AttemptRecord: Sendable, Hashable {
    /// How the attempt went: the one classification every attempt gets.
    public enum Outcome: String, Sendable, Codable, CaseIterable {
        /// The receiver accepted it.
        case delivered
        /// A failure worth trying again: a 5xx, 408, a network failure.
        case retry
        /// 429: pacing, not failure; it does not count toward giving up.
        case rateLimited = "rate_limited"
        /// A permanent failure: the receiver refused it (4xx); trying again cannot help.
        case failed
        /// 410: the receiver asks to be disabled.
        case disable
        /// Not sent (its lane stopped before its turn): put back without counting an attempt.
        case deferred
    }

    /// What happens to the delivery next.
    public enum Next: Sendable, Hashable {
        case delivered
        /// Try again at this time; the attempt counts toward the schedule.
        case retry(at: Date)
        /// Try again at this time; the attempt does not count (429, or not sent).
        case wait(until: Date)
        /// Given up: kept as a dead letter, retryable by hand.
        case deadLetter
    }

    public var deliveryID: String
    public var subscriptionID: String
    /// The lease the attempt was made under; nil for records not made under one.
    public var leaseToken: Int64?
    public var at: Date
    public var outcome: Outcome
    public var statusCode: Int?
    /// Why, bounded and scrubbed of the destination's secrets.
    public var error: String?
    public var durationMilliseconds: Int
    public var next: Next
    /// Whether the attempt counts toward the schedule: not a 429, not one put back unsent, not a
    /// breaker's probe sent ahead of the delivery's own time.
    public var counted: Bool

    public init(
        deliveryID: String, subscriptionID: String = "", leaseToken: Int64? = nil, at: Date, outcome: Outcome, statusCode: Int? = nil,
        error: String? = nil, durationMilliseconds: Int = 0, next: Next, counted: Bool? = nil
    ) {
        self.counted = counted ?? (outcome != .rateLimited && outcome != .deferred)
        self.deliveryID = deliveryID
        self.subscriptionID = subscriptionID
        self.leaseToken = leaseToken
        self.at = at
        self.outcome = outcome
        self.statusCode = statusCode
        self.error = error
        self.durationMilliseconds = durationMilliseconds
        self.next = next
    }

    /// When the delivery is tried next, if it is.
    public var nextAttemptAt: Date? {
        switch next {
        case .retry(let at), .wait(let at): return at
        case .delivered, .deadLetter: return nil
        }
    }
}

/// One logged attempt, as the API shows it.
public struct DeliveryAttempt: Sendable, Hashable {
    public var deliveryID: String
    public var at: Date
    public var outcome: AttemptRecord.Outcome
    public var statusCode: Int?
    public var error: String?
    public var durationMilliseconds: Int

    public init(deliveryID: String, at: Date, outcome: AttemptRecord.Outcome, statusCode: Int?, error: String?, durationMilliseconds: Int) {
        self.deliveryID = deliveryID
        self.at = at
        self.outcome = outcome
        self.statusCode = statusCode
        self.error = error
        self.durationMilliseconds = durationMilliseconds
    }
}

/// Which deliveries to list (newest first) or act on. Every filter is optional.
public struct DeliveryQuery: Sendable, Equatable {
    public var status: DeliveryStatus?
    public var subscriptionID: String?
    /// The event's key (`source:id`).
    public var eventKey: String?
    /// The event's id alone: that id under any source.
    public var eventID: String?
    /// The event's source (`scalingo`, `qovery`, `event-relay`…).
    public var source: String?
    /// Created at or after / before these times.
    public var since: Date?
    public var until: Date?
    public var limit: Int
    /// The cursor: deliveries with ids lower than this (ids sort by creation time), to page backwards.
    public var before: String?

    public init(
        status: DeliveryStatus? = nil, subscriptionID: String? = nil, eventKey: String? = nil, eventID: String? = nil, source: String? = nil,
        since: Date? = nil, until: Date? = nil, limit: Int = 100, before: String? = nil
    ) {
        self.eventID = eventID
        self.status = status
        self.subscriptionID = subscriptionID
        self.eventKey = eventKey
        self.source = source
        self.since = since
        self.until = until
        self.limit = limit
        self.before = before
    }
}

/// How long the delivery log keeps what is settled.
public struct RetentionPolicy: Sendable, Equatable {
    public var delivered: Duration
    public var deadLetters: Duration

    public init(delivered: Duration = .seconds(7 * 86400), deadLetters: Duration = .seconds(30 * 86400)) {
        self.delivered = delivered
        self.deadLetters = deadLetters
    }
}

public struct PruneResult: Sendable, Equatable {
    public var deliveries: Int
    public var events: Int

    public init(deliveries: Int = 0, events: Int = 0) {
        self.deliveries = deliveries
        self.events = events
    }
}
