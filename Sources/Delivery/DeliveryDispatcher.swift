import EventModel
import Foundation
import Logging
import Metrics
import Sinks
import Store

/// Settings for the outbox dispatcher; every subscription's lane starts from these.
public struct DispatcherConfiguration: Sendable {
    /// Deliveries in flight per subscription: sent at once when it opts out of ordering
    /// (`ordering: none`), claimed at once and sent one after another when ordered (the default).
    /// An unordered lane keeps up to twice this many claimed and unwritten (answered ones wait for
    /// the recorder), so after a crash at most that many per subscription are sent again.
    public var concurrency: Int
    /// How long a claimed delivery stays leased to this process; a lease that ends unrecorded
    /// (the process died) makes the delivery due again.
    public var lease: Duration
    /// Longest sleep when nothing is due (new work rings the doorbell sooner).
    public var idlePoll: Duration
    public var retry: RetrySchedule
    public var breaker: CircuitBreaker.Settings
    /// Failing continuously this long disables a subscription.
    public var disableAfter: Duration
    /// How long a 429 without Retry-After pauses a lane without a rate limit of its own.
    public var rateLimitWait: Duration
    /// The rate limit of each kind when a subscription sets none (the sink folder's default).
    public var defaultRateLimit: @Sendable (String) -> RateLimit?

    public init(
        concurrency: Int = 16, lease: Duration = .seconds(60), idlePoll: Duration = .seconds(1), retry: RetrySchedule = RetrySchedule(),
        breaker: CircuitBreaker.Settings = CircuitBreaker.Settings(), disableAfter: Duration = .seconds(3 * 86400),
        rateLimitWait: Duration = .seconds(1), defaultRateLimit: @escaping @Sendable (String) -> RateLimit? = { _ in nil }
    ) {
        self.concurrency = concurrency
        self.lease = lease
        self.idlePoll = idlePoll
        self.retry = retry
        self.breaker = breaker
        self.disableAfter = disableAfter
        self.rateLimitWait = rateLimitWait
        self.defaultRateLimit = defaultRateLimit
    }

    /// A subscription's lane: its own options over these defaults.
    public func laneSettings(for subscription: Subscription) -> LaneSettings {
        let options = subscription.delivery
        let ordering = options.ordering ?? DeliveryOptions.defaultOrdering
        let ordered = ordering == .fifo
        var schedule = retry
        if let delays = options.retrySchedule { schedule.delays = delays }
        return LaneSettings(
            concurrency: ordered ? 1 : (options.concurrency ?? concurrency), ordered: ordered, keyed: ordering == .key,
            rateLimit: options.rateLimit ?? defaultRateLimit(subscription.kind), schedule: schedule, breaker: breaker,
            disableAfter: disableAfter, orderedBatch: concurrency)
    }
}

/// Sends what the outbox owes, one lane per subscription. The pacing decisions are the pure
/// `LaneScheduler`'s; this class runs them: it claims what the scheduler allows (each lane its
/// own slots, tokens and breaker), sends each claimed delivery through its subscription's
/// notifier, classifies the outcome (`AttemptDecision`), and hands the records to a recorder
/// that writes them in batches while sending goes on. An answered delivery frees its slot at
/// once, its row leased until its outcome is written; after a crash at most the deliveries
/// claimed and unwritten are sent again (twice a lane's concurrency at most).
///
/// Stopping is graceful: `stop()` ends claiming; `run()` returns once in-flight deliveries have
/// been answered and recorded. Cancelling `run()` abandons them; they stay pending in the store,
/// leased until their lease ends, and are sent again after that.
public final class DeliveryDispatcher: Sendable {
    public typealias Subscriptions = @Sendable () -> [Subscription]
    public typealias Lookup = @Sendable (String) -> Subscription?
    public typealias HealthReporter = @Sendable (HealthNotice) async -> Void

    private let store: any RelayStore
    private let notifiers: NotifierFactory
    private let subscriptions: Subscriptions
    private let lookup: Lookup
    private let configuration: DispatcherConfiguration
    private let clock: WallClock
    private let logger: Logger
    private let health: HealthReporter
    private let random: @Sendable () -> Double
    /// Rung when a lane may claim again (new work, a freed slot).
    private let claimBell = Wakeup()
    /// Rung when an outcome is ready to be written.
    private let recordBell = Wakeup()
    private let state = LockedValue(State())
    private let metrics = DeliveryMetrics()
    private let owner: String

