import Foundation

/// An allowance as a token bucket: `capacity` at once (the burst), refilled at `refillPerSecond`.
/// Used for a platform's request budget (Scalingo: 60 a minute per token) and a delivery lane's
/// rate limit (Slack: about one message a second). Pure: the time is passed in.
public struct TokenBucket: Sendable, Equatable {
    public let capacity: Double
    public let refillPerSecond: Double
    public private(set) var tokens: Double
    public private(set) var updatedAt: Date

    public init(capacity: Int, per period: Duration, now: Date) {
        self.capacity = Double(max(1, capacity))
        refillPerSecond = self.capacity / max(0.001, period.timeInterval)
        tokens = self.capacity
        updatedAt = now
    }

    /// `burst` at once, then `perSecond`.
    public init(burst: Int, perSecond: Double, now: Date) {
        capacity = Double(max(1, burst))
        refillPerSecond = max(0.000_001, perSecond)
        tokens = capacity
        updatedAt = now
    }

    /// Whole tokens there now (nothing is taken).
    public func available(now: Date) -> Int {
        var copy = self
        copy.refill(now: now)
        return max(0, Int(copy.tokens.rounded(.down)))
    }

    /// How long until one whole token is there (zero when one is).
    public func timeUntilAvailable(now: Date) -> TimeInterval {
        var copy = self
        copy.refill(now: now)
        return copy.tokens >= 1 ? 0 : (1 - copy.tokens) / refillPerSecond
    }

    /// Takes `count` tokens that `available` said were there.
    public mutating func consume(_ count: Int, now: Date) {
        refill(now: now)
        tokens -= Double(count)
    }

    /// Takes one request's token and says how long to wait before sending it (zero when one was
    /// there). Waiting requests queue: each takes the next token as it refills.
    public mutating func take(now: Date) -> TimeInterval {
        refill(now: now)
        tokens -= 1
        return tokens >= 0 ? 0 : -tokens / refillPerSecond
    }

    /// After a 429: the platform says none are left.
    public mutating func drain(now: Date) {
        refill(now: now)
        tokens = min(tokens, 0)
    }

    private mutating func refill(now: Date) {
        let elapsed = max(0, now.timeIntervalSince(updatedAt))
        tokens = min(capacity, tokens + elapsed * refillPerSecond)
        updatedAt = max(updatedAt, now)
    }
}
