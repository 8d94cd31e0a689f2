import EventModel

/// A filter: one expression tree, read by `FilterReader` from a rule file's YAML or an API body's
/// JSON, compiled by `CompiledExpression`. The grammar, in one place (`docs/rules.md`):
///
/// - a mapping is the AND of its entries; an empty one (or none) matches every event;
/// - a key of the normalized event (`source`, `type`, `category`, `app`, `project`,
///   `environment`, `actor`, `actor.name`, `actor.email`, `actor.id`; plurals as shorthand): one
///   value or a list, any of which matches, `*` standing for any run of characters;
/// - `fields`: dotted paths into the platform's raw event, each with its globs (today's shorthand);
/// - `not`: a filter, or a list of them, none of which may match: exclusion wins over inclusion;
/// - `any` / `all`: lists of filters, one of which / all of which must match;
/// - `where`: a list of predicates on a dotted path (`raw.…`, `details.…`, or a field of the
///   normalized event): `equals`, `in`, `glob`, `regex`, `exists`, `gt`, `gte`, `lt`, `lte`.
public indirect enum FilterExpression: Sendable, Hashable {
    case all([FilterExpression])
    case any([FilterExpression])
    case not(FilterExpression)
    /// A key of the normalized event and its globs, any of which matches.
    case key(FilterKey, [String])
    /// A dotted path into the raw event and its globs: a scalar matched as text, a list when one
    /// of its scalars matches.
    case field([String], [String])
    case predicate(FilterPath, FilterPredicate)

    /// Matches every event.
    public static let always = FilterExpression.all([])

    /// Today's flat filter, with its meaning: every listed key ANDed, each list any-of.
    public init(flat filter: EventFilter) {
        var parts: [FilterExpression] = []
        let keys: [(FilterKey, [String])] = [
            (.type, filter.types), (.source, filter.sources), (.category, filter.categories), (.app, filter.apps),
            (.project, filter.projects), (.environment, filter.environments),
        ]
        for (key, globs) in keys where !globs.isEmpty { parts.append(.key(key, globs)) }
        for (path, globs) in filter.fields.sorted(by: { $0.key < $1.key }) where !globs.isEmpty {
            parts.append(.field(path.split(separator: ".", omittingEmptySubsequences: false).map(String.init), globs))
        }
        self = parts.count == 1 ? parts[0] : .all(parts)
    }

    /// The exact event types this expression can match, or nil when it may match any type: what
    /// lets the router skip most rules by one dictionary lookup.
    public var exactTypes: Set<String>? {
        switch self {
        case .key(.type, let globs):
            return globs.contains { $0.contains("*") } ? nil : Set(globs)
        case .all(let parts):
            // Any part that limits the types limits the whole; several: their intersection.
            let limits = parts.compactMap(\.exactTypes)
            guard let first = limits.first else { return nil }
            return limits.dropFirst().reduce(first) { $0.intersection($1) }
        case .any(let parts):
            guard !parts.isEmpty else { return [] }
            var union = Set<String>()
            for part in parts {
                guard let types = part.exactTypes else { return nil }
                union.formUnion(types)
            }
            return union
        case .not, .key, .field, .predicate:
            return nil
        }
    }

    /// The expression in the grammar's JSON form (what `GET /v1/rules` shows, and what
    /// `FilterReader` reads back to the same expression).
    public var json: JSONValue {
        switch self {
        case .all(let parts):
            // A mapping is an AND: parts that are keys become its entries, the rest an `all`.
            var object: [String: JSONValue] = [:]
            var rest: [JSONValue] = []
            var fields: [String: JSONValue] = [:]
            for part in parts {
                switch part {
                case .key(let key, let globs) where object[key.rawValue] == nil:
                    object[key.rawValue] = .array(globs.map(JSONValue.string))
                case .field(let path, let globs) where fields[path.joined(separator: ".")] == nil:
                    fields[path.joined(separator: ".")] = .array(globs.map(JSONValue.string))
                case .not(let inner) where object["not"] == nil:
                    object["not"] = inner.json
                default:
                    rest.append(part.json)
                }
            }
            if !fields.isEmpty { object["fields"] = .object(fields) }
            if !rest.isEmpty { object["all"] = .array(rest) }
            return .object(object)
        case .any(let parts):
            return .object(["any": .array(parts.map(\.json))])
        case .not(let inner):
            return .object(["not": inner.json])
        case .key(let key, let globs):
            return .object([key.rawValue: .array(globs.map(JSONValue.string))])
        case .field(let path, let globs):
            return .object(["fields": .object([path.joined(separator: "."): .array(globs.map(JSONValue.string))])])
        case .predicate(let path, let predicate):
            var object: [String: JSONValue] = ["path": .string(path.text)]
            let (name, value) = predicate.json
            object[name] = value
            return .object(["where": .array([.object(object)])])
        }
    }
}

/// The keys of the normalized event a filter names directly.
public enum FilterKey: String, Sendable, Hashable, CaseIterable {
    case source, type, category, app, project, environment
    /// The actor's name, e-mail or id, whichever matches.
    case actor
    case actorName = "actor.name"
    case actorEmail = "actor.email"
    case actorID = "actor.id"

    /// The plural spellings today's flat filters use.
    static let plurals: [String: FilterKey] = [
        "sources": .source, "types": .type, "categories": .category, "apps": .app, "projects": .project, "environments": .environment,
    ]

    /// E-mail addresses are compared ignoring case, as mail systems do; everything else is exact.
    var ignoresCase: Bool { self == .actorEmail }
}

/// Where a predicate looks: the raw event, its `details`, or a field of the normalized event.
public enum FilterPath: Sendable, Hashable {
    case raw([String])
    case details([String])
    case event(EventField)

    public enum EventField: String, Sendable, Hashable, CaseIterable {
        case source, feed, id, type, category, app, project, environment, summary
        case appID = "app_id"
        case projectID = "project_id"
        case actorName = "actor.name"
        case actorEmail = "actor.email"
        case actorID = "actor.id"
    }

    public var text: String {
        switch self {
        case .raw(let path): "raw." + path.joined(separator: ".")
        case .details(let path): "details." + path.joined(separator: ".")
        case .event(let field): field.rawValue
        }
    }
}

public enum FilterPredicate: Sendable, Hashable {
    public enum Comparison: String, Sendable, Hashable, CaseIterable { case gt, gte, lt, lte }

    /// The value equals this one: numbers as numbers (`1` equals `1.0`, and text that reads as
    /// the same number, as platforms sometimes send them); other text exactly.
    case equals(JSONValue)
    /// The value equals one of these.
    case oneOf([JSONValue])
    /// The value, as text, matches one of these globs.
    case glob([String])
    /// The value, as text, contains a match of this regular expression (ICU syntax; anchor it
    /// with `^…$` to match the whole value).
    case regex(String)
    /// The path is present (true) or absent (false); `null` counts as absent.
    case exists(Bool)
    /// The value, read as a number, compares so with this one; a value that is not a number
    /// never matches.
    case compare(Comparison, Double)

    var json: (String, JSONValue) {
        switch self {
        case .equals(let value): ("equals", value)
        case .oneOf(let values): ("in", .array(values))
        case .glob(let globs): ("glob", .array(globs.map(JSONValue.string)))
        case .regex(let pattern): ("regex", .string(pattern))
        case .exists(let present): ("exists", .bool(present))
        case .compare(let comparison, let number): (comparison.rawValue, .number(number))
        }
    }
}