    struct State {
        var scheduler = LaneScheduler()
        var states: [String: SubscriptionState] = [:]
        var stopping = false
        /// Claimed and not yet recorded, across lanes.
        var inFlight = 0
        var finished: [AttemptRecord] = []
        /// When the oldest of `finished` came: outcomes wait up to `recordWindow` to be written together.
        var firstFinishedAt: ContinuousClock.Instant?
        var needsSync = true
        /// The lease token each delivery in flight here is held under now (from claim to record).
        var leaseTokens: [String: Int64] = [:]
        /// Lanes ordered by key: the deliveries in flight here (claimed, not yet recorded) per
        /// subscription and key, and each one's key. A row of a busy key that a claim returns
        /// (a lease that ran out under a long run, a dead letter retried below a newer row) is put
        /// back, not sent beside it.
        var busyKeys: [String: Int] = [:]
        /// Each such delivery's key, and how many claims of it await their outcome's write (a
        /// delivery claimed again after its lease ran out is written twice, once fenced).
        var deliveryKeys: [String: (key: String, claims: Int)] = [:]
        /// When each subscription's last failure was logged while its destination was known to be down.
        var failureLogged: [String: Date] = [:]
    }

    public init(
        store: any RelayStore, notifiers: NotifierFactory, subscriptions: @escaping Subscriptions, lookup: Lookup? = nil,
        configuration: DispatcherConfiguration = DispatcherConfiguration(), clock: WallClock = .system,
        logger: Logger = Logger(label: "event-relay.delivery"), health: @escaping HealthReporter = { _ in },
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.store = store
        self.notifiers = notifiers
        self.subscriptions = subscriptions
        self.lookup = lookup ?? { id in subscriptions().first { $0.id == id } }
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        self.health = health
        self.random = random
        owner = "\(ProcessInfo.processInfo.hostName)/\(ProcessInfo.processInfo.processIdentifier)/\(UInt32.random(in: 0...UInt32.max))"
    }

    /// New deliveries were written (for these subscriptions, or any): look now.
    public func wake(_ subscriptionIDs: Set<String>? = nil) {
        state.withValue { $0.scheduler.wake(subscriptionIDs) }
        claimBell.ring()
    }

    /// Subscriptions were created, changed or deleted: take them up now.
    public func subscriptionsChanged() {
        state.withValue {
            $0.needsSync = true
            $0.scheduler.wake()
        }
        claimBell.ring()
    }

    /// An operator paused or resumed, or the relay disabled or enabled, a subscription (already written to the store).
    public func setState(_ subscriptionID: String, _ subscriptionState: SubscriptionState) {
        let now = clock.now
        state.withValue {
            $0.states[subscriptionID] = subscriptionState
            $0.scheduler.setHeld(subscriptionID, subscriptionState.isHeld)
            // The store's run of failures is the truth (a resume ends it): the lane agrees.
            $0.scheduler.restoreFailingSince(subscriptionID, subscriptionState.failingSince, now: now)
        }
        claimBell.ring()
    }

    /// The lane of a subscription as it is now (nil: no such lane).
    public func laneStatus(_ subscriptionID: String) -> LaneStatus? {
        state.withValue { $0.scheduler.status(subscriptionID) }
    }

    /// Stop claiming; `run()` returns after in-flight deliveries are recorded.
    public func stop() {
        state.withValue { $0.stopping = true }
        claimBell.ring()
        recordBell.ring()
    }

    public func run() async {
        await start()
        await withDiscardingTaskGroup { group in
            group.addTask { await self.recordLoop() }
            var waiter = claimBell.makeWaiter()
            var lastRescan = ContinuousClock.now
            while !Task.isCancelled {
                if state.withValue({ $0.stopping }) { break }
                if ContinuousClock.now - lastRescan >= configuration.idlePoll * 10 {
                    // Now and then every lane looks again (work another replica wrote, say).
                    lastRescan = ContinuousClock.now
                    state.withValue {
                        $0.needsSync = true
                        $0.scheduler.wake()
                    }
                }
                syncLanesIfNeeded()
                switch await claimAndSend(group: &group) {
                case .claimed: continue
                case .storeFailed:
                    // Not a tight loop on a store that fails fast: try again in a second.
                    await waiter.wait(timeout: .seconds(1))
                    continue
                case .nothing: break
                }
                let now = clock.now
                let next = state.withValue { $0.scheduler.nextWake(now: now) }
                var timeout = configuration.idlePoll
                if let next {
                    let wait = next.timeIntervalSince(now)
                    timeout = min(timeout, .milliseconds(max(1, Int64((wait * 1000).rounded(.up)))))
                }
                await waiter.wait(timeout: timeout)
            }
            if Task.isCancelled { group.cancelAll() }
            state.withValue { $0.stopping = true }
            recordBell.ring()
        }
    }

