import EventModel
import Foundation
import HTTPClient
import HTTPServer
import Testing

/// Policies across kill -9, with the real binary, a real SQLite file and a webhook receiver over
/// loopback: a digest gathered before the kill is sent once after the restart, with every event
/// in it; a throttle window opened before the kill still holds after it.
@Suite("Policies across kill -9", .serialized)
struct PolicyKillTests {
    static let token = "policy-kill-admin-token-0123456789"

    static let rules = """
        subscriptions:
          - {id: digest, type: webhook, url_env: TEST_AUDIT_URL, secret_env: TEST_AUDIT_SECRET}
          - {id: throttled, type: webhook, url_env: TEST_THROTTLE_URL, secret_env: TEST_AUDIT_SECRET}
        rules:
          - name: lock-digest
            filter: {types: [login_lock]}
            subscriptions: [digest]
            continue: true
            digest: {group_wait: 6s, group_interval: 3s, list: 3}
          - name: lock-throttle
            filter: {types: [login_lock]}
            subscriptions: [throttled]
            throttle: {window: 1h}
        """

    @Test func aPendingDigestAndAThrottleWindowSurviveKillMinus9() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let scalingo = try FakeScalingo()
        let sink = try RecordingServer { _ in HTTPServerResponse(status: 204) }
        try directory.write("rules/policies.yaml", Self.rules)
        try directory.write("relay.yaml", ProcessTests.config(data: directory.path + "/data", rules: directory.path + "/rules", scalingo: scalingo))
        let environment = [
            "EVENT_RELAY_ADMIN_TOKEN": Self.token, "TEST_SCALINGO_TOKEN": scalingo.apiToken,
            "TEST_AUDIT_URL": sink.baseURL + "/digest", "TEST_THROTTLE_URL": sink.baseURL + "/throttled",
            "TEST_AUDIT_SECRET": RelayHarness.webhookSecret,
        ]
        let arguments = ["serve", "--config", directory.path + "/relay.yaml"]
        let first = try RelayProcess(arguments: arguments, environment: environment, workingDirectory: directory.url)
        let port = try #require(try await first.waitForAdminPort(), "\(first.log)")
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        @Sendable func get(_ port: UInt16, _ path: String) async throws -> JSONValue {
            let response = try await client.execute(HTTPRequest(url: "http://127.0.0.1:\(port)\(path)", headers: [("Authorization", "Bearer \(Self.token)")]))
            return try JSONValue.parse(response.body)
        }
        #expect(try await eventually { try await get(port, "/v1/feeds")["feeds"]?.arrayValue?.first?["streams"]?.arrayValue?.first?["started"] == .bool(true) })

        let ids = (0..<30).map { "lock-\($0)" }
        let now = Date()
        scalingo.publish(ids.enumerated().map { index, id in
            ScalingoEventFactory.loginLock(id: id, user: "u\(index % 3)", ip: "10.0.0.\(index)", at: now.addingTimeInterval(-10 + Double(index) * 0.1))
        })
        // All 30 gathered (digested) and throttled but one, before the digest is due.
        #expect(try await eventually {
            let counts = try await get(port, "/v1/deliveries")["counts"]
            return counts?["digested"] == .integer(30) && counts?["throttled"] == .integer(29)
        })
        #expect(await sink.waitFor(timeout: .seconds(10)) { requests in requests.contains { $0.path == "/throttled" } })
        #expect(!sink.requests.contains { $0.path == "/digest" }, "the digest is not due yet")
        first.signal(SIGKILL)
        #expect(try await first.wait() != nil)

        let second = try RelayProcess(arguments: arguments, environment: environment, workingDirectory: directory.url, logName: "relay2.log")
        let secondPort = try #require(try await second.waitForAdminPort(), "\(second.log)")
        #expect(await sink.waitFor(timeout: .seconds(30)) { requests in requests.contains { $0.path == "/digest" } }, "\(second.log)")
        let digest = try #require(sink.requests.first { $0.path == "/digest" })
        let body = try JSONValue.parse(digest.body)
        #expect(body["event"]?["type"] == .string("relay.digest"))
        #expect(body["event"]?["details"]?["count"] == .integer(30), "every event gathered before the kill is in it")
        #expect(body["event"]?["details"]?["first"]?.arrayValue?.count == 3)

        // One more event after the restart: the throttle window from before the kill still holds.
        scalingo.publish([ScalingoEventFactory.loginLock(id: "after", user: "u9", ip: "10.0.1.1", at: Date())])
        #expect(try await eventually {
            let held = try await get(secondPort, "/v1/deliveries?status=throttled&subscription_id=throttled")
            return held["counts"]?["throttled"] == .integer(30)
        })
        let note = try await get(secondPort, "/v1/deliveries?status=throttled&limit=1")["deliveries"]?.arrayValue?.first?["note"]?.stringValue
        #expect(note?.contains("throttled: one per 1h") == true, "\(note ?? "no note")")
        // The event after the restart makes a digest of its own (group_wait after it).
        #expect(await sink.waitFor(timeout: .seconds(20)) { requests in requests.filter { $0.path == "/digest" }.count == 2 })
        let digests = sink.requests.filter { $0.path == "/digest" }.compactMap { try? JSONValue.parse($0.body)["event"]?["details"]?["count"] }
        #expect(digests == [.integer(30), .integer(1)], "the gathered digest was sent once")
        #expect(sink.requests.filter { $0.path == "/throttled" }.count == 1, "one per hour, across the kill")
        second.signal(SIGTERM)
        #expect(try await second.wait() == 0, "\(second.log)")
        await sink.stop()
        await scalingo.stop()
    }
}
