import EventModel
import Foundation
import YAMLSupport

/// A document a filter is read from: a rule file's YAML or an API body's JSON. The one reader
/// (`FilterReader`) walks either, so both accept the same grammar with the same messages.
public protocol FilterNode {
    associatedtype Failure: Error
    /// An error about this node (YAML: file, line, column and path; JSON: the field's path).
    func fail(_ message: String) -> Failure
    /// A mapping's entries in order, each key with a node of its own for errors; nil when not a mapping.
    func entries() throws(Failure) -> [(key: String, keyNode: Self, value: Self)]?
    /// A list's elements; nil when not a list.
    func elements() -> [Self]?
    /// A scalar's value (text, number, bool or null); nil for a mapping or a list.
    var scalar: JSONValue? { get }
}

/// Reads a filter in the grammar of `FilterExpression`. Everything is checked here: unknown
/// keys, empty or overlong patterns, categories that match no category, regular expressions
/// that do not compile, predicates without exactly one test, groups nested too deep.
public enum FilterReader {
    public static let maxDepth = 32
    /// Entries of one list (values, patterns, groups, predicates).
    public static let maxItems = Subscription.maxPatterns

    static let predicateTests = ["equals", "in", "glob", "regex", "exists"] + FilterPredicate.Comparison.allCases.map(\.rawValue)

    /// The keys a filter mapping may hold.
    public static var keys: [String] {
        FilterKey.allCases.map(\.rawValue) + FilterKey.plurals.keys.sorted() + ["fields", "not", "any", "all", "where"]
    }

    /// A filter; nil or null matches every event.
    public static func read<Node: FilterNode>(_ node: Node?) throws(Node.Failure) -> FilterExpression {
        guard let node, node.scalar != .null else { return .always }
        return try mapping(node, depth: 0)
    }

    private static func mapping<Node: FilterNode>(_ node: Node, depth: Int) throws(Node.Failure) -> FilterExpression {
        guard depth < maxDepth else { throw node.fail("filters nest more than \(maxDepth) deep") }
        guard let entries = try node.entries() else {
            throw node.fail("must be a mapping of filter keys (\(keys.joined(separator: ", ")))")
        }
        var parts: [FilterExpression] = []
        var seenKeys: [FilterKey: String] = [:]
        for entry in entries {
            if let key = FilterKey(rawValue: entry.key) ?? FilterKey.plurals[entry.key] {
                if let other = seenKeys[key] { throw entry.keyNode.fail("the same key as \(other): write the values in one list") }
                seenKeys[key] = entry.key
                let globs = try patterns(entry.value)
                if key == .category { try checkCategories(globs, entry.value) }
                parts.append(.key(key, globs))
                continue
            }
            switch entry.key {
            case "fields":
                guard entry.value.scalar != .null else { continue }
                guard let fields = try entry.value.entries() else { throw entry.value.fail("must map dotted paths to patterns") }
                guard fields.count <= maxItems else { throw entry.value.fail("has more than \(maxItems) paths") }
                for field in fields {
                    parts.append(.field(try dottedPath(field.key, field.keyNode), try patterns(field.value)))
                }
            case "not":
                let excluded = try groups(entry.value, depth: depth, single: true)
                parts.append(.not(excluded.count == 1 ? excluded[0] : .any(excluded)))
            case "any":
                parts.append(.any(try groups(entry.value, depth: depth, single: false)))
            case "all":
                parts.append(.all(try groups(entry.value, depth: depth, single: false)))
            case "where":
                guard let items = entry.value.elements() else { throw entry.value.fail("must be a list of {path, test} predicates") }
                guard items.count <= maxItems else { throw entry.value.fail("has more than \(maxItems) predicates") }
                for item in items { parts.append(try predicate(item)) }
            default:
                let hint = closest(entry.key, in: keys).map { "did you mean \($0)? " } ?? ""
                throw entry.keyNode.fail("unknown filter key: \(hint)(expected one of: \(keys.joined(separator: ", ")))")
            }
        }
        return parts.count == 1 ? parts[0] : .all(parts)
    }

