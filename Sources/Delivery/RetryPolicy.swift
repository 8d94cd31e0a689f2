import Foundation

/// When to try a failed delivery again, and when to stop. Pure: the caller supplies the
/// randomness (for jitter), so the schedule is tested exactly.
///
/// Attempt n (1-based) that fails waits `min(maxBackoff, initialBackoff × multiplier^(n-1))`,
/// with "equal jitter": half of that fixed, half random, so a burst of failures does not retry
/// in lockstep. A receiver's `Retry-After` replaces the computed wait (capped at `maxRetryAfter`).
/// After `maxAttempts` attempts the delivery is marked failed (kept, and retryable by hand).
public struct RetryPolicy: Sendable, Equatable {
    public var initialBackoff: Duration
    public var maxBackoff: Duration
    public var multiplier: Double
    public var maxAttempts: Int
    public var maxRetryAfter: Duration

    /// Defaults: 2s, 4s, 8s … capped at 1h; 25 attempts span about 17 hours.
    public init(
        initialBackoff: Duration = .seconds(2), maxBackoff: Duration = .seconds(3600), multiplier: Double = 2,
        maxAttempts: Int = 25, maxRetryAfter: Duration = .seconds(3600)
    ) {
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.multiplier = multiplier
        self.maxAttempts = maxAttempts
        self.maxRetryAfter = maxRetryAfter
    }

    public enum Decision: Sendable, Equatable {
        case retry(after: Duration)
        case giveUp
    }

    /// The longest wait after attempt `attempt` failed, before jitter.
    public func ceiling(afterAttempt attempt: Int) -> Duration {
        let base = initialBackoff.timeInterval
        let exponent = Double(max(0, attempt - 1))
        let seconds = min(maxBackoff.timeInterval, base * pow(multiplier, exponent))
        return .milliseconds(Int64(seconds * 1000))
    }

    /// `random` is uniform in [0, 1).
    public func decide(afterAttempt attempt: Int, retryAfter: Duration?, random: Double) -> Decision {
        guard attempt < maxAttempts else { return .giveUp }
        if let retryAfter {
            return .retry(after: min(max(retryAfter, .zero), maxRetryAfter))
        }
        let ceiling = ceiling(afterAttempt: attempt).timeInterval
        let jittered = ceiling / 2 + ceiling / 2 * min(max(random, 0), 1)
        return .retry(after: .milliseconds(Int64(jittered * 1000)))
    }
}
