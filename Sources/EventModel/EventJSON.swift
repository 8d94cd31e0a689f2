import Foundation

extension Event {
    /// `Event(from:)`, for a tree already read (`JSONReader`), without Foundation's decoder: the
    /// same rules (a test compares both on every field and type). Required strings must be
    /// strings, optional ones strings, null or absent; an unknown or malformed category is no
    /// category. Nil where the decoder would throw.
    public init?(json fields: [String: JSONValue]) {
        guard let source = fields["source"]?.stringValue, let id = fields["id"]?.stringValue, let type = fields["type"]?.stringValue,
              let timeText = fields["time"]?.stringValue, let time = Timestamp.parse(timeText)
        else { return nil }
        var strings: [String: String] = [:]
        for key in ["feed", "app", "app_id", "project", "project_id", "environment", "summary"] {
            guard let value = fields[key].flatMap(Event.present) else { continue }
            guard case .string(let text) = value else { return nil }
            strings[key] = text
        }
        var actor: Actor?
        if let value = fields["actor"].flatMap(Event.present) {
            guard case .object(let actorFields) = value else { return nil }
            var parts: [String: String] = [:]
            for key in ["id", "name", "email"] {
                guard let part = actorFields[key].flatMap(Event.present) else { continue }
                guard case .string(let text) = part else { return nil }
                parts[key] = text
            }
            if parts["name"] == nil, let username = actorFields["username"].flatMap(Event.present) {
                guard case .string(let text) = username else { return nil }
                parts["name"] = text
            }
            actor = Actor(id: parts["id"], name: parts["name"], email: parts["email"])
        }
        let category = fields["category"]?.stringValue.flatMap(EventCategory.init(rawValue:))
        self.init(
            source: source, feed: strings["feed"] ?? source, id: id, type: type, category: category, time: time, actor: actor,
            app: strings["app"], appID: strings["app_id"], project: strings["project"], projectID: strings["project_id"],
            environment: strings["environment"], summary: strings["summary"], details: fields["details"].flatMap(Event.present),
            raw: fields["raw"].flatMap(Event.present) ?? .object([:]))
    }

    /// A member's value as `decodeIfPresent` sees it: null is absent.
    private static func present(_ value: JSONValue) -> JSONValue? {
        value == .null ? nil : value
    }
}
