import EventModel
import Foundation

extension TokenBucket {
    /// What a feed of `streams` timelines polled every `interval` asks of a budget of `capacity`
    /// per `period`, at one request per timeline and poll: nil when it fits, else the interval
    /// that does.
    public static func intervalThatFits(streams: Int, interval: Duration, capacity: Int, per period: Duration) -> Duration? {
        let perPeriod = Double(streams) * period.timeInterval / max(0.001, interval.timeInterval)
        guard perPeriod > Double(capacity) else { return nil }
        return .milliseconds(Int64((Double(streams) * period.timeInterval / Double(capacity) * 1000).rounded(.up)))
    }
}

/// A token bucket shared by every stream of a feed, with the waiting done here (sleep injected).
public final class RequestBudget: Sendable {
    private let bucket: LockedValue<TokenBucket>
    private let clock: WallClock
    private let sleep: @Sendable (Duration) async throws -> Void

    public init(
        capacity: Int, per period: Duration, clock: WallClock = .system,
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        bucket = LockedValue(TokenBucket(capacity: capacity, per: period, now: clock.now))
        self.clock = clock
        self.sleep = sleep
    }

    /// Waits, if need be, for the next request's turn. Throws only when cancelled.
    public func acquire() async throws {
        let now = clock.now
        let wait = bucket.withValue { $0.take(now: now) }
        if wait > 0 { try await sleep(.milliseconds(Int64((wait * 1000).rounded(.up)))) }
    }

    public func drain() {
        let now = clock.now
        bucket.withValue { $0.drain(now: now) }
    }
}
