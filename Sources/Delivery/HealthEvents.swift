import EventModel
import Foundation

/// Something about the relay's own deliveries that an operator should hear of. Each becomes an
/// event of source `event-relay` that rules route like any other; it is never routed to the
/// subscription it is about (a failing Slack sink is not told about itself).
public enum HealthNotice: Sendable, Equatable {
    /// Consecutive failures reached the breaker's threshold: sending stopped, probing started.
    case subscriptionFailing(subscriptionID: String, failures: Int)
    /// A delivery got through again after the breaker had opened.
    case subscriptionRecovered(subscriptionID: String)
    case subscriptionDisabled(subscriptionID: String, reason: String)
    case deliveryDeadLettered(subscriptionID: String, deliveryID: String, eventKey: String, reason: String)

    public var subscriptionID: String {
        switch self {
        case .subscriptionFailing(let id, _), .subscriptionRecovered(let id), .subscriptionDisabled(let id, _),
            .deliveryDeadLettered(let id, _, _, _):
            return id
        }
    }
}

public enum HealthEvents {
    /// The source (and feed) of the relay's own events.
    public static let source = Event.relaySource

    /// The sample event `POST /v1/subscriptions/{id}/test` sends.
    public static func testEvent(for subscriptionID: String, now: Date) -> Event {
        let details: JSONValue = .object(["subscription_id": .string(subscriptionID), "test": .bool(true)])
        return Event(
            source: source, feed: source, id: Identifier.make(prefix: "test", now: now), type: "test", time: now,
            summary: "Test message from EventRelay to subscription \(subscriptionID)", details: details,
            raw: .object(["type": .string("test"), "subscription_id": .string(subscriptionID)]))
    }

    /// The event for a notice. Its id is unique per notice (a dead letter's, per delivery), so
    /// dedupe never merges two notices.
    public static func event(for notice: HealthNotice, now: Date) -> Event {
        let stamp = Identifier.make(prefix: "health", now: now)
        let type: String
        let category: EventCategory
        let summary: String
        var details: [String: JSONValue] = ["subscription_id": .string(notice.subscriptionID)]
        switch notice {
        case .subscriptionFailing(let id, let failures):
            type = "subscription.failing"
            category = .relayDeliveryFailing
            summary = "Deliveries to subscription \(id) failed \(failures) times in a row; sending paused, probing"
            details["failures"] = .integer(Int64(failures))
        case .subscriptionRecovered(let id):
            type = "subscription.recovered"
            category = .relayDeliveryRecovered
            summary = "Deliveries to subscription \(id) get through again"
        case .subscriptionDisabled(let id, let reason):
            type = "subscription.disabled"
            category = .relaySubscriptionDisabled
            summary = "Subscription \(id) was disabled: \(reason)"
            details["reason"] = .string(reason)
        case .deliveryDeadLettered(let id, let delivery, let eventKey, let reason):
            type = "delivery.dead_lettered"
            category = .relayDeadLetter
            summary = "A delivery to subscription \(id) was dead-lettered: \(reason)"
            details["delivery_id"] = .string(delivery)
            details["event"] = .string(eventKey)
            details["reason"] = .string(reason)
        }
        let document = JSONValue.object(details.merging(["type": .string(type)]) { current, _ in current })
        return Event(
            source: source, feed: source, id: stamp, type: type, category: category, time: now, summary: summary,
            details: .object(details), raw: document)
    }
}
