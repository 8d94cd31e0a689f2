import EventModel
import Foundation
import Logging
import Metrics
import Rules
import Store

/// An event on its way through the pipeline: what the stages so far have decided for it.
public struct StagedEvent: Sendable {
    public var event: Event
    /// Who should hear about it (filled by routing; later stages may remove or hold some).
    public var matches: [RouteMatch]

    public init(event: Event, matches: [RouteMatch] = []) {
        self.event = event
        self.matches = matches
    }
}

/// One step of the pipeline before the commit. Pure decisions over the batch (routing now;
/// mutes, throttles and digests later), with the time passed in: no I/O.
public protocol IngestStage: Sendable {
    var name: String { get }
    func apply(to events: inout [StagedEvent], now: Date)
}

/// Routes each event through the rules and API subscriptions in force at that moment.
public struct RouteStage: IngestStage {
    public let catalog: SubscriptionCatalog
    public var name: String { "route" }

    public init(catalog: SubscriptionCatalog) { self.catalog = catalog }

    public func apply(to events: inout [StagedEvent], now: Date) {
        let router = catalog.router
        for index in events.indices {
            let event = events[index].event
            var matches = router.route(event)
            // A health event is never sent to the subscription it is about: a failing Slack sink
            // is not told about itself (nor asked to carry the news of its own failure).
            if event.source == Event.relaySource, let subject = event.details?["subscription_id"]?.stringValue {
                matches.removeAll { $0.subscriptionID == subject }
            }
            events[index].matches = matches
        }
    }
}

/// The one way events enter the relay, from a feed's poll or a push: the stages run in order,
/// then one store transaction dedupes the events (by source and id, across streams, feeds and
/// push), writes the outbox rows for what was routed, and the feed's checkpoint; then the
/// dispatcher is woken. A failed commit changes nothing, and the caller keeps its checkpoint.
public final class IngestPipeline: EventIngest {
    private let store: any RelayStore
    public let stages: [any IngestStage]
    private let onDeliveries: @Sendable () -> Void

    public init(store: any RelayStore, stages: [any IngestStage], onDeliveries: @escaping @Sendable () -> Void = {}) {
        self.store = store
        self.stages = stages
        self.onDeliveries = onDeliveries
    }

    /// The stages every relay runs, in order.
    public static func standardStages(catalog: SubscriptionCatalog) -> [any IngestStage] {
        [RouteStage(catalog: catalog)]
    }

    public func checkpoint(stream: String) async throws -> FeedCheckpoint? {
        try await store.loadCheckpoint(stream: stream)
    }

    public func ingest(_ batch: IngestBatch) async throws -> IngestResult {
        var staged = batch.events.map { StagedEvent(event: $0) }
        for stage in stages { stage.apply(to: &staged, now: batch.now) }
        let items = staged.map { item in
            IngestCommit.Item(
                event: item.event,
                deliveries: item.matches.map { match in
                    NewDelivery(
                        id: Identifier.make(prefix: "dlv", now: batch.now), eventKey: item.event.key, subscriptionID: match.subscriptionID,
                        matchedBy: match.matchedBy)
                })
        }
        let result = try await store.commitIngest(IngestCommit(items: items, checkpoint: batch.checkpoint, now: batch.now))
        Counter(label: "event_relay_events_ingested_total").increment(by: result.newEvents)
        Counter(label: "event_relay_events_duplicate_total").increment(by: result.duplicates)
        if result.deliveries > 0 { onDeliveries() }
        return result
    }
}