    // MARK: - Start

    private func start() async {
        do {
            let states = try await store.subscriptionStates()
            state.withValue { $0.states = states }
        } catch {
            logger.error("could not read subscription states; every subscription starts enabled", metadata: ["error": "\(error)"])
        }
        syncLanesIfNeeded()
        // Deliveries owed to a subscription that no longer exists (removed from a rules file)
        // would wait forever: they become dead letters, listed and visible.
        // The subscriptions in force are read after the store answers: one created over the API
        // meanwhile (and sent an event at once) is in the catalog before its first delivery row
        // exists, so it is never taken for an orphan.
        do {
            let pending = try await store.subscriptionsWithPendingDeliveries()
            let known = Set(subscriptions().map(\.id))
            for orphan in pending.subtracting(known).sorted() {
                let count = try await store.deadLetterPending(subscriptionID: orphan, reason: "subscription no longer exists", now: clock.now)
                logger.warning("dead-lettered deliveries of a subscription that no longer exists", metadata: [
                    "subscription": "\(orphan)", "count": "\(count)",
                ])
            }
        } catch {
            logger.error("could not look for deliveries of removed subscriptions", metadata: ["error": "\(error)"])
        }
    }

    private func syncLanesIfNeeded() {
        guard state.withValue({ $0.needsSync }) else { return }
        let all = subscriptions()
        let now = clock.now
        var settings: [String: LaneSettings] = [:]
        for subscription in all { settings[subscription.id] = configuration.laneSettings(for: subscription) }
        state.withValue { state in
            state.needsSync = false
            let known = state.scheduler.laneIDs
            // A subscription gone takes its held state with it (the store deleted it too).
            for id in known where settings[id] == nil { state.states[id] = nil }
            state.scheduler.configure(settings, now: now)
            for id in settings.keys where !known.contains(id) {
                let stored = state.states[id]
                state.scheduler.setHeld(id, stored?.isHeld ?? false)
                state.scheduler.restoreFailingSince(id, stored?.failingSince, now: now)
            }
        }
    }

    // MARK: - Claim and send

    enum ClaimRound { case claimed, nothing, storeFailed }

