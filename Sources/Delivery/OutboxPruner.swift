import EventModel
import Foundation
import Logging
import Store

/// Keeps the delivery log from growing for ever: now and then deletes delivered deliveries
/// older than `retention.delivered` and dead letters older than `retention.deadLetters` (with
/// their attempts and the events nothing refers to any more), in batches, so a long backlog is
/// worked through without one huge transaction. Pending deliveries are never pruned.
public final class OutboxPruner: Sendable {
    private let store: any RelayStore
    private let retention: RetentionPolicy
    private let interval: Duration
    private let batch: Int
    private let clock: WallClock
    private let logger: Logger
    private let bell = Wakeup()
    private let stopping = LockedValue(false)

    public init(
        store: any RelayStore, retention: RetentionPolicy, interval: Duration = .seconds(60), batch: Int = 5000, clock: WallClock = .system,
        logger: Logger = Logger(label: "event-relay.retention")
    ) {
        self.store = store
        self.retention = retention
        self.interval = interval
        self.batch = batch
        self.clock = clock
        self.logger = logger
    }

    public func stop() {
        stopping.value = true
        bell.ring()
    }

    /// One pass: prunes until less than a batch is left. Returns what it deleted.
    @discardableResult
    public func prune() async throws -> PruneResult {
        var total = PruneResult()
        while !stopping.value && !Task.isCancelled {
            let now = clock.now
            let result = try await store.prune(
                deliveredBefore: now.addingTimeInterval(-retention.delivered.timeInterval),
                deadBefore: now.addingTimeInterval(-retention.deadLetters.timeInterval), limit: batch)
            total.deliveries += result.deliveries
            total.events += result.events
            if result.deliveries < batch { break }
        }
        // A story's chat message is kept as long as dead letters are: its events are long over.
        _ = try await store.pruneThreads(before: clock.now.addingTimeInterval(-retention.deadLetters.timeInterval))
        return total
    }

    public func run() async {
        var waiter = bell.makeWaiter()
        while !stopping.value && !Task.isCancelled {
            do {
                let pruned = try await prune()
                if pruned.deliveries > 0 {
                    logger.info("pruned the delivery log", metadata: ["deliveries": "\(pruned.deliveries)", "events": "\(pruned.events)"])
                }
            } catch {
                logger.error("could not prune the delivery log", metadata: ["error": "\(error)"])
            }
            await waiter.wait(timeout: interval)
        }
    }
}
