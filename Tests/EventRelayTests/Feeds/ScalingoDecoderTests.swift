import EventModel
import Feeds
import Foundation
import Testing

@Suite("Scalingo events: normalization of real recorded data")
struct ScalingoDecoderTests {
    @Test func recordedAppEventsNormalize() throws {
        let body = try Fixtures.recordedBody("app_events_page1.recorded.json")
        let events = try #require(body["events"]?.arrayValue)
        let normalized = events.compactMap { ScalingoEvents.normalize($0, feed: "s", environment: "production", fetchedAt: Date()) }
        #expect(normalized.count == events.count)
        let deployment = try #require(normalized.first { $0.type == "deployment" })
        #expect(deployment.id == "5ed0fe5f884fef000f5e4fd7")
        #expect(deployment.app == "example-running-app")
        #expect(deployment.appID == "5ed0fe5d884fef000f5e4fd1")
        #expect(deployment.actor?.username == "example-username")
        #expect(deployment.environment == "production")
        #expect(deployment.time == Timestamp.parse("2020-05-29T12:21:51.334Z"))
        #expect(deployment.raw["type_data"]?["git_ref_url"] == .null, "raw keeps nulls as they came")
        // Scale counts arrive as "3:S" strings, not the documented numbers: kept verbatim.
        let scale = try #require(normalized.first { $0.type == "scale" })
        #expect(scale.raw["type_data"]?["previous_containers"]?["web"]?.stringValue?.contains(":") == true)
    }

    @Test func unknownTypesAndFieldsAreKept() throws {
        let value = try JSONValue.parse(Array("""
            {"id": "x1", "created_at": "2026-01-01T00:00:00+01:00", "type": "brand_new_thing", "surprise": {"a": [1, 2.5, true]},
             "user": {"username": "ann"}, "project_name": "billing"}
            """.utf8))
        let event = try #require(ScalingoEvents.normalize(value, feed: "s", environment: nil, fetchedAt: Date()))
        #expect(event.type == "brand_new_thing")
        #expect(event.project == "billing")
        #expect(event.raw["surprise"]?["a"] == .array([.integer(1), .number(2.5), .bool(true)]))
        #expect(event.time == Date(timeIntervalSince1970: 1_767_222_000))
    }

    @Test func anEventWithoutAnIdCannotBeTracked() throws {
        let value = try JSONValue.parse(Array(#"{"type": "deployment"}"#.utf8))
        #expect(ScalingoEvents.normalize(value, feed: "s", environment: nil, fetchedAt: Date()) == nil)
    }
}
