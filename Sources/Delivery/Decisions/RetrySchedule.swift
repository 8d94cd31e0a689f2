import EventModel
import Foundation

/// When to try a failed delivery again, and when to stop. Pure: the caller supplies the
/// randomness (for jitter), so the schedule is tested exactly.
///
/// `delays[n-1]` is the wait after attempt n failed; after `delays.count + 1` attempts the delivery
/// is dead-lettered (kept, listed, retryable by hand), never dropped. Each wait is jittered by
/// ±`jitter` (a fraction) so a burst of failures does not retry in lockstep. A receiver's
/// `Retry-After` replaces the scheduled wait for that step (capped at `maxRetryAfter`). A 429 is
/// pacing, not failure: it is not an attempt here (see `AttemptClassification`).
public struct RetrySchedule: Sendable, Equatable {
    public var delays: [Duration]
    public var jitter: Double
    public var maxRetryAfter: Duration

    /// In the spirit of Standard Webhooks: immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h
    /// (8 attempts over about 27.5 hours).
    public static let standardWebhooksDelays: [Duration] = [
        .seconds(5), .seconds(300), .seconds(1800), .seconds(7200), .seconds(18000), .seconds(36000), .seconds(36000),
    ]

    public static let maxDelays = 100

    public init(delays: [Duration] = RetrySchedule.standardWebhooksDelays, jitter: Double = 0.2, maxRetryAfter: Duration = .seconds(3600)) {
        self.delays = delays
        self.jitter = min(max(jitter, 0), 0.5)
        self.maxRetryAfter = maxRetryAfter
    }

    /// The older form of the setting: `initial`, doubling, capped at `maximum`, `attempts` in all.
    public static func exponential(initial: Duration, maximum: Duration, attempts: Int) -> RetrySchedule {
        var delays: [Duration] = []
        var next = initial
        for _ in 0..<max(0, attempts - 1) {
            delays.append(min(next, maximum))
            next = next * 2
        }
        return RetrySchedule(delays: delays)
    }

    /// Attempts before a delivery is dead-lettered.
    public var maxAttempts: Int { delays.count + 1 }

    public enum Decision: Sendable, Equatable {
        case retry(after: Duration)
        case giveUp
    }

    /// After attempt `attempt` (1-based) failed. `random` is uniform in [0, 1).
    public func decide(afterAttempt attempt: Int, retryAfter: Duration?, random: Double) -> Decision {
        guard attempt >= 1, attempt <= delays.count else { return .giveUp }
        if let retryAfter {
            return .retry(after: min(max(retryAfter, .zero), maxRetryAfter))
        }
        let base = delays[attempt - 1].timeInterval
        let factor = 1 - jitter + 2 * jitter * min(max(random, 0), 1)
        return .retry(after: .milliseconds(Int64((base * factor * 1000).rounded())))
    }
}
