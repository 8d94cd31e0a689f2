import EventModel
import Foundation
import HTTPClient
import HTTPServer
import Testing

/// The real executable: exit codes, SIGTERM, and kill -9 in the middle of deliveries.
@Suite("event-relay as a process", .serialized)
struct ProcessTests {
    static let token = "process-test-admin-token-0123456789"

    static func config(data: String, rules: String, scalingo: FakeScalingo, concurrency: Int = 4, maxPages: Int = 50) -> String {
        """
        data_dir: \(data)
        rules_dir: \(rules)
        log_level: info
        admin:
          listen: 127.0.0.1:0
        delivery:
          concurrency: \(concurrency)
          lease: 5s
          initial_backoff: 100ms
          max_backoff: 500ms
          shutdown_grace: 3s
          allowed_networks: [127.0.0.0/8, "::1/128"]
        http_client:
          request_timeout: 2s
        feeds:
          scalingo:
            - name: scalingo
              api_url: \(scalingo.baseURL)
              auth_url: \(scalingo.baseURL)
              token_env: TEST_SCALINGO_TOKEN
              interval: 1s
              max_pages: \(maxPages)
              requests_per_minute: 100000
        """
    }

    static let rules = """
        subscriptions:
          - {id: audit, type: webhook, url_env: TEST_AUDIT_URL, secret_env: TEST_AUDIT_SECRET}
        rules:
          - name: locks
            filter: {types: [login_lock]}
            subscriptions: [audit]
        """

    @Test func killMinus9DuringDeliveryLosesNothing() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let scalingo = try FakeScalingo()
        let slow = LockedValue(true)
        let sink = try RecordingServer { _ in
            if slow.value { try? await Task.sleep(for: .seconds(3)) }
            return HTTPServerResponse(status: 204)
        }
        try directory.write("rules/audit.yaml", Self.rules)
        try directory.write("relay.yaml", Self.config(data: directory.path + "/data", rules: directory.path + "/rules", scalingo: scalingo))
        let environment = [
            "EVENT_RELAY_ADMIN_TOKEN": Self.token, "TEST_SCALINGO_TOKEN": scalingo.apiToken,
            "TEST_AUDIT_URL": sink.baseURL + "/audit", "TEST_AUDIT_SECRET": RelayHarness.webhookSecret,
        ]
        let arguments = ["serve", "--config", directory.path + "/relay.yaml"]

