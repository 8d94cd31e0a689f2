import Delivery
import EventModel
import Foundation
import HTTPClient
import Sinks
import Testing

@Suite("Retry schedule and response classification (pure)")
struct RetryScheduleTests {
    let schedule = RetrySchedule(delays: [.seconds(5), .seconds(300), .seconds(1800)], jitter: 0.2, maxRetryAfter: .seconds(600))

    @Test func theDefaultIsStandardWebhooksSchedule() {
        let defaults = RetrySchedule()
        #expect(defaults.delays == [5, 300, 1800, 7200, 18000, 36000, 36000].map { Duration.seconds($0) })
        #expect(defaults.maxAttempts == 8)
        let total = defaults.delays.map(\.timeInterval).reduce(0, +)
        #expect(total > 27 * 3600 && total < 28 * 3600, "\(total / 3600) hours")
    }

    @Test func eachStepIsJitteredWithinTwentyPercent() {
        #expect(schedule.decide(afterAttempt: 1, retryAfter: nil, random: 0) == .retry(after: .seconds(4)))
        #expect(schedule.decide(afterAttempt: 1, retryAfter: nil, random: 0.5) == .retry(after: .seconds(5)))
        #expect(schedule.decide(afterAttempt: 2, retryAfter: nil, random: 0.75) == .retry(after: .seconds(330)))
        #expect(schedule.decide(afterAttempt: 3, retryAfter: nil, random: 0.25) == .retry(after: .seconds(1620)))
    }

    @Test func retryAfterReplacesTheStepAndIsCapped() {
        #expect(schedule.decide(afterAttempt: 1, retryAfter: .seconds(30), random: 0.9) == .retry(after: .seconds(30)))
        #expect(schedule.decide(afterAttempt: 1, retryAfter: .seconds(86400), random: 0) == .retry(after: .seconds(600)))
    }

    @Test func givesUpAfterTheLastStep() {
        #expect(schedule.maxAttempts == 4)
        #expect(schedule.decide(afterAttempt: 3, retryAfter: nil, random: 0) != .giveUp)
        #expect(schedule.decide(afterAttempt: 4, retryAfter: nil, random: 0) == .giveUp)
        #expect(schedule.decide(afterAttempt: 4, retryAfter: .seconds(1), random: 0) == .giveUp)
        #expect(RetrySchedule(delays: []).decide(afterAttempt: 1, retryAfter: nil, random: 0) == .giveUp)
    }

    @Test func theOlderExponentialFormDoublesUpToItsCap() {
        let exponential = RetrySchedule.exponential(initial: .seconds(2), maximum: .seconds(60), attempts: 8)
        #expect(exponential.delays == [2, 4, 8, 16, 32, 60, 60].map { Duration.seconds($0) })
        #expect(exponential.maxAttempts == 8)
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
        case .retry(_, let reason, let after, let cause):
            #expect(cause == .http(status))
            #expect(expected == "retry")
            #expect(reason.hasPrefix("HTTP \(status)"))
            #expect(after == retryAfter.map { .seconds(Int($0)!) })
        case .failed(_, let reason, let cause):
            #expect(expected == "failed")
            #expect(cause == .http(status))
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