    private func claimAndSend(group: inout DiscardingTaskGroup) async -> ClaimRound {
        let now = clock.now
        let plan = state.withValue { $0.scheduler.plan(now: now) }
        guard !plan.isEmpty else { return .nothing }
        let lease = Lease(owner: owner, token: Int64.random(in: 1...Int64.max), until: now.addingTimeInterval(configuration.lease.timeInterval))
        let results: [LaneClaimResult]
        do {
            results = try await store.claimDeliveries(plan, now: now, lease: lease)
        } catch {
            logger.error("could not claim deliveries", metadata: ["error": "\(error)"])
            // The lanes asked for nothing: they ask again next round.
            state.withValue { state in for claim in plan { state.scheduler.claimed(claim.subscriptionID, asked: 0, got: 0, nextDue: nil, now: now) } }
            return .storeFailed
        }
        var claimedAny = false
        for (claim, var result) in zip(plan, results) where claim.subscriptionID == result.subscriptionID {
            let putBack = state.withValue { state -> [AttemptRecord] in
                // A delivery this process still has in flight (its lease ran out while its
                // outcome waited for the store): not sent again; its outcome will be written
                // under the new lease.
                var fresh = result.deliveries.filter { item in
                    if state.leaseTokens[item.delivery.id] != nil {
                        state.leaseTokens[item.delivery.id] = lease.token
                        return false
                    }
                    state.leaseTokens[item.delivery.id] = lease.token
                    return true
                }
                let taken = result.deliveries.count
                var putBack: [AttemptRecord] = []
                if claim.keyed {
                    // Keys with a delivery in flight from an earlier claim wait for it: one at a
                    // time per key, whatever the store's leases say.
                    let busy = Set(fresh.map(\.orderKey).filter { state.busyKeys[Self.keyName(claim.subscriptionID, $0), default: 0] > 0 })
                    let wait = now.addingTimeInterval(1)
                    // Every row kept here (sent or put back) holds its key until its outcome is written.
                    for item in fresh {
                        let key = Self.keyName(claim.subscriptionID, item.orderKey)
                        state.busyKeys[key, default: 0] += 1
                        state.deliveryKeys[item.delivery.id, default: (key, 0)].claims += 1
                    }
                    putBack = fresh.filter { busy.contains($0.orderKey) }.map { item in
                        AttemptRecord(
                            deliveryID: item.delivery.id, subscriptionID: claim.subscriptionID, leaseToken: lease.token, at: now,
                            outcome: .deferred, next: .wait(until: wait))
                    }
                    fresh.removeAll { busy.contains($0.orderKey) }
                }
                result.deliveries = fresh
                state.scheduler.claimed(
                    claim.subscriptionID, asked: claim.limit, got: fresh.count + putBack.count, nextDue: result.nextDue, now: now)
                // Rows taken but not sent here are not "nothing pending": ask the store again.
                if fresh.count < taken { state.scheduler.wake([claim.subscriptionID]) }
                state.inFlight += fresh.count + putBack.count
                return putBack
            }
            if !putBack.isEmpty { finish(putBack) }
            guard !result.deliveries.isEmpty else { continue }
            // As it is now (a secret rotated a moment ago signs this delivery).
            let subscription = lookup(claim.subscriptionID)
            claimedAny = true
            guard let subscription else {
                // Removed between planning and claiming: dead letters, as at start-up.
                finish(result.deliveries.map { item in
                    AttemptRecord(
                        deliveryID: item.delivery.id, subscriptionID: claim.subscriptionID, leaseToken: lease.token, at: now, outcome: .failed,
                        error: "subscription no longer exists", next: .deadLetter)
                })
                continue
            }
            let settings = configuration.laneSettings(for: subscription)
            // One notifier for the batch: making one reads and checks the URL.
            let notifier = notifiers.notifier(for: subscription)
            if settings.ordered || settings.keyed {
                // One task per batch sends it in order (ordered: the lane's; by key: each key's,
                // keys side by side); the first that does not get through stops the rest of its
                // batch (they are put back, not counted).
                for batch in settings.ordered ? [result.deliveries] : Self.runsByKey(result.deliveries) {
                    group.addTask { [self] in
                        for (index, item) in batch.enumerated() {
                            // Each outcome goes to the recorder at once, so a crash repeats as few as possible.
                            let record = await attempt(item, subscription: subscription, notifier: notifier, settings: settings, probe: claim.probe)
                            finish([record])
                            let stopped = state.withValue { $0.stopping }
                            if record.next != .delivered || (stopped && index + 1 < batch.count) {
                                let at = clock.now
                                finish(batch[(index + 1)...].map { rest in
                                    AttemptRecord(
                                        deliveryID: rest.delivery.id, subscriptionID: subscription.id, leaseToken: rest.lease.token, at: at,
                                        outcome: .deferred, next: .wait(until: at))
                                })
                                break
                            }
                        }
                    }
                }
            } else {
                for item in result.deliveries {
                    group.addTask { [self] in
                        finish([await attempt(item, subscription: subscription, notifier: notifier, settings: settings, probe: claim.probe)])
                    }
                }
            }
        }
        return claimedAny ? .claimed : .nothing
    }

    static func keyName(_ subscriptionID: String, _ orderKey: String) -> String { subscriptionID + "\u{1E}" + orderKey }

    /// A keyed claim's deliveries as one run per key, each in the order claimed.
    static func runsByKey(_ deliveries: [ClaimedDelivery]) -> [[ClaimedDelivery]] {
        var order: [String] = []
        var runs: [String: [ClaimedDelivery]] = [:]
        for item in deliveries {
            if runs[item.orderKey] == nil { order.append(item.orderKey) }
            runs[item.orderKey, default: []].append(item)
        }
        return order.compactMap { runs[$0] }
    }

