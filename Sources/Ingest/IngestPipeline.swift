import EventModel
import Foundation
import Logging
import Metrics
import Rules
import Store

/// One subscription an event is owed to, and what the stages so far made of it: to send
/// (`pending`, perhaps not before a time), or settled by a policy (muted, throttled…) with a note.
public struct StagedDelivery: Sendable, Hashable {
    public var subscriptionID: String
    public var matchedBy: String
    public var status: DeliveryStatus
    public var notBefore: Date?
    public var note: String?

    public init(subscriptionID: String, matchedBy: String, status: DeliveryStatus = .pending, notBefore: Date? = nil, note: String? = nil) {
        self.subscriptionID = subscriptionID
        self.matchedBy = matchedBy
        self.status = status
        self.notBefore = notBefore
        self.note = note
    }

    /// Still to be sent: later stages consider it; a settled one they leave alone.
    public var isOpen: Bool { status == .pending }

    /// Settles it with a policy's status and reason.
    public mutating func settle(_ status: DeliveryStatus, _ note: String) {
        self.status = status
        self.note = note
    }
}

/// An event on its way through the pipeline: what the stages so far have decided for it.
public struct StagedEvent: Sendable {
    public var event: Event
    /// Who should hear about it (filled by routing; policies settle or delay some).
    public var deliveries: [StagedDelivery]

    public init(event: Event, deliveries: [StagedDelivery] = []) {
        self.event = event
        self.deliveries = deliveries
    }
}

/// What the stages remember between batches, as read from the store for this batch, and what
/// they change: the changes are written with the ingest commit, each a compare-and-set against
/// the version read (`PolicyStateWrite`), so two writers never both act on the same state.
public struct PolicyStates: Sendable {
    private var read: [PolicyStateKey: PolicyStateEntry] = [:]
    private var loaded: Set<PolicyStateKey> = []
    private var changed: [PolicyStateKey: (value: JSONValue?, dueAt: Date?, limit: Int?)] = [:]

    public init() {}

    /// Entries read for the keys given (absent ones are known absent).
    public mutating func load(_ keys: Set<PolicyStateKey>, _ entries: [PolicyStateKey: PolicyStateEntry]) {
        loaded.formUnion(keys)
        for (key, entry) in entries { read[key] = entry }
    }

    public func missing(_ keys: Set<PolicyStateKey>) -> Set<PolicyStateKey> { keys.subtracting(loaded) }

    /// The entry as this batch sees it (its own changes first).
    public subscript(key: PolicyStateKey) -> JSONValue? {
        if let change = changed[key] { return change.value }
        return read[key]?.value
    }

    /// The due time as this batch sees it.
    public func dueAt(_ key: PolicyStateKey) -> Date? {
        if let change = changed[key] { return change.dueAt }
        return read[key]?.dueAt
    }

    /// Sets (or, nil, deletes) an entry; `limit` bounds the policy's entries (oldest evicted).
    public mutating func set(_ key: PolicyStateKey, _ value: JSONValue?, dueAt: Date? = nil, limit: Int? = nil) {
        changed[key] = (value, dueAt, limit)
    }

    public var writes: [PolicyStateWrite] {
        changed.sorted { $0.key < $1.key }.map { key, change in
            PolicyStateWrite(key: key, expectedVersion: read[key]?.version, value: change.value, dueAt: change.dueAt, limit: change.limit)
        }
    }

    public var isEmpty: Bool { changed.isEmpty }
}

/// One step of the pipeline before the commit: routing, then each policy. A stage decides over
/// the batch without I/O, the time passed in; one that remembers names the state it needs
/// (`stateKeys`), which the pipeline reads from the store first, and changes it through
/// `PolicyStates`, written in the same transaction as the batch's deliveries. One more policy
/// is one more stage.
public protocol IngestStage: Sendable {
    var name: String { get }
    /// The state entries this stage reads for these events (after the stages before it).
    func stateKeys(for events: [StagedEvent], now: Date) -> Set<PolicyStateKey>
    func apply(to events: inout [StagedEvent], state: inout PolicyStates, now: Date)
}

extension IngestStage {
    public func stateKeys(for events: [StagedEvent], now: Date) -> Set<PolicyStateKey> { [] }
}

/// Routes each event through the rules and API subscriptions in force at that moment.
public struct RouteStage: IngestStage {
    public let catalog: SubscriptionCatalog
    public var name: String { "route" }

    public init(catalog: SubscriptionCatalog) { self.catalog = catalog }

    public func apply(to events: inout [StagedEvent], state: inout PolicyStates, now: Date) {
        let router = catalog.router
        for index in events.indices {
            let event = events[index].event
            var matches = router.route(event)
            // A health event is never sent to the subscription it is about: a failing Slack sink
            // is not told about itself (nor asked to carry the news of its own failure).
            if event.source == Event.relaySource, let subject = event.details?["subscription_id"]?.stringValue {
                matches.removeAll { $0.subscriptionID == subject }
            }
            events[index].deliveries = matches.map { StagedDelivery(subscriptionID: $0.subscriptionID, matchedBy: $0.matchedBy) }
        }
    }
}