    /// `any`/`all`: a non-empty list of filters; `not`: one filter or such a list.
    private static func groups<Node: FilterNode>(_ node: Node, depth: Int, single: Bool) throws(Node.Failure) -> [FilterExpression] {
        if single, node.elements() == nil { return [try mapping(node, depth: depth + 1)] }
        guard let items = node.elements() else { throw node.fail("must be a list of filters") }
        guard !items.isEmpty else { throw node.fail("must hold at least one filter") }
        guard items.count <= maxItems else { throw node.fail("has more than \(maxItems) filters") }
        var read: [FilterExpression] = []
        for item in items { read.append(try mapping(item, depth: depth + 1)) }
        return read
    }

    /// One pattern or a list of them: text of 1 to `Subscription.maxPatternLength` characters.
    private static func patterns<Node: FilterNode>(_ node: Node) throws(Node.Failure) -> [String] {
        let items = node.elements() ?? [node]
        guard !items.isEmpty else { throw node.fail("must name at least one value (leave the key out to match any)") }
        guard items.count <= maxItems else { throw node.fail("has more than \(maxItems) patterns") }
        var read: [String] = []
        for item in items {
            guard let text = item.scalar?.scalarText, !text.isEmpty, text.count <= Subscription.maxPatternLength else {
                throw item.fail("patterns are text of 1 to \(Subscription.maxPatternLength) characters")
            }
            read.append(text)
        }
        return read
    }

