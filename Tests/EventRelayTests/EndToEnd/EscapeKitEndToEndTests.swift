import AdminAPI
import EventModel
import Feeds
import Foundation
import HTTPClient
import HTTPServer
import Testing

/// The relay with an EscapeKit feed on real parts: the loopback fake over HTTP, libcurl, the
/// SQLite outbox, signed webhooks to a recording sink.
struct EscapeKitScenario {
    let fake: FakeEscapeKit
    let sinks: RecordingServer
    let harness: RelayHarness

    init() throws {
        fake = try FakeEscapeKit()
        sinks = try RecordingServer()
        harness = try RelayHarness(environment: [
            "TEST_AUDIT_URL": sinks.baseURL + "/hook", "TEST_DELETED_URL": sinks.baseURL + "/deleted", "TEST_AUDIT_SECRET": RelayHarness.webhookSecret,
        ])
        try harness.writeRule("escapekit.yaml", """
            subscriptions:
              - id: audit
                type: webhook
                url_env: TEST_AUDIT_URL
                secret_env: TEST_AUDIT_SECRET
              - id: deleted
                type: webhook
                url_env: TEST_DELETED_URL
                secret_env: TEST_AUDIT_SECRET
            rules:
              - name: everything-from-escapekit
                filter: {sources: [escapekit]}
                subscriptions: [audit]
                continue: true
              - name: destroyed
                filter: {categories: [app.deleted]}
                subscriptions: [deleted]
            """)
    }

    func start(_ adjust: (inout EscapeKitConfiguration) -> Void = { _ in }) async throws {
        try await harness.start(harness.configuration(escapekit: fake, feed: adjust))
        #expect(try await harness.waitForFeedsToStart())
    }

    /// The events delivered to the subscription that takes them all, in arrival order.
    var delivered: [JSONValue] { sinks.requests(path: "/hook").compactMap { try? JSONValue.parse($0.body)["event"] } }
    var deliveredIDs: [String] { delivered.compactMap { $0["id"]?.stringValue } }

    /// Waits until the feed has asked for `pages` more pages: polls have gone by.
    func waitForMorePolls(_ pages: Int = 6) async -> Bool {
        let before = fake.pageRequests.count
        return await fake.recorder.waitFor { $0.filter { $0.path == FakeEscapeKit.path }.count >= before + pages }
    }

    func finish() async {
        await harness.cleanup()
        await sinks.stop()
        await fake.stop()
    }
}

@Suite("End to end: an EscapeKit feed loses nothing and repeats nothing")
struct EscapeKitEndToEndTests {
    @Test func eventsAreDeliveredOnceAcrossARelayRestart() async throws {
        let scenario = try EscapeKitScenario()
        let now = Date()
        scenario.fake.publish(EscapeKitEventFactory.run(from: 1, count: 12, start: now.addingTimeInterval(-3600)))
        try await scenario.start()
        scenario.fake.publish(EscapeKitEventFactory.run(from: 990, count: 8, start: now.addingTimeInterval(-20)))
        #expect(await scenario.sinks.waitFor { $0.count >= 8 })
        let first = try #require(scenario.delivered.first)
        #expect(first["source"] == .string("escapekit") && first["type"] == .string("REDEPLOY_STATE_DEPLOYMENT"))
        #expect(first["project"] == .string("shop") && first["environment"] == .string("prod") && first["app"] == .string("web"))

        try await scenario.harness.stop()
        // While the relay is down: more, across 999 → 1000.
        scenario.fake.publish(EscapeKitEventFactory.run(from: 998, count: 10, start: now.addingTimeInterval(-10)))
        try await scenario.harness.start(scenario.harness.configuration(escapekit: scenario.fake))
        #expect(await scenario.sinks.waitFor { $0.count >= 18 })
        #expect(await scenario.waitForMorePolls())
        let ids = scenario.deliveredIDs
        #expect(ids.count == 18 && Set(ids) == Set((990...1007).map(String.init)), "the history never, each new one once: \(ids)")
        await scenario.finish()
    }

