import EventModel
import Foundation
import HTTPServer
import Sinks
import Testing

/// The whole relay on real parts: a fake Scalingo and recording sinks on loopback (real HTTP),
/// the relay's own libcurl client, libmicrohttpd admin API and SQLite store.
/// A fake Scalingo, recording sinks, and a relay whose rules route to them.
struct Scenario {
    let scalingo: FakeScalingo
    let sinks: RecordingServer
    let harness: RelayHarness

    init(pageSize: Int = 5, sink: @escaping RecordingServer.Responder = { _ in HTTPServerResponse(status: 200, body: Array("ok".utf8)) }) throws {
        scalingo = try FakeScalingo(pageSize: pageSize)
        sinks = try RecordingServer(responder: sink)
        let (yaml, environment) = RelayEndToEndTests.rules(slackURL: sinks.baseURL + "/slack", hookURL: sinks.baseURL + "/hook")
        harness = try RelayHarness(environment: environment)
        try harness.writeRule("routes.yaml", yaml)
    }

    /// Starts the relay on the fake and waits until every timeline has its baseline.
    func start(apps: [String] = [], backfillHours: Int = 0, waitForBaseline: Bool = true) async throws {
        try await harness.start(harness.configuration(scalingo: scalingo, apps: apps, backfillHours: backfillHours))
        if waitForBaseline { #expect(try await harness.waitForFeedsToStart()) }
    }

    func finish() async {
        await harness.cleanup()
        await sinks.stop()
        await scalingo.stop()
    }
}

@Suite("End to end: Scalingo feed → rules → Slack and webhook")
struct RelayEndToEndTests {
    static func rules(slackURL: String, hookURL: String) -> (yaml: String, environment: [String: String]) {
        let yaml = """
            subscriptions:
              - id: ops-slack
                type: slack
                url_env: TEST_OPS_SLACK_URL
                slack_username: EventRelay
                slack_icon: ":rotating_light:"
              - id: audit
                type: webhook
                url_env: TEST_AUDIT_URL
                secret_env: TEST_AUDIT_SECRET
            rules:
              - name: deployment-failures
                filter:
                  types: [deployment]
                  fields:
                    type_data.status: ["*-error", aborted]
                subscriptions: [ops-slack]
              - name: account-locked
                filter: {types: [login_lock]}
                subscriptions: [audit]
            """
        return (yaml, ["TEST_OPS_SLACK_URL": slackURL, "TEST_AUDIT_URL": hookURL, "TEST_AUDIT_SECRET": RelayHarness.webhookSecret])
    }

