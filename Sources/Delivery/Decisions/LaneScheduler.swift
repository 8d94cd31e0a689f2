import EventModel
import Foundation
import Store

/// How one lane (one subscription's deliveries) is paced, resolved from the subscription's
/// options and the defaults of its kind and of the configuration.
public struct LaneSettings: Sendable, Equatable {
    /// In flight at once (1 when `ordered`).
    public var concurrency: Int
    /// FIFO: deliveries go one after another, in the order their events arrived.
    public var ordered: Bool
    /// In order per key (`Event.orderKey`): each key's deliveries one after another, keys side by
    /// side up to `concurrency` (`ordered` is false then).
    public var keyed: Bool
    public var rateLimit: RateLimit?
    public var schedule: RetrySchedule
    public var breaker: CircuitBreaker.Settings
    /// Failing continuously this long disables the subscription.
    public var disableAfter: Duration
    /// An ordered lane claims up to this many at once and sends them one after another.
    public var orderedBatch: Int

    /// Failures further apart than this do not make one continuous run: longer than the longest
    /// wait of the retry schedule (with its jitter), a receiver's longest honoured Retry-After and
    /// the breaker's longest cooldown, so a
    /// destination that is down keeps its run going, and two failures days apart do not.
    public var failureGap: Duration {
        let longest = (schedule.delays + [breaker.maxCooldown, schedule.maxRetryAfter]).max() ?? .zero
        return max(.seconds(3600), longest * (1 + schedule.jitter) + .seconds(60))
    }

    public init(
        concurrency: Int = 16, ordered: Bool = true, keyed: Bool = false, rateLimit: RateLimit? = nil, schedule: RetrySchedule = RetrySchedule(),
        breaker: CircuitBreaker.Settings = CircuitBreaker.Settings(), disableAfter: Duration = .seconds(3 * 86400), orderedBatch: Int = 32
    ) {
        self.concurrency = max(1, concurrency)
        self.ordered = ordered && !keyed
        self.keyed = keyed
        self.rateLimit = rateLimit
        self.schedule = schedule
        self.breaker = breaker
        self.disableAfter = disableAfter
        self.orderedBatch = max(1, orderedBatch)
    }
}

/// How a sent delivery went, as far as its lane is concerned.
public enum LaneSignal: Sendable, Equatable {
    case delivered
    /// 429: the lane waits until then; not a failure.
    case rateLimited(until: Date)
    /// Any other failure (counts toward the breaker and the disable period).
    case failed
    /// 410: the destination asks to be disabled.
    case gone(reason: String)
}

/// What the lane's state asks the dispatcher to do (write, log, tell).
public enum LaneAction: Sendable, Equatable {
    case breakerOpened(subscriptionID: String, failures: Int)
    case breakerClosed(subscriptionID: String)
    /// Pending retries of the lane are due now: the destination answers again.
    case expediteRetries(subscriptionID: String)
    /// Persist when the current run of failures began (nil: it ended).
    case failingSince(subscriptionID: String, since: Date?)
    case disable(subscriptionID: String, reason: String)
}

/// A lane's state as the API and metrics show it.
public struct LaneStatus: Sendable, Equatable {
    public var inFlight: Int
    public var rateLimitedUntil: Date?
    public var breaker: CircuitBreaker.State
    public var failingSince: Date?
    public var held: Bool
}

