import Foundation

/// Where a subscription was defined: created over the admin API (stored, editable) or declared
/// in a rules file (read-only at runtime; edit the file).
public enum SubscriptionOrigin: String, Sendable, Codable {
    case api
    case rules
}

/// Which events a subscription or rule wants. Within one list any pattern may match; across
/// lists all must match; an empty list accepts anything. Patterns are globs where `*` stands for
/// any run of characters. An event that lacks a field (no app, say) is accepted only by an empty list.
public struct EventFilter: Sendable, Codable, Hashable {
    public var types: [String]
    public var apps: [String]
    public var projects: [String]
    public var environments: [String]
    public var sources: [String]
    /// Cross-platform categories (`deploy.failed`, `auth.*`): see `EventCategory`.
    public var categories: [String]
    /// Dotted paths into the source's raw event (`type_data.status`) and the globs their value must match.
    public var fields: [String: [String]]

    public init(
        types: [String] = [], apps: [String] = [], projects: [String] = [],
        environments: [String] = [], sources: [String] = [], categories: [String] = [], fields: [String: [String]] = [:]
    ) {
        self.categories = categories
        self.types = types
        self.apps = apps
        self.projects = projects
        self.environments = environments
        self.sources = sources
        self.fields = fields
    }

    public static let any = EventFilter()

    enum CodingKeys: String, CodingKey { case types, categories, apps, projects, environments, sources, fields }

    /// Every key optional: filters stored by earlier releases lack the newer ones.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        types = try container.decodeIfPresent([String].self, forKey: .types) ?? []
        categories = try container.decodeIfPresent([String].self, forKey: .categories) ?? []
        apps = try container.decodeIfPresent([String].self, forKey: .apps) ?? []
        projects = try container.decodeIfPresent([String].self, forKey: .projects) ?? []
        environments = try container.decodeIfPresent([String].self, forKey: .environments) ?? []
        sources = try container.decodeIfPresent([String].self, forKey: .sources) ?? []
        fields = try container.decodeIfPresent([String: [String]].self, forKey: .fields) ?? [:]
    }

    public static let listKeys = ["types", "categories", "apps", "projects", "environments", "sources"]
    public static let allKeys = listKeys + ["fields"]

    public func list(_ key: String) -> [String] {
        switch key {
        case "types": return types
        case "apps": return apps
        case "projects": return projects
        case "environments": return environments
        case "sources": return sources
        case "categories": return categories
        default: return []
        }
    }

    public mutating func setList(_ key: String, _ value: [String]) {
        switch key {
        case "types": types = value
        case "apps": apps = value
        case "projects": projects = value
        case "environments": environments = value
        case "sources": sources = value
        case "categories": categories = value
        default: break
        }
    }
}

/// A destination for events, modelled on EscapeKit's Subscription object (`{id, type, url,
/// slack_icon, slack_username}`): what every kind shares (id, filter, pacing, origin, times) plus
/// the kind's own settings, which only its folder under `Sinks/` reads.
public struct Subscription: Sendable, Hashable {
    public var id: String
    /// The destination kind's settings (URL, secrets…): printed, they show `<kind settings>`.
    public var settings: any SinkSettings
    public var filter: EventFilter
    /// Pacing of its lane: order, concurrency, rate limit, retry schedule.
    public var delivery: DeliveryOptions
    public var origin: SubscriptionOrigin
    public var createdAt: Date
    public var updatedAt: Date

    /// The destination kind (`type`): the settings' kind.
    public var kind: String { settings.kind }

