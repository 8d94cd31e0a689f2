import Foundation

/// An event as the store keeps it: its JSON (`Event`'s canonical encoding, `Event.makeEncoder()`:
/// sorted keys, the source's document under `raw`), read once per claim and never decoded on the
/// way to a webhook, whose body splices these bytes (`normalized` and `raw`) around a small
/// per-delivery part. Notifiers that need the fields (Slack) decode it with `decoded()`.
public struct StoredEvent: Sendable, Hashable {
    public let source: String
    public let id: String
    /// The event's type (a sender decides by it whether the event must be decoded to be redacted).
    public let type: String
    /// The whole event, as `Event.makeEncoder()` writes it.
    public let json: [UInt8]
    /// Where the top-level `"raw":<value>` member lies in `json`, with one comma beside it (so
    /// removing it leaves valid JSON), and where its value lies. Nil: the event has no `raw`.
    private let rawMember: Range<Int>?
    private let rawValue: Range<Int>?

    public var key: String { "\(source):\(id)" }

    /// Bytes written by `Event.makeEncoder()` (the store's canonical form); nil when they are not
    /// one JSON object.
    public init?(source: String, id: String, type: String, canonicalJSON json: [UInt8]) {
        guard let (member, value) = JSONScan.topLevelMember("raw", in: json) else { return nil }
        self.source = source
        self.id = id
        self.type = type
        self.json = json
        rawMember = member
        rawValue = value
    }

    /// Encodes an event in the canonical form (`CanonicalJSON`: the encoder's bytes, without it).
    public init(_ event: Event) throws {
        let bytes = CanonicalJSON.encode(event)
        guard let stored = StoredEvent(source: event.source, id: event.id, type: event.type, canonicalJSON: bytes) else {
            throw EncodingError.invalidValue(event, .init(codingPath: [], debugDescription: "an encoded event is not a JSON object"))
        }
        self = stored
    }

    /// The normalized fields without `raw` (a JSON object, keys sorted), appended to `out`.
    public func appendNormalized(to out: inout [UInt8]) {
        guard let rawMember else {
            out += json
            return
        }
        out += json[..<rawMember.lowerBound]
        out += json[rawMember.upperBound...]
    }

    /// The source's own document (`{}` when the event has none), appended to `out`.
    public func appendRaw(to out: inout [UInt8]) {
        if let rawValue { out += json[rawValue] } else { out += Array("{}".utf8) }
    }

    public func decoded() throws -> Event {
        guard case .object(let fields) = try JSONReader.parse(json), let event = Event(json: fields) else {
            throw JSONParseError(reason: "the stored event \(key) is not an event")
        }
        return event
    }
}

/// Just enough JSON reading to find a top-level member's bytes in an object (no decoding).
enum JSONScan {
    /// `member`: the member `"name":value` plus the comma after it (or, for the last member,
    /// the one before it); `value`: its value. nil member and value when there is no such member;
    /// nil result when `bytes` is not a well-formed-looking object.
    static func topLevelMember(_ name: String, in bytes: [UInt8]) -> (member: Range<Int>?, value: Range<Int>?)? {
        let wanted = Array(name.utf8)
        var index = skipSpace(bytes, 0)
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { return nil }
        index += 1
        var previousEnd: Int?  // just after the previous member's value
        while true {
            index = skipSpace(bytes, index)
            guard index < bytes.count else { return nil }
            if bytes[index] == UInt8(ascii: "}") { return (nil, nil) }
            if bytes[index] == UInt8(ascii: ",") { index = skipSpace(bytes, index + 1) }
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
            let keyStart = index
            guard let keyEnd = skipString(bytes, index) else { return nil }
            let matches = keyEnd - keyStart - 2 == wanted.count && bytes[(keyStart + 1)..<(keyEnd - 1)].elementsEqual(wanted)
            index = skipSpace(bytes, keyEnd)
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return nil }
            let valueStart = skipSpace(bytes, index + 1)
            guard let valueEnd = skipValue(bytes, valueStart) else { return nil }
            if matches {
                let after = skipSpace(bytes, valueEnd)
                guard after < bytes.count else { return nil }
                if bytes[after] == UInt8(ascii: ",") { return (keyStart..<(after + 1), valueStart..<valueEnd) }
                // The last member: take the comma before it, if any.
                return ((previousEnd ?? keyStart)..<valueEnd, valueStart..<valueEnd)
            }
            previousEnd = valueEnd
            index = valueEnd
        }
    }

    private static func skipSpace(_ bytes: [UInt8], _ start: Int) -> Int {
        var index = start
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 { index += 1 }
        return index
    }

    /// Index just after the string starting at `start` (a quote).
    private static func skipString(_ bytes: [UInt8], _ start: Int) -> Int? {
        var index = start + 1
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\\"): index += 2
            case UInt8(ascii: "\""): return index + 1
            default: index += 1
            }
        }
        return nil
    }

    /// Index just after the value starting at `start`.
    private static func skipValue(_ bytes: [UInt8], _ start: Int) -> Int? {
        guard start < bytes.count else { return nil }
        switch bytes[start] {
        case UInt8(ascii: "\""):
            return skipString(bytes, start)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            var index = start
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "\""):
                    guard let end = skipString(bytes, index) else { return nil }
                    index = end
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { return index + 1 }
                default:
                    break
                }
                index += 1
            }
            return nil
        default:
            var index = start
            while index < bytes.count, ![UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x0A, 0x0D, 0x09].contains(bytes[index]) {
                index += 1
            }
            return index > start ? index : nil
        }
    }
}
