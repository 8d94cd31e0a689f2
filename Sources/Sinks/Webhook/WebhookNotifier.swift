import Crypto
import EventModel
import Foundation
import HTTPClient

/// Posts the normalized event and the source's raw event as JSON, signed the Standard Webhooks
/// way: `webhook-id` (the delivery id, the same on every retry), `webhook-timestamp`, and
/// `webhook-signature: v1,<base64 HMAC-SHA256(key, id.timestamp.body)>`, one signature per secret
/// in force (the current one, then any rotated-out one until its expiry), space-separated. The
/// subscription's custom headers go with it.
struct WebhookNotifier: Notifier {
    let subscription: Subscription
    let transport: any HTTPTransport
    /// Each secret's key, decoded once per notifier (one is made per claimed batch), not per delivery.
    private let keys: [String: [UInt8]]

    init(subscription: Subscription, transport: any HTTPTransport) {
        self.subscription = subscription
        self.transport = transport
        var keys: [String: [UInt8]] = [:]
        for secret in [subscription.signingSecret].compactMap({ $0 }) + subscription.previousSecrets.map(\.secret) {
            keys[secret] = WebhookSignature.key(secret)
        }
        self.keys = keys
    }

    func notify(_ event: Event, context: DeliveryContext) async -> SendResult {
        guard let stored = try? StoredEvent(event) else { return .failed(status: nil, reason: "the event cannot be encoded") }
        return await notify(stored, context: context)
    }

    func notify(_ event: StoredEvent, context: DeliveryContext) async -> SendResult {
        let body = WebhookPayload.body(event, context: context)
        let timestamp = Int64(context.now.timeIntervalSince1970)
        var headers: [(name: String, value: String)] = [
            ("Content-Type", "application/json"),
            ("webhook-id", context.deliveryID),
            ("webhook-timestamp", String(timestamp)),
        ]
        guard let signature = WebhookSignature.header(
            keys: subscription.signingSecrets(at: context.now).map { keys[$0] }, id: context.deliveryID, timestamp: timestamp, body: body)
        else {
            return .failed(status: nil, reason: "the subscription's signing secret is not usable")
        }
        headers.append(("webhook-signature", signature))
        headers += subscription.headers.map { ($0.name, $0.value) }
        let request = HTTPRequest(method: .POST, url: subscription.url, headers: headers, body: body)
        return await send(request, over: transport, now: context.now, for: subscription)
    }
}

/// The JSON document a webhook receives.
public enum WebhookPayload {
    struct Document: Encodable {
        var type = "event"
        var deliveryID: String
        var subscriptionID: String
        var matchedBy: String
        var event: NormalizedEvent
        var raw: JSONValue

        enum CodingKeys: String, CodingKey {
            case type, deliveryID = "delivery_id", subscriptionID = "subscription_id", matchedBy = "matched_by", event, raw
        }
    }

    /// The normalized fields, without the raw document (which travels beside it).
    struct NormalizedEvent: Encodable {
        var source: String
        var feed: String
        var id: String
        var type: String
        var category: EventCategory?
        var time: Date
        var actor: Actor?
        var app: String?
        var appID: String?
        var project: String?
        var projectID: String?
        var environment: String?
        var summary: String
        var details: JSONValue?

        enum CodingKeys: String, CodingKey {
            case source, feed, id, type, category, time, actor, app, appID = "app_id", project, projectID = "project_id", environment,
                summary, details
        }
    }

    /// Deterministic bytes: the same delivery renders the same body on every attempt.
    public static func body(_ event: Event, context: DeliveryContext) -> [UInt8] {
        guard let stored = try? StoredEvent(event) else { return Array("{}".utf8) }
        return body(stored, context: context)
    }

    /// Deterministic bytes: the same delivery renders the same body on every attempt. The
    /// stored event's bytes are spliced in as they are (no decoding, no encoder): the result is
    /// what encoding `Document` with `Event.makeEncoder()` gives, keys sorted.
    public static func body(_ event: StoredEvent, context: DeliveryContext) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(event.json.count + context.deliveryID.utf8.count + context.subscriptionID.utf8.count
            + context.matchedBy.utf8.count + 96)
        out += #"{"delivery_id":"#.utf8
        CanonicalJSON.appendString(context.deliveryID, to: &out)
        out += #","event":"#.utf8
        event.appendNormalized(to: &out)
        out += #","matched_by":"#.utf8
        CanonicalJSON.appendString(context.matchedBy, to: &out)
        out += #","raw":"#.utf8
        event.appendRaw(to: &out)
        out += #","subscription_id":"#.utf8
        CanonicalJSON.appendString(context.subscriptionID, to: &out)
        out += #","type":"event"}"#.utf8
        return out
    }

    /// `body` by way of Foundation's encoder: what the spliced bytes must equal (tests).
    static func encodedBody(_ event: Event, context: DeliveryContext) -> [UInt8] {
        let document = Document(
            deliveryID: context.deliveryID, subscriptionID: context.subscriptionID, matchedBy: context.matchedBy,
            event: NormalizedEvent(
                source: event.source, feed: event.feed, id: event.id, type: event.type, category: event.category, time: event.time,
                actor: event.actor, app: event.app, appID: event.appID, project: event.project, projectID: event.projectID,
                environment: event.environment, summary: event.summary, details: event.details),
            raw: event.raw)
        // Encoding these value types cannot fail (no non-finite numbers reach JSONValue).
        guard let data = try? Event.makeEncoder().encode(document) else { return Array("{}".utf8) }
        return Array(data)
    }
}

/// Standard Webhooks signatures.
public enum WebhookSignature {
    /// `v1,<base64>`; nil when the secret is not `whsec_` + base64.
    public static func sign(secret: String, id: String, timestamp: Int64, body: [UInt8]) -> String? {
        key(secret).map { sign(key: $0, id: id, timestamp: timestamp, body: body) }
    }

    /// The HMAC key a `whsec_` secret stands for; nil when it is not `whsec_` + base64.
    static func key(_ secret: String) -> [UInt8]? {
        guard secret.hasPrefix("whsec_"), let key = Data(base64Encoded: String(secret.dropFirst(6))) else { return nil }
        return Array(key)
    }

    static func sign(key: [UInt8], id: String, timestamp: Int64, body: [UInt8]) -> String {
        var mac = HMAC<SHA256>(key: SymmetricKey(data: key))
        mac.update(data: Array("\(id).\(timestamp).".utf8))
        mac.update(data: body)
        return "v1," + Data(mac.finalize()).base64EncodedString()
    }

    /// The `webhook-signature` value: one `v1,…` per secret, in order, space-separated, so a
    /// receiver holding any of them can verify. Nil when there is no secret or one is unusable.
    public static func header(secrets: [String], id: String, timestamp: Int64, body: [UInt8]) -> String? {
        header(keys: secrets.map(key), id: id, timestamp: timestamp, body: body)
    }

    /// As above, with the keys decoded already (nil: a secret that is not usable).
    static func header(keys: [[UInt8]?], id: String, timestamp: Int64, body: [UInt8]) -> String? {
        guard !keys.isEmpty else { return nil }
        var signatures: [String] = []
        for key in keys {
            guard let key else { return nil }
            signatures.append(sign(key: key, id: id, timestamp: timestamp, body: body))
        }
        return signatures.joined(separator: " ")
    }
}
