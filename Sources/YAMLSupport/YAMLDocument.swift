import Foundation
import Yams

/// A problem in a YAML file, located to the line: `rules/deploy.yaml:12:5: filter.typs: unknown key`.
public struct YAMLError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    /// The dotted path of the offending value (`rules[0].filter.types`), when known.
    public var path: String
    public var message: String

    public init(file: String, line: Int, column: Int, path: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.message = message
    }

    public var description: String {
        let location = line > 0 ? "\(file):\(line):\(column)" : file
        return path.isEmpty ? "\(location): \(message)" : "\(location): \(path): \(message)"
    }
}

/// A YAML value with where it came from, for loaders that must name the file, line and field of
/// every problem. Scalars are read as their text: `types: [yes]` means the type "yes".
public struct YAMLValue {
    public let node: Node
    public let file: String
    public let path: String

    public var line: Int { node.mark?.line ?? 0 }
    public var column: Int { node.mark?.column ?? 0 }

    /// Parses a whole file's text. An empty document is an empty mapping.
    public static func parse(_ text: String, file: String) throws(YAMLError) -> YAMLValue {
        do {
            guard let node = try Yams.compose(yaml: text) else {
                return YAMLValue(node: .mapping(Node.Mapping([])), file: file, path: "")
            }
            return YAMLValue(node: node, file: file, path: "")
        } catch let error as YamlError {
            throw YAMLValue.describe(error, file: file)
        } catch {
            throw YAMLError(file: file, line: 0, column: 0, path: "", message: "not valid YAML: \(error)")
        }
    }

    public static func load(contentsOf url: URL, displayName: String? = nil) throws(YAMLError) -> YAMLValue {
        let name = displayName ?? url.path
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw YAMLError(file: name, line: 0, column: 0, path: "", message: "cannot read the file: \(error.localizedDescription)")
        }
        return try parse(text, file: name)
    }

    public func error(_ message: String) -> YAMLError {
        YAMLError(file: file, line: line, column: column, path: path, message: message)
    }

    private func child(_ node: Node, _ component: String) -> YAMLValue {
        YAMLValue(node: node, file: file, path: path.isEmpty ? component : "\(path).\(component)")
    }

    // MARK: Shapes

    /// The keys and values of a mapping, in file order. Duplicate keys are an error.
    public func mapping() throws(YAMLError) -> YAMLMapping {
        guard case .mapping(let mapping) = node else { throw error("must be a mapping of keys to values") }
        var entries: [(key: String, keyValue: YAMLValue, value: YAMLValue)] = []
        var seen: [String: Int] = [:]
        for (keyNode, valueNode) in mapping {
            guard case .scalar(let scalar) = keyNode else {
                throw YAMLValue(node: keyNode, file: file, path: path).error("keys must be plain names")
            }
            let key = scalar.string
            let keyValue = YAMLValue(node: keyNode, file: file, path: path.isEmpty ? key : "\(path).\(key)")
            if let first = seen[key] {
                throw keyValue.error("duplicate key (first given on line \(first))")
            }
            seen[key] = keyValue.line
            entries.append((key, keyValue, child(valueNode, key)))
        }
        return YAMLMapping(owner: self, entries: entries)
    }

    public func sequence() throws(YAMLError) -> [YAMLValue] {
        guard case .sequence(let sequence) = node else { throw error("must be a list") }
        return sequence.enumerated().map { index, element in
            YAMLValue(node: element, file: file, path: "\(path)[\(index)]")
        }
    }

    public var isNull: Bool {
        if case .scalar(let scalar) = node {
            return scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
        }
        return false
    }

    public func string() throws(YAMLError) -> String {
        guard case .scalar(let scalar) = node, !isNull else { throw error("must be a single value (text)") }
        return scalar.string
    }

    public func nonEmptyString() throws(YAMLError) -> String {
        let text = try string()
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty else { throw error("must not be empty") }
        return text
    }

    /// A single value or a list of values, as a list. `null` or an empty list is an empty list.
    public func stringList() throws(YAMLError) -> [String] {
        if isNull { return [] }
        switch node {
        case .scalar: return [try string()]
        case .sequence:
            var result: [String] = []
            for element in try sequence() { result.append(try element.string()) }
            return result
        default: throw error("must be a value or a list of values")
        }
    }

    /// The name of an environment variable that holds a secret: capital letters, digits and `_`.
    public func environmentVariableName() throws(YAMLError) -> String {
        let name = try string()
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
        guard let first = name.first, first.isLetter || first == "_", name.allSatisfy({ allowed.contains($0) }) else {
            throw error("must name an environment variable (capital letters, digits and _), not \"\(name)\"")
        }
        return name
    }

    public func int(in range: ClosedRange<Int>) throws(YAMLError) -> Int {
        let text = try string()
        guard let value = Int(text) else { throw error("must be a whole number, not \"\(text)\"") }
        guard range.contains(value) else { throw error("must be between \(range.lowerBound) and \(range.upperBound)") }
        return value
    }

    public func bool() throws(YAMLError) -> Bool {
        switch try string().lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error("must be true or false")
        }
    }

    /// `500ms`, `30s`, `5m`, `2h`, or a bare number of seconds.
    public func duration(in range: ClosedRange<Duration>) throws(YAMLError) -> Duration {
        let text = try string()
        guard let value = DurationText.parse(text) else {
            throw error("must be a duration such as 500ms, 30s, 5m or 2h, not \"\(text)\"")
        }
        guard range.contains(value) else {
            throw error("must be between \(DurationText.format(range.lowerBound)) and \(DurationText.format(range.upperBound))")
        }
        return value
    }

    static func describe(_ error: YamlError, file: String) -> YAMLError {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let detail = [context?.text, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
            let hint = detail.contains("alias") || detail.contains("alphabetic or numeric")
                ? " (a value starting with * must be quoted: \"*\")" : ""
            return YAMLError(file: file, line: mark.line, column: mark.column, path: "", message: "not valid YAML: \(detail)\(hint)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return YAMLError(
                file: file, line: context.mark.line, column: context.mark.column, path: "",
                message: "duplicate key \(duplicates.joined(separator: ", "))")
        default:
            return YAMLError(file: file, line: 0, column: 0, path: "", message: "not valid YAML: \(error)")
        }
    }
}

