import EventModel
import Rules
import Foundation
import YAMLSupport

/// Reads subscription documents sent to the API: unknown fields and wrong JSON types are
/// refused with the field's name; values are checked by `Subscription.validate()`.
enum SubscriptionInput {
    static let fields = ["id", "type", "url", "secret", "headers", "slack_icon", "slack_username", "filter", "delivery"]

    /// Parses a request body into a JSON object, or explains why it is not one.
    static func object(_ body: [UInt8], allowed fields: [String] = fields) throws(APIError) -> [String: JSONValue] {
        guard !body.isEmpty else { throw APIError.invalidJSON("the body is empty; send a JSON object") }
        let value: JSONValue
        do {
            value = try JSONValue.parse(body)
        } catch {
            throw APIError.invalidJSON("\(error)")
        }
        guard case .object(let object) = value else { throw APIError.invalidJSON("the body must be a JSON object") }
        for key in object.keys.sorted() where !fields.contains(key) {
            throw APIError.unknownField(key, allowed: fields)
        }
        return object
    }

    static func string(_ object: [String: JSONValue], _ key: String) throws(APIError) -> String? {
        guard let value = object[key], !value.isNull else { return nil }
        guard let text = value.stringValue else { throw APIError.invalidField(key, "must be a string") }
        return text
    }

    /// `headers`: an object of names to values. POST/PUT (`merge` false) give the whole set
    /// (absent keeps `base`, which PUT uses since values are never shown; `null` removes all);
    /// PATCH merges by name, case-insensitively (`null` for a name removes it). Errors name
    /// headers, never values.
    static func headers(_ value: JSONValue?, base: [CustomHeader], merge: Bool) throws(APIError) -> [CustomHeader] {
        guard let value else { return base }
        if value.isNull { return [] }
        guard case .object(let object) = value else {
            throw APIError.invalidField("headers", "must be an object of header names to values")
        }
        var result = merge ? base : []
        for name in object.keys.sorted() {
            let entry = object[name] ?? .null
            let existing = result.firstIndex { $0.name.lowercased() == name.lowercased() }
            if entry.isNull {
                guard merge else { throw APIError.invalidField("headers.\(name)", "must be a string") }
                if let existing { result.remove(at: existing) }
                continue
            }
            guard let text = entry.stringValue else {
                throw APIError.invalidField("headers.\(name)", merge ? "must be a string (or null to remove it)" : "must be a string")
            }
            if merge, let existing {
                result[existing] = CustomHeader(name: name, value: text)
            } else {
                result.append(CustomHeader(name: name, value: text))
            }
        }
        return result
    }

    /// A duration such as "24h", "90m" or "0s", within `0...max`.
    static func duration(_ object: [String: JSONValue], _ key: String, default fallback: Duration, max: Duration) throws(APIError) -> Duration {
        guard let text = try string(object, key) else { return fallback }
        let bounds = "from 0s to \(DurationText.format(max))"
        switch DurationText.read(text) {
        case .duration(let value) where value <= max: return value
        case .duration, .outOfRange: throw APIError.invalidField(key, "must be \(bounds)")
        case .invalid: throw APIError.invalidField(key, "must be a duration such as \"24h\" or \"90m\", \(bounds)")
        }
    }

    static func requiredString(_ object: [String: JSONValue], _ key: String) throws(APIError) -> String {
        guard let text = try string(object, key) else { throw APIError.invalidField(key, "is required") }
        return text
    }

