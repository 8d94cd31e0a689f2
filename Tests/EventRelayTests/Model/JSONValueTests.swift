import EventModel
import Testing

@Suite("JSONValue reads each JSON type as itself")
struct JSONValueTests {
    @Test func everyKindKeepsItsType() throws {
        let parsed = try JSONValue.parse(Array(#"[true, false, 1, -3, 1.5, "1", "true", null, {"a": [false, "x"]}, [], {}, 9007199254740993]"#.utf8))
        #expect(parsed == .array([
            .bool(true), .bool(false), .integer(1), .integer(-3), .number(1.5), .string("1"), .string("true"), .null,
            .object(["a": .array([.bool(false), .string("x")])]), .array([]), .object([:]), .integer(9_007_199_254_740_993),
        ]))
    }
}
