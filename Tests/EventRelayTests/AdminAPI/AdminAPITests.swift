import EventModel
import Relay
import Foundation
import HTTPClient
import Testing

/// The admin API served live by libmicrohttpd, called with libcurl, on a real SQLite store.
@Suite("Admin API over HTTP")
struct AdminAPITests {
    static let slackURL = "https://hooks.slack.com/services/T0001/B0001/abcdefghijklmnopWXYZ"

    func withRelay(rules: String? = nil, environment: [String: String] = [:], _ body: (RelayHarness) async throws -> Void) async throws {
        let harness = try RelayHarness(environment: environment)
        if let rules { try harness.writeRule("rules.yaml", rules) }
        try await harness.start(harness.configuration(scalingo: nil))
        do {
            try await body(harness)
        } catch {
            await harness.cleanup()
            throw error
        }
        await harness.cleanup()
    }

    @Test func everyV1EndpointNeedsTheTokenButHealthDoesNot() async throws {
        try await withRelay { relay in
            #expect(try await relay.admin(.GET, "/healthz", token: nil).json["status"] == .string("ok"))
            for path in ["/v1/subscriptions", "/v1/feeds", "/v1/deliveries", "/v1/rules", "/metrics", "/v1/subscriptions/x"] {
                let missing = try await relay.admin(.GET, path, token: nil)
                #expect(missing.status == 401, "\(path)")
                #expect(missing.json["error"]?["code"] == .string("unauthorized"))
                #expect(try await relay.admin(.GET, path, token: "wrong-token-wrong-token").status == 401)
                #expect(try await relay.admin(.GET, path, token: RelayHarness.adminToken + "x").status == 401)
            }
            #expect(try await relay.admin(.GET, "/v1/subscriptions").status == 200)
            let raw = try await relay.client.execute(HTTPRequest(url: relay.adminURL + "/v1/feeds", headers: [("Authorization", "Basic abc")]))
            #expect(raw.status == 401 && raw.header("WWW-Authenticate") != nil)
        }
    }

