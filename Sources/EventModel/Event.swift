import Foundation

/// Who caused an event, as far as the source says.
public struct Actor: Sendable, Codable, Hashable {
    public var id: String?
    /// A login or display name.
    public var name: String?
    public var email: String?

    public init(id: String? = nil, name: String? = nil, email: String? = nil) {
        self.id = id
        self.name = name
        self.email = email
    }

    /// The best short name to show a person.
    public var displayName: String? { name ?? email ?? id }

    enum CodingKeys: String, CodingKey { case id, name, email, username }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decodeIfPresent(String.self, forKey: .id)
        // Events stored by earlier releases say `username`.
        name = try container.decodeIfPresent(String.self, forKey: .name) ?? container.decodeIfPresent(String.self, forKey: .username)
        email = try container.decodeIfPresent(String.self, forKey: .email)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(id, forKey: .id)
        try container.encodeIfPresent(name, forKey: .name)
        try container.encodeIfPresent(email, forKey: .email)
    }
}

/// One platform event, normalized. Every source (a feed's poll or a push) turns its events into
/// this shape; everything downstream (rules, outbox, sinks) sees only `Event`. The source's own
/// document stays in `raw`, unchanged, so nothing a platform adds is lost on the way.
public struct Event: Sendable, Codable, Hashable {
    /// The platform: `scalingo`, `qovery`, `escapekit`.
    public var source: String
    /// The configured feed that produced the event (one source may have several feeds).
    public var feed: String
    /// The source's event id, unique within `source`.
    public var id: String
    /// The source's event type, verbatim (`deployment`, `login_lock`, `DEPLOY_FAILED`).
    public var type: String
    /// The relay's cross-platform category, when the type has one.
    public var category: EventCategory?
    /// When it happened (UTC).
    public var time: Date
    public var actor: Actor?
    /// Application (or service, or target) name, as the source reports it.
    public var app: String?
    public var appID: String?
    public var project: String?
    public var projectID: String?
    public var environment: String?
    /// One line a person can read: "Deployment of web-prod failed (build-error)".
    public var summary: String
    /// What the relay derived from the source's document beyond the fields above (Qovery's
    /// `change`, JSON inside a string, parsed); nil when nothing. `raw` stays as the source sent it.
    public var details: JSONValue?
    public var raw: JSONValue

    public init(
        source: String, feed: String, id: String, type: String, category: EventCategory? = nil, time: Date, actor: Actor? = nil,
        app: String? = nil, appID: String? = nil, project: String? = nil, projectID: String? = nil, environment: String? = nil,
        summary: String? = nil, details: JSONValue? = nil, raw: JSONValue
    ) {
        self.source = source
        self.feed = feed
        self.id = id
        self.type = type
        self.category = category
        self.time = time
        self.actor = actor
        self.app = app
        self.appID = appID
        self.project = project
        self.projectID = projectID
        self.environment = environment
        self.summary = summary ?? Event.defaultSummary(type: type, app: app ?? project, actor: actor)
        self.details = details
        self.raw = raw
    }

    enum CodingKeys: String, CodingKey {
        case source, feed, id, type, category, time, actor, app, appID = "app_id", project, projectID = "project_id", environment, summary, details, raw
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        source = try container.decode(String.self, forKey: .source)
        feed = try container.decodeIfPresent(String.self, forKey: .feed) ?? source
        id = try container.decode(String.self, forKey: .id)
        type = try container.decode(String.self, forKey: .type)
        // An unknown category (written by a newer release, or by hand) is no category.
        category = (try? container.decodeIfPresent(String.self, forKey: .category)).flatMap { $0.flatMap(EventCategory.init(rawValue:)) }
        time = try container.decode(Date.self, forKey: .time)
        actor = try container.decodeIfPresent(Actor.self, forKey: .actor)
        app = try container.decodeIfPresent(String.self, forKey: .app)
        appID = try container.decodeIfPresent(String.self, forKey: .appID)
        project = try container.decodeIfPresent(String.self, forKey: .project)
        projectID = try container.decodeIfPresent(String.self, forKey: .projectID)
        environment = try container.decodeIfPresent(String.self, forKey: .environment)
        details = try container.decodeIfPresent(JSONValue.self, forKey: .details)
        raw = try container.decodeIfPresent(JSONValue.self, forKey: .raw) ?? .object([:])
        summary = try container.decodeIfPresent(String.self, forKey: .summary)
            ?? Event.defaultSummary(type: type, app: app ?? project, actor: actor)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(source, forKey: .source)
        try container.encode(feed, forKey: .feed)
        try container.encode(id, forKey: .id)
        try container.encode(type, forKey: .type)
        try container.encodeIfPresent(category, forKey: .category)
        try container.encode(time, forKey: .time)
        try container.encodeIfPresent(actor, forKey: .actor)
        try container.encodeIfPresent(app, forKey: .app)
        try container.encodeIfPresent(appID, forKey: .appID)
        try container.encodeIfPresent(project, forKey: .project)
        try container.encodeIfPresent(projectID, forKey: .projectID)
        try container.encodeIfPresent(environment, forKey: .environment)
        try container.encode(summary, forKey: .summary)
        try container.encodeIfPresent(details, forKey: .details)
        try container.encode(raw, forKey: .raw)
    }

    /// A key unique across sources, used for dedupe and as the outbox's event reference.
    public var key: String { "\(source):\(id)" }

    /// What a subscription ordered by key (the default) keeps in order: events about the same
    /// app (of one platform, project and environment) go one after another; events of other apps
    /// go beside them. Events about no app (an account's logins, a project's settings) share the
    /// key of their platform and project.
    public var orderKey: String {
        [source, projectID ?? project ?? "", environment ?? "", app ?? appID ?? ""].joined(separator: "\u{1F}")
    }

    /// The source of the relay's own events (health notices, test sends). Such an event names
    /// the subscription it is about in `details.subscription_id`.
    public static let relaySource = "event-relay"

    /// "deployment on web-prod by ann", for sources that give nothing better.
    public static func defaultSummary(type: String, app: String?, actor: Actor?) -> String {
        var text = type.replacingOccurrences(of: "_", with: " ")
        if let app { text += " on \(app)" }
        if let name = actor?.displayName { text += " by \(name)" }
        return text
    }
}

extension Event {
    /// JSON encoder settings used wherever an event is persisted or sent: stable key order,
    /// RFC 3339 times with milliseconds.
    public static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Timestamp.format(date))
        }
        return encoder
    }

    public static func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = Timestamp.parse(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "bad timestamp \(text)")
            }
            return date
        }
        return decoder
    }
}

/// RFC 3339 timestamps as platforms write them: with or without fractional seconds, `Z` or an offset.
public enum Timestamp {
    public static func parse(_ text: String) -> Date? {
        let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        if let date = try? withFraction.parse(text) { return date }
        let plain = Date.ISO8601FormatStyle()
        return try? plain.parse(text)
    }

    public static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
