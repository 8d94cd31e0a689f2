import EventModel
import Feeds
import Foundation
import Sinks
import YAMLSupport

/// How a platform proves a push is its own.
public enum PushAuthMode: String, Sendable, CaseIterable {
    /// `Authorization: Bearer <secret>`.
    case bearer
    /// A header (Qovery: `Qovery-Signature`) carrying the shared secret itself.
    case sharedSecret = "shared_secret"
    /// Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature` (HMAC-SHA256 with a `whsec_` secret).
    case signature
}

/// A push feed as configured (`push:` in the configuration file): where it is posted
/// (`POST /v1/ingest/{name}`), what it carries and how it is authenticated. The secret is read
/// from the environment when the relay starts.
public struct PushFeedSettings: Sendable {
    public var name: String
    /// A platform kind from the registry (its raw events, pages or webhook bodies), or `relay`
    /// for the relay's own normalized event JSON.
    public var format: String
    public var auth: PushAuthMode
    public var secretEnv: String
    /// For `shared_secret`: the header that carries it.
    public var header: String
    /// A label set as the `environment` of events that have none.
    public var environment: String?
    public var location: String

    public static let relayFormat = "relay"
    public static let keys = ["name", "format", "auth", "secret_env", "header", "environment"]

    public init(name: String, format: String, auth: PushAuthMode, secretEnv: String, header: String = "X-Webhook-Secret", environment: String? = nil, location: String = "defaults") {
        self.name = name
        self.format = format
        self.auth = auth
        self.secretEnv = secretEnv
        self.header = header
        self.environment = environment
        self.location = location
    }

    public static var formats: [String] { FeedRegistry.kinds + [relayFormat] }

    /// Reads one `push:` entry; errors name the file, line, column and key.
    public static func parse(_ entry: YAMLValue) throws(YAMLError) -> PushFeedSettings {
        let fields = try entry.mapping()
        try fields.allowOnly(keys)
        let name = try fields.require("name").feedName()
        let formatValue = try fields.require("format")
        let format = try formatValue.string()
        guard formats.contains(format) else { throw formatValue.error("must be one of: \(formats.joined(separator: ", "))") }
        let authValue = try fields.require("auth")
        guard let auth = PushAuthMode(rawValue: try authValue.string()) else {
            throw authValue.error("must be one of: \(PushAuthMode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var settings = PushFeedSettings(
            name: name, format: format, auth: auth, secretEnv: try fields.require("secret_env").environmentVariableName(),
            location: "\(entry.file):\(entry.line)")
        if let header = fields["header"] {
            guard auth == .sharedSecret else { throw header.error("only a shared_secret push feed names a header") }
            let text = try header.nonEmptyString()
            guard text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
                throw header.error("must be a header name (letters, digits and -)")
            }
            settings.header = text
        }
        if let value = fields["environment"] { settings.environment = try value.nonEmptyString() }
        return settings
    }

    /// The push feed with its secret, or why it cannot start (never the secret itself).
    public func resolve(environment: [String: String]) throws(FeedSetupError) -> PushFeed {
        guard let secret = environment[secretEnv], !secret.isEmpty else {
            throw FeedSetupError("\(location): push feed \(name): environment variable \(secretEnv) is not set")
        }
        if auth == .signature, !WebhookSignature.isValidSecret(secret) {
            throw FeedSetupError("\(location): push feed \(name): \(secretEnv) must hold a whsec_ secret (base64 of 24 to 64 bytes)")
        }
        return PushFeed(settings: self, secret: SecretString(secret))
    }
}

/// Why a push was refused: the status and a message safe to send back (no secret).
public struct PushRejection: Error, Sendable, Equatable {
    public var status: Int
    public var code: String
    public var message: String
}

/// One push feed at run time: checks a request's credentials and reads its events.
public final class PushFeed: Sendable {
    public let settings: PushFeedSettings
    private let matcher: SecretMatcher
    private let secret: SecretString
    private let stats = LockedValue(Stats())
    /// How far a signed push's timestamp may be from now (Standard Webhooks' replay window).
    static let signatureTolerance: TimeInterval = 300

