import AdminAPI
import EventModel
import Feeds
import Foundation
import HTTPClient
import HTTPServer
import Sinks
import Testing

/// A fake Qovery, a recording webhook sink, and a relay whose rule sends Qovery's failed
/// deployments (by category) to that sink.
struct QoveryScenario {
    let qovery: FakeQovery
    let sinks: RecordingServer
    let harness: RelayHarness

    static let rules = """
        subscriptions:
          - id: deploys
            type: webhook
            url_env: TEST_DEPLOYS_URL
            secret_env: TEST_DEPLOYS_SECRET
        rules:
          - name: qovery-deploy-failures
            filter:
              sources: [qovery]
              categories: [deploy.failed]
            subscriptions: [deploys]
        """

    init(pageSize: Int = 5) throws {
        qovery = try FakeQovery(pageSize: pageSize)
        sinks = try RecordingServer()
        harness = try RelayHarness(environment: ["TEST_DEPLOYS_URL": sinks.baseURL + "/hook", "TEST_DEPLOYS_SECRET": RelayHarness.webhookSecret])
        try harness.writeRule("qovery.yaml", Self.rules)
    }

    var stream: String { "organization/\(qovery.organizationID)" }

    func start(adjust: (inout QoveryConfiguration) -> Void = { _ in }) async throws {
        try await harness.start(harness.configuration(qovery: qovery, feed: adjust))
        #expect(try await harness.waitForFeedsToStart())
    }

    /// The delivered events' ids, in arrival order.
    var deliveredIDs: [String] { FeedLossTests.deliveredIDs(sinks) }

    /// Waits until the relay has read at least `count` more pages: time passes by the fake's clock, not a sleep.
    func waitForPolls(_ count: Int) async -> Bool {
        let seen = qovery.pageRequests.count
        return await qovery.recorder.waitFor { requests in requests.filter { $0.path == qovery.eventsPath }.count >= seen + count }
    }

    func finish() async {
        await harness.cleanup()
        await sinks.stop()
        await qovery.stop()
    }
}

@Suite("End to end: a Qovery feed → rules → a signed webhook")
struct QoveryEndToEndTests {
    @Test func aFailedDeploymentIsDeliveredExactlyOnceAcrossARestart() async throws {
        let scenario = try QoveryScenario(pageSize: 3)
        let (qovery, sinks, harness) = (scenario.qovery, scenario.sinks, scenario.harness)
        let base = Date()
        qovery.publish([QoveryEventFactory.deployFailed(id: "before-start", at: base.addingTimeInterval(-3600))])
        try await scenario.start()

        qovery.publish([
            QoveryEventFactory.deployFailed(id: "d1", at: base.addingTimeInterval(1)),
            QoveryEventFactory.event(id: "ok", type: "DEPLOYED", at: base.addingTimeInterval(2)),
            QoveryEventFactory.event(id: "shell", type: "SHELL", at: base.addingTimeInterval(3)),
        ])
        #expect(await sinks.waitFor { $0.count >= 1 })
        #expect(await scenario.waitForPolls(4), "several polls later…")
        #expect(scenario.deliveredIDs == ["d1"], "…still exactly once, and only the failure")

        let webhook = try #require(sinks.requests.first)
        let document = try JSONValue.parse(webhook.body)
        #expect(document["event"]?["source"] == .string("qovery"))
        #expect(document["event"]?["type"] == .string("DEPLOY_FAILED"))
        // Routed by its category (the rule names no Qovery type); the webhook body carries neither category nor summary.
        #expect(document["matched_by"]?.stringValue?.contains("qovery-deploy-failures") == true, "\(document)")
        #expect(document["event"]?["app"] == .string("api") && document["event"]?["environment"] == .string("production"))
        #expect(document["raw"]?["event_type"] == .string("DEPLOY_FAILED"))
        let id = try #require(webhook.header("webhook-id"))
        let timestamp = try #require(webhook.header("webhook-timestamp").flatMap { Int64($0) })
        #expect(webhook.header("webhook-signature") == WebhookSignature.sign(secret: RelayHarness.webhookSecret, id: id, timestamp: timestamp, body: webhook.body))

        try await harness.stop()
        // While the relay is down: more than a page, one failure inserted below a newer event.
        qovery.publish((2...7).map { QoveryEventFactory.event(id: "noise-\($0)", type: "UPDATE", at: base.addingTimeInterval(Double(10 * $0)), subTarget: "VARIABLE") })
        qovery.publish([
            QoveryEventFactory.deployFailed(id: "d2", at: base.addingTimeInterval(80)),
            QoveryEventFactory.deployFailed(id: "d3-late", at: base.addingTimeInterval(35)),
        ])
        try await scenario.start()
        #expect(await sinks.waitFor { $0.count >= 3 })
        #expect(await scenario.waitForPolls(4))
        #expect(scenario.deliveredIDs.sorted() == ["d1", "d2", "d3-late"])
        let listed = try await harness.admin(.GET, "/v1/deliveries")
        #expect(listed.json["counts"]?["delivered"] == .integer(3))
        await scenario.finish()
    }

