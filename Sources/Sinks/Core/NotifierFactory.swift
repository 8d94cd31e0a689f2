import EventModel
import Foundation
import HTTPClient

/// Makes each subscription's notifier through its kind's folder (`SinkRegistry`).
///
/// Every notifier it makes sends through `AddressGuardedTransport`: deliveries connect only to
/// addresses `addressPolicy` allows (by default no loopback, link-local, cloud metadata, private
/// or otherwise special address), checked on the address libcurl actually connects to.
public struct NotifierFactory: Sendable {
    public let transport: any HTTPTransport
    public let addressPolicy: AddressPolicy
    public let presenter: any EventPresenter
    public let mail: (any MailTransport)?
    public let environment: [String: String]
    public let threads: (any MessageThreads)?

    /// `mail`: where e-mail goes (nil: the transport, when it also speaks SMTP). `environment`:
    /// where e-mail credentials are read.
    public init(
        transport: any HTTPTransport, addressPolicy: AddressPolicy = AddressPolicy(), presenter: any EventPresenter = GenericPresenter(),
        mail: (any MailTransport)? = nil, environment: [String: String] = ProcessInfo.processInfo.environment,
        threads: (any MessageThreads)? = nil
    ) {
        self.threads = threads
        self.transport = AddressGuardedTransport(base: transport, policy: addressPolicy)
        self.addressPolicy = addressPolicy
        self.presenter = presenter
        self.mail = (mail ?? transport as? any MailTransport).map { AddressGuardedMailTransport(base: $0, policy: addressPolicy) }
        self.environment = environment
    }

    public func notifier(for subscription: Subscription) -> any Notifier {
        // A subscription stored before its kind's rules grew stricter (a URL with user info, a
        // backslash…) is not sent anywhere, and says why.
        if let problem = subscription.settings.validate() {
            return RefusingNotifier(reason: "not sent: the subscription's \(problem.description)")
        }
        guard let plugin = SinkRegistry.plugin(kind: subscription.kind),
              let notifier = plugin.makeNotifier(
                  subscription, context: SinkContext(transport: transport, presenter: presenter, mail: mail, environment: environment, threads: threads))
        else {
            return RefusingNotifier(reason: "not sent: this relay has no destination of type \(subscription.kind)")
        }
        return notifier
    }
}

/// Fails every delivery at once, for a reason that does not change by trying again.
struct RefusingNotifier: Notifier {
    let reason: String
    var cause: SendCause = .configuration

    func notify(_ event: Event, context: DeliveryContext) async -> SendResult {
        .failed(status: nil, reason: reason, cause: cause)
    }
}