    /// Events stored late get ids below ones already read, timestamps 60–120 s older than the newest.
    @Test func lateInsertsBelowReadIdsAreDelivered() async throws {
        let scenario = try EscapeKitScenario()
        try await scenario.start()
        let now = Date()
        scenario.fake.publish((0..<30).map { EscapeKitEventFactory.event(id: 1000 + $0 * 10, at: now.addingTimeInterval(-30 + Double($0))) })
        #expect(await scenario.sinks.waitFor { $0.count >= 30 })
        let late = [(1005, 60.0), (1055, 75), (1155, 90), (1255, 105), (1285, 120)].map {
            EscapeKitEventFactory.event(id: $0.0, type: "DESTROY_REQUESTED", at: now.addingTimeInterval(-1 - $0.1))
        }
        scenario.fake.publish(late)
        #expect(await scenario.sinks.waitFor { $0.count >= 40 }, "35 to the hook, and the 5 destroys by their category")
        #expect(await scenario.waitForMorePolls())
        let ids = scenario.deliveredIDs
        #expect(Set(ids).isSuperset(of: ["1005", "1055", "1155", "1255", "1285"]))
        #expect(ids.count == 35 && Set(ids).count == 35)
        let deleted = scenario.sinks.requests(path: "/deleted").compactMap { try? JSONValue.parse($0.body)["event"]?["id"]?.stringValue }
        #expect(Set(deleted) == ["1005", "1055", "1155", "1255", "1285"] && deleted.count == 5, "routed by category app.deleted")
        await scenario.finish()
    }

    /// More than one poll reads: the walk stops at max_pages and the next polls resume at the id
    /// where it stopped, while the stream shows it is behind.
    @Test func aBurstBeyondMaxPagesIsDeliveredExactlyOnce() async throws {
        let scenario = try EscapeKitScenario()
        try await scenario.start { $0.maxPages = 4 }
        scenario.fake.publish(EscapeKitEventFactory.run(from: 9_900, count: 400, start: Date().addingTimeInterval(-60), step: 0.1))
        #expect(await scenario.sinks.waitFor(timeout: .seconds(60)) { $0.count >= 400 })
        #expect(await scenario.waitForMorePolls())
        let ids = scenario.deliveredIDs
        #expect(ids.count == 400 && Set(ids) == Set((9_900..<10_300).map(String.init)), "each of the 400 once, across 9999 → 10000")
        #expect(scenario.fake.pageRequests.count >= 80, "over many polls: 80 pages of five at least")
        let stream = try #require(try await scenario.harness.stream("events"))
        #expect(stream["behind"] == .bool(false) && stream["healthy"] == .bool(true), "\(stream)")
        await scenario.finish()
    }

    @Test func aRefusedTokenShowsOnTheStreamWithoutTheToken() async throws {
        let scenario = try EscapeKitScenario()
        var configuration = scenario.harness.configuration(escapekit: scenario.fake)
        scenario.harness.environment["TEST_ESCAPEKIT_TOKEN"] = "not-the-token-987"
        configuration.logLevel = .critical
        try await scenario.harness.start(configuration)
        #expect(try await eventually { try await (scenario.harness.stream("events")?["consecutive_failures"]?.intValue ?? 0) >= 1 })
        let stream = try #require(try await scenario.harness.stream("events"))
        let error = try #require(stream["last_error"]?.stringValue)
        #expect(error.contains("401") && !error.contains("not-the-token-987"))
        #expect(stream["healthy"] == .bool(false))
        await scenario.finish()
    }

    /// EscapeKit's own webhook subscriptions can push its events to a push feed of format
    /// `escapekit`; an event both pushed and polled is delivered once.
    @Test func aPushedEscapeKitEventThatIsAlsoPolledIsDeliveredOnce() async throws {
        let scenario = try EscapeKitScenario()
        scenario.harness.environment["EK_PUSH_TOKEN"] = "ek-push-bearer-0123456789"
        var configuration = scenario.harness.configuration(escapekit: scenario.fake)
        configuration.pushFeeds = [PushFeedSettings(name: "ek-hooks", format: "escapekit", auth: .bearer, secretEnv: "EK_PUSH_TOKEN")]
        try await scenario.harness.start(configuration)
        #expect(try await scenario.harness.waitForFeedsToStart())
        let event = EscapeKitEventFactory.event(id: 5000, type: "ADD_BUILD", at: Date())
        func push(_ body: JSONValue) async throws -> HTTPResponse {
            try await scenario.harness.client.execute(HTTPRequest(
                method: .POST, url: scenario.harness.adminURL + "/v1/ingest/ek-hooks",
                headers: [("Content-Type", "application/json"), ("Authorization", "Bearer ek-push-bearer-0123456789")], body: body.encoded()))
        }
        #expect(try await push(event).status == 202)
        scenario.fake.publish([event])
        #expect(await scenario.sinks.waitFor { $0.count >= 1 })
        #expect(await scenario.waitForMorePolls())
        #expect(scenario.deliveredIDs == ["5000"])
        let scalingo = ScalingoEventFactory.loginLock(id: "s1", user: "u", ip: "10.0.0.1", at: Date())
        #expect(try await push(scalingo).status == 422, "not an EscapeKit event")
        await scenario.finish()
    }
}
