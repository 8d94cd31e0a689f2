import EventModel
import Foundation
import Testing

/// `JSONReader` against Foundation's `JSONDecoder` reading the same bytes into `JSONValue`: the
/// same value, or both refusing. The reference is what the relay used before the reader.
struct JSONReaderTests {
    static func reference(_ bytes: [UInt8]) -> JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }

    static func agree(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        agree(Array(text.utf8), sourceLocation: sourceLocation)
    }

    static func agree(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        let expected = reference(bytes)
        let read = try? JSONReader.parse(bytes)
        #expect(read == expected, "\(String(decoding: bytes, as: UTF8.self).debugDescription)", sourceLocation: sourceLocation)
    }

    @Test(arguments: [
        // Numbers, every shape the grammar allows and several it does not.
        "0", "-0", "1", "-1", "42", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
        "-9223372036854775809", "18446744073709551616", "1.0", "-1.0", "1.5", "0.1", "1e3", "1E3", "1e+3", "1e-3", "-0.0",
        "2.5e10", "1.7976931348623157e308", "1e400", "-1e400", "4.9e-324", "1e-400", "123456789012345678901234567890",
        "0.30000000000000004", "100000000000000000000", "9007199254740993", "01", "-", "+1", ".5", "1.", "1e", "1e+", "--1",
        "0x10", "NaN", "Infinity", "1.0e0", "12.340", "-0e5", "9007199254740993.0", "12345678901234567.8",
        "-9223372036854775808.0", "9223372036854775807.5", "1.5e17", "-4.2e18", "9.3e18", "123456789012345678e-1", "9007199254740992.0",
        // Strings and escapes.
        #""""#, #""plain""#, #""\"\\\/\b\f\n\r\t""#, #""\u0041\u00e9\u20ac""#, #""\ud83d\ude00""#, #""\uD83D\uDE00""#,
        #""\ud83d""#, #""\ude00""#, #""\ud83dx""#, #""\ud83d\u0041""#, #""\u00""#, #""\uZZZZ""#, #""\x""#, "\"tab\there\"",
        "\"new\nline\"", "\"caf\u{e9} \u{2603} \u{1F600}\"", #""unterminated"#, #""\u0000""#, "\"\u{7F}\"",
        // Literals and structure.
        "true", "false", "null", "tru", "nul", "True", "[]", "{}", "[1,2,3]", "[1,]", "[1,,]", "[,]", "[,1]", "[1 2]", "{\"a\":1,}", "{,}", "{\"a\":1,,}", "{\"a\" 1}",
        "{a:1}", "{\"a\":1,\"a\":2}", "{\"b\":[{\"c\":null}],\"a\":{}}", " \n\t[ 1 , { \"k\" : \"v\" } ]\r\n ", "[1]x", "", "  ",
        "[[[[[]]]]]", "{\"\":\"\"}", "{\"a\":1}{}", "[\"a\",true,false,null,1.25,-3]", "\u{FEFF}{}",
    ])
    func readsWhatFoundationReads(document: String) {
        Self.agree(document)
    }

    @Test func aRepeatedKeyKeepsItsFirstValue() throws {
        Self.agree(#"{"a":1,"b":{"c":2,"c":[3]},"a":"two"}"#)
        #expect(try JSONReader.parse(Array(#"{"a":1,"a":2}"#.utf8)) == .object(["a": .integer(1)]))
    }

    /// Where the reader is stricter: Foundation checks a string's escapes only when the string is
    /// read, so an ignored repeated key's broken value passes there; here the document is refused.
    @Test func aBrokenEscapeIsRefusedEvenInAValueNobodyReads() {
        let bytes = Array(#"{"a":1,"a":"\x"}"#.utf8)
        #expect(Self.reference(bytes) == .object(["a": .integer(1)]))
        #expect(throws: JSONParseError.self) { try JSONReader.parse(bytes) }
    }

    @Test func invalidUTF8IsRefusedLikeFoundation() {
        Self.agree([0x22, 0xFF, 0x22])
        Self.agree([0x22, 0xC3, 0x22])  // a lead byte without its continuation
        Self.agree([0x22, 0xED, 0xA0, 0x80, 0x22])  // an encoded surrogate
        Self.agree([0x22, 0xC3, 0xA9, 0x22])  // é, valid
        Self.agree([0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D])  // in a key
    }

    @Test func nestingIsBoundedAsFoundationBoundsIt() {
        for depth in [100, 511, 512, 513, 600] {
            Self.agree(String(repeating: "[", count: depth) + String(repeating: "]", count: depth))
            Self.agree(String(repeating: "{\"a\":", count: depth) + "1" + String(repeating: "}", count: depth))
        }
    }

    @Test func everyRecordedPlatformDocumentReadsTheSame() throws {
        let fixtures = try #require(Bundle.module.resourceURL?.appendingPathComponent("Fixtures"))
        var files = 0
        if let walker = FileManager.default.enumerator(at: fixtures, includingPropertiesForKeys: nil) {
            for case let url as URL in walker where url.pathExtension == "json" {
                let bytes = Array(try Data(contentsOf: url))
                #expect((try? JSONReader.parse(bytes)) == Self.reference(bytes), "\(url.lastPathComponent)")
                files += 1
            }
        }
        #expect(files >= 5)
    }

    @Test(arguments: 0..<200)
    func randomDocumentsReadTheSame(seed: Int) {
        var rng = SeededRandom(seed: UInt64(seed) &+ 7919)
        let document = Self.randomDocument(depth: 0, using: &rng)
        Self.agree(document)
        // And the same document damaged at one byte.
        var bytes = Array(document.utf8)
        if !bytes.isEmpty {
            let at = Int.random(in: 0..<bytes.count, using: &rng)
            bytes[at] = [UInt8(ascii: "\""), UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "\\"), 0x00, 0xC3].randomElement(using: &rng)!
            Self.agree(bytes)
        }
    }

    static func randomDocument(depth: Int, using rng: inout SeededRandom) -> String {
        let pick = Int.random(in: 0..<(depth > 4 ? 6 : 8), using: &rng)
        switch pick {
        case 0: return "null"
        case 1: return Bool.random(using: &rng) ? "true" : "false"
        case 2: return String(Int64.random(in: Int64.min...Int64.max, using: &rng) >> Int64.random(in: 0..<63, using: &rng))
        case 3:
            let forms = ["\(Double.random(in: -1e6...1e6, using: &rng))", "\(Int.random(in: -99...99, using: &rng)).\(Int.random(in: 0...999, using: &rng))e\(Int.random(in: -30...30, using: &rng))", "1.0", "-0.5"]
            return forms.randomElement(using: &rng)!
        case 4, 5:
            let pieces = ["a", "Z", " ", "\\\"", "\\\\", "\\n", "\\u00e9", "\\ud83d\\ude00", "é", "€", "😀", "/", "\\/", "\\t", "0"]
            return "\"" + (0..<Int.random(in: 0..<8, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined() + "\""
        case 6:
            return "[" + (0..<Int.random(in: 0..<5, using: &rng)).map { _ in randomDocument(depth: depth + 1, using: &rng) }.joined(separator: ",") + "]"
        default:
            // Distinct keys: a repeated key's ignored value is never read by Foundation (see above).
            let keys = ["id", "type", "a", "B", "a10", "a9", "é", "", "x y"].shuffled(using: &rng).prefix(Int.random(in: 0..<5, using: &rng))
            return "{" + keys.map { key in
                "\"\(key)\" : " + randomDocument(depth: depth + 1, using: &rng)
            }.joined(separator: " ,") + "}"
        }
    }
}
