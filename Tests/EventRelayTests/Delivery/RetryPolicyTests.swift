import Delivery
import EventModel
import Foundation
import HTTPClient
import Sinks
import Testing

@Suite("Retry schedule and response classification (pure)")
struct RetryPolicyTests {
    let policy = RetryPolicy(initialBackoff: .seconds(2), maxBackoff: .seconds(60), multiplier: 2, maxAttempts: 6, maxRetryAfter: .seconds(300))

    @Test func ceilingDoublesUpToTheCap() {
        #expect((1...7).map { policy.ceiling(afterAttempt: $0) } == [2, 4, 8, 16, 32, 60, 60].map { Duration.seconds($0) })
    }

    @Test func equalJitterStaysBetweenHalfAndAllOfTheCeiling() {
        #expect(policy.decide(afterAttempt: 3, retryAfter: nil, random: 0) == .retry(after: .seconds(4)))
        #expect(policy.decide(afterAttempt: 3, retryAfter: nil, random: 0.5) == .retry(after: .seconds(6)))
        #expect(policy.decide(afterAttempt: 3, retryAfter: nil, random: 0.999_999) == .retry(after: .milliseconds(7999)))
    }

    @Test func retryAfterReplacesTheScheduleAndIsCapped() {
        #expect(policy.decide(afterAttempt: 1, retryAfter: .seconds(30), random: 0.9) == .retry(after: .seconds(30)))
        #expect(policy.decide(afterAttempt: 1, retryAfter: .seconds(86400), random: 0) == .retry(after: .seconds(300)))
    }

    @Test func givesUpAfterMaxAttempts() {
        #expect(policy.decide(afterAttempt: 5, retryAfter: nil, random: 0) != .giveUp)
        #expect(policy.decide(afterAttempt: 6, retryAfter: nil, random: 0) == .giveUp)
        #expect(policy.decide(afterAttempt: 6, retryAfter: .seconds(1), random: 0) == .giveUp)
    }

    @Test func defaultsSpanMostOfADay() {
        let defaults = RetryPolicy()
        let total = (1..<defaults.maxAttempts).map { defaults.ceiling(afterAttempt: $0).timeInterval }.reduce(0, +)
        #expect(total > 12 * 3600 && total < 24 * 3600, "\(total / 3600) hours")
    }

    static let now = Date(timeIntervalSince1970: 1_445_412_480)  // Wed, 21 Oct 2015 07:28:00 GMT

    @Test(arguments: [
        (200, "ok", nil as String?, "delivered"), (204, "", nil, "delivered"),
        (500, "oops", nil, "retry"), (502, "", nil, "retry"), (408, "", nil, "retry"), (429, "rate_limited", "7", "retry"),
        (400, "invalid_payload", nil, "failed"), (404, "no_service", nil, "failed"), (410, "channel_is_archived", nil, "failed"),
        (403, "action_prohibited", nil, "failed"), (301, "", nil, "failed"),
    ])
    func classification(status: Int, body: String, retryAfter: String?, expected: String) {
        let response = HTTPResponse(status: status, headers: retryAfter.map { [("Retry-After", $0)] } ?? [], body: Array(body.utf8))
        let result = ResponseClassifier.classify(response, now: Self.now)
        switch result {
        case .delivered: #expect(expected == "delivered")
        case .retry(_, let reason, let after):
            #expect(expected == "retry")
            #expect(reason.hasPrefix("HTTP \(status)"))
            #expect(after == retryAfter.map { .seconds(Int($0)!) })
        case .failed(_, let reason):
            #expect(expected == "failed")
            #expect(body.isEmpty || reason.contains(body))
        }
    }

    @Test func retryAfterAsHTTPDate() {
        #expect(RetryAfter.parse("Wed, 21 Oct 2015 07:28:30 GMT", now: Self.now) == .seconds(30))
        #expect(RetryAfter.parse("120", now: Self.now) == .seconds(120))
        #expect(RetryAfter.parse("soon", now: Self.now) == nil)
        #expect(RetryAfter.parse("-5", now: Self.now) == nil)
        // A receiver's absurd value stays finite (the dispatcher once trapped converting it to a date).
        #expect(RetryAfter.parse("99999999999999999", now: Self.now) == .seconds(1_000_000_000))
    }
}
