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
    let subscriptionID: String
    let settings: WebhookSettings
    let transport: any HTTPTransport
    let presenter: any EventPresenter
    let bodyTemplate: MessageTemplate?
    /// Each secret's key, decoded once per notifier (one is made per claimed batch), not per delivery.
    private let keys: [String: [UInt8]]

    init(subscriptionID: String, settings: WebhookSettings, transport: any HTTPTransport, presenter: any EventPresenter) {
        self.subscriptionID = subscriptionID
        self.settings = settings
        self.transport = transport
        self.presenter = presenter
        bodyTemplate = TemplateField.compiled(settings.bodyTemplate, output: .json)
        var keys: [String: [UInt8]] = [:]
        for secret in [settings.secret].compactMap({ $0 }) + settings.previousSecrets.map(\.secret) {
            keys[secret.value] = WebhookSignature.key(secret.value)
        }
        self.keys = keys
    }

    func notify(_ event: Event, context: DeliveryContext) async -> SendResult {
        guard let stored = try? StoredEvent(event) else { return .failed(status: nil, reason: "the event cannot be encoded", cause: .render) }
        return await notify(stored, context: context)
    }

    func notify(_ event: StoredEvent, context: DeliveryContext) async -> SendResult {
        var event = event
        if presenter.mayCarrySecretValues(source: event.source, type: event.type, keepingPlatformValues: settings.rawValues) {
            // Only such events are decoded: the others' stored bytes are spliced as they are.
            guard let redacted = try? StoredEvent(presenter.redacted(try event.decoded(), keepingPlatformValues: settings.rawValues)) else {
                return .failed(status: nil, reason: "the stored event \(event.key) cannot be read", cause: .render)
            }
            event = redacted
        }
        var body = WebhookPayload.body(event, context: context)
        if let bodyTemplate {
            guard let decoded = try? event.decoded() else {
                return .failed(status: nil, reason: "the stored event \(event.key) cannot be read", cause: .render)
            }
            body = Array(bodyTemplate.render(TemplateContext(event: decoded, presentation: presenter.present(decoded, context: context), zone: .gmt)).utf8)
            // Checked when saved against a sample; this event may still make it invalid (a field it lacks).
            guard (try? JSONValue.parse(body)) != nil else {
                return .failed(status: nil, reason: "body_template rendered no JSON for this event", cause: .render)
            }
        }
        let timestamp = Int64(context.now.timeIntervalSince1970)
        var headers: [(name: String, value: String)] = [
            ("Content-Type", "application/json"),
            ("webhook-id", context.deliveryID),
            ("webhook-timestamp", String(timestamp)),
        ]
        guard let signature = WebhookSignature.header(
            keys: settings.signingSecrets(at: context.now).map { keys[$0.value] }, id: context.deliveryID, timestamp: timestamp, body: body)
        else {
            return .failed(status: nil, reason: "the subscription's signing secret is not usable", cause: .configuration)
        }
        headers.append(("webhook-signature", signature))
        headers += CustomHeaders.pairs(settings.headers)
        let request = HTTPRequest(method: .POST, url: settings.url.value, headers: headers, body: body)
        return await send(request, over: transport, now: context.now, scrubber: Scrubber(settings: settings))
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

