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
    ///
    /// Aliases (`*name`) are refused before the text is composed: expanding anchors that refer to
    /// anchors makes a kilobyte file billions of nodes, and these files have no need for them.
    public static func parse(_ text: String, file: String) throws(YAMLError) -> YAMLValue {
        if let alias = AliasScan.firstAlias(in: text) {
            throw YAMLError(
                file: file, line: alias.line, column: alias.column, path: "",
                message: "aliases (*\(alias.name)) are not supported: write the value out in full"
                    + " (a value starting with * must be quoted: \"*\(alias.name)\")")
        }
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

    /// About how deep libyaml lets lists and mappings nest (it refuses deeper documents, so
    /// composing, which recurses once per level, stays shallow).
    static let nestingLimit = 1000

    /// The largest file `load` reads: configuration and rule files are a few kilobytes.
    public static let maximumFileBytes = 1 << 20

    /// Reads and parses a file. Only a regular file of at most `maximumFileBytes` is read, so a
    /// device or a pipe given by mistake (`/dev/zero`, a FIFO) is refused rather than read forever.
    public static func load(contentsOf url: URL, displayName: String? = nil) throws(YAMLError) -> YAMLValue {
        let name = displayName ?? url.path
        func failure(_ message: String) -> YAMLError { YAMLError(file: name, line: 0, column: 0, path: "", message: message) }
        var info = stat()
        guard stat(url.path, &info) == 0 else {
            throw failure("cannot read the file: \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else { throw failure("is not a regular file") }
        let tooLarge = "is larger than \(maximumFileBytes / 1024) KiB"
        guard Int64(info.st_size) <= Int64(maximumFileBytes) else { throw failure(tooLarge) }
        let bytes: Data
        do {
            let handle = try FileHandle(forReadingFrom: url)
            defer { try? handle.close() }
            bytes = try handle.read(upToCount: maximumFileBytes + 1) ?? Data()
        } catch {
            throw failure("cannot read the file: \(error.localizedDescription)")
        }
        guard bytes.count <= maximumFileBytes else { throw failure(tooLarge) }
        guard let text = String(bytes: bytes, encoding: .utf8) else { throw failure("cannot read the file: it is not UTF-8 text") }
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
            // Not quoted: what was written there may be the secret itself.
            throw error("must name an environment variable (capital letters, digits and _); put the value itself in the environment")
        }
        return name
    }

    /// A whole number in `range`. Anything else, a number too large for an `Int` (`1e30`,
    /// `99999999999999999999`) included, is an error naming the range.
    public func int(in range: ClosedRange<Int>) throws(YAMLError) -> Int {
        let text = try string()
        let bounds = "between \(range.lowerBound) and \(range.upperBound)"
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
            var digits = Substring(text.trimmingCharacters(in: .whitespaces))
            if digits.first == "-" || digits.first == "+" { digits = digits.dropFirst() }
            if !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) {
                throw error("must be \(bounds), not \"\(text)\"")
            }
            throw error("must be a whole number \(bounds), not \"\(text)\"")
        }
        guard range.contains(value) else { throw error("must be \(bounds), not \(value)") }
        return value
    }

    public func bool() throws(YAMLError) -> Bool {
        switch try string().lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error("must be true or false")
        }
    }

    /// `500ms`, `30s`, `5m`, `2h`, or a bare number of seconds, in `range`. Negative, huge
    /// (`1e300s`) and non-numeric values are errors naming the range.
    public func duration(in range: ClosedRange<Duration>) throws(YAMLError) -> Duration {
        let text = try string()
        let bounds = "between \(DurationText.format(range.lowerBound)) and \(DurationText.format(range.upperBound))"
        switch DurationText.read(text) {
        case .duration(let value) where range.contains(value):
            return value
        case .duration, .outOfRange:
            throw error("must be \(bounds), not \"\(text)\"")
        case .invalid:
            throw error("must be a duration such as 500ms, 30s, 5m or 2h (\(bounds)), not \"\(text)\"")
        }
    }

    static func describe(_ error: YamlError, file: String) -> YAMLError {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let detail = [context?.text, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
            if detail.contains("Maximum nesting level") {
                return YAMLError(
                    file: file, line: mark.line, column: mark.column, path: "",
                    message: "not valid YAML: lists and mappings are nested too deeply (the limit is about \(nestingLimit) levels)")
            }
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

/// Durations as people write them in config files: a decimal number (`1.5`, `2e3`) and a unit
/// (`ms`, `s`, `m`, `h`, `d`; none means seconds), to the millisecond.
public enum DurationText {
    /// The longest duration read, 100 years: larger values are refused before any conversion,
    /// so no text can overflow the arithmetic.
    public static let maximum: Duration = .seconds(100 * 365 * 86400)

    public enum Reading: Equatable, Sendable {
        case duration(Duration)
        /// A number, but negative or longer than `maximum`.
        case outOfRange
        /// Not a number with a known unit (`soon`, `5 weeks`, `nan`, `inf`).
        case invalid
    }

    public static func read(_ text: String) -> Reading {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(suffix: String, milliseconds: Double)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        let unit = units.first { trimmed.hasSuffix($0.suffix) }
        let digits = unit.map { String(trimmed.dropLast($0.suffix.count)) } ?? trimmed
        guard isDecimal(digits), let number = Double(digits), !number.isNaN else { return .invalid }
        let scale = unit?.milliseconds ?? 1000
        let limit = Double(maximum.components.seconds) * 1000
        // Compared before multiplying or converting: 1e300, 1e400 (infinite) and 99999999999999999999 stop here.
        guard number >= 0, number <= limit / scale else { return .outOfRange }
        return .duration(.milliseconds(Int64((number * scale).rounded())))
    }

    public static func parse(_ text: String) -> Duration? {
        if case .duration(let value) = read(text) { return value }
        return nil
    }

    /// Digits with at most one point and an optional exponent (`-` allowed in front, to be
    /// reported as out of range rather than as not a number); no `inf`, `nan` or hexadecimal.
    private static func isDecimal(_ text: String) -> Bool {
        var rest = Substring(text)
        if rest.first == "-" || rest.first == "+" { rest = rest.dropFirst() }
        var mantissa = rest
        var exponent: Substring?
        if let e = rest.firstIndex(of: "e") {
            mantissa = rest[..<e]
            exponent = rest[rest.index(after: e)...]
        }
        let isDigit: (Character) -> Bool = { $0.isASCII && $0.isNumber }
        guard mantissa.contains(where: isDigit), mantissa.filter({ $0 == "." }).count <= 1,
              mantissa.allSatisfy({ isDigit($0) || $0 == "." })
        else { return false }
        if var exponent {
            if exponent.first == "-" || exponent.first == "+" { exponent = exponent.dropFirst() }
            guard !exponent.isEmpty, exponent.allSatisfy(isDigit) else { return false }
        }
        return true
    }

    /// In the largest whole unit: `2m`, `90s`, `1500ms`. Saturates rather than traps for
    /// durations beyond what milliseconds in an Int64 hold.
    public static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        let (sum, sumOverflow) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000_000_000)
        let millis = overflow || sumOverflow ? (seconds < 0 ? Int64.min : Int64.max) : sum
        if millis % 3_600_000 == 0, millis > 0 { return "\(millis / 3_600_000)h" }
        if millis % 60_000 == 0, millis > 0 { return "\(millis / 60_000)m" }
        if millis % 1000 == 0 { return "\(millis / 1000)s" }
        return "\(millis)ms"
    }
}
