import EventModel
import Foundation
import HTTPClient
import HTTPServer
import Store
import Testing

/// The operator's controls over deliveries, over the real admin API: the delivery log's
/// filters and cursor, retry one and in bulk, replay, test, pause and resume.
@Suite("Admin API: deliveries, replay, test, pause and resume")
struct DeliveryControlTests {
    typealias Setup = DeliveryFaultTests.Setup

    static func hookSetup(_ receiver: RecordingServer, delivery: String = "{}") async throws -> Setup {
        try await Setup(
            subscriptions: "  - {id: hook, type: webhook, url_env: TEST_HOOK_URL, secret_env: TEST_SECRET, delivery: \(delivery)}",
            routed: ["hook"], urls: ["TEST_HOOK_URL": receiver.baseURL + "/hook"])
    }

    @Test func theLogFiltersAndPagesAndBadParametersChangeNothing() async throws {
        let receiver = try RecordingServer()
        let setup = try await Self.hookSetup(receiver)
        let harness = setup.harness
        try await setup.publish(7)
        #expect(await receiver.waitFor { $0.count >= 7 })
        #expect(try await eventually { try await harness.admin(.GET, "/v1/deliveries?subscription_id=hook&status=delivered").json["deliveries"]?.arrayValue?.count == 7 })
        let one = try await harness.admin(.GET, "/v1/deliveries?event=test:e3")
        #expect(one.json["deliveries"]?.arrayValue?.map { $0["event"] } == [.string("test:e3")])
        #expect(try await harness.admin(.GET, "/v1/deliveries?source=test").json["deliveries"]?.arrayValue?.count == 7)
        #expect(try await harness.admin(.GET, "/v1/deliveries?source=scalingo").json["deliveries"]?.arrayValue?.count == 0)
        let future = Timestamp.format(Date().addingTimeInterval(3600))
        #expect(try await harness.admin(.GET, "/v1/deliveries?since=\(future)").json["deliveries"]?.arrayValue?.count == 0)
        #expect(try await harness.admin(.GET, "/v1/deliveries?until=\(future)&source=test").json["deliveries"]?.arrayValue?.count == 7)

        var seen: [String] = []
        var path = "/v1/deliveries?source=test&limit=3"
        while true {
            let page = try await harness.admin(.GET, path).json
            seen += (page["deliveries"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue }
            guard let cursor = page["next_cursor"]?.stringValue else { break }
            path = "/v1/deliveries?source=test&limit=3&cursor=\(cursor)"
        }
        #expect(seen.count == 7 && Set(seen).count == 7)

        for bad in ["status=failed", "since=yesterday", "limit=0", "cursor=abc", "colour=red", "since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z"] {
            let answer = try await harness.admin(.GET, "/v1/deliveries?\(bad)")
            #expect(answer.status == 400, "\(bad): \(answer.json)")
            #expect(answer.json["error"]?["message"]?.stringValue?.isEmpty == false)
        }
        await setup.finish()
        await receiver.stop()
    }

    @Test func deadLettersAreRetriedOneByOneOrInBulkOnceTheReceiverIsFixed() async throws {
        let broken = LockedValue(true)
        let receiver = try RecordingServer { _ in broken.value ? HTTPServerResponse(status: 400, body: Array("bad".utf8)) : HTTPServerResponse(status: 204) }
        let setup = try await Self.hookSetup(receiver, delivery: "{ordering: none}")
        let harness = setup.harness
        try await setup.publish(5)
        #expect(try await eventually { try await harness.admin(.GET, "/v1/deliveries?status=dead_letter").json["deliveries"]?.arrayValue?.count == 5 })
        broken.value = false
        let dead = try await harness.admin(.GET, "/v1/deliveries?status=dead_letter&event=test:e0").json
        let id = try #require(dead["deliveries"]?.arrayValue?.first?["id"]?.stringValue)
        #expect(try await harness.admin(.POST, "/v1/deliveries/\(id)/retry").status == 200)
        #expect(await receiver.waitFor { $0.count >= 6 }, "retried one is sent at once")
        #expect(try await harness.admin(.POST, "/v1/deliveries/retry?status=delivered").status == 400)
        let bulk = try await harness.admin(.POST, "/v1/deliveries/retry?subscription_id=hook")
        #expect(bulk.status == 200 && bulk.json["retried"] == .integer(4), "\(bulk.json)")
        #expect(try await eventually {
            try await harness.admin(.GET, "/v1/deliveries?status=delivered&subscription_id=hook").json["deliveries"]?.arrayValue?.count == 5
        })
        #expect(try await harness.admin(.POST, "/v1/deliveries/retry?subscription_id=hook").json["retried"] == .integer(0))
        await setup.finish()
        await receiver.stop()
    }

    @Test func aReplaySendsTheWindowAgainWithNewWebhookIdsInOrder() async throws {
        let receiver = try RecordingServer()
        let setup = try await Self.hookSetup(receiver)
        let harness = setup.harness
        let since = Timestamp.format(Date().addingTimeInterval(-1))
        try await setup.publish(4)
        #expect(await receiver.waitFor { $0.count >= 4 })
        #expect(try await eventually {
            try await harness.admin(.GET, "/v1/deliveries?status=delivered&subscription_id=hook").json["deliveries"]?.arrayValue?.count == 4
        })
        let first = receiver.requests.compactMap { $0.header("webhook-id") }
        let replay = try await harness.admin(.POST, "/v1/subscriptions/hook/replay?since=\(since)")
        #expect(replay.status == 202 && replay.json["replayed"] == .integer(4), "\(replay.json)")
        #expect(await receiver.waitFor { $0.count >= 8 })
        let again = Array(receiver.requests.dropFirst(4))
        #expect(DeliveryFaultTests.eventIDs(again) == ["e0", "e1", "e2", "e3"])
        #expect(Set(again.compactMap { $0.header("webhook-id") }).isDisjoint(with: first), "new ids: receivers that drop duplicates take them")
        #expect(try await harness.admin(.POST, "/v1/subscriptions/hook/replay").status == 400, "since is required")
        #expect(try await harness.admin(.POST, "/v1/subscriptions/nope/replay?since=\(since)").status == 404)
        await setup.finish()
        await receiver.stop()
    }

    @Test func aTestSendReturnsTheAttemptsOutcome() async throws {
        let status = LockedValue(204)
        let receiver = try RecordingServer { _ in HTTPServerResponse(status: status.value, body: Array("no good".utf8)) }
        let setup = try await Self.hookSetup(receiver)
        let harness = setup.harness
        let ok = try await harness.admin(.POST, "/v1/subscriptions/hook/test")
        #expect(ok.status == 200 && ok.json["outcome"] == .string("delivered") && ok.json["status_code"] == .integer(204), "\(ok.json)")
        let body = try JSONValue.parse(try #require(receiver.requests.first).body)
        #expect(body["event"]?["type"] == .string("test") && body["event"]?["source"] == .string("event-relay"))
        #expect(receiver.requests.first?.header("webhook-signature")?.hasPrefix("v1,") == true, "signed like any delivery")
        status.value = 503
        let failing = try await harness.admin(.POST, "/v1/subscriptions/hook/test")
        #expect(failing.json["outcome"] == .string("retry") && failing.json["delivered"] == .bool(false))
        #expect(failing.json["error"]?.stringValue?.contains("503") == true)
        #expect(try await harness.admin(.GET, "/v1/deliveries").json["deliveries"]?.arrayValue?.isEmpty == true, "not part of the outbox")
        await setup.finish()
        await receiver.stop()
    }

    @Test func aPausedSubscriptionSendsNothingUntilResumedAndShowsItsQueue() async throws {
        let receiver = try RecordingServer()
        let setup = try await Self.hookSetup(receiver)
        let harness = setup.harness
        let paused = try await harness.admin(.POST, "/v1/subscriptions/hook/pause")
        #expect(paused.status == 200 && paused.json["state"]?["status"] == .string("paused"), "\(paused.json)")
        try await setup.publish(3)
        #expect(try await eventually { try await harness.admin(.GET, "/v1/subscriptions/hook").json["state"]?["pending"] == .integer(3) })
        let polls = try await harness.admin(.GET, "/v1/subscriptions/hook").json
        #expect(polls["state"]?["in_flight"] == .integer(0))
        try await Task.sleep(for: .milliseconds(300))  // a few idle polls of the dispatcher (100 ms here): still nothing
        #expect(receiver.requests.isEmpty)
        let metrics = try await harness.client.execute(HTTPRequest(
            url: harness.adminURL + "/metrics", headers: [("Authorization", "Bearer \(RelayHarness.adminToken)")])).bodyText
        #expect(metrics.contains(#"event_relay_subscription_pending_deliveries{subscription="hook"} 3"#), "the waiting queue in the metrics")
        #expect(metrics.contains(#"event_relay_subscription_held{subscription="hook"} 1"#))
        let resumed = try await harness.admin(.POST, "/v1/subscriptions/hook/resume")
        #expect(resumed.json["state"]?["status"] == .string("active"))
        #expect(await receiver.waitFor { $0.count >= 3 })
        #expect(DeliveryFaultTests.eventIDs(receiver.requests) == ["e0", "e1", "e2"])
        #expect(try await harness.admin(.POST, "/v1/subscriptions/nope/pause").status == 404)
        #expect(try await harness.admin(.GET, "/v1/subscriptions/hook/pause").status == 405)
        await setup.finish()
        await receiver.stop()
    }
}
