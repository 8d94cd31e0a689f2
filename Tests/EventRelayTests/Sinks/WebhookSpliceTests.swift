import EventModel
import Foundation
@testable import Sinks
import Testing

/// Webhook bodies are spliced from the stored event's bytes; they must be exactly what
/// Foundation's encoder makes of the same document.
@Suite("Webhook bodies spliced from stored events")
struct WebhookSpliceTests {
    static let t0 = Date(timeIntervalSince1970: 1_700_000_000.5)  // exact in milliseconds, as stored

    static let events: [Event] = [
        SlackMessageTests.deployment(status: "crashed-error"),
        // No raw document at all, no optional fields.
        Event(source: "qovery", feed: "q", id: "1", type: "DEPLOY_FAILED", time: t0, raw: .object([:])),
        // A `raw` key nested in fields sorted before the top-level one, quotes, backslashes, unicode, slashes.
        Event(
            source: "escapekit", feed: "e/1", id: "a\"b\\c", type: "scan.finished", category: .deploySucceeded, time: t0,
            actor: Actor(name: "Zoë \"z\" <z@x>"), app: "ąpp/ü", appID: "ap-1", project: "p", projectID: "pj", environment: "prod",
            summary: "line\nbreak\ttab \u{1}", details: .object(["raw": .object(["raw": .string("}{\"")]), "x": .array([.null, .bool(true)])]),
            raw: .object(["z": .number(1.5), "raw": .string("inner"), "a": .array([.string("]"), .object([:])])])),
        // raw that is not an object.
        Event(source: "s", feed: "f", id: "2", type: "t", time: t0, raw: .array([.integer(1), .string("raw")])),
    ]

    static let contexts: [DeliveryContext] = [
        DeliveryContext(deliveryID: "dlv_0000018bcfe5680a1b2c3d4e5f607182", subscriptionID: "hook", matchedBy: "rule:x", attempt: 1, now: t0),
        DeliveryContext(deliveryID: "dlv_\"quoted\"", subscriptionID: "hôök/1", matchedBy: "subscription:a\\b\u{7}", attempt: 2, now: t0),
    ]

    @Test(arguments: events)
    func splicedBodyIsTheEncodersBody(_ event: Event) throws {
        let stored = try StoredEvent(event)
        #expect(try stored.decoded() == event)
        for context in Self.contexts {
            let spliced = WebhookPayload.body(stored, context: context)
            #expect(spliced == WebhookPayload.encodedBody(event, context: context), "\(String(decoding: spliced, as: UTF8.self))")
        }
    }

    @Test func theStoredBytesAreTheEventsCanonicalJSON() throws {
        for event in Self.events {
            #expect(try StoredEvent(event).json == Array(Event.makeEncoder().encode(event)))
        }
    }

    @Test func storedBytesThatAreNotAnObjectAreRefused() {
        for text in ["", "[]", "{", #"{"raw":"#, #"{"a" 1}"#, #"{"raw":[1,2}"#, "null"] {
            #expect(StoredEvent(source: "s", id: "1", type: "t", canonicalJSON: Array(text.utf8)) == nil, "\(text)")
        }
        #expect(StoredEvent(source: "s", id: "1", type: "t", canonicalJSON: Array(#"{"id":"1","raw":{"a":1}}"#.utf8)) != nil)
    }

    @Test func jsonStringsAreWrittenAsTheEncoderWritesThem() {
        for text in ["plain", "", "a/b", "\"", "\\", "\u{0}\u{8}\u{c}\n\r\t\u{1f}", "é", "😀", "\u{7f}"] {
            var out: [UInt8] = []
            CanonicalJSON.appendString(text, to: &out)
            let expected = JSONValue.array([.string(text)]).encoded()
            #expect(out == Array(expected[1..<(expected.count - 1)]), "\(text)")
        }
    }
}
