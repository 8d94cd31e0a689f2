import EventModel
import Foundation
import Logging
import Metrics
import Sinks
import Store

/// Settings for the outbox dispatcher.
public struct DispatcherConfiguration: Sendable {
    /// Deliveries in flight at once.
    public var concurrency: Int
    /// How long a claimed delivery stays leased to this process before another claim may take it.
    public var lease: Duration
    /// Longest sleep when nothing is due (new work rings the doorbell sooner).
    public var idlePoll: Duration
    public var retry: RetryPolicy

    public init(concurrency: Int = 32, lease: Duration = .seconds(120), idlePoll: Duration = .seconds(1), retry: RetryPolicy = RetryPolicy()) {
        self.concurrency = concurrency
        self.lease = lease
        self.idlePoll = idlePoll
        self.retry = retry
    }
}

/// Sends what the outbox owes. Claims due deliveries (leasing them), sends up to `concurrency`
/// at once through each subscription's notifier, and records every attempt with its outcome:
/// delivered, retry at a time the `RetryPolicy` picks (honouring Retry-After), or failed.
/// A 429 pauses the whole subscription until its Retry-After passes.
///
/// Stopping is graceful: `stop()` ends claiming; `run()` returns once in-flight deliveries have
/// been answered and recorded. Cancelling `run()` abandons them; they stay pending in the store
/// and are sent after a restart.
public final class DeliveryDispatcher: Sendable {
    public typealias SubscriptionLookup = @Sendable (String) -> Subscription?

    private let store: any RelayStore
    private let notifiers: NotifierFactory
    private let lookup: SubscriptionLookup
    private let configuration: DispatcherConfiguration
    private let clock: WallClock
    private let logger: Logger
    private let wakeup = Wakeup()
    private let state = LockedValue(State())
    private let random: @Sendable () -> Double

    struct State {
        var stopping = false
        var inFlight = 0
        var finished: [AttemptRecord] = []
        /// Subscriptions paused by a 429, until when.
        var pausedUntil: [String: Date] = [:]
    }

    public init(
        store: any RelayStore, notifiers: NotifierFactory, lookup: @escaping SubscriptionLookup,
        configuration: DispatcherConfiguration = DispatcherConfiguration(), clock: WallClock = .system,
        logger: Logger = Logger(label: "event-relay.delivery"),
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.store = store
        self.notifiers = notifiers
        self.lookup = lookup
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        self.random = random
    }

    /// New deliveries were written: look now rather than at the next poll.
    public func wake() { wakeup.ring() }

    /// Stop claiming; `run()` returns after in-flight deliveries are recorded.
    public func stop() {
        state.withValue { $0.stopping = true }
        wakeup.ring()
    }

    public func run() async {
        do {
            try await store.releaseAllLeases()
        } catch {
            logger.error("could not release delivery leases at start-up", metadata: ["error": "\(error)"])
        }
        var waiter = wakeup.makeWaiter()
        // A discarding group frees each child task as soon as it finishes: a plain task group keeps
        // every finished child until it is awaited, which is memory per delivery, for weeks.
        await withDiscardingTaskGroup { group in
            var lastFlush = ContinuousClock.now
            while !Task.isCancelled {
                let (stopping, inFlight, finished) = state.withValue { ($0.stopping, $0.inFlight, $0.finished.count) }
                // Record attempts in batches: when a quarter of the slots have finished, when nothing
                // is in flight, or every 100 ms.
                let batch = max(1, configuration.concurrency / 4)
                if finished >= batch || (finished > 0 && (inFlight == 0 || ContinuousClock.now - lastFlush > .milliseconds(100))) {
                    let recorded = await flushFinished()
                    lastFlush = ContinuousClock.now
                    // The store failed: the outcomes are kept (and hold their slots) until it answers.
                    if !recorded { await waiter.wait(timeout: .seconds(1)) }
                    if !recorded && stopping && inFlight == 0 { break }
                    continue
                }
                if stopping && inFlight == 0 { break }
                var claimedAny = false
                // A delivery holds its slot until its outcome is recorded, so after a crash at most
                // `concurrency` deliveries can be sent again. Claim in batches too: when a quarter of
                // the slots are free (or all are).
                let free = configuration.concurrency - inFlight - finished
                if !stopping, free > 0, inFlight == 0 || free >= batch {
                    claimedAny = await claimAndSend(slots: free, group: &group)
                }
                if claimedAny { continue }
                await waiter.wait(timeout: inFlight > 0 ? .milliseconds(100) : await idleTimeout())
            }
            group.cancelAll()
        }
        await flushFinished()
    }

    /// Sleep until the next delivery is due, at most `idlePoll`.
    private func idleTimeout() async -> Duration {
        guard let next = try? await store.nextDueTime() else { return configuration.idlePoll }
        let wait = next.timeIntervalSince(clock.now)
        return wait <= 0 ? .milliseconds(20) : min(configuration.idlePoll, .milliseconds(Int64(wait * 1000) + 5))
    }