    /// Hands outcomes to the recorder. Their slots are free at once (the lane may claim while
    /// they are written); their rows stay leased until then, so no claim returns them meanwhile.
    private func finish(_ records: [AttemptRecord]) {
        let (claimNow, recordNow) = state.withValue { state in
            // The recorder is told when a batch begins (it sets its timer) and when one is full.
            let first = state.finished.isEmpty
            if first { state.firstFinishedAt = .now }
            state.finished += records
            var claimNow = false
            for record in records where state.scheduler.released(record.subscriptionID, count: 1) { claimNow = true }
            return (claimNow, first || state.finished.count >= Self.recordBatch)
        }
        if recordNow { recordBell.ring() }
        if claimNow { claimBell.ring() }
    }

    /// Outcomes are written in batches of up to `recordBatch`, each waiting at most `recordWindow`
    /// for others to join it: a write transaction costs about the same for one row as for dozens
    /// (the pages it touches), and an answered delivery's slot is free before its outcome is written.
    static let recordBatch = 128
    static let recordWindow = Duration.milliseconds(5)

    /// One attempt at one delivery; never throws, always returns what to record. Runs the
    /// lane's decisions (breaker, pause, disable) as soon as the answer is in.
    /// A `probe` (the breaker's, sent before the delivery's own time) that does not get through
    /// keeps the delivery's time and does not count toward its schedule.
    func attempt(
        _ claimed: ClaimedDelivery, subscription: Subscription, notifier: any Notifier, settings: LaneSettings, probe: Bool = false
    ) async -> AttemptRecord {
        let delivery = claimed.delivery
        let started = clock.now
        let attemptNumber = delivery.attempts + 1
        let context = DeliveryContext(
            deliveryID: delivery.id, subscriptionID: subscription.id, matchedBy: delivery.matchedBy, attempt: attemptNumber, now: started,
            note: delivery.note)
        let result = await notifier.notify(claimed.event, context: context)
        let finished = clock.now
        if Task.isCancelled, case .retry(status: nil, _, _, _) = result {
            // Shutting down past the grace period: the answer never came, which says nothing about
            // the receiver. Put back without counting; sent again once its lease ends.
            return AttemptRecord(
                deliveryID: delivery.id, subscriptionID: subscription.id, leaseToken: claimed.lease.token, at: finished, outcome: .deferred,
                next: .wait(until: finished))
        }
        let duration = Int(max(0, finished.timeIntervalSince(started)) * 1000)
        var rateLimitWait = configuration.rateLimitWait
        if let rate = settings.rateLimit { rateLimitWait = max(rateLimitWait, .milliseconds(Int64(1000 / rate.perSecond))) }
        let decision = AttemptDecision.decide(
            result, attempt: attemptNumber, schedule: settings.schedule, rateLimitWait: rateLimitWait, now: finished, random: random())
        metrics.attempt(subscription: subscription.id, kind: subscription.kind, outcome: decision.outcome, cause: decision.cause, milliseconds: duration)
        var next = decision.next
        var counted: Bool?
        if probe, decision.outcome == .retry, delivery.nextAttemptAt > finished {
            // The destination is still down: the delivery keeps its own time and attempts.
            next = .wait(until: delivery.nextAttemptAt)
            counted = false
        }

        switch next {
        case .delivered:
            if logger.logLevel <= .debug {
                logger.with(["delivery": .string(delivery.id), "subscription": .string(subscription.id)])
                    .debug("delivered", metadata: ["status": "\(decision.statusCode ?? 0)", "attempt": "\(attemptNumber)"])
            }
        case .retry(let at):
            // While the breaker is open (the destination is down, ops were told), one line a minute.
            if breakerClosed(subscription.id) || failureLogDue(subscription.id, at: finished) {
                let logger = self.logger.with(["delivery": .string(delivery.id), "subscription": .string(subscription.id)])
                logger.warning("delivery attempt failed; will retry", metadata: [
                    "attempt": "\(attemptNumber)", "reason": "\(decision.reason ?? "")", "next_attempt_at": "\(Timestamp.format(at))",
                ])
            }
        case .wait(let until):
            let logger = self.logger.with(["delivery": .string(delivery.id), "subscription": .string(subscription.id)])
            if counted == false {
                // Probes twice a second to a destination down for days: one line a minute says it.
                if failureLogDue(subscription.id, at: finished) {
                    logger.warning("probe failed; the destination still fails", metadata: ["reason": "\(decision.reason ?? "")"])
                }
            } else {
                logger.notice("receiver is rate limiting; the subscription waits", metadata: ["until": "\(Timestamp.format(until))"])
            }
        case .deadLetter:
            let logger = self.logger.with(["delivery": .string(delivery.id), "subscription": .string(subscription.id)])
            logger.error("delivery dead-lettered", metadata: ["attempt": "\(attemptNumber)", "reason": "\(decision.reason ?? "")"])
        }

        // Unavailable (no answer, a 5xx, a 408): an ordered lane may probe its head, after a
        // Retry-After. A receiver failing with 500 for a while is down, not rejecting this one
        // delivery: its head waiting for a retry minutes away would hold the lane that long.
        var headProbeFrom: Date?
        if case .retry(let status, _, let retryAfter, _) = result, status.map({ (500...599).contains($0) || $0 == 408 }) ?? true {
            headProbeFrom = finished.addingTimeInterval(min(retryAfter ?? .zero, settings.schedule.maxRetryAfter).timeInterval)
        }
        let actions = state.withValue { $0.scheduler.sent(subscription.id, decision.signal, now: finished, headProbeFrom: headProbeFrom) }
        for action in actions { await perform(action, now: finished) }
        if next == .deadLetter, claimed.event.source != HealthEvents.source {
            await health(.deliveryDeadLettered(
                subscriptionID: subscription.id, deliveryID: delivery.id, eventKey: delivery.eventKey, reason: decision.reason ?? "gave up"))
        }
        return AttemptRecord(
            deliveryID: delivery.id, subscriptionID: subscription.id, leaseToken: claimed.lease.token, at: finished,
            outcome: decision.outcome, statusCode: decision.statusCode, error: decision.reason, durationMilliseconds: duration,
            next: next, counted: counted)
    }