    @Test func deploymentFailureAndLoginLockEachArriveOnceWithTheRightContent() async throws {
        let scenario = try Scenario()
        let (scalingo, sinks, harness) = (scenario.scalingo, scenario.sinks, scenario.harness)
        let now = Date()
        // History from before the relay existed: never sent.
        scalingo.publish((1...12).map { ScalingoEventFactory.deployment(id: "old\($0)", app: "web", status: "build-error", at: now.addingTimeInterval(-Double(3600 + $0))) })

        try await scenario.start(apps: ["web"])
        // A runtime subscription, created over the admin API, for login locks too.
        let created = try await harness.admin(.POST, "/v1/subscriptions", """
            {"id": "sec-slack", "type": "slack", "url": "\(sinks.baseURL)/slack-security", "slack_username": "Sec", "filter": {"types": ["login_*"]}}
            """)
        #expect(created.status == 201)

        scalingo.publish([
            ScalingoEventFactory.deployment(id: "d-fail", app: "web", status: "build-error", at: now.addingTimeInterval(1)),
            ScalingoEventFactory.deployment(id: "d-ok", app: "web", status: "success", at: now.addingTimeInterval(2)),
            ScalingoEventFactory.loginLock(id: "lock-1", user: "johndoe", ip: "203.0.113.9", at: now.addingTimeInterval(3)),
        ])
        #expect(await sinks.waitFor { requests in
            requests.filter { $0.path == "/slack" }.count >= 1 && requests.filter { $0.path == "/hook" }.count >= 1
                && requests.filter { $0.path == "/slack-security" }.count >= 1
        })
        // Three more polls of each timeline: still exactly once each (the deployments are on both the
        // user and the app timeline), and the feed counts each event once.
        let (user, app) = (scalingo.pageRequests(path: "/v1/events"), scalingo.pageRequests(path: "/v1/apps/web/events"))
        #expect(try await eventually {
            scalingo.pageRequests(path: "/v1/events") >= user + 3 && scalingo.pageRequests(path: "/v1/apps/web/events") >= app + 3
        })
        let feed = try #require(try await harness.admin(.GET, "/v1/feeds").json["feeds"]?.arrayValue?.first)
        #expect(feed["events_seen"] == .integer(3), "d-fail, d-ok and lock-1, though the deployments were read on two timelines")
        let slack = sinks.requests(path: "/slack")
        let hook = sinks.requests(path: "/hook")
        let security = sinks.requests(path: "/slack-security")
        #expect(slack.count == 1)
        #expect(hook.count == 1)
        #expect(security.count == 1)

        let slackMessage = try JSONValue.parse(try #require(slack.first).body)
        #expect(slackMessage["text"]?.stringValue == ":x: Deployment failed on web by ann (status: build-error)")
        #expect(slackMessage["username"]?.stringValue == "EventRelay")
        #expect(slackMessage["icon_emoji"]?.stringValue == ":rotating_light:")
        let slackText = String(decoding: slackMessage.encoded(), as: UTF8.self)
        #expect(slackText.contains("*Pusher*\\nann") && slackText.contains("*Duration*\\n1m 15s") && slackText.contains("`0123456`"))

        let webhook = try #require(hook.first)
        let document = try JSONValue.parse(webhook.body)
        #expect(document["event"]?["type"]?.stringValue == "login_lock")
        #expect(document["event"]?["id"]?.stringValue == "lock-1")
        #expect(document["event"]?["actor"]?["name"]?.stringValue == "johndoe")
        #expect(document["event"]?["category"]?.stringValue == "auth.locked")
        #expect(document["event"]?["summary"]?.stringValue == "Account johndoe locked after repeated failed logins (from 203.0.113.9)")
        #expect(document["raw"]?["type_data"]?["remote_ip"]?.stringValue == "203.0.113.9")
        let id = try #require(webhook.header("webhook-id"))
        #expect(id == document["delivery_id"]?.stringValue)
        let timestamp = try #require(webhook.header("webhook-timestamp").flatMap { Int64($0) })
        #expect(webhook.header("webhook-signature") == WebhookSignature.sign(secret: RelayHarness.webhookSecret, id: id, timestamp: timestamp, body: webhook.body))

        let securityMessage = try JSONValue.parse(try #require(security.first).body)
        #expect(securityMessage["text"]?.stringValue == ":lock: Account locked after repeated failed logins: johndoe from 203.0.113.9")
        #expect(securityMessage["username"]?.stringValue == "Sec")

        // Nothing old went out, and the outbox agrees.
        #expect(!sinks.requests.contains { String(decoding: $0.body, as: UTF8.self).contains("old") })
        let listed = try await harness.admin(.GET, "/v1/deliveries")
        #expect(listed.json["counts"]?["delivered"] == .integer(3))
        #expect(listed.json["counts"]?["pending"] == .integer(0))

        await scenario.finish()
    }

    @Test func afterARestartEachMissedEventIsDeliveredOnceAndNothingOldAgain() async throws {
        let scenario = try Scenario(pageSize: 3)
        let (scalingo, sinks, harness) = (scenario.scalingo, scenario.sinks, scenario.harness)
        let base = Date()
        scalingo.publish([ScalingoEventFactory.loginLock(id: "before-start", user: "a", ip: "1.1.1.1", at: base.addingTimeInterval(-60))])

        try await scenario.start()
        scalingo.publish([ScalingoEventFactory.loginLock(id: "first", user: "a", ip: "1.1.1.1", at: base.addingTimeInterval(1))])
        #expect(await sinks.waitFor { $0.count == 1 })
        try await harness.stop()

        // While the relay is down: more than a page of events, one of them inserted late (older than another new one).
        scalingo.publish((2...8).map { ScalingoEventFactory.loginLock(id: "missed-\($0)", user: "a", ip: "1.1.1.\($0)", at: base.addingTimeInterval(Double($0 * 10))) })
        scalingo.publish([ScalingoEventFactory.generic(id: "noise", type: "restart", app: "web", at: base.addingTimeInterval(85))])
        try await harness.start(harness.configuration(scalingo: scalingo))
        #expect(await sinks.waitFor { $0.count >= 8 })
        scalingo.publish([ScalingoEventFactory.loginLock(id: "late", user: "a", ip: "9.9.9.9", at: base.addingTimeInterval(75))])
        #expect(await sinks.waitFor { $0.count >= 9 })
        let polls = scalingo.pageRequests(path: "/v1/events")
        #expect(try await eventually { scalingo.pageRequests(path: "/v1/events") >= polls + 3 }, "three more polls, nothing more sent")

        let ids = try sinks.requests.map { try JSONValue.parse($0.body)["event"]?["id"]?.stringValue ?? "?" }
        #expect(ids.sorted() == (["first", "late"] + (2...8).map { "missed-\($0)" }).sorted())
        await scenario.finish()
    }

    @Test func failingSinkIsRetriedWithTheSameWebhookIdAndHonoursRetryAfter() async throws {
        let attempts = LockedValue(0)
        let scenario = try Scenario { _ in
            switch attempts.withValue({ $0 += 1; return $0 }) {
            case 1: return HTTPServerResponse(status: 503, body: Array("down".utf8))
            case 2: return HTTPServerResponse(status: 429, headers: [("Retry-After", "1")], body: Array("slow down".utf8))
            default: return HTTPServerResponse(status: 204)
            }
        }
        let (scalingo, sinks, harness) = (scenario.scalingo, scenario.sinks, scenario.harness)
        try await scenario.start()
        scalingo.publish([ScalingoEventFactory.loginLock(id: "lock-r", user: "a", ip: "1.1.1.1", at: Date().addingTimeInterval(1))])

        #expect(await sinks.waitFor { $0.count >= 3 })
        let requests = sinks.requests
        #expect(Set(requests.compactMap { $0.header("webhook-id") }).count == 1, "one delivery, one webhook-id on every attempt")
        let deliveryID = try #require(requests.first?.header("webhook-id"))
        #expect(try await eventually { try await harness.admin(.GET, "/v1/deliveries/\(deliveryID)").json["status"]?.stringValue == "delivered" })
        let delivery = try await harness.admin(.GET, "/v1/deliveries/\(deliveryID)")
        #expect(delivery.json["status"]?.stringValue == "delivered")
        #expect(delivery.json["attempts"] == .integer(2), "the 429 is pacing: it does not count toward giving up")
        let log = delivery.json["attempt_log"]?.arrayValue ?? []
        #expect(log.map { $0["status_code"] } == [.integer(503), .integer(429), .integer(204)])
        #expect(log.map { $0["outcome"] } == [.string("retry"), .string("rate_limited"), .string("delivered")])
        let times = log.compactMap { $0["at"]?.stringValue.flatMap(Timestamp.parse) }
        #expect(times.count == 3 && times[2].timeIntervalSince(times[1]) >= 0.95, "Retry-After: 1 was honoured")
        await scenario.finish()
    }

    @Test func feedAnsweringGarbageOr500LosesNothingAndRecovers() async throws {
        let scenario = try Scenario()
        let (scalingo, sinks, harness) = (scenario.scalingo, scenario.sinks, scenario.harness)
        try await scenario.start()

        scalingo.publish([ScalingoEventFactory.loginLock(id: "during-outage", user: "a", ip: "1.1.1.1", at: Date().addingTimeInterval(1))])
        scalingo.failNextRequests([
            (500, [], #"{"error":"boom"}"#), (200, [], "<html>not json</html>"), (200, [], #"{"unexpected": true}"#),
        ])
        #expect(try await eventually {
            let feeds = try await harness.admin(.GET, "/v1/feeds").json["feeds"]?.arrayValue ?? []
            return feeds.first?["last_error"]?.stringValue != nil
        })
        // The relay keeps polling with backoff; once the feed answers properly, the event arrives once.
        #expect(await sinks.waitFor(timeout: .seconds(30)) { $0.count >= 1 })
        let polls = scalingo.pageRequests(path: "/v1/events")
        #expect(try await eventually { scalingo.pageRequests(path: "/v1/events") >= polls + 3 })
        #expect(sinks.requests.count == 1)
        await scenario.finish()
    }

    @Test func anExpiredBearerIsRenewedOnceAndTheRefusedTokenIsReported() async throws {
        let scenario = try Scenario()
        let (scalingo, sinks) = (scenario.scalingo, scenario.sinks)
        try await scenario.start()
        let exchangesBefore = scalingo.requests.filter { $0.path == "/v1/tokens/exchange" }.count
        #expect(exchangesBefore == 1, "one bearer serves many polls")

        scalingo.revokeBearers()
        scalingo.publish([ScalingoEventFactory.loginLock(id: "after-401", user: "a", ip: "1.1.1.1", at: Date().addingTimeInterval(1))])
        #expect(await sinks.waitFor { $0.count == 1 })
        #expect(scalingo.requests.filter { $0.path == "/v1/tokens/exchange" }.count == 2)
        let logsHaveNoToken = scalingo.requests.allSatisfy { request in
            request.path != "/v1/events" || request.header("authorization")?.contains(scalingo.apiToken) == false
        }
        #expect(logsHaveNoToken, "the API token itself is only sent to the token exchange")
        await scenario.finish()
    }

    /// `/v1/events` ignores `from`: the window is read by walking pages (5 a page here) until
    /// they reach below it, so every event of the last hour is sent, on several pages.
    @Test func backfillDeliversTheLastHoursOnFirstStartFromEveryPage() async throws {
        let scenario = try Scenario()
        let (scalingo, sinks) = (scenario.scalingo, scenario.sinks)
        let now = Date()
        let recent = (0..<12).map { "recent-\($0)" }
        scalingo.publish(recent.enumerated().map { index, id in
            ScalingoEventFactory.loginLock(id: id, user: "a", ip: "1.1.1.1", at: now.addingTimeInterval(-3000 + Double(index) * 60))
        })
        scalingo.publish((0..<4).map { ScalingoEventFactory.loginLock(id: "old-\($0)", user: "a", ip: "1.1.1.1", at: now.addingTimeInterval(-3 * 3600 - Double($0))) })
        try await scenario.start(backfillHours: 1, waitForBaseline: true)
        // The first poll's deliveries were written in one transaction, before the stream counts as started.
        #expect(await sinks.waitFor { $0.count >= recent.count })
        let (status, list) = try await scenario.harness.admin(.GET, "/v1/deliveries?limit=100")
        #expect(status == 200)
        #expect(list["deliveries"]?.arrayValue?.count == recent.count)
        let ids = try sinks.requests.map { try JSONValue.parse($0.body)["event"]?["id"]?.stringValue ?? "" }
        #expect(Set(ids) == Set(recent) && ids.count == recent.count)
        #expect(scalingo.pageRequests(path: "/v1/events") >= 3, "12 events in the window: 3 pages of 5, the third reaching below it")
        await scenario.finish()
    }
}


