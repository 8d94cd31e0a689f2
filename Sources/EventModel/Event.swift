import Foundation

/// Who caused an event, as far as the source says.
public struct Actor: Sendable, Codable, Hashable {
    public var id: String?
    public var username: String?
    public var email: String?

    public init(id: String? = nil, username: String? = nil, email: String? = nil) {
        self.id = id
        self.username = username
        self.email = email
    }

    /// The best short name to show a person.
    public var displayName: String? { username ?? email ?? id }
}

/// One platform event, normalized. Every feed turns its source's events into this shape;
/// everything downstream (rules, outbox, sinks) sees only `Event`. The source's own document
/// stays in `raw`, unchanged, so nothing a platform adds is lost on the way.
public struct Event: Sendable, Codable, Hashable {
    /// The platform kind: `scalingo`, `qovery`, `escapekit`.
    public var source: String
    /// The configured feed that produced the event (one source may have several feeds).
    public var feed: String
    /// The source's event id, unique within `source`.
    public var id: String
    /// The source's event type, verbatim (`deployment`, `login_lock`, `database/add_feature`).
    public var type: String
    public var time: Date
    public var actor: Actor?
    /// Application name (as the source reports it; Scalingo freezes it at event time).
    public var app: String?
    public var appID: String?
    public var project: String?
    public var environment: String?
    public var raw: JSONValue

    public init(
        source: String, feed: String, id: String, type: String, time: Date, actor: Actor? = nil,
        app: String? = nil, appID: String? = nil, project: String? = nil, environment: String? = nil,
        raw: JSONValue
    ) {
        self.source = source
        self.feed = feed
        self.id = id
        self.type = type
        self.time = time
        self.actor = actor
        self.app = app
        self.appID = appID
        self.project = project
        self.environment = environment
        self.raw = raw
    }

    enum CodingKeys: String, CodingKey {
        case source, feed, id, type, time, actor, app, appID = "app_id", project, environment, raw
    }

    /// A key unique across sources, used for dedupe and as the outbox's event reference.
    public var key: String { "\(source):\(id)" }
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
