import EventModel
import HTTPClient

/// The one place that knows every sink kind (Alertmanager's config/receiver/receiver.go).
/// Adding a kind: a folder under Sinks/, a case in `SubscriptionKind`, a line here.
public struct NotifierFactory: Sendable {
    public let transport: any HTTPTransport

    public init(transport: any HTTPTransport) {
        self.transport = transport
    }

    /// How fast a kind's receivers accept messages when a subscription sets no rate limit.
    public static func defaultRateLimit(for kind: SubscriptionKind) -> RateLimit? {
        switch kind {
        case .slack: return SlackNotifier.defaultRateLimit
        case .webhook: return nil
        }
    }

    public func notifier(for subscription: Subscription) -> any Notifier {
        switch subscription.kind {
        case .slack:
            return SlackNotifier(subscription: subscription, transport: transport)
        case .webhook:
            return WebhookNotifier(subscription: subscription, transport: transport)
        }
    }
}