    private func breakerClosed(_ subscriptionID: String) -> Bool {
        guard case .closed = state.withValue({ $0.scheduler.status(subscriptionID)?.breaker }) else { return false }
        return true
    }

    /// True at most once a minute per subscription: failures while its destination is known to
    /// be down (failed probes, attempts while the breaker is open) are logged at that pace.
    private func failureLogDue(_ subscriptionID: String, at now: Date) -> Bool {
        state.withValue { state in
            if let last = state.failureLogged[subscriptionID], now.timeIntervalSince(last) < 60 { return false }
            state.failureLogged[subscriptionID] = now
            return true
        }
    }

    private func perform(_ action: LaneAction, now: Date) async {
        do {
            switch action {
            case .breakerOpened(let id, let failures):
                logger.warning("deliveries keep failing; sending stopped, probing one at a time", metadata: [
                    "subscription": "\(id)", "failures": "\(failures)",
                ])
                metrics.breaker(subscription: id, open: true)
                await health(.subscriptionFailing(subscriptionID: id, failures: failures))
            case .breakerClosed(let id):
                logger.notice("deliveries get through again", metadata: ["subscription": "\(id)"])
                metrics.breaker(subscription: id, open: false)
                await health(.subscriptionRecovered(subscriptionID: id))
            case .expediteRetries(let id):
                try await store.expediteRetries(subscriptionID: id, now: now)
                wake([id])
            case .failingSince(let id, let since):
                try await store.setFailingSince(subscriptionID: id, since, now: now)
            case .disable(let id, let reason):
                try await store.setDisabled(subscriptionID: id, reason: reason, now: now)
                state.withValue { $0.states[id, default: SubscriptionState()].disabledAt = now }
                logger.error("subscription disabled; resume it once its destination is fixed", metadata: [
                    "subscription": "\(id)", "reason": "\(reason)",
                ])
                metrics.disabled(subscription: id)
                await health(.subscriptionDisabled(subscriptionID: id, reason: reason))
            }
        } catch {
            logger.error("could not record a subscription's delivery state", metadata: ["error": "\(error)"])
        }
    }

    // MARK: - Test