    private func claimAndSend(slots: Int, group: inout DiscardingTaskGroup) async -> Bool {
        let now = clock.now
        let claimed: [ClaimedDelivery]
        do {
            claimed = try await store.claimDueDeliveries(
                now: now, limit: slots, leaseUntil: now.addingTimeInterval(configuration.lease.timeInterval))
        } catch {
            logger.error("could not claim deliveries", metadata: ["error": "\(error)"])
            return false
        }
        for item in claimed {
            state.withValue { $0.inFlight += 1 }
            group.addTask { [self] in
                let record = await attempt(item)
                state.withValue {
                    $0.inFlight -= 1
                    $0.finished.append(record)
                }
                wakeup.ring()
            }
        }
        return !claimed.isEmpty
    }

    /// Records the finished attempts; false when the store failed, in which case they are kept
    /// to be written again (a delivered one dropped here would be sent again when its lease ends).
    @discardableResult
    private func flushFinished() async -> Bool {
        let records = state.withValue { state -> [AttemptRecord] in
            defer { state.finished.removeAll() }
            return state.finished
        }
        guard !records.isEmpty else { return true }
        do {
            try await store.recordAttempts(records)
            return true
        } catch {
            state.withValue { $0.finished.insert(contentsOf: records, at: 0) }
            logger.error("could not record \(records.count) delivery attempts; retrying", metadata: ["error": "\(error)"])
            return false
        }
    }

    /// One attempt at one delivery; never throws, always returns what to record.
    func attempt(_ claimed: ClaimedDelivery) async -> AttemptRecord {
        let delivery = claimed.delivery
        let started = clock.now
        let logger = self.logger.with(["delivery": .string(delivery.id), "subscription": .string(delivery.subscriptionID)])
        guard let subscription = lookup(delivery.subscriptionID) else {
            Counter(label: "event_relay_deliveries_failed_total", dimensions: [("subscription", delivery.subscriptionID)]).increment()
            logger.warning("delivery failed: its subscription no longer exists")
            return AttemptRecord(deliveryID: delivery.id, at: started, outcome: .failed, error: "subscription no longer exists")
        }
        if let paused = state.withValue({ $0.pausedUntil[subscription.id] }), paused > started {
            return AttemptRecord(deliveryID: delivery.id, at: started, outcome: .deferred, nextAttemptAt: paused)
        }
        let attemptNumber = delivery.attempts + 1
        let context = DeliveryContext(
            deliveryID: delivery.id, subscriptionID: subscription.id, matchedBy: delivery.matchedBy, attempt: attemptNumber, now: started)
        let result = await notifiers.notifier(for: subscription).notify(claimed.event, context: context)
        let finished = clock.now
        let duration = Int(max(0, finished.timeIntervalSince(started)) * 1000)
        Timer(label: "event_relay_delivery_duration_seconds", dimensions: [("kind", subscription.kind.rawValue)])
            .recordMilliseconds(duration)

        switch result {
        case .delivered(let status):
            Counter(label: "event_relay_deliveries_delivered_total", dimensions: [("subscription", subscription.id)]).increment()
            logger.debug("delivered", metadata: ["status": "\(status)", "attempt": "\(attemptNumber)"])
            return AttemptRecord(deliveryID: delivery.id, at: finished, outcome: .delivered, statusCode: status, durationMilliseconds: duration)
        case .retry(let status, let reason, let retryAfter):
            if status == 429 {
                let pause = min(retryAfter ?? configuration.retry.ceiling(afterAttempt: attemptNumber), configuration.retry.maxRetryAfter)
                let until = finished.addingTimeInterval(pause.timeInterval)
                state.withValue { $0.pausedUntil[subscription.id] = until }
            }
            switch configuration.retry.decide(afterAttempt: attemptNumber, retryAfter: retryAfter, random: random()) {
            case .retry(let wait):
                Counter(label: "event_relay_delivery_retries_total", dimensions: [("subscription", subscription.id)]).increment()
                let next = finished.addingTimeInterval(wait.timeInterval)
                logger.warning("delivery attempt failed; will retry", metadata: [
                    "attempt": "\(attemptNumber)", "reason": "\(reason)", "next_attempt_at": "\(Timestamp.format(next))",
                ])
                return AttemptRecord(
                    deliveryID: delivery.id, at: finished, outcome: .retry, statusCode: status, error: reason,
                    durationMilliseconds: duration, nextAttemptAt: next)
            case .giveUp:
                Counter(label: "event_relay_deliveries_failed_total", dimensions: [("subscription", subscription.id)]).increment()
                logger.error("delivery failed after \(attemptNumber) attempts", metadata: ["reason": "\(reason)"])
                return AttemptRecord(
                    deliveryID: delivery.id, at: finished, outcome: .failed, statusCode: status,
                    error: "gave up after \(attemptNumber) attempts: \(reason)", durationMilliseconds: duration)
            }
        case .failed(let status, let reason):
            Counter(label: "event_relay_deliveries_failed_total", dimensions: [("subscription", subscription.id)]).increment()
            logger.error("delivery failed permanently", metadata: ["reason": "\(reason)", "attempt": "\(attemptNumber)"])
            return AttemptRecord(
                deliveryID: delivery.id, at: finished, outcome: .failed, statusCode: status, error: reason, durationMilliseconds: duration)
        }
    }
}

extension Logger {
    func with(_ metadata: Logger.Metadata) -> Logger {
        var copy = self
        for (key, value) in metadata { copy[metadataKey: key] = value }
        return copy
    }
}
