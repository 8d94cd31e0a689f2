import EventModel
import Foundation
import Ingest
import Relay
import Testing

/// `GET /v1/deliveries`: its counts are of what the filters select, and `event=` takes an id
/// alone as well as `source:id`. A real relay (SQLite file, admin API over loopback HTTP).
@Suite("Admin API: the delivery log's counts and event filter")
struct DeliveryLogQueryTests {
    /// Two webhook subscriptions to one receiver: `hook` delivers, `held` is paused before
    /// anything arrives (its deliveries stay pending). Events of sources `test` and `other` go
    /// to both; health events go nowhere, so nothing changes once the deliveries are settled.
    final class Setup: @unchecked Sendable {
        let harness: RelayHarness
        let receiver: RecordingServer

        init() async throws {
            receiver = try RecordingServer()
            harness = try RelayHarness(environment: ["TEST_SECRET": RelayHarness.webhookSecret, "TEST_HOOK_URL": receiver.baseURL + "/hook"])
            try harness.writeRule("routes.yaml", """
                subscriptions:
                  - {id: hook, type: webhook, url_env: TEST_HOOK_URL, secret_env: TEST_SECRET}
                  - {id: held, type: webhook, url_env: TEST_HOOK_URL, secret_env: TEST_SECRET}
                rules:
                  - {name: all, filter: {sources: [test, other]}, subscriptions: [hook, held]}
                """)
            try await harness.start(harness.configuration(scalingo: nil))
        }

        func publish(source: String, ids: [String]) async throws {
            let now = Date()
            let events = ids.map { Fixtures.event(type: "deployment", source: source, id: $0, time: now) }
            _ = try await harness.relay!.pipeline.ingest(IngestBatch(events: events, now: now))
        }

