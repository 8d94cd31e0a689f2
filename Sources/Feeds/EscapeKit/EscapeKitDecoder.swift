import EventModel
import Foundation

/// EscapeKit's event ids, as its paging compares them (`page_from`: every id on the page is below
/// it): as numbers when both are decimal digits, so 999 is below 1000, and by their UTF-8 bytes
/// otherwise. Numbers of any length compare exactly (no conversion to a machine integer).
public enum EscapeKitID {
    public static func isBelow(_ a: String, _ b: String) -> Bool {
        if isNumeric(a), isNumeric(b) {
            let x = a.utf8.drop { $0 == UInt8(ascii: "0") }
            let y = b.utf8.drop { $0 == UInt8(ascii: "0") }
            if x.count != y.count { return x.count < y.count }
            return x.lexicographicallyPrecedes(y)
        }
        return a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    /// The lowest of `ids`: the next page's `page_from`.
    public static func lowest(_ ids: some Sequence<String>) -> String? {
        ids.min(by: isBelow)
    }

    static func isNumeric(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }
}

/// EscapeKit's `timestamp`: Unix time in nanoseconds, documented as a string and shown as a
/// number. A string of digits is read exactly (seconds and nanoseconds apart, so no precision is
/// lost to `Double` before the final conversion); a JSON number as well as it can be; RFC 3339
/// text is accepted too. Negative values and times past the year 9999 are not times.
public enum EscapeKitTime {
    static let latestSeconds: Int64 = 253_402_300_799  // 9999-12-31T23:59:59Z

    public static func parse(_ value: JSONValue?) -> Date? {
        switch value {
        case .integer(let nanoseconds):
            guard nanoseconds >= 0 else { return nil }
            return date(seconds: nanoseconds / 1_000_000_000, nanoseconds: nanoseconds % 1_000_000_000)
        case .number(let nanoseconds):
            guard nanoseconds.isFinite, nanoseconds >= 0, nanoseconds / 1e9 <= Double(latestSeconds) else { return nil }
            return Date(timeIntervalSince1970: nanoseconds / 1e9)
        case .string(let text):
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            if EscapeKitID.isNumeric(trimmed) { return digits(Substring(trimmed)) }
            return Timestamp.parse(trimmed)
        default:
            return nil
        }
    }

    private static func digits(_ text: Substring) -> Date? {
        let significant = text.drop { $0 == "0" }
        let secondsPart = significant.dropLast(9)
        guard secondsPart.count <= 12 else { return nil }
        let seconds = secondsPart.isEmpty ? 0 : Int64(secondsPart)
        guard let seconds, let nanoseconds = Int64(significant.suffix(9).isEmpty ? "0" : significant.suffix(9)) else { return nil }
        return date(seconds: seconds, nanoseconds: nanoseconds)
    }

    private static func date(seconds: Int64, nanoseconds: Int64) -> Date? {
        guard seconds <= latestSeconds else { return nil }
        return Date(timeIntervalSince1970: Double(seconds) + Double(nanoseconds) / 1e9)
    }
}

/// Reads EscapeKit event pages leniently: a page is a JSON list (or `null`, as a Go server writes
/// an empty one); ids and timestamps may be numbers or strings, any field may be missing or
/// `null`, unknown types and fields pass through (in `raw`). An entry without an id cannot be
/// tracked and is counted as malformed; a body that is not a list is an error.
enum EscapeKitDecoder {
    struct Page {
        /// As the page listed them (highest id first).
        var events: [Event]
        /// Entries on the page, malformed ones included: what `page_size` counted.
        var entries: Int
        /// Entries without a usable id.
        var malformed: Int
        /// The lowest id on the page: where the next page starts (`page_from`).
        var lowestID: String?
    }

    static func page(_ body: [UInt8], contentType: String?, feed: String, environment: String?, fetchedAt: Date) throws(FeedError) -> Page {
        let document: JSONValue
        do {
            document = try JSONValue.parse(body)
        } catch {
            // Never the body itself: an error page may echo the request, token included.
            let kind = contentType.map { " (\($0.split(separator: ";").first.map(String.init) ?? $0))" } ?? ""
            throw FeedError.badResponse("the events page is not JSON\(kind), \(body.count) bytes: truncated, or an error page")
        }
        let list: [JSONValue]
        switch document {
        case .array(let items): list = items
        case .null: list = []
        case .object: throw FeedError.badResponse("the events page is an object, not a list of events")
        default: throw FeedError.badResponse("the events page is a single value, not a list of events")
        }
        var (decoded, malformed) = list.decodeEach { event($0, feed: feed, environment: environment, fallbackTime: fetchedAt) }
        // An event without a readable time takes its nearest neighbour's: ids follow time, so it
        // stays where the page put it (fetch time would make it look new on every later walk).
        for index in decoded.indices where !decoded[index].timed {
            let above = decoded[..<index].last { $0.timed }?.event.time
            let below = decoded[(index + 1)...].first { $0.timed }?.event.time
            if let time = above ?? below { decoded[index].event.time = time }
        }
        let events = decoded.map(\.event)
        return Page(events: events, entries: list.count, malformed: malformed, lowestID: EscapeKitID.lowest(events.map(\.id)))
    }

    /// One event, normalized; `timed` says whether its own timestamp was readable (if not, its
    /// time is `fallbackTime`). Nil without an id.
    static func event(_ value: JSONValue, feed: String, environment: String?, fallbackTime: Date) -> (event: Event, timed: Bool)? {
        guard case .object = value, let id = text(value["id"]) else { return nil }
        let type = text(value["type"]) ?? "unknown"
        let data = value["data"].flatMap { $0.objectValue == nil ? nil : $0 }
        let actor = text(value["username"]).map { Actor(name: $0) }
        let scope = EscapeKitCatalog.Scope(
            inventoryProject: text(value["inventory_project"]), application: text(value["inventory_application"]),
            version: text(value["inventory_version"]), stateProject: text(value["state_project"]),
            environment: text(value["state_environment"]), deployment: text(value["state_deployment"]))
        let time = EscapeKitTime.parse(value["timestamp"])
        let event = Event(
            source: EscapeKitFeedPlugin.kind, feed: feed, id: id, type: type, category: EscapeKitCatalog.category(type: type, data: data),
            time: time ?? fallbackTime, actor: actor, app: scope.application ?? scope.deployment,
            project: scope.inventoryProject ?? scope.stateProject, environment: scope.environment ?? environment,
            summary: EscapeKitCatalog.summary(type: type, scope: scope, data: data, actor: actor), raw: value)
        return (event, time != nil)
    }

    /// A field's text: strings as given, numbers and booleans written out; empty, `null`, lists
    /// and objects are no text.
    static func text(_ value: JSONValue?) -> String? {
        guard let text = value?.scalarText?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else { return nil }
        return text
    }
}

/// EscapeKit's event normalization, for tests and tools.
public enum EscapeKitEvents {
    /// One raw event; an event without a readable timestamp gets `fetchedAt`. Nil without an id.
    public static func normalize(_ value: JSONValue, feed: String, environment: String?, fetchedAt: Date) -> Event? {
        EscapeKitDecoder.event(value, feed: feed, environment: environment, fallbackTime: fetchedAt)?.event
    }

    /// Whether `value` looks like one EscapeKit event (an `id`, a `type` and a `timestamp`, and
    /// no `created_at`, which is Scalingo's).
    public static func looksLikeEvent(_ value: JSONValue) -> Bool {
        guard case .object(let fields) = value else { return false }
        return fields["id"] != nil && fields["type"]?.stringValue != nil && fields["timestamp"] != nil && fields["created_at"] == nil
    }
}
