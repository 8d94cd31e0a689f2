import EventModel
import Foundation
import HTTPClient

/// What a subscription's destination would receive for an event, without sending anything:
/// its notifier runs against a transport that records the request (HTTP or SMTP) and answers
/// success. Secrets are shown as the API shows them (the URL masked, header values hidden);
/// the body is exactly what would be sent. For `POST /v1/render` and `rules test`.
public enum DryRun {
    public static func render(
        _ event: Event, for subscription: Subscription, presenter: any EventPresenter, environment: [String: String] = [:], now: Date = Date(),
        threads: (any MessageThreads)? = nil
    ) async -> JSONValue {
        let capture = CapturingTransport()
        // Every address allowed: nothing is connected to.
        let factory = NotifierFactory(
            transport: capture, addressPolicy: AddressPolicy(allowedNetworks: ["0.0.0.0/0", "::/0"].compactMap { try? IPNetwork($0) }),
            presenter: presenter, mail: capture, environment: environment, threads: threads.map { ReadOnlyThreads(base: $0) })
        let context = DeliveryContext(deliveryID: "dlv_render", subscriptionID: subscription.id, matchedBy: "render", attempt: 1, now: now)
        let result = await factory.notifier(for: subscription).notify(event, context: context)
        if let request = capture.http.first {
            let secrets = subscription.settings.secrets.map(\.value).filter { $0.count >= 4 }
            let headers: [JSONValue] = request.headers.map { header in
                let name = header.name.lowercased()
                let value: String
                if name == "webhook-signature" {
                    // A real signature over a caller's body would let anyone who can render get content signed.
                    value = "(signed when sent)"
                } else if name == "authorization" || secrets.contains(where: { header.value.contains($0) }) {
                    value = "[secret]"
                } else {
                    value = header.value
                }
                return .object(["name": .string(header.name), "value": .string(value)])
            }
            let body: JSONValue = (try? JSONValue.parse(request.body)) ?? .string(String(decoding: request.body, as: UTF8.self))
            return .object([
                "method": .string(request.method.rawValue), "url": .string(Redact.url(request.url)), "headers": .array(headers), "body": body,
            ])
        }
        if let mail = capture.mail.first {
            return .object([
                "smtp": .string("\(mail.host):\(mail.port) (\(mail.security.rawValue))"), "from": .string(mail.from),
                "to": .array(mail.recipients.map(JSONValue.string)), "message": .string(String(decoding: mail.message, as: UTF8.self)),
            ])
        }
        switch result {
        case .failed(_, let reason, _), .retry(_, let reason, _, _): return .object(["error": .string(reason)])
        case .delivered: return .object(["error": .string("nothing would be sent")])
        }
    }
}

/// A story's known message is read (the render shows the update it would make) but a render
/// remembers nothing.
struct ReadOnlyThreads: MessageThreads {
    let base: any MessageThreads
    func thread(subscriptionID: String, key: String) async throws -> MessageThread? { try await base.thread(subscriptionID: subscriptionID, key: key) }
    func saveThread(subscriptionID: String, key: String, _ thread: MessageThread, now: Date) async throws {}
    func pruneThreads(before: Date) async throws -> Int { 0 }
}

/// Records requests and messages; answers success.
final class CapturingTransport: HTTPTransport, MailTransport, @unchecked Sendable {
    private let lock = NSLock()
    private var requests: [HTTPRequest] = []
    private var messages: [MailRequest] = []

    var http: [HTTPRequest] { lock.withLock { requests } }
    var mail: [MailRequest] { lock.withLock { messages } }

    func execute(_ request: HTTPRequest) async throws -> HTTPResponse {
        lock.withLock { requests.append(request) }
        return HTTPResponse(status: 200, body: Array("ok".utf8))
    }

    func send(_ mail: MailRequest) async throws -> MailResponse {
        lock.withLock { messages.append(mail) }
        return MailResponse(code: 250)
    }
}