/// Every lane's pacing state, and the decisions made on it: which lanes may claim how many
/// deliveries now, what a sent delivery's outcome changes, and when to look again. Pure (no I/O,
/// the time is passed in), held under a lock by the dispatcher, which runs the actions it returns
/// (the swift-kafka-client pattern).
///
/// A lane never takes more than its own `concurrency`, so a slow, hanging or failing destination
/// cannot take slots from any other. A lane that is held (paused by an operator, disabled),
/// rate-limited (its token bucket is empty, or a 429 asked it to wait) or whose breaker is open
/// is not claimed from at all: its deliveries stay in the store, unleased, until it may send.
public struct LaneScheduler: Sendable {
    struct Lane: Sendable {
        var settings: LaneSettings
        /// Claimed and not yet answered: these hold the lane's slots.
        var inFlight = 0
        /// Answered, their outcomes not yet written. An unordered lane claims more meanwhile (so
        /// sending and writing overlap), as long as it has fewer than twice `concurrency`
        /// claimed and unwritten; an ordered lane waits.
        var unrecorded = 0
        /// Claimed and not yet written: what the breaker and the ordered lanes wait for.
        var outstanding: Int { inFlight + unrecorded }
        var bucket: TokenBucket?
        var rateLimitedUntil: Date?
        var breaker: CircuitBreaker
        var failingSince: Date?
        /// The last failure of the current run: a run is continuous only while failures keep coming.
        var lastFailure: Date?
        var held = false
        /// When the lane's next pending delivery is due: nil when unknown (ask the store);
        /// `.distantFuture` when it has none.
        var nextDue: Date?
        /// A probe was asked for in this round's plan.
        var probing = false
        /// A claim for the lane is with the store; a wake meanwhile (new deliveries written while
        /// the claim ran) must survive its answer, which may predate them.
        var claiming = false
        var wokenWhileClaiming = false
        /// A probe found nothing to send (all leased): none before this time or a wake.
        var noProbeUntil: Date?
        /// An ordered lane whose head failed: everything waits behind it, and its retry may be
        /// minutes away while the breaker, counting one failure per retry, is still closed. The
        /// head is probed at this time (then at the breaker's pace) so the lane comes back within
        /// a probe interval of its destination, not at the head's next retry. A lane ordered by
        /// key does the same once every key waits (nothing in flight, nothing due).
        var headProbeAt: Date?
        /// A head probe (not the breaker's) was sent: its success means the destination answers again.
        var headProbeSent = false
        /// Head probes that failed in a row (they slow down after 20).
        var headProbeFailures = 0
        /// Ordered, one way or the other: a failed head holds what follows it.
        var holdsBehindHead: Bool { settings.ordered || settings.keyed }

        init(settings: LaneSettings, now: Date) {
            self.settings = settings
            breaker = CircuitBreaker(settings: settings.breaker)
            bucket = settings.rateLimit.map { TokenBucket(burst: $0.burst, perSecond: $0.perSecond, now: now) }
        }
    }

    private var lanes: [String: Lane] = [:]

    public init() {}

    public var laneIDs: Set<String> { Set(lanes.keys) }

    /// Adds, updates and removes lanes to match the subscriptions; state of kept lanes stays.
    public mutating func configure(_ settings: [String: LaneSettings], now: Date) {
        for id in lanes.keys where settings[id] == nil { lanes[id] = nil }
        for (id, wanted) in settings {
            if var lane = lanes[id] {
                guard lane.settings != wanted else { continue }
                if lane.settings.rateLimit != wanted.rateLimit {
                    lane.bucket = wanted.rateLimit.map { TokenBucket(burst: $0.burst, perSecond: $0.perSecond, now: now) }
                }
                if lane.settings.breaker != wanted.breaker { lane.breaker = CircuitBreaker(settings: wanted.breaker) }
                lane.settings = wanted
                lanes[id] = lane
            } else {
                lanes[id] = Lane(settings: wanted, now: now)
            }
        }
    }

    /// Paused by an operator or disabled: nothing is claimed until released.
    public mutating func setHeld(_ id: String, _ held: Bool) {
        lanes[id]?.held = held
        if !held { lanes[id]?.nextDue = nil }
    }

    /// Restores a persisted run of failures (after a restart, which counts as its last failure:
    /// the run goes on if the next attempt fails too).
    public mutating func restoreFailingSince(_ id: String, _ since: Date?, now: Date) {
        lanes[id]?.failingSince = since
        lanes[id]?.lastFailure = since == nil ? nil : now
    }