@Suite("Graceful shutdown")
struct GracefulShutdownTests {
    @Test func shutdownLetsAnInFlightDeliveryFinishAndRecordsIt() async throws {
        let scenario = try Scenario() { _ in
            try? await Task.sleep(for: .milliseconds(800))
            return HTTPServerResponse(status: 204)
        }
        let (scalingo, sinks, harness) = (scenario.scalingo, scenario.sinks, scenario.harness)
        let configuration = harness.configuration(scalingo: scalingo)
        try await harness.start(configuration)
        #expect(try await harness.waitForFeedsToStart())
        scalingo.publish([ScalingoEventFactory.loginLock(id: "in-flight", user: "a", ip: "1.1.1.1", at: Date().addingTimeInterval(1))])
        #expect(await sinks.waitFor { $0.count == 1 })
        try await harness.stop()  // The same path as SIGTERM.
        let pollsBefore = scalingo.requests(path: "/v1/events")
        try await Task.sleep(for: .milliseconds(400))
        #expect(scalingo.requests(path: "/v1/events") == pollsBefore, "polling stopped")

        try await harness.start(configuration)
        let listed = try await harness.admin(.GET, "/v1/deliveries")
        #expect(listed.json["counts"]?["delivered"] == .integer(1), "the in-flight delivery finished and was recorded before exit")
        #expect(listed.json["counts"]?["pending"] == .integer(0))
        let polls = scalingo.requests(path: "/v1/events")
        #expect(try await eventually { scalingo.requests(path: "/v1/events") >= polls + 3 }, "the restarted relay polls on")
        #expect(sinks.requests.count == 1, "and is not sent again after the restart")
        await scenario.finish()
    }
}
