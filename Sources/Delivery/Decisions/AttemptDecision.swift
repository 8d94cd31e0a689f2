import EventModel
import Foundation
import Sinks
import Store

/// The one classification of every attempt: what the notifier's result means for the delivery
/// (delivered, retried at a time the schedule picks, waiting out a 429, dead-lettered) and for
/// its lane (a success, pacing, a failure, a request to be disabled). Pure.
public struct AttemptDecision: Sendable, Equatable {
    public var outcome: AttemptRecord.Outcome
    public var next: AttemptRecord.Next
    public var signal: LaneSignal
    public var statusCode: Int?
    /// Why, for the attempt log (bounded).
    public var reason: String?
    /// Why, as a metric label.
    public var cause: SendCause

    public static let maxReasonLength = 500

    public init(
        outcome: AttemptRecord.Outcome, next: AttemptRecord.Next, signal: LaneSignal, statusCode: Int?, reason: String?, cause: SendCause
    ) {
        self.cause = cause
        self.outcome = outcome
        self.next = next
        self.signal = signal
        self.statusCode = statusCode
        self.reason = reason
    }

    /// `attempt` is the number of this attempt among those that count (429s do not);
    /// `rateLimitWait` is how long a 429 without Retry-After pauses the lane.
    public static func decide(
        _ result: SendResult, attempt: Int, schedule: RetrySchedule, rateLimitWait: Duration, now: Date, random: Double
    ) -> AttemptDecision {
        switch result {
        case .delivered(let status):
            return AttemptDecision(outcome: .delivered, next: .delivered, signal: .delivered, statusCode: status, reason: nil, cause: .delivered)
        case .retry(let status, let reason, let retryAfter, let cause) where status == 429:
            // At least the lane's own interval: `Retry-After: 0` (or a date gone by) must not turn
            // a receiver's 429s into a tight loop.
            let wait = min(max(retryAfter ?? rateLimitWait, rateLimitWait), schedule.maxRetryAfter)
            let until = now.addingTimeInterval(wait.timeInterval)
            return AttemptDecision(
                outcome: .rateLimited, next: .wait(until: until), signal: .rateLimited(until: until), statusCode: status,
                reason: bounded(reason), cause: cause)
        case .retry(let status, let reason, let retryAfter, let cause):
            switch schedule.decide(afterAttempt: attempt, retryAfter: retryAfter, random: random) {
            case .retry(let wait):
                return AttemptDecision(
                    outcome: .retry, next: .retry(at: now.addingTimeInterval(wait.timeInterval)), signal: .failed, statusCode: status,
                    reason: bounded(reason), cause: cause)
            case .giveUp:
                return AttemptDecision(
                    outcome: .retry, next: .deadLetter, signal: .failed, statusCode: status,
                    reason: bounded("gave up after \(attempt) attempts: \(reason)"), cause: cause)
            }
        case .failed(let status, let reason, let cause) where status == 410 || cause == .gone:
            // The receiver asks to be disabled: the subscription is, and this delivery waits with
            // the others for it to be resumed (it counts as an attempt).
            let next: AttemptRecord.Next = attempt < schedule.maxAttempts ? .retry(at: now) : .deadLetter
            return AttemptDecision(outcome: .disable, next: next, signal: .gone(reason: bounded(reason)), statusCode: status, reason: bounded(reason), cause: cause)
        case .failed(let status, let reason, let cause):
            return AttemptDecision(outcome: .failed, next: .deadLetter, signal: .failed, statusCode: status, reason: bounded(reason), cause: cause)
        }
    }

    static func bounded(_ text: String) -> String {
        text.count > maxReasonLength ? String(text.prefix(maxReasonLength)) + "…" : text
    }
}