    /// New or changed deliveries: the named lanes (all when nil) ask the store again.
    public mutating func wake(_ ids: Set<String>? = nil) {
        for id in ids ?? Set(lanes.keys) where lanes[id] != nil {
            lanes[id]?.nextDue = nil
            lanes[id]?.noProbeUntil = nil
            if lanes[id]?.claiming == true { lanes[id]?.wokenWhileClaiming = true }
        }
    }

    /// The claims to make now, at most `limit` per lane and never beyond a lane's free slots,
    /// tokens or breaker allowance. Sorted by subscription id (a stable, fair order: every lane
    /// that may send is asked in every round).
    public mutating func plan(now: Date) -> [LaneClaim] {
        var claims: [LaneClaim] = []
        for id in lanes.keys.sorted() {
            guard var lane = lanes[id] else { continue }
            defer { lanes[id] = lane }
            guard !lane.held else { continue }
            if let until = lane.rateLimitedUntil {
                if until > now { continue }
                lane.rateLimitedUntil = nil
            }
            if let due = lane.nextDue, due > now {
                // Nothing due. But a breaker ready to probe does not wait for a retry hours away:
                // it probes with the lane's next delivery now (not counted as its attempt).
                // Cheap checks first: `permits` moves an open breaker to half-open.
                if lane.nextDue != .distantFuture, now >= lane.noProbeUntil ?? now, lane.bucket.map({ $0.available(now: now) >= 1 }) ?? true,
                   lane.breaker.isOpen
                    ? lane.breaker.permits(now: now, inFlight: lane.outstanding) == 1
                    : lane.holdsBehindHead && lane.outstanding == 0 && now >= lane.headProbeAt ?? .distantFuture {
                    lane.headProbeSent = !lane.breaker.isOpen
                    lane.probing = true
                    lane.claiming = true
                    claims.append(LaneClaim(subscriptionID: id, limit: 1, ordered: lane.settings.ordered, keyed: lane.settings.keyed, probe: true))
                }
                continue
            }
            var capacity = lane.settings.ordered
                ? (lane.outstanding == 0 ? lane.settings.orderedBatch : 0)
                : min(lane.settings.concurrency - lane.inFlight, 2 * lane.settings.concurrency - lane.outstanding)
            if let bucket = lane.bucket { capacity = min(capacity, bucket.available(now: now)) }
            if let allowed = lane.breaker.permits(now: now, inFlight: lane.outstanding) { capacity = min(capacity, allowed) }
            guard capacity > 0 else { continue }
            lane.claiming = true
            claims.append(LaneClaim(subscriptionID: id, limit: capacity, ordered: lane.settings.ordered, keyed: lane.settings.keyed))
        }
        return claims
    }

    /// The store leased `got` of the `asked`; when fewer, `nextDue` is when the lane's next
    /// pending delivery is due (nil: none pending).
    public mutating func claimed(_ id: String, asked: Int, got: Int, nextDue: Date?, now: Date) {
        guard var lane = lanes[id] else { return }
        lane.inFlight += got
        if got > 0 { lane.bucket?.consume(got, now: now) }
        // Woken while the store answered: what it said may predate the new deliveries; ask again.
        let stale = lane.wokenWhileClaiming
        if got < asked { lane.nextDue = stale ? nil : nextDue ?? .distantFuture }
        if lane.probing, asked > 0, got == 0 {
            lane.noProbeUntil = stale ? nil : nextDue ?? .distantFuture
            lane.headProbeSent = false  // nothing went: the next success is not the probe's
        }
        lane.probing = false
        lane.claiming = false
        lane.wokenWhileClaiming = false
        lanes[id] = lane
    }