    public struct Stats: Sendable {
        public var accepted = 0
        public var duplicates = 0
        public var rejected = 0
        public var lastReceivedAt: Date?
        public var lastError: String?
    }

    init(settings: PushFeedSettings, secret: SecretString) {
        self.settings = settings
        self.secret = secret
        matcher = SecretMatcher(secret)
    }

    public var name: String { settings.name }
    public var currentStats: Stats { stats.value }

    func record(_ change: (inout Stats) -> Void) { stats.withValue(change) }

    /// nil when the request is this feed's; otherwise a 401 that says what was wrong, never how.
    func authenticate(_ request: HTTPRequestParts, now: Date) -> PushRejection? {
        switch settings.auth {
        case .bearer:
            guard matcher.matches(authorization: request.header("authorization")) else {
                return PushRejection(status: 401, code: "unauthorized", message: "missing or wrong bearer token")
            }
        case .sharedSecret:
            guard let presented = request.header(settings.header), matcher.matches(presented.trimmingCharacters(in: .whitespaces)) else {
                return PushRejection(status: 401, code: "unauthorized", message: "missing or wrong \(settings.header) header")
            }
        case .signature:
            guard let id = request.header("webhook-id"), let stamp = request.header("webhook-timestamp"),
                  let signatures = request.header("webhook-signature")
            else {
                return PushRejection(status: 401, code: "unauthorized", message: "webhook-id, webhook-timestamp and webhook-signature are required")
            }
            guard let seconds = Int64(stamp), abs(Double(seconds) - now.timeIntervalSince1970) <= Self.signatureTolerance else {
                return PushRejection(status: 401, code: "unauthorized", message: "webhook-timestamp is missing or more than 5 minutes from now")
            }
            guard let expected = WebhookSignature.sign(secret: secret.value, id: id, timestamp: seconds, body: request.body) else {
                return PushRejection(status: 401, code: "unauthorized", message: "this push feed cannot check signatures")
            }
            let expectedMatcher = SecretMatcher(SecretString(expected))
            // Several signatures may be sent (secret rotation): any valid v1 one will do.
            let valid = signatures.split(separator: " ").contains { expectedMatcher.matches(String($0)) }
            guard valid else { return PushRejection(status: 401, code: "unauthorized", message: "no valid v1 signature") }
        }
        return nil
    }

    /// Every event in the body, normalized, or a rejection (the batch is all or nothing).
    func events(in body: [UInt8], receivedAt: Date) -> Result<[Event], PushRejection> {
        if settings.format == PushFeedSettings.relayFormat, let events = RelayBatch.decode(body) {
            // The relay's own format read in one pass, straight into events (the general path
            // below reads the body into a tree, then each item again: it stays for every other
            // format, and to say exactly what is wrong with a body this one refuses).
            return .success(events.map { finished(FeedRegistry.completed($0, receivedAt: receivedAt)) })
        }
        let document: JSONValue
        do {
            document = try JSONValue.parse(body)
        } catch {
            return .failure(PushRejection(status: 400, code: "invalid_json", message: "the body is not JSON: \(error)"))
        }
        // Each item is read on its own, so one that is not an event refuses the whole batch.
        let items: [JSONValue]
        if case .array(let list) = document {
            items = list
        } else if let list = document["events"]?.arrayValue {
            items = list
        } else {
            items = [document]
        }
        guard !items.isEmpty else {
            return .failure(PushRejection(status: 422, code: "no_events", message: "the body holds no event"))
        }
        var events: [Event] = []
        for (index, item) in items.enumerated() {
            let found = read(item, receivedAt: receivedAt)
            guard !found.isEmpty else {
                let which = items.count > 1 ? "event \(index)" : "the body"
                return .failure(PushRejection(
                    status: 422, code: "unrecognized_event",
                    message: "\(which) is not \(settings.format == PushFeedSettings.relayFormat ? "a normalized EventRelay event (it needs source, id, type and an RFC 3339 time as strings)" : "a \(settings.format) event as that platform writes it (see its events documentation; a Scalingo event needs id, type and created_at)")"))
            }
            events += found
        }
        return .success(events.map(finished))
    }

