import EventModel
import Foundation
import HTTPClient
import HTTPServer
import Testing

/// kill -9 in the middle of a burst larger than one poll reads, with deliveries in flight: after
/// a restart every event arrives, and only deliveries that were in flight (sent, outcome not yet
/// recorded: at most `delivery.concurrency`) arrive twice, with the same `webhook-id`, never more.
@Suite("event-relay killed during a burst", .serialized)
struct KillDuringBurstTests {
    static let token = "burst-test-admin-token-0123456789"

    @Test func killMinus9DuringABurstLosesNothingAndRepeatsOnlyWhatWasInFlight() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let scalingo = try FakeScalingo(pageSize: 10)
        let sink = try RecordingServer { _ in
            try? await Task.sleep(for: .milliseconds(5))
            return HTTPServerResponse(status: 204)
        }
        try directory.write("rules/audit.yaml", ProcessTests.rules)
        try directory.write("relay.yaml", ProcessTests.config(
            data: directory.path + "/data", rules: directory.path + "/rules", scalingo: scalingo, concurrency: 8, maxPages: 5))
        let environment = [
            "EVENT_RELAY_ADMIN_TOKEN": Self.token, "TEST_SCALINGO_TOKEN": scalingo.apiToken,
            "TEST_AUDIT_URL": sink.baseURL + "/audit", "TEST_AUDIT_SECRET": RelayHarness.webhookSecret,
        ]
        let arguments = ["serve", "--config", directory.path + "/relay.yaml"]
        let first = try RelayProcess(arguments: arguments, environment: environment, workingDirectory: directory.url)
        let port = try #require(try await first.waitForAdminPort(), "\(first.log)")
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let started: @Sendable () async throws -> Bool = {
            let feeds = try await client.execute(HTTPRequest(url: "http://127.0.0.1:\(port)/v1/feeds", headers: [("Authorization", "Bearer \(Self.token)")]))
            return try JSONValue.parse(feeds.body)["feeds"]?.arrayValue?.first?["streams"]?.arrayValue?.first?["started"] == .bool(true)
        }
        #expect(try await eventually(started))

        // 400 events: 8 polls of 5 pages of 10.
        let ids = (0..<400).map { "burst-\($0)" }
        let now = Date()
        scalingo.publish(ids.enumerated().map { index, id in
            ScalingoEventFactory.loginLock(id: id, user: "u\(index % 9)", ip: "10.0.0.\(index % 200)", at: now.addingTimeInterval(-30 + Double(index) * 0.05))
        })
        #expect(await sink.waitFor(timeout: .seconds(30)) { $0.count >= 120 })
        first.signal(SIGKILL)
        #expect(try await first.wait() != nil)
        let sentBeforeKill = Set(sink.requests.compactMap { $0.header("webhook-id") })
        #expect(sentBeforeKill.count < 400, "killed in the middle of the burst")

        let second = try RelayProcess(arguments: arguments, environment: environment, workingDirectory: directory.url, logName: "relay2.log")
        let secondPort = try #require(try await second.waitForAdminPort(), "\(second.log)")
        let delivered: @Sendable () -> Set<String> = {
            Set(sink.requests.compactMap { try? JSONValue.parse($0.body)["event"]?["id"]?.stringValue })
        }
        #expect(await sink.waitFor(timeout: .seconds(60)) { _ in delivered() == Set(ids) }, "\(second.log)")
        let settled = try await eventually {
            let list = try await client.execute(HTTPRequest(
                url: "http://127.0.0.1:\(secondPort)/v1/deliveries", headers: [("Authorization", "Bearer \(Self.token)")]))
            let counts = try JSONValue.parse(list.body)["counts"]
            return counts?["delivered"] == .integer(400) && counts?["pending"] == .integer(0)
        }
        #expect(settled, "the outbox ends at 400 delivered, none pending")

        var perID: [String: Int] = [:]
        for request in sink.requests { perID[request.header("webhook-id") ?? "?", default: 0] += 1 }
        let repeated = perID.filter { $0.value > 1 }.map(\.key)
        #expect(perID.count == 400, "one webhook-id per event")
        // A repeat is the restart re-sending what the killed process had sent without recording it:
        // each comes exactly twice. (Whether the first copy was recorded by the sink before the
        // kill was noticed is a race in the sink, not a property of the relay: not asserted.)
        #expect(repeated.allSatisfy { perID[$0] == 2 }, "a repeated delivery comes exactly twice: \(perID.filter { $0.value > 2 })")
        #expect(repeated.count <= 8, "at most delivery.concurrency deliveries were in flight: \(repeated.count) repeated")
        second.signal(SIGTERM)
        #expect(try await second.wait() == 0, "\(second.log)")
        await sink.stop()
        await scalingo.stop()
    }
}
