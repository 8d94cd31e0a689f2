import EventModel
import Foundation

/// Reads Qovery event pages leniently: numbers may be strings, `null` stands where the docs show
/// `[]` or a string, optional fields go missing, and enum values no document lists pass through.
/// None of that drops an event or stops the feed; an event without an id is counted as malformed.
/// Only a body that is not a JSON object with an `events` list (or `null`) is refused.
enum QoveryDecoder {
    struct Page {
        var events: [Event]
        /// `links.next` exactly as sent; nil when missing, null or empty.
        var next: String?
        /// Entries without a usable id.
        var malformed: Int
    }

    static func page(_ body: [UInt8], feed: String, environment: String?, fetchedAt: Date) throws(FeedError) -> Page {
        if body.allSatisfy({ [0x20, 0x09, 0x0A, 0x0D].contains($0) }) {
            throw FeedError.badResponse("the events page is empty")
        }
        if QoveryHTTP.looksLikeHTML(body) {
            throw FeedError.badResponse("the events page is an HTML page, not JSON")
        }
        let document: JSONValue
        do {
            document = try JSONValue.parse(body)
        } catch {
            throw FeedError.badResponse("the events page is not JSON (\(error))")
        }
        guard case .object = document else { throw FeedError.badResponse("the events page is not a JSON object") }
        let list: [JSONValue]
        switch document["events"] {
        case .array(let items): list = items
        case .null: list = []
        case nil: throw FeedError.badResponse("the events page has no \"events\" list")
        default: throw FeedError.badResponse("the events page's \"events\" is not a list")
        }
        let (events, malformed) = list.decodeEach { event($0, feed: feed, environment: environment, fetchedAt: fetchedAt) }
        return Page(events: events, next: next(document["links"]), malformed: malformed)
    }

    /// `links.next` as given (a string, or `{"href": …}`), or nil.
    static func next(_ links: JSONValue?) -> String? {
        let value = links?["next"]
        let link = value?.stringValue ?? value?["href"]?.stringValue
        guard let link, !link.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return nil }
        return link
    }

    /// A field as text, or nil when missing, null, not a scalar, or blank.
    static func text(_ value: JSONValue?) -> String? {
        guard let text = value?.scalarText?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else { return nil }
        return text
    }

    static func event(_ value: JSONValue, feed: String, environment fallbackEnvironment: String?, fetchedAt: Date) -> Event? {
        guard case .object = value, let id = text(value["id"]) else { return nil }
        let eventType = text(value["event_type"]) ?? "unknown"
        let targetType = text(value["target_type"])
        let subTargetType = text(value["sub_target_type"])
        let targetName = text(value["target_name"])
        let project = text(value["project_name"])
        let environment = text(value["environment_name"]) ?? fallbackEnvironment
        let actor = self.actor(value["triggered_by"])
        return Event(
            source: QoveryFeedPlugin.kind, feed: feed, id: id, type: eventType,
            category: QoveryCatalog.category(eventType: eventType, targetType: targetType, subTargetType: subTargetType),
            time: time(value["timestamp"]) ?? fetchedAt, actor: actor, app: targetName, appID: text(value["target_id"]),
            project: project, projectID: text(value["project_id"]), environment: environment,
            summary: QoveryCatalog.summary(
                eventType: eventType, targetType: targetType, subTargetType: subTargetType, targetName: targetName,
                environment: environment, project: project, actor: actor),
            details: details(value), raw: value)
    }

    /// `triggered_by`: a user name, an email, an API token's name or an automatic action. An
    /// object (should Qovery send one) is read for its name, email and id.
    static func actor(_ value: JSONValue?) -> Actor? {
        if case .object = value {
            let actor = Actor(
                id: text(value?["id"]), name: text(value?["name"]) ?? text(value?["username"]), email: text(value?["email"]))
            return actor.displayName == nil ? nil : actor
        }
        guard let who = text(value) else { return nil }
        return Actor(name: who, email: looksLikeEmail(who) ? who : nil)
    }

    static func looksLikeEmail(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."), !parts[1].hasSuffix(".") else {
            return false
        }
        return !text.contains(where: { $0.isWhitespace })
    }

    /// `change` and `original_change`, JSON inside strings, parsed where they parse; kept as the
    /// original text where they do not. Nil when the event has neither.
    static func details(_ value: JSONValue) -> JSONValue? {
        var details: [String: JSONValue] = [:]
        for key in ["change", "original_change"] {
            switch value[key] {
            case nil, .null?: continue
            case .string(let text)?:
                guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { continue }
                details[key] = (try? JSONValue.parse(Array(text.utf8))) ?? .string(text)
            case let other?:
                details[key] = other
            }
        }
        return details.isEmpty ? nil : .object(details)
    }

    /// RFC 3339 with any number of fraction digits (Qovery's timestamps carry nanoseconds), or
    /// a number of seconds, milliseconds, microseconds or nanoseconds since 1970 (also as text).
    static func time(_ value: JSONValue?) -> Date? {
        guard let value else { return nil }
        if let number = value.intValue, number > 0 { return epoch(number) }
        guard case .string(let raw) = value else { return nil }
        let text = raw.trimmingCharacters(in: .whitespaces)
        if let number = Int64(text), number > 0 { return epoch(number) }
        return rfc3339(text)
    }

    static func epoch(_ number: Int64) -> Date {
        switch number {
        case 100_000_000_000_000_000...: Date(timeIntervalSince1970: Double(number / 1_000_000_000) + Double(number % 1_000_000_000) / 1e9)
        case 100_000_000_000_000...: Date(timeIntervalSince1970: Double(number) / 1e6)
        case 100_000_000_000...: Date(timeIntervalSince1970: Double(number) / 1e3)
        default: Date(timeIntervalSince1970: Double(number))
        }
    }

    /// Splits off the fraction (`.123456789`), parses the rest, and adds the fraction back.
    static func rfc3339(_ text: String) -> Date? {
        guard let dot = text.firstIndex(of: ".") else { return Timestamp.parse(text) }
        let digits = text[text.index(after: dot)...].prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty else { return nil }
        let rest = text[..<dot] + text[text.index(dot, offsetBy: digits.count + 1)...]
        guard let whole = Timestamp.parse(String(rest)) else { return nil }
        let fraction = Double("0." + digits) ?? 0
        return whole.addingTimeInterval(fraction)
    }

    /// A date as nanoseconds since 1970, the form of Qovery's `fromTimestamp`.
    static func nanoseconds(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        let nanos = ((date.timeIntervalSince1970 - seconds) * 1e9).rounded(.down)
        return String(Int64(seconds) * 1_000_000_000 + Int64(nanos))
    }
}

/// Qovery's event normalization, for tests and tools.
public enum QoveryEvents {
    public static func normalize(_ value: JSONValue, feed: String, environment: String?, fetchedAt: Date) -> Event? {
        QoveryDecoder.event(value, feed: feed, environment: environment, fetchedAt: fetchedAt)
    }

    /// Decodes an events page: its events (newest first), `links.next` as sent, and how many
    /// entries had no id. Throws what the feed would report for that body.
    public static func page(_ body: [UInt8], feed: String, environment: String?, fetchedAt: Date) throws(FeedError) -> (
        events: [Event], next: String?, malformed: Int
    ) {
        let page = try QoveryDecoder.page(body, feed: feed, environment: environment, fetchedAt: fetchedAt)
        return (page.events, page.next, page.malformed)
    }
}