    /// What every pushed event gets from its push feed: the feed's name, and its environment when it names none.
    private func finished(_ event: Event) -> Event {
        var event = event
        event.feed = settings.name
        if event.environment == nil { event.environment = settings.environment }
        return event
    }

    private func read(_ item: JSONValue, receivedAt: Date) -> [Event] {
        if settings.format == PushFeedSettings.relayFormat {
            // A normalized event, or a relay's webhook body carrying one under `event` beside `raw`.
            let document = item["id"] == nil ? item["event"] ?? item : item
            guard case .object(let fields) = document, var event = Event(json: fields), !event.id.isEmpty else { return [] }
            if case .object(let fields) = event.raw, fields.isEmpty, let raw = item["raw"] { event.raw = raw }
            return [FeedRegistry.completed(event, receivedAt: receivedAt)]
        }
        return FeedRegistry.plugin(kind: settings.format)?.events(in: item, feed: settings.name, receivedAt: receivedAt) ?? []
    }
}

/// What authentication needs of a request (a view over the server's request type, so it can be tested alone).
struct HTTPRequestParts {
    var headers: [String: String]
    var body: [UInt8]

    func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// A body of the relay's own format (`format: relay`): one event, a list, `{"events": [...]}`,
/// each a normalized event or a relay webhook body carrying one under `event` beside `raw`.
/// Decoded in one pass; nil when the body is anything else (the general path explains).
enum RelayBatch {
    static func decode(_ body: [UInt8]) -> [Event]? {
        // Read by `JSONReader` into a tree, then each item into an `Event` by the same rules as
        // `Event`'s Decodable conformance (a test compares both on every recorded fixture and
        // on damaged items); anything those rules would refuse sends the body to the general path.
        guard let document = try? JSONReader.parse(body) else { return nil }
        let items: [JSONValue]
        switch document {
        case .array(let list):
            items = list
        case .object(let fields):
            if let events = fields["events"] {
                guard case .array(let list) = events else { return nil }
                items = list
            } else {
                items = [document]
            }
        default:
            return nil
        }
        var events: [Event] = []
        events.reserveCapacity(items.count)
        for item in items {
            guard case .object(let fields) = item, let event = self.item(fields), !event.id.isEmpty else { return nil }
            events.append(event)
        }
        return events.isEmpty ? nil : events
    }

    /// A normalized event, or a relay webhook body carrying one under `event` beside `raw`.
    static func item(_ fields: [String: JSONValue]) -> Event? {
        guard fields["id"] == nil, let carried = fields["event"] else { return Event(json: fields) }
        guard case .object(let inner) = carried, var event = Event(json: inner) else { return nil }
        if case .object(let rawFields) = event.raw, rawFields.isEmpty, let raw = fields["raw"] {
            guard raw != .null else { return event }
            event.raw = raw
        }
        return event
    }

    /// The Decodable form of the same rules: the reference the reader above is tested against.
    static func decodeWithFoundation(_ body: [UInt8]) -> [Event]? {
        guard let first = body.first(where: { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }) else { return nil }
        let decoder = Event.makeDecoder()
        let data = Data(body)
        let items: [Item]
        do {
            items = first == UInt8(ascii: "[") ? try decoder.decode([Item].self, from: data) : try decoder.decode(Body.self, from: data).items
        } catch {
            return nil
        }
        guard !items.isEmpty, items.allSatisfy({ !$0.event.id.isEmpty }) else { return nil }
        return items.map(\.event)
    }

    /// An object: a page (`events`, which must then be a list of events) or one event.
    struct Body: Decodable {
        var items: [Item]

        enum Keys: String, CodingKey { case events }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Keys.self)
            items = container.contains(.events) ? try container.decode([Item].self, forKey: .events) : [try Item(from: decoder)]
        }
    }

    struct Item: Decodable {
        var event: Event

        enum Keys: String, CodingKey { case id, event, raw }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Keys.self)
            guard !container.contains(.id), container.contains(.event) else {
                event = try Event(from: decoder)
                return
            }
            event = try container.decode(Event.self, forKey: .event)
            if case .object(let fields) = event.raw, fields.isEmpty, let raw = try container.decodeIfPresent(JSONValue.self, forKey: .raw) {
                event.raw = raw
            }
        }
    }
}