    @Test func subscriptionLifecycleWithMaskedSecrets() async throws {
        try await withRelay { relay in
            let created = try await relay.admin(.POST, "/v1/subscriptions", """
                {"id": "ops", "type": "slack", "url": "\(Self.slackURL)", "slack_icon": ":rocket:", "slack_username": "Relay",
                 "filter": {"types": ["deployment"], "categories": ["deploy.*"], "apps": ["*-prod"], "projects": []}}
                """)
            #expect(created.status == 201)
            #expect(created.json["url"] == .string("https://hooks.slack.com/…WXYZ"))
            #expect(created.json["filter"]?["apps"] == .array([.string("*-prod")]))
            #expect(created.json["filter"]?["categories"] == .array([.string("deploy.*")]))
            let response = try await relay.client.execute(HTTPRequest(
                method: .POST, url: relay.adminURL + "/v1/subscriptions",
                headers: [("Authorization", "Bearer \(RelayHarness.adminToken)")],
                body: Array(#"{"type": "webhook", "url": "https://example.com/hook", "secret": "\#(RelayHarness.webhookSecret)"}"#.utf8)))
            #expect(response.status == 201)
            let hook = try JSONValue.parse(response.body)
            let hookID = try #require(hook["id"]?.stringValue)
            #expect(response.header("Location") == "/v1/subscriptions/\(hookID)")
            #expect(hook["secret"]?.stringValue?.hasPrefix("whsec_…") == true)
            #expect(!response.bodyText.contains(RelayHarness.webhookSecret))

            let list = try await relay.admin(.GET, "/v1/subscriptions")
            #expect(list.json["subscriptions"]?.arrayValue?.count == 2)
            let listText = String(decoding: list.json.encoded(), as: UTF8.self)
            #expect(!listText.contains("abcdefghijklmnop") && !listText.contains(RelayHarness.webhookSecret))

            let patched = try await relay.admin(.PATCH, "/v1/subscriptions/ops", #"{"slack_icon": null, "filter": {"types": ["login_lock"]}}"#)
            #expect(patched.status == 200)
            #expect(patched.json["slack_icon"] == .null)
            #expect(patched.json["filter"]?["types"] == .array([.string("login_lock")]))
            #expect(patched.json["filter"]?["apps"] == .array([.string("*-prod")]), "merge patch keeps what it does not name")

            let replaced = try await relay.admin(.PUT, "/v1/subscriptions/ops", #"{"type": "slack", "url": "https://hooks.slack.com/services/new"}"#)
            #expect(replaced.status == 200)
            #expect(replaced.json["filter"]?["apps"] == .array([]), "PUT replaces the whole subscription")
            #expect(try await relay.admin(.GET, "/v1/subscriptions/ops").json["slack_username"] == .null)

            #expect(try await relay.admin(.DELETE, "/v1/subscriptions/ops").status == 204)
            #expect(try await relay.admin(.GET, "/v1/subscriptions/ops").status == 404)
            #expect(try await relay.admin(.DELETE, "/v1/subscriptions/ops").status == 404)
        }
    }

    @Test(arguments: [
        // (method, path, body, status, code, field)
        ("POST", "/v1/subscriptions", #"{"type": "slack", "url": "#, 400, "invalid_json", nil as String?),
        ("POST", "/v1/subscriptions", "", 400, "invalid_json", nil),
        ("POST", "/v1/subscriptions", "[1, 2]", 400, "invalid_json", nil),
        ("POST", "/v1/subscriptions", #"{"type": "slack", "url": "https://x.test/a", "colour": "red"}"#, 400, "unknown_field", "colour"),
        ("POST", "/v1/subscriptions", #"{"type": "slack", "url": "https://x.test/a", "filter": {"typs": []}}"#, 400, "unknown_field", "filter.typs"),
        ("POST", "/v1/subscriptions", #"{"type": "pager", "url": "https://x.test/a"}"#, 422, "invalid_field", "type"),
        ("POST", "/v1/subscriptions", #"{"type": "slack"}"#, 422, "invalid_field", "url"),
        ("POST", "/v1/subscriptions", #"{"type": "slack", "url": "ftp://x.test/a"}"#, 422, "invalid_field", "url"),
        ("POST", "/v1/subscriptions", #"{"type": "slack", "url": "not a url"}"#, 422, "invalid_field", "url"),
        ("POST", "/v1/subscriptions", #"{"type": "slack", "url": "https://hooks.slack.com/…WXYZ"}"#, 422, "invalid_field", "url"),
        ("POST", "/v1/subscriptions", #"{"type": "slack", "url": 42}"#, 422, "invalid_field", "url"),
        ("POST", "/v1/subscriptions", #"{"type": "slack", "url": "https://x.test/a", "slack_icon": "rocket"}"#, 422, "invalid_field", "slack_icon"),
        ("POST", "/v1/subscriptions", #"{"type": "webhook", "url": "https://x.test/a", "secret": "hunter2"}"#, 422, "invalid_field", "secret"),
        ("POST", "/v1/subscriptions", #"{"id": "bad id!", "type": "slack", "url": "https://x.test/a"}"#, 422, "invalid_field", "id"),
        ("POST", "/v1/subscriptions", #"{"type": "slack", "url": "https://x.test/a", "filter": {"types": "deployment"}}"#, 422, "invalid_field", "filter.types"),
        ("POST", "/v1/subscriptions", #"{"type": "slack", "url": "https://x.test/a", "filter": {"categories": ["deploy.faild"]}}"#, 422, "invalid_field", "filter.categories"),
        ("GET", "/v1/feeds?verbose=1", "", 400, "invalid_parameter", "verbose"),
        ("POST", "/v1/subscriptions", #"{"id": "taken", "type": "slack", "url": "https://x.test/a"}"#, 409, "conflict", nil),
        ("POST", "/v1/subscriptions", #"{"id": "from-rules", "type": "slack", "url": "https://x.test/a"}"#, 409, "conflict", nil),
        ("PUT", "/v1/subscriptions/from-rules", #"{"type": "slack", "url": "https://x.test/a"}"#, 409, "conflict", nil),
        ("DELETE", "/v1/subscriptions/from-rules", "", 409, "conflict", nil),
        ("PUT", "/v1/subscriptions/taken", #"{"id": "other", "type": "slack", "url": "https://x.test/a"}"#, 422, "invalid_field", "id"),
        ("PATCH", "/v1/subscriptions/taken", #"{"url": null}"#, 422, "invalid_field", "url"),
        ("PATCH", "/v1/subscriptions/missing", #"{"slack_icon": ":x:"}"#, 404, "not_found", nil),
        ("GET", "/v1/nothing-here", "", 404, "not_found", nil),
        ("DELETE", "/v1/subscriptions", "", 405, "method_not_allowed", nil),
        ("GET", "/v1/deliveries?status=lost", "", 400, "invalid_parameter", "status"),
        ("GET", "/v1/deliveries?limit=0", "", 400, "invalid_parameter", "limit"),
        ("GET", "/v1/deliveries?colour=red", "", 400, "invalid_parameter", "colour"),
        ("GET", "/v1/deliveries/dlv_nope", "", 404, "not_found", nil),
        ("POST", "/v1/deliveries/dlv_nope/retry", "", 404, "not_found", nil),
    ])
    func badRequestsGetAClearErrorAndChangeNothing(
        method: String, path: String, body: String, status: Int, code: String, field: String?
    ) async throws {
        let rules = "subscriptions:\n  - {id: from-rules, type: slack, url_env: TEST_RULES_URL}\n"
        try await withRelay(rules: rules, environment: ["TEST_RULES_URL": "https://hooks.slack.com/services/rules"]) { relay in
            #expect(try await relay.admin(.POST, "/v1/subscriptions", #"{"id": "taken", "type": "slack", "url": "https://x.test/t"}"#).status == 201)
            let before = try await relay.admin(.GET, "/v1/subscriptions").json
            let answer = try await relay.admin(HTTPRequest.Method(rawValue: method)!, path, body)
            #expect(answer.status == status, "\(answer.json)")
            #expect(answer.json["error"]?["code"] == .string(code))
            #expect(answer.json["error"]?["message"]?.stringValue?.isEmpty == false)
            if let field {
                #expect(answer.json["error"]?["field"] == .string(field))
                #expect(answer.json["error"]?["message"]?.stringValue?.contains(field) == true)
            }
            #expect(try await relay.admin(.GET, "/v1/subscriptions").json == before, "nothing changed")
        }
    }

    @Test func oversizeBodiesGet413() async throws {
        try await withRelay { relay in
            let huge = #"{"type": "slack", "url": "https://x.test/"# + String(repeating: "a", count: 100_000) + "\"}"
            let answer = try await relay.admin(.POST, "/v1/subscriptions", huge)
            #expect(answer.status == 413)
            #expect(answer.json["error"]?["code"] == .string("body_too_large"))
            #expect(try await relay.admin(.GET, "/v1/subscriptions").json["subscriptions"] == .array([]))
        }
    }

    @Test func rulesFeedsDeliveriesAndMetricsAreVisible() async throws {
        let rules = """
            subscriptions:
              - {id: ops, type: slack, url_env: TEST_RULES_URL}
            rules:
              - name: deploys
                filter: {types: [deployment]}
                subscriptions: [ops]
            """
        try await withRelay(rules: rules, environment: ["TEST_RULES_URL": Self.slackURL]) { relay in
            let listed = try await relay.admin(.GET, "/v1/rules")
            #expect(listed.json["rules"]?.arrayValue?.first?["name"] == .string("deploys"))
            let subscriptions = try await relay.admin(.GET, "/v1/subscriptions").json["subscriptions"]?.arrayValue ?? []
            #expect(subscriptions.first?["origin"] == .string("rules"))
            #expect(subscriptions.first?["url"] == .string("https://hooks.slack.com/…WXYZ"))
            #expect(try await relay.admin(.GET, "/v1/deliveries").json["counts"]?["pending"] == .integer(0))
            let metrics = try await relay.client.execute(HTTPRequest(
                url: relay.adminURL + "/metrics", headers: [("Authorization", "Bearer \(RelayHarness.adminToken)")]))
            #expect(metrics.status == 200)
            #expect(metrics.bodyText.contains("event_relay_outbox_deliveries{status=\"pending\"} 0"))
        }
    }

    /// Answers are compact JSON with keys in one stable order (by their UTF-8 bytes), one line:
    /// the bytes `CanonicalJSON` writes for the same value, and a newline.
    @Test func answersAreCompactJSONWithStableKeyOrder() async throws {
        let rules = "subscriptions:\n  - {id: ops, type: slack, url_env: TEST_RULES_URL, slack_icon: \":rocket:\"}\n"
        try await withRelay(rules: rules, environment: ["TEST_RULES_URL": Self.slackURL]) { relay in
            #expect(try await relay.admin(.POST, "/v1/subscriptions", #"{"id": "hook", "type": "webhook", "url": "https://example.com/h"}"#).status == 201)
            let headers = [("Authorization", "Bearer \(RelayHarness.adminToken)")]
            for (path, status) in [
                ("/v1/subscriptions", 200), ("/v1/subscriptions/ops", 200), ("/v1/deliveries", 200), ("/v1/feeds", 200),
                ("/v1/rules", 200), ("/healthz", 200), ("/v1/subscriptions/nope", 404), ("/v1/deliveries?limit=0", 400),
            ] {
                let response = try await relay.client.execute(HTTPRequest(url: relay.adminURL + path, headers: headers))
                #expect(response.status == status, "\(path)")
                #expect(response.header("Content-Type") == "application/json", "\(path)")
                let value = try JSONValue.parse(response.body)
                #expect(response.bodyText == String(decoding: CanonicalJSON.encode(value), as: UTF8.self) + "\n", "\(path)")
            }
        }
    }

    @Test func generatedTokenIsPrivateAndNotLoggedAndSurvivesRestarts() async throws {
        let harness = try RelayHarness()
        harness.environment["EVENT_RELAY_ADMIN_TOKEN"] = nil
        let configuration = harness.configuration(scalingo: nil)
        try await harness.start(configuration)
        let tokenPath = configuration.dataDirectory + "/admin-token"
        let token = try String(contentsOfFile: tokenPath, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(token.count >= 32)
        let attributes = try FileManager.default.attributesOfItem(atPath: tokenPath)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let directory = try FileManager.default.attributesOfItem(atPath: configuration.dataDirectory)
        #expect((directory[.posixPermissions] as? Int) == 0o700)
        #expect(try await harness.admin(.GET, "/v1/subscriptions", token: token).status == 200)
        #expect(try await harness.admin(.GET, "/v1/subscriptions", token: RelayHarness.adminToken).status == 401)
        try await harness.stop()
        try await harness.start(configuration)
        #expect(try await harness.admin(.GET, "/v1/subscriptions", token: token).status == 200)
        await harness.cleanup()
    }

    @Test func aSecondRelayCannotShareTheDataDirectory() async throws {
        let harness = try RelayHarness()
        let configuration = harness.configuration(scalingo: nil)
        try await harness.start(configuration)
        await #expect(throws: (any Error).self) {
            _ = try await Relay(configuration: configuration, environment: harness.environment, handleSignals: false)
        }
        await harness.cleanup()
    }
}