        /// Pauses `held`, publishes `test:e0…e2` and `other:e1`, and waits until `hook` has all four.
        func settle() async throws {
            #expect(try await harness.admin(.POST, "/v1/subscriptions/held/pause").status == 200)
            try await publish(source: "test", ids: ["e0", "e1", "e2"])
            try await publish(source: "other", ids: ["e1"])
            #expect(await receiver.waitFor { $0.count >= 4 })
            let harness = self.harness
            #expect(try await eventually {
                try await harness.admin(.GET, "/v1/deliveries?subscription_id=hook&status=delivered").json["deliveries"]?.arrayValue?.count == 4
            })
        }

        func finish() async {
            await harness.cleanup()
            await receiver.stop()
        }
    }

    static func counts(pending: Int, delivered: Int, dead: Int) -> JSONValue {
        var object = Dictionary(uniqueKeysWithValues: DeliveryStatus.allCases.map { ($0.rawValue, JSONValue.integer(0)) })
        object["pending"] = .integer(Int64(pending))
        object["delivered"] = .integer(Int64(delivered))
        object["dead_letter"] = .integer(Int64(dead))
        return .object(object)
    }

    /// The counts a page lists, tallied by status (every test page here fits in one).
    static func tally(_ page: JSONValue) -> JSONValue {
        var byStatus = Dictionary(uniqueKeysWithValues: DeliveryStatus.allCases.map { ($0.rawValue, 0) })
        for delivery in page["deliveries"]?.arrayValue ?? [] {
            if let status = delivery["status"]?.stringValue { byStatus[status, default: 0] += 1 }
        }
        return .object(byStatus.mapValues { .integer(Int64($0)) })
    }

    @Test func theCountsAreOfWhatTheFiltersSelect() async throws {
        let setup = try await Setup()
        let harness = setup.harness
        try await setup.settle()
        let future = Timestamp.format(Date().addingTimeInterval(3600))
        let past = Timestamp.format(Date().addingTimeInterval(-3600))
        let expected: [(String, JSONValue)] = [
            ("", Self.counts(pending: 4, delivered: 4, dead: 0)),
            ("subscription_id=hook", Self.counts(pending: 0, delivered: 4, dead: 0)),
            ("subscription_id=held", Self.counts(pending: 4, delivered: 0, dead: 0)),
            ("subscription_id=nobody", Self.counts(pending: 0, delivered: 0, dead: 0)),
            ("status=pending", Self.counts(pending: 4, delivered: 0, dead: 0)),
            ("subscription_id=held&status=pending", Self.counts(pending: 4, delivered: 0, dead: 0)),
            ("subscription_id=hook&status=pending", Self.counts(pending: 0, delivered: 0, dead: 0)),
            ("event=test:e1", Self.counts(pending: 1, delivered: 1, dead: 0)),
            ("event=test:e1&subscription_id=hook", Self.counts(pending: 0, delivered: 1, dead: 0)),
            ("source=test", Self.counts(pending: 3, delivered: 3, dead: 0)),
            ("source=other&subscription_id=held", Self.counts(pending: 1, delivered: 0, dead: 0)),
            ("source=scalingo", Self.counts(pending: 0, delivered: 0, dead: 0)),
            ("since=\(future)", Self.counts(pending: 0, delivered: 0, dead: 0)),
            ("since=\(past)&until=\(future)&subscription_id=hook", Self.counts(pending: 0, delivered: 4, dead: 0)),
            ("until=\(past)", Self.counts(pending: 0, delivered: 0, dead: 0)),
        ]
        for (filters, counts) in expected {
            let page = try await harness.admin(.GET, "/v1/deliveries?\(filters)")
            #expect(page.status == 200, "\(filters): \(page.json)")
            #expect(page.json["counts"] == counts, "\(filters)")
            #expect(page.json["counts"] == Self.tally(page.json), "\(filters): the counts are of the deliveries listed")
        }
        // The counts are of the whole selection, not of the page.
        let page = try await harness.admin(.GET, "/v1/deliveries?subscription_id=held&limit=1").json
        #expect(page["deliveries"]?.arrayValue?.count == 1 && page["next_cursor"] != nil)
        #expect(page["counts"] == Self.counts(pending: 4, delivered: 0, dead: 0))
        await setup.finish()
    }

    @Test func anEventIdAloneMatchesThatIdOfAnySource() async throws {
        let setup = try await Setup()
        let harness = setup.harness
        try await setup.settle()
        let bare = try await harness.admin(.GET, "/v1/deliveries?event=e1").json
        let events = (bare["deliveries"]?.arrayValue ?? []).compactMap { $0["event"]?.stringValue }
        #expect(events.sorted() == ["other:e1", "other:e1", "test:e1", "test:e1"], "\(bare)")
        #expect(bare["counts"] == Self.counts(pending: 2, delivered: 2, dead: 0))
        let one = try await harness.admin(.GET, "/v1/deliveries?event=e0&subscription_id=hook").json
        #expect((one["deliveries"]?.arrayValue ?? []).compactMap { $0["event"]?.stringValue } == ["test:e0"])
        #expect(try await harness.admin(.GET, "/v1/deliveries?event=other:e1").json["deliveries"]?.arrayValue?.count == 2)
        #expect(try await harness.admin(.GET, "/v1/deliveries?event=e9").json["deliveries"]?.arrayValue?.count == 0)

        // A malformed event filter is an error that says the form, never an empty list.
        for bad in ["event=", "event=test:", "event=:e1"] {
            let answer = try await harness.admin(.GET, "/v1/deliveries?\(bad)")
            #expect(answer.status == 400, "\(bad): \(answer.json)")
            #expect(answer.json["error"]?["field"] == .string("event"))
            #expect(answer.json["error"]?["message"]?.stringValue?.contains("source:id") == true, "\(bad): \(answer.json)")
        }
        // Bulk retry takes the same filter: nothing is a dead letter, nothing changes.
        let retried = try await harness.admin(.POST, "/v1/deliveries/retry?event=")
        #expect(retried.status == 400)
        #expect(try await harness.admin(.GET, "/v1/deliveries").json["counts"] == Self.counts(pending: 4, delivered: 4, dead: 0))
        await setup.finish()
    }
}
