import Foundation

/// Where one stream of a feed stands, as its feed encodes it: opaque to everything else,
/// versioned by the feed so that it can read what an older release wrote (and so that a store
/// shared by replicas can compare-and-set it).
public struct FeedCheckpoint: Sendable, Equatable {
    public var version: Int
    public var data: [UInt8]

    public init(version: Int, data: [UInt8]) {
        self.version = version
        self.data = data
    }
}

/// What the ingest pipeline takes: normalized events from a feed's poll or a push, and for a
/// poll the stream's new checkpoint, committed in the same transaction as the events' deliveries.
public struct IngestBatch: Sendable {
    public var events: [Event]
    /// `<feed>/<stream>` and its checkpoint after this batch.
    public var checkpoint: (stream: String, value: FeedCheckpoint)?
    public var now: Date

    public init(events: [Event], checkpoint: (stream: String, value: FeedCheckpoint)? = nil, now: Date) {
        self.events = events
        self.checkpoint = checkpoint
        self.now = now
    }
}

/// What a batch changed.
public struct IngestResult: Sendable, Equatable {
    /// Events never ingested before (by source and id, whatever feed, stream or push brought them).
    public var newEvents: Int
    /// Events already ingested: nothing was written for them.
    public var duplicates: Int
    /// Outbox rows written.
    public var deliveries: Int
    /// Of `deliveries`, those a policy settled at once (muted, throttled, digested…): recorded, not sent.
    public var suppressed: Int = 0
    /// Policy state entries evicted to keep each policy within its bound.
    public var evictedStates: Int = 0

    public init(newEvents: Int, duplicates: Int, deliveries: Int, suppressed: Int = 0, evictedStates: Int = 0) {
        self.suppressed = suppressed
        self.evictedStates = evictedStates
        self.newEvents = newEvents
        self.duplicates = duplicates
        self.deliveries = deliveries
    }
}

/// The one way into the relay for events: feeds' pollers and push ingest hand batches here.
/// Implemented by the `Ingest` target's pipeline (dedupe, route, outbox, in one transaction).
public protocol EventIngest: Sendable {
    /// A stream's checkpoint as last committed, nil before its first batch.
    func checkpoint(stream: String) async throws -> FeedCheckpoint?
    func ingest(_ batch: IngestBatch) async throws -> IngestResult
}
