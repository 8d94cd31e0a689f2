import EventModel
import Metrics
import Sinks
import Store

/// The dispatcher's metrics. Handles are made once per label set and reused (a lookup in the
/// metrics factory per delivery is measurable at tens of thousands a second). Labels are bounded:
/// subscriptions (as many as an operator made), kinds, outcomes and causes (`SendCause`, a fixed set).
final class DeliveryMetrics: Sendable {
    private let attempts = LockedValue<[String: Counter]>([:])
    private let durations = LockedValue<[String: Timer]>([:])

    func attempt(subscription: String, kind: String, outcome: AttemptRecord.Outcome, cause: SendCause, milliseconds: Int) {
        let key = subscription + "\u{0}" + outcome.rawValue + "\u{0}" + cause.label
        let counter = attempts.withValue { cache in
            if let existing = cache[key] { return existing }
            let made = Counter(
                label: "event_relay_delivery_attempts_total", dimensions: [("subscription", subscription), ("outcome", outcome.rawValue), ("cause", cause.label)])
            cache[key] = made
            return made
        }
        counter.increment()
        let timer = durations.withValue { cache in
            if let existing = cache[kind] { return existing }
            let made = Timer(label: "event_relay_delivery_duration_seconds", dimensions: [("kind", kind)])
            cache[kind] = made
            return made
        }
        timer.recordMilliseconds(milliseconds)
    }

    func breaker(subscription: String, open: Bool) {
        Gauge(label: "event_relay_subscription_breaker_open", dimensions: [("subscription", subscription)]).record(open ? 1 : 0)
    }

    func disabled(subscription: String) {
        Counter(label: "event_relay_subscriptions_disabled_total", dimensions: [("subscription", subscription)]).increment()
    }
}
