import EventModel
import Foundation
import Rules
import Sinks
import YAMLSupport

/// Reads subscription documents sent to the API: unknown fields and wrong JSON types are
/// refused with the field's name; values are checked by `Subscription.validate()`. The keys
/// beside the shared ones are the kind's (its folder's decoder reads them).
enum SubscriptionInput {
    static let sharedFields = ["id", "type", "filter", "delivery"]

    /// Parses a request body into a JSON object, or explains why it is not one. `allowed` nil:
    /// the keys are checked once the type is known (`settings`).
    static func object(_ body: [UInt8], allowed fields: [String]? = nil) throws(APIError) -> [String: JSONValue] {
        guard !body.isEmpty else { throw APIError.invalidJSON("the body is empty; send a JSON object") }
        let value: JSONValue
        do {
            value = try JSONValue.parse(body)
        } catch {
            throw APIError.invalidJSON("\(error)")
        }
        guard case .object(let object) = value else { throw APIError.invalidJSON("the body must be a JSON object") }
        if let fields {
            for key in object.keys.sorted() where !fields.contains(key) {
                throw APIError.unknownField(key, allowed: fields)
            }
        }
        return object
    }

    static func string(_ object: [String: JSONValue], _ key: String) throws(APIError) -> String? {
        guard let value = object[key], !value.isNull else { return nil }
        guard let text = value.stringValue else { throw APIError.invalidField(key, "must be a string") }
        return text
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

    static func kind(_ text: String) throws(APIError) -> SinkKind {
        guard let kind = SinkRegistry.kinds.named(text) else { throw APIError.invalidField("type", SinkRegistry.kinds.unknownTypeMessage) }
        return kind
    }

    /// The kind's settings from the body's keys (any other key than the shared ones and the
    /// kind's is refused). An update reads them over `existing`'s: a PUT keeps secrets it
    /// leaves out, a PATCH keeps every key it leaves out; a change of type keeps the values of
    /// keys both kinds have (the URL, say), and drops the others.
    static func settings(
        _ object: [String: JSONValue], kind: SinkKind, mode: JSONSettingsSource.Mode, existing: (any SinkSettings)? = nil
    ) throws(APIError) -> any SinkSettings {
        let allowed = sharedFields + kind.keys(for: .api)
        for key in object.keys.sorted() where !allowed.contains(key) {
            throw APIError.unknownField(key, allowed: allowed)
        }
        var previous: [String: JSONValue] = [:]
        if let existing {
            let document = existing.document()
            if existing.kind == kind.name {
                previous = document
            } else {
                let shared = Set(kind.fields.filter { $0.shape != .stored }.map(\.name))
                previous = document.filter { shared.contains($0.key) }
            }
        }
        do throws(FieldError) {
            return try kind.read(JSONSettingsSource(api: object, mode: mode, previous: previous))
        } catch {
            throw APIError.invalidField(error.field, error.message)
        }
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
