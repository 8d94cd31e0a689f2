import EventModel
import Foundation

/// Reads Scalingo event pages leniently: unknown types and fields are kept (they travel in
/// `raw`), numbers may be strings, `previous_page`/`prev_page` both occur. Only a page that is
/// not an object with an `events` list is refused.
enum ScalingoDecoder {
    struct Page {
        var events: [Event]
        var pagination: Pagination
        /// Entries without a usable id.
        var malformed: Int
    }

    /// What Scalingo says about paging; every field optional, because it leaves them out, renames
    /// them, or gets them wrong (`next_page` clamped to the last page instead of null).
    struct Pagination: Equatable {
        var currentPage: Int?
        var nextPage: Int?
        /// True when the response said `next_page: null` explicitly.
        var nextPageIsNull = false
        var totalPages: Int?

        /// Whether `page` (1-based) is the last one, by any of the signs Scalingo gives.
        func isLast(page: Int) -> Bool {
            if nextPageIsNull { return true }
            if let totalPages, page >= totalPages { return true }
            if let nextPage, nextPage <= page { return true }
            return false
        }
    }

    static func page(_ body: [UInt8], feed: String, environment: String?, fetchedAt: Date) throws(FeedError) -> Page {
        let document: JSONValue
        do {
            document = try JSONValue.parse(body)
        } catch {
            throw FeedError.badResponse("the events page is not JSON (\(error))")
        }
        guard let list = document["events"]?.arrayValue else {
            throw FeedError.badResponse("the events page has no \"events\" list")
        }
        let (events, malformed) = list.decodeEach { event($0, feed: feed, environment: environment, fetchedAt: fetchedAt) }
        return Page(events: events, pagination: pagination(document["meta"]?["pagination"]), malformed: malformed)
    }

    static func pagination(_ value: JSONValue?) -> Pagination {
        guard let value else { return Pagination() }
        return Pagination(
            currentPage: value["current_page"]?.intValue.map { Int($0) },
            nextPage: value["next_page"]?.intValue.map { Int($0) },
            nextPageIsNull: value["next_page"]?.isNull ?? false,
            totalPages: value["total_pages"]?.intValue.map { Int($0) })
    }

    static func event(_ value: JSONValue, feed: String, environment: String?, fetchedAt: Date) -> Event? {
        guard case .object = value, let id = value["id"]?.scalarText, !id.isEmpty else { return nil }
        let user = value["user"]
        let actor = user.flatMap { user -> Actor? in
            guard case .object = user else { return nil }
            let actor = Actor(
                id: user["id"]?.scalarText, name: user["username"]?.scalarText ?? user["fullname"]?.scalarText, email: user["email"]?.scalarText)
            return actor.displayName == nil ? nil : actor
        }
        let typeData = value["type_data"]
        let type = value["type"]?.scalarText ?? "unknown"
        let app = value["app_name"]?.scalarText ?? typeData?["app_name"]?.scalarText
        let project = value["project_name"]?.scalarText ?? typeData?["project_name"]?.scalarText
        return Event(
            source: ScalingoFeedPlugin.kind, feed: feed, id: id, type: type, category: ScalingoCatalog.category(type: type, typeData: typeData),
            time: value["created_at"]?.stringValue.flatMap(Timestamp.parse) ?? fetchedAt, actor: actor,
            app: app, appID: value["app_id"]?.scalarText, project: project,
            projectID: value["project_id"]?.scalarText ?? typeData?["project_id"]?.scalarText, environment: environment,
            summary: ScalingoCatalog.summary(type: type, typeData: typeData, app: app, actor: actor), raw: value)
    }
}

/// Scalingo's event normalization, for tests and tools.
public enum ScalingoEvents {
    public static func normalize(_ value: JSONValue, feed: String, environment: String?, fetchedAt: Date) -> Event? {
        ScalingoDecoder.event(value, feed: feed, environment: environment, fetchedAt: fetchedAt)
    }
}