    private static func checkCategories<Node: FilterNode>(_ globs: [String], _ node: Node) throws(Node.Failure) {
        for pattern in globs where !EventCategory.allCases.contains(where: { Glob(pattern).matches($0.rawValue) }) {
            throw node.fail(
                "\"\(pattern)\" matches no category (known: \(EventCategory.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
    }

    private static func dottedPath<Node: FilterNode>(_ text: String, _ node: Node) throws(Node.Failure) -> [String] {
        let components = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !text.isEmpty, !components.contains(where: \.isEmpty) else {
            throw node.fail("path \"\(text)\" must be dot-separated field names")
        }
        return components
    }

    /// `{path: raw.type_data.status, in: [crashed, timeout]}`: a path and exactly one test.
    private static func predicate<Node: FilterNode>(_ node: Node) throws(Node.Failure) -> FilterExpression {
        guard let entries = try node.entries() else { throw node.fail("a predicate is a mapping: {path: …, <test>: …}") }
        guard let pathEntry = entries.first(where: { $0.key == "path" }), let text = pathEntry.value.scalar?.stringValue else {
            throw node.fail("a predicate needs a path (raw.…, details.…, or one of: \(FilterPath.EventField.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let path = try filterPath(text, pathEntry.value)
        let tests = entries.filter { $0.key != "path" }
        for entry in tests where !predicateTests.contains(entry.key) {
            throw entry.keyNode.fail("unknown test (expected one of: \(predicateTests.joined(separator: ", ")))")
        }
        guard tests.count == 1, let test = tests.first else {
            let found = tests.isEmpty ? "none" : tests.map(\.key).joined(separator: " and ")
            throw node.fail("a predicate has exactly one test (\(predicateTests.joined(separator: ", "))); found \(found)")
        }
        let value = test.value
        switch test.key {
        case "equals":
            guard let scalar = value.scalar, scalar != .null else { throw value.fail("must be a text, a number or true/false") }
            return .predicate(path, .equals(scalar))
        case "in":
            guard let items = value.elements(), !items.isEmpty, items.count <= maxItems else {
                throw value.fail("must be a list of 1 to \(maxItems) values")
            }
            var values: [JSONValue] = []
            for item in items {
                guard let scalar = item.scalar, scalar != .null else { throw item.fail("must be a text, a number or true/false") }
                values.append(scalar)
            }
            return .predicate(path, .oneOf(values))
        case "glob":
            return .predicate(path, .glob(try patterns(value)))
        case "regex":
            guard let pattern = value.scalar?.stringValue, !pattern.isEmpty, pattern.count <= Subscription.maxPatternLength else {
                throw value.fail("must be a regular expression of 1 to \(Subscription.maxPatternLength) characters")
            }
            do {
                _ = try NSRegularExpression(pattern: pattern)
            } catch {
                throw value.fail("is not a valid regular expression (ICU syntax)")
            }
            return .predicate(path, .regex(pattern))
        case "exists":
            guard case .bool(let present) = value.scalar else { throw value.fail("must be true or false") }
            return .predicate(path, .exists(present))
        default:
            guard let comparison = FilterPredicate.Comparison(rawValue: test.key), let number = value.scalar?.numberValue, number.isFinite
            else { throw value.fail("must be a number") }
            return .predicate(path, .compare(comparison, number))
        }
    }

    public static func filterPath<Node: FilterNode>(_ text: String, _ node: Node) throws(Node.Failure) -> FilterPath {
        if text.hasPrefix("raw.") { return .raw(try dottedPath(String(text.dropFirst(4)), node)) }
        if text.hasPrefix("details.") { return .details(try dottedPath(String(text.dropFirst(8)), node)) }
        guard let field = FilterPath.EventField(rawValue: text) else {
            throw node.fail(
                "unknown path \"\(text)\" (raw.…, details.…, or one of: \(FilterPath.EventField.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return .event(field)
    }
}

/// The candidate `word` is most likely a typo of: at most two edits away, nearest first.
func closest(_ word: String, in candidates: [String]) -> String? {
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1]
            for (j, y) in b.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }
    let letters = Array(word.lowercased())
    guard letters.count <= 64 else { return nil }
    let scored = candidates.map { ($0, distance(letters, Array($0))) }.filter { $0.1 <= 2 }
    return scored.min { $0.1 < $1.1 }?.0
}

extension JSONValue {
    /// A number, or text that reads as one (`"300"`); nil otherwise.
    var numberValue: Double? {
        switch self {
        case .integer(let value): Double(value)
        case .number(let value): value
        case .string(let text): Double(text.trimmingCharacters(in: .whitespaces)).flatMap { $0.isFinite ? $0 : nil }
        default: nil
        }
    }
}

/// A rule file's YAML as a filter document.
extension YAMLValue: FilterNode {
    public func fail(_ message: String) -> YAMLError { error(message) }

    public func entries() throws(YAMLError) -> [(key: String, keyNode: YAMLValue, value: YAMLValue)]? {
        guard case .mapping = node else { return nil }
        return try mapping().entries.map { ($0.key, $0.keyValue, $0.value) }
    }

    public func elements() -> [YAMLValue]? { try? sequence() }

    /// Plain scalars read as YAML reads them (numbers, true/false, null); quoted ones as text.
    public var scalar: JSONValue? {
        guard case .scalar(let scalar) = node else { return nil }
        let text = scalar.string
        guard scalar.style == .plain else { return .string(text) }
        if isNull { return .null }
        if ["true", "True", "TRUE"].contains(text) { return .bool(true) }
        if ["false", "False", "FALSE"].contains(text) { return .bool(false) }
        if let integer = Int64(text) { return .integer(integer) }
        if text.contains(where: { $0.isNumber }), let number = Double(text), number.isFinite { return .number(number) }
        return .string(text)
    }
}

/// An API body's JSON as a filter document; errors name the field's path.
public struct JSONFilterNode: FilterNode {
    public let value: JSONValue
    public let path: String

    public init(_ value: JSONValue, path: String = "filter") {
        self.value = value
        self.path = path
    }

    public func fail(_ message: String) -> FieldError { FieldError(field: path, message: message) }

    public func entries() throws(FieldError) -> [(key: String, keyNode: JSONFilterNode, value: JSONFilterNode)]? {
        guard case .object(let fields) = value else { return nil }
        // JSON objects have no order: keys sorted, so errors and reads are stable.
        return fields.sorted { $0.key < $1.key }.map { key, value in
            let child = "\(path).\(key)"
            return (key, JSONFilterNode(.string(key), path: child), JSONFilterNode(value, path: child))
        }
    }

    public func elements() -> [JSONFilterNode]? {
        guard case .array(let items) = value else { return nil }
        return items.enumerated().map { JSONFilterNode($0.element, path: "\(path)[\($0.offset)]") }
    }

    public var scalar: JSONValue? {
        switch value {
        case .object, .array: nil
        default: value
        }
    }
}