/// The one way events enter the relay, from a feed's poll or a push: the stages run in order,
/// then one store transaction dedupes the events (by source and id, across streams, feeds and
/// push), writes the outbox rows for what was routed (those a policy settled with their status
/// and reason), the policies' state and the feed's checkpoint; then the dispatcher is woken. A
/// failed commit changes nothing, and the caller keeps its checkpoint. When another writer
/// changed the state the stages read (another replica, or a concurrent batch), the batch is
/// read and decided again.
public final class IngestPipeline: EventIngest {
    private let store: any RelayStore
    public let stages: [any IngestStage]
    private let onDeliveries: @Sendable () -> Void
    /// Called after a commit that changed policy state (a digest's due time, say).
    private let onStateWritten: @Sendable () -> Void
    private let logger = Logger(label: "event-relay.ingest")
    /// Attempts at a batch whose state keeps changing under it before giving up (the caller retries later).
    static let maxAttempts = 8

    public init(
        store: any RelayStore, stages: [any IngestStage], onDeliveries: @escaping @Sendable () -> Void = {},
        onStateWritten: @escaping @Sendable () -> Void = {}
    ) {
        self.onStateWritten = onStateWritten
        self.store = store
        self.stages = stages
        self.onDeliveries = onDeliveries
    }

    /// The stages every relay runs, in order: routing, then the policies (`PolicyStages`).
    public static func standardStages(catalog: SubscriptionCatalog) -> [any IngestStage] {
        [RouteStage(catalog: catalog)] + PolicyStages.all(catalog: catalog)
    }

    public func checkpoint(stream: String) async throws -> FeedCheckpoint? {
        try await store.loadCheckpoint(stream: stream)
    }

    /// Runs the stages over a batch: what `ingest` commits, and what `rules test` and replays show.
    public static func decide(
        _ events: [Event], stages: [any IngestStage], now: Date, read: (Set<PolicyStateKey>) async throws -> [PolicyStateKey: PolicyStateEntry]
    ) async throws -> (events: [StagedEvent], state: PolicyStates) {
        var staged = events.map { StagedEvent(event: $0) }
        var state = PolicyStates()
        for stage in stages {
            let wanted = state.missing(stage.stateKeys(for: staged, now: now))
            if !wanted.isEmpty { state.load(wanted, try await read(wanted)) }
            stage.apply(to: &staged, state: &state, now: now)
        }
        return (staged, state)
    }

    public func ingest(_ batch: IngestBatch) async throws -> IngestResult {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await ingestOnce(batch)
            } catch let error as StoreError where error.isStale && attempt < Self.maxAttempts {
                Counter(label: "event_relay_policy_state_conflicts_total").increment()
                logger.debug("policy state changed under a batch; deciding again", metadata: ["attempt": "\(attempt)", "reason": "\(error)"])
                try await Task.sleep(for: .milliseconds(Int.random(in: 1...(5 << min(attempt, 6)))))
            }
        }
    }

    private func ingestOnce(_ batch: IngestBatch) async throws -> IngestResult {
        // Events ingested before are skipped before the stages, so no policy counts one twice.
        let context = try await store.loadIngestContext(eventKeys: batch.events.map(\.key), stateKeys: [])
        var fresh: [Event] = []
        var known = 0
        var keys: Set<String> = []
        for event in batch.events {
            if context.seenEventKeys.contains(event.key) || !keys.insert(event.key).inserted { known += 1 } else { fresh.append(event) }
        }
        let store = store
        let (staged, state) = try await Self.decide(fresh, stages: stages, now: batch.now) { keys in
            try await store.loadIngestContext(eventKeys: [], stateKeys: keys).states
        }
        let items = staged.map { item in
            IngestCommit.Item(
                event: item.event,
                deliveries: item.deliveries.map { owed in
                    NewDelivery(
                        id: Identifier.make(prefix: "dlv", now: batch.now), eventKey: item.event.key, subscriptionID: owed.subscriptionID,
                        matchedBy: owed.matchedBy, status: owed.status, notBefore: owed.notBefore, note: owed.note)
                })
        }
        var result = try await store.commitIngest(
            IngestCommit(items: items, checkpoint: batch.checkpoint, now: batch.now, stateWrites: state.writes))
        result.duplicates += known
        Counter(label: "event_relay_events_ingested_total").increment(by: result.newEvents)
        Counter(label: "event_relay_events_duplicate_total").increment(by: result.duplicates)
        if result.evictedStates > 0 { Counter(label: "event_relay_policy_state_evicted_total").increment(by: result.evictedStates) }
        for item in staged {
            for owed in item.deliveries where owed.status.isSuppressed {
                Counter(label: "event_relay_deliveries_suppressed_total", dimensions: [("status", owed.status.rawValue)]).increment()
            }
        }
        if result.deliveries > result.suppressed { onDeliveries() }
        if !state.isEmpty { onStateWritten() }
        return result
    }
}