/// A YAML mapping whose readers say which keys they know, so an unknown (misspelt) key is an error.
public struct YAMLMapping {
    public let owner: YAMLValue
    public let entries: [(key: String, keyValue: YAMLValue, value: YAMLValue)]

    public subscript(key: String) -> YAMLValue? {
        entries.first(where: { $0.key == key })?.value
    }

    public func require(_ key: String) throws(YAMLError) -> YAMLValue {
        guard let value = self[key], !value.isNull else { throw owner.error("\(key) is required") }
        return value
    }

    /// Fails on the first key not in `allowed`, naming the keys that are.
    public func allowOnly(_ allowed: [String]) throws(YAMLError) {
        for entry in entries where !allowed.contains(entry.key) {
            throw entry.keyValue.error("unknown key (expected one of: \(allowed.joined(separator: ", ")))")
        }
    }
}

/// Durations as people write them in config files.
public enum DurationText {
    public static func parse(_ text: String) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
            guard let number = Double(trimmed.dropLast(suffix.count)), number >= 0, number.isFinite else { return nil }
            return .milliseconds(Int64((number * scale * 1000).rounded()))
        }
        guard let seconds = Double(trimmed), seconds >= 0, seconds.isFinite else { return nil }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    public static func format(_ duration: Duration) -> String {
        let millis = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        if millis % 3_600_000 == 0, millis > 0 { return "\(millis / 3_600_000)h" }
        if millis % 60_000 == 0, millis > 0 { return "\(millis / 60_000)m" }
        if millis % 1000 == 0 { return "\(millis / 1000)s" }
        return "\(millis)ms"
    }
}
