import EventModel
import Foundation
import Testing

/// `CanonicalJSON` against Foundation's encoder with the event encoder's settings: the same bytes.
struct CanonicalJSONTests {
    static func foundation(_ value: JSONValue) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map(Array.init) ?? []
    }

    static func foundation(_ event: Event) throws -> [UInt8] { Array(try Event.makeEncoder().encode(event)) }

    static let keys = [
        "a", "B", "b", "A", "a10", "a9", "a09", "a1b", "A10", "_", "_a", "a_b", "ab", "a-b", "a.b", "Z", "z", "é", "e", "E", "f", "",
        " ", "0", "10", "9", "app_id", "appId", "app", "type_data", "typeData", "ÄB", "äa", "日本", "😀", "ß", "ss", "e\u{301}", "f", "\u{FB01}", "fi",
    ]

    static let strings = [
        "", "plain", "with \"quotes\" and \\ backslash", "slash/es", "new\nline", "tab\t", "cr\r", "bell\u{07}", "nul\u{0}",
        "del\u{7F}", "esc\u{1B}[0m", "\u{08}\u{0C}", "café ☃ 😀", "\u{2028}\u{2029}", "\u{FEFF}bom", "e\u{301}",
    ]

    static let numbers: [Double] = [
        0, -0.0, 1, -1, 1.5, 0.1, 0.30000000000000004, 1e20, 1e21, 1e-7, 123456789.125, .leastNonzeroMagnitude, 1.7976931348623157e308, 100, 2.5e-5,
        -3.25e10, 9007199254740992, 4.35, 1e16, 1e15 + 0.5,
    ]

    @Test func objectKeysAreSortedAsTheEncoderSortsThem() {
        // (`é` and `e\u{301}` are one key to a Swift dictionary: whichever it keeps is sorted by its bytes.)
        let object = JSONValue.object(Dictionary(Self.keys.map { ($0, JSONValue.integer(1)) }, uniquingKeysWith: { first, _ in first }))
        let decomposed = JSONValue.object(["e\u{301}": .integer(1), "f": .integer(2), "d": .integer(3)])
        #expect(CanonicalJSON.encode(decomposed) == Self.foundation(decomposed))
        #expect(CanonicalJSON.encode(object) == Self.foundation(object), "\(String(decoding: CanonicalJSON.encode(object), as: UTF8.self))")
    }

    @Test(arguments: strings)
    func stringsAreEscapedAsTheEncoderEscapesThem(text: String) {
        let value = JSONValue.array([.string(text), .object([text: .string(text)])])
        #expect(CanonicalJSON.encode(value) == Self.foundation(value), "\(text.debugDescription)")
    }

    @Test(arguments: numbers)
    func numbersAreWrittenAsTheEncoderWritesThem(number: Double) {
        let value = JSONValue.array([.number(number), .integer(Int64(clamping: Int(exactly: number.rounded()) ?? 0)), .integer(.min), .integer(.max)])
        #expect(CanonicalJSON.encode(value) == Self.foundation(value), "\(number)")
    }

    @Test(arguments: 0..<200)
    func randomDocumentsAreWrittenTheSame(seed: Int) throws {
        var rng = SeededRandom(seed: UInt64(seed) &+ 104_729)
        let value = Self.randomValue(depth: 0, using: &rng)
        #expect(CanonicalJSON.encode(value) == Self.foundation(value))
        // And as an event's raw document and details, with the optional fields on or off.
        let event = Event(
            source: "scalingo", feed: "prod", id: "ev-\(seed)", type: Self.strings.randomElement(using: &rng)!,
            category: Bool.random(using: &rng) ? .deployFailed : nil, time: Date(timeIntervalSince1970: 1_767_000_000.125),
            actor: Bool.random(using: &rng) ? Actor(id: "u", name: Self.strings.randomElement(using: &rng), email: nil) : nil,
            app: Bool.random(using: &rng) ? "web" : nil, appID: Bool.random(using: &rng) ? "a1" : nil, project: Bool.random(using: &rng) ? "p" : nil,
            projectID: nil, environment: Bool.random(using: &rng) ? "production" : nil, summary: Bool.random(using: &rng) ? "s" : nil,
            details: Bool.random(using: &rng) ? Self.randomValue(depth: 2, using: &rng) : nil, raw: value)
        #expect(CanonicalJSON.encode(event) == (try Self.foundation(event)))
    }

    @Test func everyRecordedPlatformDocumentIsWrittenTheSame() throws {
        let fixtures = try #require(Bundle.module.resourceURL?.appendingPathComponent("Fixtures"))
        var files = 0
        if let walker = FileManager.default.enumerator(at: fixtures, includingPropertiesForKeys: nil) {
            for case let url as URL in walker where url.pathExtension == "json" {
                let value = try JSONValue.parse(Array(try Data(contentsOf: url)))
                #expect(CanonicalJSON.encode(value) == Self.foundation(value), "\(url.lastPathComponent)")
                files += 1
            }
        }
        #expect(files >= 5)
    }

    static func randomValue(depth: Int, using rng: inout SeededRandom) -> JSONValue {
        switch Int.random(in: 0..<(depth > 3 ? 6 : 8), using: &rng) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &rng))
        case 2: return .integer(Int64.random(in: Int64.min...Int64.max, using: &rng) >> Int64.random(in: 0..<63, using: &rng))
        case 3:
            let number = numbers.randomElement(using: &rng)! * Double(Int.random(in: 1...1000, using: &rng)) / 8
            return .number(number.isFinite ? number : 1.5)
        case 4, 5: return .string(strings.randomElement(using: &rng)!)
        case 6: return .array((0..<Int.random(in: 0..<4, using: &rng)).map { _ in randomValue(depth: depth + 1, using: &rng) })
        default:
            var fields: [String: JSONValue] = [:]
            for _ in 0..<Int.random(in: 0..<6, using: &rng) { fields[keys.randomElement(using: &rng)!] = randomValue(depth: depth + 1, using: &rng) }
            return .object(fields)
        }
    }
}
