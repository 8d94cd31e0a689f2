@testable import AdminAPI
import EventModel
import Foundation
import Testing

/// The relay format's one-pass reader (`JSONReader`, then the tree into events) against the
/// same rules written as Decodable (`JSONDecoder`): the same events for every body, or both refusing.
struct RelayBatchTests {
    static let base: [String: JSONValue] = [
        "source": .string("scalingo"), "feed": .string("prod"), "id": .string("ev-1"), "type": .string("deployment"),
        "category": .string("deploy.failed"), "time": .string("2026-01-02T03:04:05.678Z"),
        "actor": .object(["id": .string("u1"), "name": .string("ann"), "email": .string("ann@example.com")]),
        "app": .string("web"), "app_id": .string("a1"), "project": .string("shop"), "project_id": .string("p1"),
        "environment": .string("production"), "summary": .string("Deployment of web failed"),
        "details": .object(["status": .string("build-error")]), "raw": .object(["id": .string("ev-1"), "n": .integer(3)]),
    ]

    static let replacements: [JSONValue] = [
        .null, .integer(7), .number(1.5), .bool(true), .string(""), .string("x"), .string("deploy.succeeded"), .array([]), .object([:]),
        .object(["username": .string("bob")]), .object(["name": .null, "username": .string("bob")]), .object(["name": .integer(1)]),
        .object(["username": .integer(1)]), .object(["name": .string("n"), "username": .integer(1)]), .string("2026-13-45T99:00:00Z"),
        .string("2026-01-02T03:04:05Z"),
    ]

    static func agree(_ body: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        let reference = RelayBatch.decodeWithFoundation(body)
        let read = RelayBatch.decode(body)
        #expect(read == reference, "\(String(decoding: body, as: UTF8.self))", sourceLocation: sourceLocation)
    }

    static func bytes(_ value: JSONValue) -> [UInt8] { value.encoded() }

    @Test func aWellFormedEventReadsTheSameAndIsAccepted() {
        let body = Self.bytes(.object(Self.base))
        Self.agree(body)
        #expect(RelayBatch.decode(body)?.first?.actor?.name == "ann")
    }

    @Test(arguments: Array(base.keys).sorted())
    func everyFieldAbsentOrOfEveryTypeReadsTheSame(key: String) {
        var without = Self.base
        without[key] = nil
        Self.agree(Self.bytes(.object(without)))
        for replacement in Self.replacements {
            var changed = Self.base
            changed[key] = replacement
            Self.agree(Self.bytes(.object(changed)))
            // The same item carried by a webhook body, and in each batch form.
            Self.agree(Self.bytes(.object(["event": .object(changed), "raw": .object(["outer": .bool(true)])])))
            Self.agree(Self.bytes(.array([.object(Self.base), .object(changed)])))
            Self.agree(Self.bytes(.object(["events": .array([.object(changed)])])))
        }
    }

    @Test func carriedEventsPagesAndOddShapesReadTheSame() {
        var rawless = Self.base
        rawless["raw"] = nil
        let bodies: [JSONValue] = [
            .object(["event": .object(rawless), "raw": .object(["outer": .bool(true)])]),
            .object(["event": .object(rawless), "raw": .null]),
            .object(["event": .object(Self.base), "raw": .object(["outer": .bool(true)])]),
            .object(["event": .null]), .object(["event": .integer(1)]), .object(["id": .null, "event": .object(Self.base)]),
            .object(["events": .null]), .object(["events": .array([])]), .object(["events": .object(Self.base)]), .array([]),
            .array([.integer(1)]), .array([.null]), .string("x"), .integer(1), .null,
            .object(["events": .array([.object(Self.base), .object(["event": .object(rawless)])])]),
        ]
        for body in bodies { Self.agree(Self.bytes(body)) }
        for text in ["", "  ", "[", "{\"events\":[", "not json", "[{}]"] { Self.agree(Array(text.utf8)) }
        // A repeated key: both keep the same one.
        Self.agree(Array(#"{"source":"a","source":"scalingo","id":"1","type":"t","time":"2026-01-02T03:04:05Z","id":"2"}"#.utf8))
    }
}