    public init(
        id: String, settings: any SinkSettings, filter: EventFilter = .any, delivery: DeliveryOptions = .none,
        origin: SubscriptionOrigin = .api, createdAt: Date = Date(timeIntervalSince1970: 0),
        updatedAt: Date = Date(timeIntervalSince1970: 0)
    ) {
        self.id = id
        self.settings = settings
        self.filter = filter
        self.delivery = delivery
        self.origin = origin
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    public static func == (lhs: Subscription, rhs: Subscription) -> Bool {
        lhs.id == rhs.id && lhs.kind == rhs.kind && lhs.filter == rhs.filter && lhs.delivery == rhs.delivery
            && lhs.origin == rhs.origin && lhs.createdAt == rhs.createdAt && lhs.updatedAt == rhs.updatedAt
            && JSONValue.object(lhs.settings.document()) == JSONValue.object(rhs.settings.document())
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(id)
        hasher.combine(kind)
        hasher.combine(filter)
    }
}

/// A problem with one field of a subscription or filter; `field` is the JSON/YAML name.
public struct FieldError: Error, Sendable, Equatable, CustomStringConvertible {
    public var field: String
    public var message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}

extension Subscription {
    public static let maxPatterns = 100
    public static let maxPatternLength = 256

    /// Checks every rule a stored or declared subscription must follow. Returns the first problem.
    public func validate() -> FieldError? {
        if let problem = Subscription.validateID(id) { return problem }
        if let problem = settings.validate() { return problem }
        if let problem = delivery.validate() { return problem }
        return Subscription.validateFilter(filter, field: "filter")
    }

    public static func validateID(_ id: String) -> FieldError? {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        guard let first = id.first, first.isLetter || first.isNumber, id.count <= 64,
              id.allSatisfy({ allowed.contains($0) })
        else {
            return FieldError(
                field: "id", message: "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")
        }
        return nil
    }

    /// Destination URLs are read by `DestinationURL`, the one strict reading (see there).
    public static func validateURL(_ text: String, field: String) -> FieldError? {
        do {
            _ = try DestinationURL(text)
            return nil
        } catch {
            return FieldError(field: field, message: error.description)
        }
    }

    public static func validateFilter(_ filter: EventFilter, field: String) -> FieldError? {
        for key in EventFilter.listKeys {
            if let problem = validatePatterns(filter.list(key), field: "\(field).\(key)") { return problem }
        }
        // A category pattern that matches no category is a typo: it would silently match nothing.
        for pattern in filter.categories where !EventCategory.allCases.contains(where: { Self.globMatches(pattern, $0.rawValue) }) {
            return FieldError(
                field: "\(field).categories",
                message: "\"\(pattern)\" matches no category (known: \(EventCategory.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        if filter.fields.count > maxPatterns {
            return FieldError(field: "\(field).fields", message: "has more than \(maxPatterns) paths")
        }
        for (path, patterns) in filter.fields.sorted(by: { $0.key < $1.key }) {
            if path.isEmpty || path.split(separator: ".", omittingEmptySubsequences: false).contains(where: \.isEmpty) {
                return FieldError(field: "\(field).fields", message: "path \"\(path)\" must be dot-separated field names")
            }
            if let problem = validatePatterns(patterns, field: "\(field).fields.\(path)") { return problem }
        }
        return nil
    }

    /// `*` matches any run of characters (the same globs the router compiles).
    static func globMatches(_ pattern: String, _ text: String) -> Bool {
        let parts = pattern.split(separator: "*", omittingEmptySubsequences: false).map(String.init)
        guard parts.count > 1 else { return pattern == text }
        guard text.hasPrefix(parts[0]), text.dropFirst(parts[0].count).hasSuffix(parts[parts.count - 1]) else { return false }
        var rest = Substring(text.dropFirst(parts[0].count).dropLast(parts[parts.count - 1].count))
        for part in parts.dropFirst().dropLast() where !part.isEmpty {
            guard let range = rest.range(of: part) else { return false }
            rest = rest[range.upperBound...]
        }
        return text.count >= parts[0].count + parts[parts.count - 1].count
    }

    static func validatePatterns(_ patterns: [String], field: String) -> FieldError? {
        if patterns.count > maxPatterns {
            return FieldError(field: field, message: "has more than \(maxPatterns) patterns")
        }
        for pattern in patterns where pattern.isEmpty || pattern.count > maxPatternLength {
            return FieldError(field: field, message: "patterns must be 1 to \(maxPatternLength) characters")
        }
        return nil
    }
}
