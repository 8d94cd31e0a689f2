import Delivery
import EventModel
import Foundation
import Sinks
import Store
import Testing

@Suite("Attempt classification (pure)")
struct AttemptDecisionTests {
    static let t0 = Date(timeIntervalSince1970: 1_700_000_000)
    let schedule = RetrySchedule(delays: [.seconds(5), .seconds(300)], jitter: 0, maxRetryAfter: .seconds(600))

    func decide(_ result: SendResult, attempt: Int = 1) -> AttemptDecision {
        AttemptDecision.decide(result, attempt: attempt, schedule: schedule, rateLimitWait: .seconds(1), now: Self.t0, random: 0.5)
    }

    @Test func deliveredIsDelivered() {
        #expect(decide(.delivered(status: 204)) == AttemptDecision(outcome: .delivered, next: .delivered, signal: .delivered, statusCode: 204, reason: nil, cause: .delivered))
    }

    @Test func aRetryableFailureFollowsTheScheduleThenIsDeadLettered() {
        let first = decide(.retry(status: 503, reason: "HTTP 503", retryAfter: nil, cause: SendCause.http(503)), attempt: 1)
        #expect(first.outcome == .retry && first.next == .retry(at: Self.t0.addingTimeInterval(5)) && first.signal == .failed)
        let second = decide(.retry(status: nil, reason: "connection refused", retryAfter: nil, cause: SendCause.transport(.connectFailed)), attempt: 2)
        #expect(second.next == .retry(at: Self.t0.addingTimeInterval(300)))
        let last = decide(.retry(status: 500, reason: "HTTP 500", retryAfter: nil, cause: SendCause.http(500)), attempt: 3)
        #expect(last.outcome == .retry && last.next == .deadLetter)
        #expect(last.reason == "gave up after 3 attempts: HTTP 500")
        let honoured = decide(.retry(status: 503, reason: "HTTP 503", retryAfter: .seconds(42), cause: SendCause.http(503)), attempt: 1)
        #expect(honoured.next == .retry(at: Self.t0.addingTimeInterval(42)))
    }

    @Test func a429IsPacingNeverFailureAndNeverGivesUp() {
        let withHeader = decide(.retry(status: 429, reason: "HTTP 429", retryAfter: .seconds(30), cause: SendCause.http(429)), attempt: 50)
        #expect(withHeader.outcome == .rateLimited)
        #expect(withHeader.next == .wait(until: Self.t0.addingTimeInterval(30)), "far past the schedule's end, still waiting")
        #expect(withHeader.signal == .rateLimited(until: Self.t0.addingTimeInterval(30)))
        let without = decide(.retry(status: 429, reason: "HTTP 429", retryAfter: nil, cause: SendCause.http(429)))
        #expect(without.next == .wait(until: Self.t0.addingTimeInterval(1)))
        let zero = decide(.retry(status: 429, reason: "HTTP 429", retryAfter: .zero, cause: SendCause.http(429)))
        #expect(zero.next == .wait(until: Self.t0.addingTimeInterval(1)), "Retry-After: 0 still waits the lane's interval")
        let absurd = decide(.retry(status: 429, reason: "HTTP 429", retryAfter: .seconds(1_000_000_000), cause: SendCause.http(429)))
        #expect(absurd.next == .wait(until: Self.t0.addingTimeInterval(600)), "capped at max_retry_after")
    }

    @Test func gone410DisablesAndKeepsTheDeliveryPending() {
        let gone = decide(.failed(status: 410, reason: "HTTP 410: channel_is_archived", cause: .http(410)))
        #expect(gone.outcome == .disable)
        #expect(gone.signal == .gone(reason: "HTTP 410: channel_is_archived"))
        #expect(gone.next == .retry(at: Self.t0), "it waits with the others for the subscription to be resumed")
        #expect(decide(.failed(status: 410, reason: "gone", cause: .http(410)), attempt: 3).next == .deadLetter)
    }

    @Test func aPermanentFailureIsDeadLetteredAtOnceWithABoundedReason() {
        let refused = decide(.failed(status: 400, reason: "HTTP 400: " + String(repeating: "x", count: 2000), cause: .http(400)))
        #expect(refused.outcome == .failed && refused.next == .deadLetter && refused.signal == .failed)
        #expect((refused.reason?.count ?? 0) <= AttemptDecision.maxReasonLength + 1)
        #expect(refused.cause.label == "http_4xx", "the cause is a bounded label, not the receiver's words")
    }

    @Test(arguments: [
        (SendCause.http(200), "http_2xx"), (.http(301), "http_3xx"), (.http(400), "http_4xx"), (.http(404), "http_4xx"),
        (.http(408), "http_408"), (.http(410), "http_410"), (.http(429), "http_429"), (.http(500), "http_5xx"), (.http(599), "http_5xx"),
        (.http(999), "http_other"), (.transport(.timedOut), "timeout"), (.transport(.connectFailed), "connect"),
        (.transport(.tlsFailed), "tls"), (.transport(.addressRefused), "address_refused"), (.smtp(421), "smtp_4xx"), (.smtp(550), "smtp_5xx"),
    ])
    func causesAreAFixedSetOfLabels(cause: SendCause, label: String) {
        #expect(cause.label == label)
    }
}
