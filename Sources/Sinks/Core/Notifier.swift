import EventModel
import Foundation
import HTTPClient

/// What happened to one attempt to deliver one event.
public enum SendResult: Sendable, Equatable {
    /// The sink accepted it.
    case delivered(status: Int)
    /// Worth trying again: a 5xx, 408, 429, or a network failure. `retryAfter` is the sink's own
    /// wish (Retry-After), which the schedule honours.
    case retry(status: Int?, reason: String, retryAfter: Duration?)
    /// Trying again cannot help (the sink rejected the message or the address is gone).
    case failed(status: Int?, reason: String)

    public var statusCode: Int? {
        switch self {
        case .delivered(let status): return status
        case .retry(let status, _, _), .failed(let status, _): return status
        }
    }
}

/// What the dispatcher tells a notifier about the delivery it is making.
public struct DeliveryContext: Sendable {
    /// Stable across retries: sent as `webhook-id`, so receivers can drop duplicates.
    public var deliveryID: String
    public var subscriptionID: String
    public var matchedBy: String
    public var attempt: Int
    public var now: Date

    public init(deliveryID: String, subscriptionID: String, matchedBy: String, attempt: Int, now: Date) {
        self.deliveryID = deliveryID
        self.subscriptionID = subscriptionID
        self.matchedBy = matchedBy
        self.attempt = attempt
        self.now = now
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
            return .failed(status: nil, reason: "the stored event \(event.key) cannot be read")
        }
    }
}

extension Notifier {
    /// Sends a prepared request and classifies the outcome. Transport errors never carry the URL,
    /// and whatever text comes back (a body excerpt, libcurl's words) is scrubbed of the
    /// destination's secrets before it becomes a reason that is stored, logged or shown.
    func send(_ request: HTTPRequest, over transport: any HTTPTransport, now: Date, scrubber: Scrubber) async -> SendResult {
        do {
            let response = try await transport.execute(request)
            return ResponseClassifier.classify(response, now: now, scrubber: scrubber)
        } catch let error as HTTPClientError {
            let reason = scrubber.scrub(error.description)
            return error.isTransient ? .retry(status: nil, reason: reason, retryAfter: nil) : .failed(status: nil, reason: reason)
        } catch {
            return .retry(status: nil, reason: scrubber.scrub("\(error)"), retryAfter: nil)
        }
    }
}