    static func kind(_ text: String) throws(APIError) -> SubscriptionKind {
        guard let kind = SubscriptionKind(rawValue: text) else {
            throw APIError.invalidField("type", "must be one of: \(SubscriptionKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return kind
    }

    static func url(_ text: String) throws(APIError) -> String {
        if text.contains("…") {
            throw APIError.invalidField("url", "looks like a masked URL as the API shows it; send the full URL")
        }
        return text
    }

    /// A subscription's `delivery` options (the keys a rules file uses); null or absent: the defaults.
    static func delivery(_ value: JSONValue?) throws(APIError) -> DeliveryOptions {
        guard let value, !value.isNull else { return .none }
        guard case .object(let object) = value else { throw APIError.invalidField("delivery", "must be an object") }
        for key in object.keys.sorted() where !DeliveryOptionsReader.keys.contains(key) {
            throw APIError.unknownField("delivery.\(key)", allowed: DeliveryOptionsReader.keys.map { "delivery.\($0)" })
        }
        var options = DeliveryOptions()
        if let ordering = try string(object, "ordering") {
            guard let parsed = DeliveryOptions.Ordering(rawValue: ordering) else {
                throw APIError.invalidField(
                    "delivery.ordering", "must be one of: \(DeliveryOptions.Ordering.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            options.ordering = parsed
        }
        options.concurrency = try integer(object, "concurrency", field: "delivery.concurrency")
        let burst = try integer(object, "burst", field: "delivery.burst")
        if let rate = try string(object, "rate_limit") {
            guard let parsed = RateLimit.parse(rate, burst: burst) else {
                throw APIError.invalidField("delivery.rate_limit", "must be a rate like 1/s, 30/min or 1000/h")
            }
            options.rateLimit = parsed
        } else if burst != nil {
            throw APIError.invalidField("delivery.burst", "needs a rate_limit")
        }
        if let schedule = object["retry_schedule"], !schedule.isNull {
            guard let steps = schedule.arrayValue else {
                throw APIError.invalidField("delivery.retry_schedule", "must be a list of durations like [\"5s\", \"5m\"]")
            }
            options.retrySchedule = try steps.map { step throws(APIError) in
                guard let text = step.stringValue else {
                    throw APIError.invalidField("delivery.retry_schedule", "must be a list of durations like [\"5s\", \"5m\"]")
                }
                switch DurationText.read(text) {
                case .duration(let duration): return duration
                case .outOfRange: throw APIError.invalidField("delivery.retry_schedule", "each wait must be between 0s and 7d (168h), not \"\(text)\"")
                case .invalid: throw APIError.invalidField("delivery.retry_schedule", "\"\(text)\" is not a duration like 5s, 5m or 2h")
                }
            }
        }
        if let problem = options.validate(field: "delivery") { throw APIError.invalidField(problem.field, problem.message) }
        return options
    }

    static func integer(_ object: [String: JSONValue], _ key: String, field: String) throws(APIError) -> Int? {
        guard let value = object[key], !value.isNull else { return nil }
        guard case .integer(let number) = value, let small = Int(exactly: number), abs(small) <= 1_000_000_000 else {
            throw APIError.invalidField(field, "must be a whole number")
        }
        return small
    }

    /// A whole filter (POST/PUT) or the changes to one (PATCH, merged into `base`).
    static func filter(_ value: JSONValue?, base: EventFilter) throws(APIError) -> EventFilter {
        guard let value, !value.isNull else { return base }
        guard case .object(let object) = value else { throw APIError.invalidField("filter", "must be an object") }
        var filter = base
        for key in object.keys.sorted() {
            guard EventFilter.allKeys.contains(key) else {
                throw APIError.unknownField("filter.\(key)", allowed: EventFilter.allKeys.map { "filter.\($0)" })
            }
        }
        for key in EventFilter.listKeys {
            if let list = object[key] { filter.setList(key, try strings(list, field: "filter.\(key)")) }
        }
        if let fields = object["fields"] {
            if fields.isNull {
                filter.fields = [:]
            } else {
                guard case .object(let paths) = fields else {
                    throw APIError.invalidField("filter.fields", "must be an object of field paths to lists of patterns")
                }
                var result: [String: [String]] = [:]
                for (path, patterns) in paths { result[path] = try strings(patterns, field: "filter.fields.\(path)") }
                filter.fields = result
            }
        }
        return filter
    }

    private static func strings(_ value: JSONValue, field: String) throws(APIError) -> [String] {
        if value.isNull { return [] }
        guard case .array(let items) = value else { throw APIError.invalidField(field, "must be a list of strings") }
        var result: [String] = []
        for item in items {
            guard let text = item.stringValue else { throw APIError.invalidField(field, "must be a list of strings") }
            result.append(text)
        }
        return result
    }

    static func checked(_ subscription: Subscription) throws(APIError) -> Subscription {
        if let problem = subscription.validate() { throw APIError.invalidField(problem.field, problem.message) }
        return subscription
    }
}