    /// A delivery of the lane was answered (or failed to be). `headProbeFrom`, for a failure that
    /// says the destination is unavailable (no answer, a 5xx, a 408): an ordered lane probes its
    /// head from then on (after a `Retry-After`, when there was one) at the breaker's pace. Nil
    /// for a destination that answered with a rejection of this delivery: probing the same head
    /// again would be refused again; it waits for its retry.
    public mutating func sent(_ id: String, _ signal: LaneSignal, now: Date, headProbeFrom: Date? = nil) -> [LaneAction] {
        guard var lane = lanes[id] else { return [] }
        defer { lanes[id] = lane }
        var actions: [LaneAction] = []
        let headProbed = lane.headProbeSent
        lane.headProbeSent = false
        switch signal {
        case .delivered:
            // By key, another key's success says nothing of the key that failed: its probe stays
            // armed, to go once every key waits (its own retry may be minutes away).
            if !lane.settings.keyed || headProbed {
                lane.headProbeAt = nil
                lane.headProbeFailures = 0
            }
            if lane.breaker.recordSuccess() == .closed {
                actions.append(.breakerClosed(subscriptionID: id))
                actions.append(.expediteRetries(subscriptionID: id))
                lane.nextDue = nil
            } else if lane.settings.keyed, headProbed {
                // Every key was waiting on a destination that did not answer, and the probe got
                // through: the other keys' heads, whose retries may be minutes away, go now.
                actions.append(.expediteRetries(subscriptionID: id))
                lane.nextDue = nil
            }
            lane.lastFailure = nil
            if lane.failingSince != nil {
                lane.failingSince = nil
                actions.append(.failingSince(subscriptionID: id, since: nil))
            }
        case .rateLimited(let until):
            lane.rateLimitedUntil = max(lane.rateLimitedUntil ?? until, until)
            lane.bucket?.drain(now: now)
        case .failed:
            if lane.holdsBehindHead {
                if headProbed { lane.headProbeFailures += 1 }
                // At the breaker's pace; a destination still failing after 20 probes (10 s at the
                // default) is probed half as often each time, up to every 30 s, so one delivery it
                // keeps refusing is not sent twice a second for the day its retries take.
                let beyond = max(0, lane.headProbeFailures - 20)
                let pace = min(
                    max(lane.settings.breaker.maxCooldown, .seconds(30)),
                    lane.settings.breaker.maxCooldown * Int(pow(2, Double(min(beyond, 16)))))
                let next = headProbeFrom.map { max($0, now.addingTimeInterval(pace.timeInterval)) }
                // By key, a failure that says nothing of the destination (a 4xx) leaves another
                // key's probe armed.
                if next != nil || !lane.settings.keyed { lane.headProbeAt = next }
            }
            if case .opened(let failures) = lane.breaker.recordFailure(now: now) {
                actions.append(.breakerOpened(subscriptionID: id, failures: failures))
            }
            if let since = lane.failingSince, let last = lane.lastFailure, now.timeIntervalSince(last) <= lane.settings.failureGap.timeInterval {
                lane.lastFailure = now
                if now.timeIntervalSince(since) >= lane.settings.disableAfter.timeInterval, !lane.held {
                    lane.held = true
                    actions.append(.disable(
                        subscriptionID: id,
                        reason: "failing continuously since \(Timestamp.format(since)) (longer than \(Self.format(lane.settings.disableAfter)))"))
                }
            } else {
                // A first failure, or one after a long quiet spell: a new run begins.
                lane.failingSince = now
                lane.lastFailure = now
                actions.append(.failingSince(subscriptionID: id, since: now))
            }
        case .gone(let reason):
            _ = lane.breaker.recordFailure(now: now)
            if !lane.held {
                lane.held = true
                actions.append(.disable(subscriptionID: id, reason: reason))
            }
        }
        return actions
    }

    /// A delivery of the lane was rescheduled for `at` (a retry): the lane looks again then at the latest.
    public mutating func due(_ id: String, at: Date) {
        guard let known = lanes[id]?.nextDue else { return }
        lanes[id]?.nextDue = min(known, at)
    }

