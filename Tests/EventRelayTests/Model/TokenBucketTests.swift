import EventModel
import Feeds
import Foundation
import Testing

@Suite("Request budget (pure)")
struct TokenBucketTests {
    static let t0 = Date(timeIntervalSince1970: 1_700_000_000)

    @Test func aFullBucketLetsSixtyThroughThenOnePerSecond() {
        var bucket = TokenBucket(capacity: 60, per: .seconds(60), now: Self.t0)
        let waits = (0..<63).map { _ in bucket.take(now: Self.t0) }
        #expect(waits.prefix(60).allSatisfy { $0 == 0 })
        #expect(waits.suffix(3) == [1, 2, 3], "queued requests take the next tokens as they refill")
        // Five seconds later, the three queued ones have used what refilled; two more are free.
        #expect(abs(bucket.take(now: Self.t0.addingTimeInterval(5)) - (-1 + 1)) < 1e-9)
    }

    @Test func refillsNeverExceedTheCapacity() {
        var bucket = TokenBucket(capacity: 10, per: .seconds(10), now: Self.t0)
        for _ in 0..<10 { _ = bucket.take(now: Self.t0) }
        let later = Self.t0.addingTimeInterval(3600)
        #expect((0..<10).map { _ in bucket.take(now: later) }.allSatisfy { $0 == 0 })
        #expect(bucket.take(now: later) == 1)
    }

    @Test func aRateLimitAnswerEmptiesTheBucket() {
        var bucket = TokenBucket(capacity: 60, per: .seconds(60), now: Self.t0)
        bucket.drain(now: Self.t0)
        #expect(bucket.take(now: Self.t0) == 1)
        #expect(bucket.take(now: Self.t0.addingTimeInterval(10)) == 0, "refilled meanwhile")
    }

    @Test func aClockGoingBackDoesNotRefill() {
        var bucket = TokenBucket(capacity: 2, per: .seconds(2), now: Self.t0)
        _ = bucket.take(now: Self.t0)
        _ = bucket.take(now: Self.t0)
        #expect(bucket.take(now: Self.t0.addingTimeInterval(-100)) == 1)
    }

    @Test(arguments: [
        (1, 30, nil as Int?), (30, 30, nil), (31, 30, 31_000), (50, 30, 50_000), (100, 60, 100_000), (10, 5, 10_000), (5, 10, nil),
    ])
    func whetherAnIntervalFitsTheBudget(streams: Int, intervalSeconds: Int, fitting: Int?) {
        let fit = TokenBucket.intervalThatFits(streams: streams, interval: .seconds(intervalSeconds), capacity: 60, per: .seconds(60))
        #expect(fit == fitting.map { .milliseconds(Int64($0)) })
    }
}
