import EventModel
import Foundation

/// A `FilterExpression` compiled once (globs to byte matchers, regular expressions compiled,
/// paths split), then tested against events without I/O or allocation beyond what an event's
/// own fields need.
public struct CompiledExpression: Sendable {
    public let expression: FilterExpression
    private let root: Node

    private indirect enum Node: Sendable {
        case all([Node])
        case any([Node])
        case not(Node)
        case key(FilterKey, [Glob])
        case field([String], [Glob])
        case predicate(FilterPath, Test)
    }

    private enum Test: Sendable {
        case equals(JSONValue)
        case oneOf([JSONValue])
        case glob([Glob])
        case regex(CompiledRegex)
        case exists(Bool)
        case compare(FilterPredicate.Comparison, Double)
    }

    /// NSRegularExpression is immutable once made and documented safe to share between threads.
    private struct CompiledRegex: @unchecked Sendable {
        let regex: NSRegularExpression?
        func matches(_ text: String) -> Bool {
            guard let regex else { return false }
            return regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
        }
    }

    public init(_ expression: FilterExpression) {
        self.expression = expression
        root = Self.compile(expression)
    }

    public init(flat filter: EventFilter) { self.init(FilterExpression(flat: filter)) }

    private static func compile(_ expression: FilterExpression) -> Node {
        switch expression {
        case .all(let parts): .all(parts.map(compile))
        case .any(let parts): .any(parts.map(compile))
        case .not(let inner): .not(compile(inner))
        case .key(.actor, let globs):
            // Whichever of name, e-mail (ignoring case) or id matches.
            .any([.key(.actorName, globs.map(Glob.init)), .key(.actorEmail, globs.map { Glob($0.lowercased()) }), .key(.actorID, globs.map(Glob.init))])
        case .key(let key, let globs): .key(key, globs.map { Glob(key.ignoresCase ? $0.lowercased() : $0) })
        case .field(let path, let globs): .field(path, globs.map(Glob.init))
        case .predicate(let path, let predicate):
            switch predicate {
            case .equals(let value): .predicate(path, .equals(value))
            case .oneOf(let values): .predicate(path, .oneOf(values))
            case .glob(let globs): .predicate(path, .glob(globs.map(Glob.init)))
            // Checked when read: a pattern that does not compile here matches nothing.
            case .regex(let pattern): .predicate(path, .regex(CompiledRegex(regex: try? NSRegularExpression(pattern: pattern))))
            case .exists(let present): .predicate(path, .exists(present))
            case .compare(let comparison, let number): .predicate(path, .compare(comparison, number))
            }
        }
    }

    public var exactTypes: Set<String>? { expression.exactTypes }

    public func matches(_ event: Event) -> Bool { Self.evaluate(root, event) }

    private static func evaluate(_ node: Node, _ event: Event) -> Bool {
        switch node {
        case .all(let parts): return parts.allSatisfy { evaluate($0, event) }
        case .any(let parts): return parts.contains { evaluate($0, event) }
        case .not(let inner): return !evaluate(inner, event)
        case .key(let key, let globs): return matches(key, globs, event)
        case .field(let path, let globs): return accepts(globs, event.raw.value(atPath: path))
        case .predicate(let path, let test): return holds(test, value(path, event))
        }
    }

    /// A missing value matches no pattern.
    private static func matches(_ key: FilterKey, _ globs: [Glob], _ event: Event) -> Bool {
        func any(_ value: String?) -> Bool {
            guard let value else { return false }
            return globs.contains { $0.matches(value) }
        }
        switch key {
        case .source: return any(event.source)
        case .type: return any(event.type)
        case .category: return any(event.category?.rawValue)
        case .app: return any(event.app)
        case .project: return any(event.project)
        case .environment: return any(event.environment)
        case .actor: return any(event.actor?.name) || any(event.actor?.id)  // compiled into its three parts
        case .actorName: return any(event.actor?.name)
        case .actorEmail: return any(event.actor?.email?.lowercased())
        case .actorID: return any(event.actor?.id)
        }
    }

    /// Field values: a scalar is matched as text; a list matches when any of its scalars does.
    private static func accepts(_ globs: [Glob], _ value: JSONValue?) -> Bool {
        guard let value else { return false }
        if case .array(let elements) = value {
            return elements.contains { element in element.scalarText.map { text in globs.contains { $0.matches(text) } } ?? false }
        }
        guard let text = value.scalarText else { return false }
        return globs.contains { $0.matches(text) }
    }

    static func value(_ path: FilterPath, _ event: Event) -> JSONValue? {
        func text(_ value: String?) -> JSONValue? { value.map(JSONValue.string) }
        switch path {
        case .raw(let components): return event.raw.value(atPath: components)
        case .details(let components): return event.details?.value(atPath: components)
        case .event(let field):
            switch field {
            case .source: return text(event.source)
            case .feed: return text(event.feed)
            case .id: return text(event.id)
            case .type: return text(event.type)
            case .category: return text(event.category?.rawValue)
            case .app: return text(event.app)
            case .appID: return text(event.appID)
            case .project: return text(event.project)
            case .projectID: return text(event.projectID)
            case .environment: return text(event.environment)
            case .summary: return text(event.summary)
            case .actorName: return text(event.actor?.name)
            case .actorEmail: return text(event.actor?.email)
            case .actorID: return text(event.actor?.id)
            }
        }
    }

    private static func holds(_ test: Test, _ value: JSONValue?) -> Bool {
        if case .exists(let present) = test {
            let there = value.map { $0 != .null } ?? false
            return there == present
        }
        guard let value, value != .null else { return false }
        switch test {
        case .equals(let expected): return same(value, expected)
        case .oneOf(let values): return values.contains { same(value, $0) }
        case .glob(let globs): return accepts(globs, value)
        case .regex(let regex):
            if case .array(let elements) = value { return elements.contains { $0.scalarText.map(regex.matches) ?? false } }
            return value.scalarText.map(regex.matches) ?? false
        case .compare(let comparison, let bound):
            guard let number = value.numberValue else { return false }
            switch comparison {
            case .gt: return number > bound
            case .gte: return number >= bound
            case .lt: return number < bound
            case .lte: return number <= bound
            }
        case .exists: return false
        }
    }

    /// Numbers compare as numbers (`300` equals `300.0`, and `"300"` read from text); anything
    /// else exactly. A list equals a value when one of its elements does.
    private static func same(_ value: JSONValue, _ expected: JSONValue) -> Bool {
        if case .array(let elements) = value { return elements.contains { same($0, expected) } }
        switch (value, expected) {
        case (.integer, _), (.number, _):
            guard let a = value.numberValue, let b = expected.numberValue else { return false }
            return a == b
        case (.string(let text), .integer), (.string(let text), .number):
            guard let a = JSONValue.string(text).numberValue, let b = expected.numberValue else { return false }
            return a == b
        default:
            return value == expected
        }
    }
}