    /// Deliveries of the lane were answered (or given up on) and their outcomes wait to be
    /// written: their slots are free for an unordered lane's next claim. True when enough are
    /// free (a quarter of the lane's slots, or all) that claiming now is worth a store write.
    @discardableResult
    public mutating func released(_ id: String, count: Int) -> Bool {
        guard var lane = lanes[id] else { return false }
        let moved = min(count, lane.inFlight)
        lane.inFlight -= moved
        lane.unrecorded += moved
        lanes[id] = lane
        // A lane ordered by key gains nothing by claiming before the outcomes are written: the
        // keys of the answered deliveries stay blocked until then (their rows are still leased),
        // so the claim would visit every key for the few that are free.
        guard !lane.settings.ordered, !lane.settings.keyed, lane.outstanding < 2 * lane.settings.concurrency else { return false }
        let free = lane.settings.concurrency - lane.inFlight
        return lane.inFlight == 0 || free >= max(1, lane.settings.concurrency / 4)
    }

    /// Outcomes of the lane's deliveries were written: released ones leave the count, and any
    /// not released before free their slots now.
    public mutating func recorded(_ id: String, count: Int) {
        guard var lane = lanes[id] else { return }
        let fromReleased = min(count, lane.unrecorded)
        lane.unrecorded -= fromReleased
        lane.inFlight = max(0, lane.inFlight - (count - fromReleased))
        // What followed the written ones (in their order, or their key's) may be due now.
        if lane.holdsBehindHead { lane.nextDue = nil }
        lanes[id] = lane
    }

    /// The earliest time a lane that is waiting (for a due delivery, a token, a 429's end or a
    /// probe) may claim again; nil when none is waiting on time.
    public func nextWake(now: Date) -> Date? {
        var earliest: Date?
        for lane in lanes.values where !lane.held {
            if lane.nextDue == .distantFuture { continue }
            let free = lane.settings.ordered
                ? lane.outstanding == 0
                : lane.inFlight < lane.settings.concurrency && lane.outstanding < 2 * lane.settings.concurrency
            guard free else { continue }
            var ready = lane.nextDue ?? now
            if !lane.breaker.isOpen, lane.holdsBehindHead, let headProbeAt = lane.headProbeAt, lane.outstanding == 0 {
                // The head's probe may come before its retry.
                ready = min(ready, max(headProbeAt, lane.noProbeUntil ?? headProbeAt))
            }
            if lane.breaker.isOpen {
                // Open or half-open: nothing goes while a delivery is in flight (its outcome rings
                // the dispatcher); then a probe goes at the breaker's time, whenever the next
                // delivery is due.
                if lane.outstanding > 0 { continue }
                ready = max(lane.breaker.probeAt ?? now, lane.noProbeUntil ?? now)
            }
            if let until = lane.rateLimitedUntil { ready = max(ready, until) }
            if let bucket = lane.bucket {
                ready = max(ready, now.addingTimeInterval(bucket.timeUntilAvailable(now: now)))
            }
            earliest = min(earliest ?? ready, ready)
        }
        return earliest
    }

    public func status(_ id: String) -> LaneStatus? {
        guard let lane = lanes[id] else { return nil }
        return LaneStatus(
            inFlight: lane.outstanding, rateLimitedUntil: lane.rateLimitedUntil, breaker: lane.breaker.state, failingSince: lane.failingSince,
            held: lane.held)
    }

    static func format(_ duration: Duration) -> String {
        let seconds = duration.components.seconds
        if seconds % 86400 == 0 { return "\(seconds / 86400)d" }
        if seconds % 3600 == 0 { return "\(seconds / 3600)h" }
        if seconds % 60 == 0 { return "\(seconds / 60)m" }
        return "\(seconds)s"
    }
}
