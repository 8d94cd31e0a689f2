import Foundation

/// A JSON document kept as data: the source's raw event travels through the relay unchanged,
/// whatever fields or types it holds (unknown ones included).
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public subscript(key: String) -> JSONValue? {
        if case .object(let fields) = self { return fields[key] }
        return nil
    }

    /// Follows a dotted path (`type_data.status`) through nested objects.
    public func value(atPath path: String) -> JSONValue? {
        value(atPath: path.split(separator: Character("."), omittingEmptySubsequences: false).map { String($0) })
    }

    /// Follows path components through nested objects (split once, looked up many times).
    public func value(atPath components: [String]) -> JSONValue? {
        var current = self
        for component in components {
            guard case .object(let fields) = current, let next = fields[component] else { return nil }
            current = next
        }
        return current
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let value) = self { return value }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    public var intValue: Int64? {
        switch self {
        case .integer(let value): return value
        case .number(let value) where value.rounded() == value && abs(value) < 9e15: return Int64(value)
        case .string(let value): return Int64(value)
        default: return nil
        }
    }

    public var isNull: Bool { self == .null }

    /// The scalar rendered as text, for matching and display (`true`, `40`, `build-error`).
    public var scalarText: String? {
        switch self {
        case .string(let value): return value
        case .integer(let value): return String(value)
        case .number(let value): return String(value)
        case .bool(let value): return value ? "true" : "false"
        case .null, .array, .object: return nil
        }
    }
}

extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        // The decoder says a value's type only by failing, and each failure costs an error: the
        // commonest kinds are tried first (strings, then numbers, then objects), which made
        // reading an event's `raw` document about a quarter faster. Each kind decodes only from
        // its own JSON type, so the order does not change what is read.
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode([String: JSONValue].self) {
            self = .object(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a JSON value")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

extension JSONValue {
    /// Parses a complete JSON document (`JSONReader`). Throws `JSONParseError` with a readable reason.
    public static func parse(_ bytes: some Collection<UInt8>) throws -> JSONValue {
        try JSONReader.parse(bytes)
    }

    /// Compact JSON with sorted keys: the same value always gives the same bytes.
    public func encoded(pretty: Bool = false) -> [UInt8] {
        guard pretty else { return CanonicalJSON.encode(self) }  // The same bytes as the encoder's, faster.
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted] : [.sortedKeys, .withoutEscapingSlashes]
        // Encoding a JSONValue cannot fail: every case maps to a JSON primitive or container.
        // NaN/infinity cannot arrive through the decoder; guard anyway and fall back to null.
        guard let data = try? encoder.encode(self) else { return Array("null".utf8) }
        return Array(data)
    }
}

public struct JSONParseError: Error, CustomStringConvertible, Sendable {
    public let reason: String
    public var description: String { reason }
}