        let first = try RelayProcess(arguments: arguments, environment: environment, workingDirectory: directory.url)
        let firstPort = try #require(try await first.waitForAdminPort(), "\(first.log)")
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        // The baseline is committed: what is published next is new.
        #expect(try await eventually {
            let feeds = try await client.execute(HTTPRequest(
                url: "http://127.0.0.1:\(firstPort)/v1/feeds", headers: [("Authorization", "Bearer \(Self.token)")]))
            return try JSONValue.parse(feeds.body)["feeds"]?.arrayValue?.first?["streams"]?.arrayValue?.first?["started"] == .bool(true)
        })
        let ids = (1...6).map { "lock-\($0)" }
        scalingo.publish(ids.enumerated().map { index, id in
            ScalingoEventFactory.loginLock(id: id, user: "u\(index)", ip: "10.0.0.\(index)", at: Date().addingTimeInterval(Double(index + 1)))
        })
        // Deliveries are in flight (the sink is holding them) when the process is killed.
        #expect(await sink.waitFor { $0.count >= 2 })
        first.signal(SIGKILL)
        #expect(try await first.wait() != nil)
        let inFlightAtKill = Set(sink.requests.compactMap { $0.header("webhook-id") })

        slow.value = false
        let second = try RelayProcess(arguments: arguments, environment: environment, workingDirectory: directory.url, logName: "relay2.log")
        let port = try #require(try await second.waitForAdminPort(), "\(second.log)")
        let delivered: @Sendable () -> Set<String> = {
            Set(sink.requests.compactMap { try? JSONValue.parse($0.body)["event"]?["id"]?.stringValue })
        }
        #expect(await sink.waitFor(timeout: .seconds(20)) { _ in delivered() == Set(ids) }, "\(second.log)")
        // The outbox settles at 6 delivered, none pending: nothing more will be sent.
        #expect(try await eventually {
            let counts = try await client.execute(HTTPRequest(
                url: "http://127.0.0.1:\(port)/v1/deliveries", headers: [("Authorization", "Bearer \(Self.token)")]))
            let json = try JSONValue.parse(counts.body)
            return json["counts"]?["delivered"] == .integer(6) && json["counts"]?["pending"] == .integer(0)
        })
        // Every event arrived; only a delivery in flight at the kill may arrive twice, with the same webhook-id.
        var perID: [String: Int] = [:]
        for request in sink.requests { perID[request.header("webhook-id") ?? "?", default: 0] += 1 }
        #expect(perID.count == 6)
        for (id, count) in perID where count > 1 { #expect(inFlightAtKill.contains(id)) }

        second.signal(SIGTERM)
        #expect(try await second.wait() == 0, "SIGTERM exits 0\n\(second.log)")
        #expect(!first.log.contains(Self.token) && !second.log.contains(Self.token) && !second.log.contains(scalingo.apiToken))
        #expect(!second.log.contains(RelayHarness.webhookSecret) && !second.log.contains(sink.baseURL + "/audit"))
        await sink.stop()
        await scalingo.stop()
    }

    @Test func badRulesStopServeWithExitCode2NamingFileLineAndRule() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try directory.write("rules/broken.yaml", "subscriptions:\n  - {id: ops, type: slack, url_env: OPS_URL}\nrules:\n  - name: deploys\n    filter: {typs: [x]}\n    subscriptions: [ops]\n")
        try directory.write("relay.yaml", "data_dir: \(directory.path)/data\nrules_dir: \(directory.path)/rules\nadmin: {listen: '127.0.0.1:0'}\n")
        let serve = try await RelayProcess.run(
            ["serve", "--config", directory.path + "/relay.yaml"], environment: ["OPS_URL": "https://hooks.slack.com/x"], in: directory.url)
        #expect(serve.status == 2)
        #expect(serve.output.contains("broken.yaml:5"), "\(serve.output)")
        #expect(serve.output.contains("rule \"deploys\"") && serve.output.contains("typs"))
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/data/event-relay.sqlite"), "nothing started")

        let check = try await RelayProcess.run(["rules", "check", directory.path + "/rules"], environment: ["OPS_URL": "https://x.test/"], in: directory.url)
        #expect(check.status == 2 && check.output.contains("broken.yaml:5"))
        try directory.write("rules/broken.yaml", "subscriptions:\n  - {id: ops, type: slack, url_env: OPS_URL}\n")
        let fixed = try await RelayProcess.run(["rules", "check", directory.path + "/rules", "--skip-env"], in: directory.url)
        #expect(fixed.status == 0, "\(fixed.output)")
    }

    @Test func badConfigurationFileIsRefusedWithItsLine() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try directory.write("relay.yaml", "data_dir: ./data\nadmin:\n  listen: 127.0.0.1:8080\n  token: abc\n")
        let result = try await RelayProcess.run(["serve", "--config", directory.path + "/relay.yaml"], in: directory.url)
        #expect(result.status == 2)
        #expect(result.output.contains("relay.yaml:4") && result.output.contains("unknown key"), "\(result.output)")
    }

    /// Files that crashed `serve` (an overflow trap: SIGILL) or hung it and `rules check` at 100%
    /// CPU (a kilobyte of aliases standing for 10^9 values) stop them with exit code 2 and the
    /// file, line and column, before anything starts.
    @Test func hostileFilesExitWith2NamingFileLineAndColumn() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let bomb = Fixtures.aliasBomb(levels: 9)
        #expect(bomb.utf8.count < 1024)
        let cases = [
            ("timeout.yaml", "http_client: {connect_timeout: 1e300s}\n", "timeout.yaml:1:32: http_client.connect_timeout: must be between 100ms and 2m"),
            ("grace.yaml", "delivery: {shutdown_grace: 99999999999999999999h}\n", "grace.yaml:1:28: delivery.shutdown_grace: must be between 0s and 10m"),
            ("pages.yaml", "feeds:\n  scalingo:\n    - max_pages: 1e30\n", "pages.yaml:3:18: feeds.scalingo[0].max_pages: must be a whole number between 2 and 1000"),
            ("bomb.yaml", bomb, "bomb.yaml:2:10: aliases (*l0) are not supported"),
        ]
        for (name, text, problem) in cases {
            try directory.write(name, text)
            let serve = try await RelayProcess.run(["serve", "--config", directory.path + "/" + name], in: directory.url)
            #expect(serve.status == 2, "\(name): \(serve.output)")
            #expect(serve.output.contains("configuration: \(directory.path)/\(problem)"), "\(serve.output)")
        }
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/data"), "nothing started")

        try directory.write("rules/bomb.yaml", bomb)
        let check = try await RelayProcess.run(["rules", "check", "--skip-env", directory.path + "/rules"], in: directory.url)
        #expect(check.status == 2, "\(check.output)")
        #expect(check.output.contains("rules/bomb.yaml:2:10: aliases (*l0) are not supported"), "\(check.output)")
        try directory.write("relay.yaml", "data_dir: \(directory.path)/data\nrules_dir: \(directory.path)/rules\nadmin: {listen: '127.0.0.1:0'}\n")
        let serve = try await RelayProcess.run(["serve", "--config", directory.path + "/relay.yaml"], in: directory.url)
        #expect(serve.status == 2, "\(serve.output)")
        #expect(serve.output.contains("bomb.yaml:2:10: aliases (*l0) are not supported"), "\(serve.output)")
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/data/event-relay.sqlite"), "nothing started")
    }

    @Test func aFeedWhoseSecretIsMissingStopsServeBeforeAnythingIsWritten() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try directory.write("relay.yaml", """
            data_dir: \(directory.path)/data
            rules_dir: \(directory.path)/rules
            admin: {listen: '127.0.0.1:0'}
            feeds:
              scalingo:
                - {name: main, token_env: NOT_SET_ANYWHERE}
            push:
              - {name: hooks, format: scalingo, auth: bearer, secret_env: ALSO_NOT_SET}
            """)
        let serve = try await RelayProcess.run(["serve", "--config", directory.path + "/relay.yaml"], in: directory.url)
        #expect(serve.status == 2)
        #expect(serve.output.contains("NOT_SET_ANYWHERE") && serve.output.contains("relay.yaml:6"), "\(serve.output)")
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/data"), "no data directory, no admin token written")
    }

    @Test func rulesTestRoutesAnEventOffline() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try directory.write("rules/audit.yaml", Self.rules)
        try directory.write("event.json", String(decoding: ScalingoEventFactory.loginLock(id: "x", user: "u", ip: "1.2.3.4", at: Date()).encoded(), as: UTF8.self))
        let result = try await RelayProcess.run(["rules", "test", "--event", directory.path + "/event.json", directory.path + "/rules"], in: directory.url)
        #expect(result.status == 0)
        #expect(result.output.contains("-> audit (rule:locks)"), "\(result.output)")
    }
}
