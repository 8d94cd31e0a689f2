import EventModel
import Foundation
import HTTPClient
import HTTPServer
import Relay
import Testing

/// `/healthz`: a liveness probe (200, no token) whose body says `degraded`, and what is failing,
/// while a feed's stream or a subscription fails; `ok` only when nothing does. Real parts: a fake
/// Scalingo and receivers over loopback HTTP, the relay's SQLite store and admin API.
@Suite("Admin API: /healthz says what is failing")
struct HealthTests {
    @Test func healthSaysDegradedAndNamesFailingFeedsAndSubscriptionsUntilTheyRecover() async throws {
        let broken = LockedValue(false)
        let gone = LockedValue(true)
        let receiver = try RecordingServer { request in
            switch request.path {
            case "/gone" where gone.value: return HTTPServerResponse(status: 410, body: Array("gone".utf8))
            case "/broken" where broken.value: return HTTPServerResponse(status: 503, body: Array("down".utf8))
            default: return HTTPServerResponse(status: 204)
            }
        }
        let scalingo = try FakeScalingo(pageSize: 5)
        let harness = try RelayHarness(environment: [
            "TEST_SECRET": RelayHarness.webhookSecret, "TEST_GONE_URL": receiver.baseURL + "/gone", "TEST_BROKEN_URL": receiver.baseURL + "/broken",
        ])
        try harness.writeRule("routes.yaml", """
            subscriptions:
              - {id: gone, type: webhook, url_env: TEST_GONE_URL, secret_env: TEST_SECRET}
              - {id: broken, type: webhook, url_env: TEST_BROKEN_URL, secret_env: TEST_SECRET}
            rules:
              - {name: gone, filter: {sources: [test]}, subscriptions: [gone]}
              - {name: broken, filter: {sources: [broken]}, subscriptions: [broken]}
            """)
        try await harness.start(harness.configuration(scalingo: scalingo) { $0.interval = .seconds(3600) })
        #expect(try await harness.waitForFeedsToStart())

        let healthy = try await harness.admin(.GET, "/healthz", token: nil)
        #expect(healthy.status == 200)
        #expect(healthy.json["status"] == .string("ok"), "\(healthy.json)")
        #expect(healthy.json["failing"]?["feeds"] == .array([]) && healthy.json["failing"]?["subscriptions"] == .array([]))

        // The platform fails, one receiver asks to be disabled (410), another keeps failing (503).
        scalingo.failPages { _, _ in 502 }
        #expect(try await harness.admin(.POST, "/v1/feeds/scalingo/poll").status == 202)
        broken.value = true
        let now = Date()
        _ = try await harness.relay!.pipeline.ingest(IngestBatch(events: [
            Fixtures.event(type: "deployment", source: "test", id: "to-gone", time: now),
            Fixtures.event(type: "deployment", source: "broken", id: "to-broken", time: now),
        ], now: now))

        let degraded: @Sendable () async throws -> (Int, JSONValue, String) = {
            let response = try await harness.client.execute(HTTPRequest(url: harness.adminURL + "/healthz"))
            return (response.status, try JSONValue.parse(response.body), response.bodyText)
        }
        #expect(try await eventually {
            let (_, health, _) = try await degraded()
            let ids = (health["failing"]?["subscriptions"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue }
            return health["failing"]?["feeds"]?.arrayValue?.isEmpty == false && Set(ids) == ["gone", "broken"]
        })
        let (status, health, text) = try await degraded()
        #expect(status == 200, "a liveness probe: the process is alive")
        #expect(health["status"] == .string("degraded"), "\(health)")
        let feed = try #require(health["failing"]?["feeds"]?.arrayValue?.first)
        #expect(feed["name"] == .string("scalingo"))
        let stream = try #require(feed["streams"]?.arrayValue?.first)
        #expect(stream["name"] == .string("events"))
        #expect(stream["error"] == .string("http_status") && stream["status_code"] == .integer(502), "\(stream)")
        #expect((stream["consecutive_failures"]?.intValue ?? 0) >= 1)
        #expect(health["streams_failing"] == .array([.string("scalingo/events")]), "the list it had before stays")
        let subscriptions = health["failing"]?["subscriptions"]?.arrayValue ?? []
        #expect(subscriptions.first { $0["id"] == .string("gone") }?["state"] == .string("disabled"), "\(subscriptions)")
        let brokenState = subscriptions.first { $0["id"] == .string("broken") }?["state"]?.stringValue ?? ""
        #expect(["failing", "breaker_open", "breaker_half_open"].contains(brokenState), "\(subscriptions)")
        #expect(health["dead_letters"]?.intValue != nil)
        // Nothing secret, nor any error's text: the kind of error only.
        for secret in [scalingo.apiToken, RelayHarness.webhookSecret, RelayHarness.adminToken, receiver.baseURL, "HTTP 502"] {
            #expect(!text.contains(secret), "\(secret) in \(text)")
        }

        // Everything recovers: the platform answers, the receiver is back, the disabled one is resumed.
        scalingo.failPages { _, _ in nil }
        broken.value = false
        gone.value = false
        #expect(try await harness.admin(.POST, "/v1/feeds/scalingo/poll").status == 202)
        #expect(try await harness.admin(.POST, "/v1/subscriptions/gone/resume").status == 200)
        // `broken` may have dead-lettered its delivery meanwhile: sent again, it succeeds and ends the run of failures.
        #expect(try await eventually {
            _ = try await harness.admin(.POST, "/v1/deliveries/retry?subscription_id=broken")
            return try await degraded().1["status"] == .string("ok")
        })
        let recovered = try await degraded().1
        #expect(recovered["status"] == .string("ok"), "\(recovered)")
        #expect(recovered["failing"]?["feeds"] == .array([]) && recovered["failing"]?["subscriptions"] == .array([]))

        await harness.cleanup()
        await receiver.stop()
        await scalingo.stop()
    }
}
