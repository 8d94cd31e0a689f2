import EventModel
import Foundation
import Rules
import SQLiteStore
import Sinks

/// Subscriptions of the built-in kinds, written briefly in tests.
extension Subscription {
    static func slack(
        _ id: String, url: String, username: String? = nil, icon: String? = nil, headers: [String: String] = [:],
        filter: EventFilter = .any, delivery: DeliveryOptions = .none, origin: SubscriptionOrigin = .api
    ) -> Subscription {
        Subscription(
            id: id, settings: SlackSettings(url: SecretString(url), username: username, icon: icon, headers: testHeaders(headers)),
            filter: filter, delivery: delivery, origin: origin)
    }

    static func webhook(
        _ id: String, url: String, secret: String, previous: [PreviousSecret] = [], headers: [String: String] = [:],
        filter: EventFilter = .any, delivery: DeliveryOptions = .none, origin: SubscriptionOrigin = .api
    ) -> Subscription {
        Subscription(
            id: id,
            settings: WebhookSettings(url: SecretString(url), secret: SecretString(secret), previousSecrets: previous, headers: testHeaders(headers)),
            filter: filter, delivery: delivery, origin: origin)
    }

    var webhook: WebhookSettings? { settings as? WebhookSettings }
    var slack: SlackSettings? { settings as? SlackSettings }
}

func testHeaders(_ headers: [String: String]) -> [CustomHeader] {
    headers.keys.sorted().map { CustomHeader(name: $0, value: SecretString(headers[$0] ?? "")) }
}

extension SQLiteStore {
    /// With the built-in destination kinds, as the relay opens it.
    convenience init(path: String) throws {
        try self.init(path: path, sinks: SinkRegistry.kinds)
    }
}

extension RuleLoader {
    init(environment: [String: String]?) {
        self.init(environment: environment, sinks: SinkRegistry.kinds)
    }
}
