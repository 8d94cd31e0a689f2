import EventModel
import HTTPClient

/// The one place that knows every sink kind (Alertmanager's config/receiver/receiver.go).
/// Adding a kind: a folder under Sinks/, a case in `SubscriptionKind`, a line here.
///
/// Every notifier it makes sends through `AddressGuardedTransport`: deliveries connect only to
/// addresses `addressPolicy` allows (by default no loopback, link-local, cloud metadata, private
/// or otherwise special address), checked on the address libcurl actually connects to.
public struct NotifierFactory: Sendable {
    public let transport: any HTTPTransport
    public let addressPolicy: AddressPolicy

    public init(transport: any HTTPTransport, addressPolicy: AddressPolicy = AddressPolicy()) {
        self.transport = AddressGuardedTransport(base: transport, policy: addressPolicy)
        self.addressPolicy = addressPolicy
    }

    /// How fast a kind's receivers accept messages when a subscription sets no rate limit.
    public static func defaultRateLimit(for kind: SubscriptionKind) -> RateLimit? {
        switch kind {
        case .slack: return SlackNotifier.defaultRateLimit
        case .webhook: return nil
        }
    }

    public func notifier(for subscription: Subscription) -> any Notifier {
        // A subscription stored before URLs were read strictly may hold one that is refused now
        // (user info, a backslash…): it is not sent anywhere, and says why.
        if let problem = Subscription.validateURL(subscription.url, field: "url") {
            return RefusingNotifier(reason: "not sent: the subscription's \(problem.description)")
        }
        switch subscription.kind {
        case .slack:
            return SlackNotifier(subscription: subscription, transport: transport)
        case .webhook:
            return WebhookNotifier(subscription: subscription, transport: transport)
        }
    }
}

/// Fails every delivery at once, for a reason that does not change by trying again.
struct RefusingNotifier: Notifier {
    let reason: String

    func notify(_ event: Event, context: DeliveryContext) async -> SendResult {
        .failed(status: nil, reason: reason)
    }
}