    /// 120 failures at once with 5 a page and 4 pages a poll: read over many polls, resuming at
    /// the exact link; then late inserts 60–120 s below what was read. Each delivered once.
    @Test func aBurstBeyondMaxPagesAndLateInsertsAreDeliveredExactlyOnce() async throws {
        let scenario = try QoveryScenario(pageSize: 5)
        try await scenario.start { $0.maxPages = 4 }
        let (qovery, sinks, harness) = (scenario.qovery, scenario.sinks, scenario.harness)
        let start = Date().addingTimeInterval(-60)
        qovery.publish(QoveryEventFactory.burst("burst", count: 120, from: start, step: 0.01, type: "DEPLOY_FAILED"))
        #expect(await sinks.waitFor(timeout: .seconds(60)) { $0.count >= 120 })
        #expect(try await eventually { try await harness.stream(scenario.stream)?["behind"] == .bool(false) })
        let resumed = qovery.pageRequests.filter { $0.query["continueToken"] != nil }
        #expect(resumed.count >= 23, "24 pages of the burst, read past the 4-page limit by following links")

        let newestRead = start.addingTimeInterval(1.19)
        qovery.publish([60.0, 75, 90, 105, 120].map { QoveryEventFactory.deployFailed(id: "late-\(Int($0))", at: newestRead.addingTimeInterval(-$0)) })
        #expect(await sinks.waitFor { $0.count >= 125 })
        #expect(await scenario.waitForPolls(4))
        let ids = scenario.deliveredIDs
        #expect(ids.count == 125 && Set(ids).count == 125, "the burst and the late ones, each once")
        #expect(Set(ids.filter { $0.hasPrefix("late-") }) == ["late-60", "late-75", "late-90", "late-105", "late-120"])
        let stream = try #require(try await harness.stream(scenario.stream))
        #expect(stream["healthy"] == .bool(true))
        await scenario.finish()
    }

    /// A refused token is reported on the stream without the token, and nothing is delivered.
    @Test func aRefusedTokenShowsOnTheStreamWithoutTheToken() async throws {
        let scenario = try QoveryScenario()
        scenario.qovery.failPages { _ in .unauthorized }
        try await scenario.harness.start(scenario.harness.configuration(qovery: scenario.qovery))
        let harness = scenario.harness
        #expect(try await eventually { try await (harness.stream(scenario.stream)?["consecutive_failures"]?.intValue ?? 0) >= 1 })
        let stream = try #require(try await harness.stream(scenario.stream))
        let error = try #require(stream["last_error"]?.stringValue)
        #expect(error.contains("401") && !error.contains(scenario.qovery.apiToken))
        let health = try await harness.admin(.GET, "/healthz", token: nil).json
        #expect(health["streams_failing"] == .array([.string("qovery/\(scenario.stream)")]))
        await scenario.finish()
    }

    /// Qovery events pushed to a `format: qovery` push feed are read by the same decoder, and one
    /// both pushed and polled is delivered once.
    @Test func aPushedQoveryEventIsReadByTheSameDecoderAndDeliveredOnceWhenAlsoPolled() async throws {
        let scenario = try QoveryScenario()
        let (qovery, sinks, harness) = (scenario.qovery, scenario.sinks, scenario.harness)
        harness.environment["TEST_QOVERY_PUSH"] = "qovery-push-bearer-0123456789"
        var configuration = harness.configuration(qovery: qovery)
        configuration.pushFeeds = [PushFeedSettings(name: "qovery-push", format: "qovery", auth: .bearer, secretEnv: "TEST_QOVERY_PUSH")]
        try await harness.start(configuration)
        #expect(try await harness.waitForFeedsToStart())
        let base = Date()
        let event = QoveryEventFactory.deployFailed(id: "both", at: base.addingTimeInterval(1))
        let page = JSONValue.object(["events": .array([event, QoveryEventFactory.deployFailed(id: "pushed-only", at: base.addingTimeInterval(2))])])
        let response = try await harness.client.execute(HTTPRequest(
            method: .POST, url: harness.adminURL + "/v1/ingest/qovery-push",
            headers: [("Content-Type", "application/json"), ("Authorization", "Bearer qovery-push-bearer-0123456789")], body: page.encoded()))
        #expect(response.status == 202, "\(response.bodyText)")
        #expect(await sinks.waitFor { $0.count >= 2 })
        qovery.publish([event])
        #expect(await scenario.waitForPolls(4), "the poll reads the same event…")
        #expect(scenario.deliveredIDs.sorted() == ["both", "pushed-only"], "…and it is not delivered again")
        await scenario.finish()
    }
}