    /// Sends a sample event to the subscription now, outside its lane and the outbox, and
    /// classifies the answer as any attempt would be: what `POST /v1/subscriptions/{id}/test` shows.
    public func sendTest(to subscription: Subscription) async -> AttemptRecord {
        let started = clock.now
        let event = HealthEvents.testEvent(for: subscription.id, now: started)
        let id = Identifier.make(prefix: "test", now: started)
        let context = DeliveryContext(deliveryID: id, subscriptionID: subscription.id, matchedBy: "test", attempt: 1, now: started)
        let result = await notifiers.notifier(for: subscription).notify(event, context: context)
        let finished = clock.now
        let settings = configuration.laneSettings(for: subscription)
        let decision = AttemptDecision.decide(
            result, attempt: 1, schedule: settings.schedule, rateLimitWait: configuration.rateLimitWait, now: finished, random: 0.5)
        return AttemptRecord(
            deliveryID: id, subscriptionID: subscription.id, at: finished, outcome: decision.outcome, statusCode: decision.statusCode,
            error: decision.reason, durationMilliseconds: Int(max(0, finished.timeIntervalSince(started)) * 1000), next: decision.next)
    }

    // MARK: - Record

    /// Writes finished attempts in batches (whatever finished while the last write ran), frees
    /// their slots, and wakes the claimer. A failed write keeps the records (they hold their
    /// slots) and tries again: a delivered one dropped here would be sent again when its lease ends.
    private func recordLoop() async {
        var waiter = recordBell.makeWaiter()
        while true {
            let cancelled = Task.isCancelled
            let (records, done, linger) = state.withValue { state -> ([AttemptRecord], Bool, Duration?) in
                // Waits for companions only while some can still come (deliveries in flight
                // here); an ordered lane's outcome, alone in flight, is written at once.
                if !state.stopping, !cancelled, !state.finished.isEmpty, state.finished.count < Self.recordBatch,
                   state.finished.count < state.inFlight, let first = state.firstFinishedAt {
                    let waited = ContinuousClock.now - first
                    if waited < Self.recordWindow { return ([], false, Self.recordWindow - waited) }
                }
                defer {
                    state.finished.removeAll(keepingCapacity: true)
                    state.firstFinishedAt = nil
                }
                // Under the lease the delivery is held by now (see claimAndSend). From here on it
                // is no longer "in flight": a claim that returns it again sends it (whichever
                // commits first, sending is right).
                let current = state.finished.map { record in
                    var record = record
                    if let token = state.leaseTokens.removeValue(forKey: record.deliveryID) { record.leaseToken = token }
                    return record
                }
                return (current, state.stopping && state.inFlight == 0, nil)
            }
            if let linger {
                await waiter.wait(timeout: linger)
                continue
            }
            if records.isEmpty {
                if done || Task.isCancelled { return }
                await waiter.wait(timeout: .milliseconds(250))
                continue
            }
            do {
                let fenced = try await store.recordAttempts(records)
                if !fenced.isEmpty {
                    logger.warning("outcomes of \(fenced.count) deliveries were not recorded: their lease had ended and another claim holds them")
                }
            } catch {
                state.withValue { state in
                    state.finished.insert(contentsOf: records, at: 0)
                    for record in records where state.leaseTokens[record.deliveryID] == nil {
                        state.leaseTokens[record.deliveryID] = record.leaseToken
                    }
                }
                logger.error("could not record \(records.count) delivery attempts; retrying", metadata: ["error": "\(error)"])
                if Task.isCancelled { return }
                await waiter.wait(timeout: .seconds(1))
                continue
            }
            state.withValue { state in
                state.inFlight -= records.count
                for record in records {
                    // Its key is free for the next claim only now that its outcome is written (a
                    // failed write put the records back in `finished`, their keys still counted).
                    if var entry = state.deliveryKeys[record.deliveryID] {
                        entry.claims -= 1
                        state.deliveryKeys[record.deliveryID] = entry.claims > 0 ? entry : nil
                        let left = state.busyKeys[entry.key, default: 1] - 1
                        state.busyKeys[entry.key] = left > 0 ? left : nil
                    }
                    state.scheduler.recorded(record.subscriptionID, count: 1)
                    if case .retry(let at) = record.next { state.scheduler.due(record.subscriptionID, at: at) }
                    if case .wait(let until) = record.next { state.scheduler.due(record.subscriptionID, at: until) }
                }
            }
            claimBell.ring()
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
