import Foundation

/// Writes JSON byte for byte as `Event.makeEncoder()` does (compact, keys sorted by their
/// UTF-8 bytes, `/` unescaped), without going through `JSONEncoder` and Codable's
/// containers: the canonical form an event is stored in (`StoredEvent`). A differential test
/// holds it to the encoder's output for every recorded fixture and for random documents; what
/// it cannot be sure to write the same way (a control character other than the common ones)
/// it hands to the encoder.
public enum CanonicalJSON {
    /// The event as `Event.makeEncoder().encode(event)` writes it.
    public static func encode(_ event: Event) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(1024)
        out.append(UInt8(ascii: "{"))
        var first = true
        for key in eventKeyOrder {
            let value: Member?
            switch key {
            case .source: value = .string(event.source)
            case .feed: value = .string(event.feed)
            case .id: value = .string(event.id)
            case .type: value = .string(event.type)
            case .category: value = event.category.map { .string($0.rawValue) }
            case .time: value = .string(Timestamp.format(event.time))
            case .actor: value = event.actor.map { .json(actorValue($0)) }
            case .app: value = event.app.map(Member.string)
            case .appID: value = event.appID.map(Member.string)
            case .project: value = event.project.map(Member.string)
            case .projectID: value = event.projectID.map(Member.string)
            case .environment: value = event.environment.map(Member.string)
            case .summary: value = .string(event.summary)
            case .details: value = event.details.map(Member.json)
            case .raw: value = .json(event.raw)
            }
            guard let value else { continue }
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            appendString(key.name, to: &out)
            out.append(UInt8(ascii: ":"))
            switch value {
            case .string(let text): appendString(text, to: &out)
            case .json(let json): append(json, to: &out)
            }
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// The value as `JSONValue.encoded()` writes it (the same settings as the event encoder's).
    public static func encode(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        append(value, to: &out)
        return out
    }

    public static func append(_ value: JSONValue, to out: inout [UInt8]) {
        switch value {
        case .null: out += "null".utf8
        case .bool(let flag): out += (flag ? "true" : "false").utf8
        case .integer(let number): out += String(number).utf8
        case .number(let number): appendDouble(number, to: &out)
        case .string(let text): appendString(text, to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                append(item, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let fields):
            out.append(UInt8(ascii: "{"))
            // Sorted as pairs: no second hash lookup per key.
            var first = true
            for (key, member) in fields.sorted(by: { keyOrder($0.key, $1.key) }) {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                appendString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                append(member, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// A quoted string: `"` and `\` escaped, the common control characters by their short
    /// escapes, everything else (UTF-8 included) as it is.
    public static func appendString(_ text: String, to out: inout [UInt8]) {
        let start = out.count
        out.append(UInt8(ascii: "\""))
        var text = text
        if text.withUTF8({ appendEscaped($0, to: &out) }) {
            out.append(UInt8(ascii: "\""))
        } else {
            out.removeSubrange(start...)
            out += encoderString(text)
        }
    }

    /// False when a byte needs an escape this writer does not make the way the encoder does.
    private static func appendEscaped(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) -> Bool {
        var plainFrom = 0
        for (index, byte) in bytes.enumerated() {
            let escape: StaticString
            switch byte {
            case UInt8(ascii: "\""): escape = "\\\""
            case UInt8(ascii: "\\"): escape = "\\\\"
            case 0x0A: escape = "\\n"
            case 0x0D: escape = "\\r"
            case 0x09: escape = "\\t"
            case 0x08: escape = "\\b"
            case 0x0C: escape = "\\f"
            case 0x00..<0x20, 0x7F: return false
            default: continue
            }
            out += UnsafeBufferPointer(rebasing: bytes[plainFrom..<index])
            out += UnsafeBufferPointer(start: escape.utf8Start, count: escape.utf8CodeUnitCount)
            plainFrom = index + 1
        }
        out += UnsafeBufferPointer(rebasing: bytes[plainFrom...])
        return true
    }

    /// The encoder's own rendering of a string, quotes included (rare control characters).
    private static func encoderString(_ text: String) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode([text]) else { return Array("\"\"".utf8) }
        return Array(data.dropFirst().dropLast())
    }

    /// As the encoder writes a Double: its shortest round-trip text, without a trailing `.0`.
    static func appendDouble(_ value: Double, to out: inout [UInt8]) {
        guard value.isFinite else {
            out += "null".utf8  // Cannot arrive from JSON; `encoded()` falls back the same way.
            return
        }
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        out += text.utf8
    }

    /// The order `.sortedKeys` puts keys in: by their UTF-8 bytes (not Swift's `<`, which compares
    /// normalized text and orders a decomposed `e\u{301}` after `f`).
    static func keyOrder(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    private enum Member {
        case string(String)
        case json(JSONValue)
    }

    /// `Actor` as it encodes itself: its fields that are set.
    private static func actorValue(_ actor: Actor) -> JSONValue {
        var fields: [String: JSONValue] = [:]
        if let id = actor.id { fields["id"] = .string(id) }
        if let name = actor.name { fields["name"] = .string(name) }
        if let email = actor.email { fields["email"] = .string(email) }
        return .object(fields)
    }

    private enum EventKey: CaseIterable {
        case source, feed, id, type, category, time, actor, app, appID, project, projectID, environment, summary, details, raw

        var name: String {
            switch self {
            case .appID: return "app_id"
            case .projectID: return "project_id"
            default: return "\(self)"
            }
        }
    }

    /// Event's keys in sorted order, worked out once.
    private static let eventKeyOrder: [EventKey] = EventKey.allCases.sorted { keyOrder($0.name, $1.name) }
}
