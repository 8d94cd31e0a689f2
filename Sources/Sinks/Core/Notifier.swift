import EventModel
import Foundation
import HTTPClient

/// What happened to one attempt to deliver one event.
public enum SendResult: Sendable, Equatable {
    /// The sink accepted it.
    case delivered(status: Int)
    /// Worth trying again: a 5xx, 408, 429, or a network failure. `retryAfter` is the sink's own
    /// wish (Retry-After), which the schedule honours.
    case retry(status: Int?, reason: String, retryAfter: Duration?, cause: SendCause)
    /// Trying again cannot help (the sink rejected the message or the address is gone).
    case failed(status: Int?, reason: String, cause: SendCause)

    public var statusCode: Int? {
        switch self {
        case .delivered(let status): return status
        case .retry(let status, _, _, _), .failed(let status, _, _): return status
        }
    }

    /// Why, as a bounded label (a metric's): `delivered`, `http_5xx`, `timeout`…
    public var cause: SendCause {
        switch self {
        case .delivered: return .delivered
        case .retry(_, _, _, let cause), .failed(_, _, let cause): return cause
        }
    }
}

/// Why an attempt ended as it did, from a small fixed set of labels, whatever the protocol
/// (HTTP, SMTP…): usable as a metric label, unlike a reason, which quotes the receiver.
public struct SendCause: Sendable, Hashable, CustomStringConvertible {
    public let label: String

    private init(_ label: String) { self.label = label }

    public var description: String { label }

    public static let delivered = SendCause("delivered")
    /// The receiver answered with this status: `http_3xx`, `http_4xx`, `http_5xx`, or the ones
    /// that mean something of their own (`http_408`, `http_410`, `http_429`).
    public static func http(_ status: Int) -> SendCause {
        switch status {
        case 408, 410, 429: return SendCause("http_\(status)")
        case 100..<600: return SendCause("http_\(status / 100)xx")
        default: return SendCause("http_other")
        }
    }
    /// A mail server's reply: `smtp_4xx` (try again) or `smtp_5xx` (refused).
    public static func smtp(_ code: Int) -> SendCause { SendCause(code >= 500 ? "smtp_5xx" : "smtp_4xx") }
    /// No answer: how the exchange failed (`connect`, `timeout`, `tls`, `address_refused`…).
    public static func transport(_ error: HTTPClientError) -> SendCause { SendCause(error.label) }
    /// The destination no longer exists (a deleted webhook): the subscription is disabled.
    public static let gone = SendCause("gone")
    /// The receiver refused the relay's credentials.
    public static let authentication = SendCause("authentication")
    /// The subscription's own settings cannot work (refused by today's validation, say).
    public static let configuration = SendCause("configuration")
    /// The message could not be made from the event.
    public static let render = SendCause("render")
    /// Anything else that went wrong on the way.
    public static let other = SendCause("other")
}

/// What the dispatcher tells a notifier about the delivery it is making.
public struct DeliveryContext: Sendable {
    /// Stable across retries: sent as `webhook-id`, so receivers can drop duplicates.
    public var deliveryID: String
    public var subscriptionID: String
    public var matchedBy: String
    public var attempt: Int
    public var now: Date
    /// What a policy said of the delivery (`Delivery.note`: how many a throttle held back since
    /// the last one, a state that changed, quiet hours that delayed it): shown with the message.
    public var note: String?

    public init(deliveryID: String, subscriptionID: String, matchedBy: String, attempt: Int, now: Date, note: String? = nil) {
        self.note = note
        self.deliveryID = deliveryID
        self.subscriptionID = subscriptionID
        self.matchedBy = matchedBy
        self.attempt = attempt
        self.now = now
    }
}

extension EventPresenter {
    /// The event as a person reads it, with the delivery's note (a policy's) as its last fact.
    public func present(_ event: Event, context: DeliveryContext) -> EventPresentation {
        var presentation = present(event)
        if let note = context.note, !note.isEmpty, event.type != "relay.digest" {
            presentation.facts.append(EventPresentation.Fact("Note", EventPresentation.clip(note, 500)))
            presentation.fallback += " (\(EventPresentation.clip(note, 300)))"
        }
        return presentation
    }
}

/// One receiver kind (one folder under Sinks/), e.g. Slack or a signed webhook. A notifier is made
/// for one subscription by `NotifierFactory` and turns an event into one HTTP exchange.
public protocol Notifier: Sendable {
    func notify(_ event: Event, context: DeliveryContext) async -> SendResult
    /// The dispatcher's way in: the event as the store keeps it. A notifier that can use the
    /// stored bytes as they are (webhooks splice them into the body) implements it; the others
    /// get the decoded event.
    func notify(_ event: StoredEvent, context: DeliveryContext) async -> SendResult
}

extension Notifier {
    public func notify(_ event: StoredEvent, context: DeliveryContext) async -> SendResult {
        do {
            return await notify(try event.decoded(), context: context)
        } catch {
            return .failed(status: nil, reason: "the stored event \(event.key) cannot be read", cause: .render)
        }
    }
}

extension Notifier {
    /// Sends a prepared request and classifies the outcome. Transport errors never carry the URL,
    /// and whatever text comes back (a body excerpt, libcurl's words) is scrubbed of the
    /// destination's secrets before it becomes a reason that is stored, logged or shown.
    /// `scrubber` is made only when the answer is not a success (building one costs far more
    /// than a successful send).
    /// `classify` reads the answer (a service's own reading of its documented answers; the
    /// usual one by default).
    func send(
        _ request: HTTPRequest, over transport: any HTTPTransport, now: Date, scrubber: @autoclosure () -> Scrubber,
        classify: ((HTTPResponse) -> SendResult)? = nil
    ) async -> SendResult {
        do {
            let response = try await transport.execute(request)
            return classify?(response) ?? ResponseClassifier.classify(response, now: now, scrubber: scrubber())
        } catch {
            return .noAnswer(error, scrubber: scrubber())
        }
    }
}

extension SendResult {
    /// An exchange that got no answer, whatever the protocol: tried again when trying again may
    /// help (no connection, a timeout, TLS), refused otherwise; a refused login is counted as
    /// such. The reason is scrubbed of the destination's secrets.
    static func noAnswer(_ error: any Error, scrubber: Scrubber) -> SendResult {
        guard let error = error as? HTTPClientError else {
            return .retry(status: nil, reason: scrubber.scrub("\(error)"), retryAfter: nil, cause: .other)
        }
        let reason = scrubber.scrub(error.description)
        if error == .authenticationFailed { return .failed(status: nil, reason: reason, cause: .authentication) }
        return error.isTransient
            ? .retry(status: nil, reason: reason, retryAfter: nil, cause: .transport(error))
            : .failed(status: nil, reason: reason, cause: .transport(error))
    }
}
