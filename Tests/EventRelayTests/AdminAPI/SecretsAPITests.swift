import AdminAPI
import EventModel
import Foundation
import Sinks
import HTTPClient
import HTTPServer
import Testing

/// Generated and rotated signing secrets, custom headers and scrubbed receiver echoes, through the
/// live relay: admin API over HTTP, push ingest in, libcurl out to a loopback receiver.
@Suite("Admin API: secrets, rotation and custom headers")
struct SecretsAPITests {
    static let bearer = "push-bearer-token-0123456789"
    static let given = "whsec_" + Data((40..<72).map { UInt8($0) }).base64EncodedString()
    static let token = "tok_9f8e7d6c5b4a3210"
    static let queryKey = "qwertyuiop123"
    static let authorization = "Bearer sk_live_abcdefghijkl"

    /// A relay with a bearer push feed `in` and a receiver answering from `responder`.
    struct Setup {
        let harness: RelayHarness
        let receiver: RecordingServer

        init(rules: String? = nil, environment: [String: String] = [:], responder: @escaping RecordingServer.Responder = { _ in HTTPServerResponse(status: 204) }) async throws {
            receiver = try RecordingServer(responder: responder)
            harness = try RelayHarness(environment: environment.merging(["PUSH_BEARER": SecretsAPITests.bearer]) { $1 })
            if let rules { try harness.writeRule("rules.yaml", rules) }
            var configuration = harness.configuration(scalingo: nil)
            configuration.pushFeeds = [PushFeedSettings(name: "in", format: "scalingo", auth: .bearer, secretEnv: "PUSH_BEARER")]
            try await harness.start(configuration)
        }

        var hookURL: String { receiver.baseURL + "/in/\(SecretsAPITests.token)?key=\(SecretsAPITests.queryKey)" }

        func push(_ id: String) async throws {
            let response = try await harness.client.execute(HTTPRequest(
                method: .POST, url: harness.adminURL + "/v1/ingest/in",
                headers: [("Authorization", "Bearer \(SecretsAPITests.bearer)"), ("Content-Type", "application/json")],
                body: ScalingoEventFactory.loginLock(id: id, user: "ann", ip: "10.0.0.1", at: Date()).encoded()))
            #expect(response.status == 202, "\(response.bodyText)")
        }

        /// The request that delivered event `id`, once it arrives.
        func delivery(of id: String) async throws -> HTTPServerRequest {
            let arrived = await receiver.waitFor { requests in requests.contains { Self.eventID($0) == id } }
            #expect(arrived, "event \(id) was not delivered")
            return try #require(receiver.requests.first { Self.eventID($0) == id })
        }

        static func eventID(_ request: HTTPServerRequest) -> String? {
            try? JSONValue.parse(request.body)["event"]?["id"]?.stringValue
        }

        func finish() async {
            await harness.cleanup()
            await receiver.stop()
        }
    }

    /// Which of `secrets` verify the request's signature header, in the header's order.
    static func signers(_ request: HTTPServerRequest, _ secrets: [String]) -> [String] {
        guard let header = request.header("webhook-signature"), let id = request.header("webhook-id"),
              let timestamp = request.header("webhook-timestamp")
        else { return [] }
        return header.split(separator: " ").compactMap { signature in
            secrets.first { StandardWebhooksReference.verifies(header: String(signature), secret: $0, id: id, timestamp: timestamp, body: request.body) }
        }
    }

    static func text(_ json: JSONValue) -> String { String(decoding: json.encoded(), as: UTF8.self) }

    @Test func aGeneratedSecretIsShownOnceAndHeadersOnlyByName() async throws {
        let setup = try await Setup()
        let created = try await setup.harness.admin(.POST, "/v1/subscriptions", """
            {"id": "hook", "type": "webhook", "url": "\(setup.hookURL)", "headers": {"Authorization": "\(Self.authorization)", "X-Team": "ops"}}
            """)
        #expect(created.status == 201, "\(created.json)")
        let secret = try #require(created.json["new_secret"]?.stringValue)
        #expect(WebhookSignature.isValidSecret(secret))
        #expect(Data(base64Encoded: String(secret.dropFirst(6)))?.count == 32)
        #expect(created.json["secret"]?.stringValue?.hasPrefix("whsec_…") == true)
        #expect(created.json["secret_fingerprint"]?.stringValue?.count == 8)
        #expect(created.json["headers"] == .array([.string("Authorization"), .string("X-Team")]))

        let other = try await setup.harness.admin(.POST, "/v1/subscriptions", #"{"type": "webhook", "url": "https://x.test/a"}"#)
        #expect(other.json["new_secret"]?.stringValue != secret, "each generated secret is new")
        let given = try await setup.harness.admin(.POST, "/v1/subscriptions", #"{"type": "webhook", "url": "https://x.test/b", "secret": "\#(Self.given)"}"#)
        #expect(given.status == 201 && given.json["new_secret"] == nil, "a secret the caller gave is not echoed")

        for path in ["/v1/subscriptions/hook", "/v1/subscriptions"] {
            let shown = Self.text(try await setup.harness.admin(.GET, path).json)
            #expect(!shown.contains("new_secret") && !shown.contains(String(secret.dropFirst(6))), "\(path): \(shown)")
            #expect(!shown.contains("sk_live") && !shown.contains("\"ops\"") && !shown.contains(Self.token) && !shown.contains(Self.queryKey))
            #expect(!shown.contains(String(Self.given.dropFirst(6))))
        }

        // The generated secret signs; the headers arrive.
        try await setup.push("first")
        let request = try await setup.delivery(of: "first")
        #expect(Self.signers(request, [secret]) == [secret])
        #expect(request.header("authorization") == Self.authorization && request.header("x-team") == "ops")
        await setup.finish()
    }

    @Test func rotationSignsWithBothUntilTheOldOneIsEnded() async throws {
        let setup = try await Setup()
        let created = try await setup.harness.admin(.POST, "/v1/subscriptions", """
            {"id": "hook", "type": "webhook", "url": "\(setup.hookURL)", "secret": "\(Self.given)", "filter": {"types": ["login_lock"]}}
            """)
        #expect(created.status == 201 && created.json["previous_secrets"] == .array([]))
        try await setup.push("before")
        #expect(Self.signers(try await setup.delivery(of: "before"), [Self.given]) == [Self.given])

        let started = Date()
        let rotated = try await setup.harness.admin(.POST, "/v1/subscriptions/hook/secret/rotate")
        #expect(rotated.status == 200, "\(rotated.json)")
        let second = try #require(rotated.json["new_secret"]?.stringValue)
        let previous = try #require(rotated.json["previous_secrets"]?.arrayValue)
        #expect(previous.count == 1 && previous.first?["secret"]?.stringValue?.hasPrefix("whsec_…") == true)
        let expiry = try #require(previous.first?["expires_at"]?.stringValue.flatMap(Timestamp.parse))
        #expect(abs(expiry.timeIntervalSince(started) - 86_400) < 60, "24 hours by default")
        #expect(!Self.text(rotated.json).contains(String(Self.given.dropFirst(6))))
        #expect(try await setup.harness.admin(.GET, "/v1/subscriptions/hook").json["new_secret"] == nil)

        try await setup.push("during")
        #expect(Self.signers(try await setup.delivery(of: "during"), [second, Self.given]) == [second, Self.given], "the new secret first")

        // A chosen secret, revoking the one it replaces at once: the first secret still signs.
        let third = "whsec_" + Data((1...40).map { UInt8($0) }).base64EncodedString()
        let revoked = try await setup.harness.admin(.POST, "/v1/subscriptions/hook/secret/rotate", #"{"secret": "\#(third)", "previous_expires_in": "0s"}"#)
        #expect(revoked.status == 200 && revoked.json["new_secret"] == nil, "\(revoked.json)")
        try await setup.push("revoked")
        #expect(Self.signers(try await setup.delivery(of: "revoked"), [third, second, Self.given]) == [third, Self.given])

        let ended = try await setup.harness.admin(.DELETE, "/v1/subscriptions/hook/secret/previous")
        #expect(ended.status == 200 && ended.json["previous_secrets"] == .array([]))
        try await setup.push("after")
        #expect(Self.signers(try await setup.delivery(of: "after"), [third, second, Self.given]) == [third])
        await setup.finish()
    }

    @Test func atMostThreeRetiredSecretsSignAtOnce() async throws {
        let setup = try await Setup()
        _ = try await setup.harness.admin(.POST, "/v1/subscriptions", #"{"id": "hook", "type": "webhook", "url": "https://x.test/a"}"#)
        for _ in 1...3 { #expect(try await setup.harness.admin(.POST, "/v1/subscriptions/hook/secret/rotate").status == 200) }
        let before = try await setup.harness.admin(.GET, "/v1/subscriptions/hook").json
        let refused = try await setup.harness.admin(.POST, "/v1/subscriptions/hook/secret/rotate")
        #expect(refused.status == 409 && refused.json["error"]?["message"]?.stringValue?.contains("previous_expires_in") == true)
        #expect(try await setup.harness.admin(.GET, "/v1/subscriptions/hook").json == before)
        // Revoking the current secret needs no room.
        #expect(try await setup.harness.admin(.POST, "/v1/subscriptions/hook/secret/rotate", #"{"previous_expires_in": "0s"}"#).status == 200)
        await setup.finish()
    }

    static let rules = """
        subscriptions:
          - {id: from-rules, type: webhook, url_env: RULES_URL, secret_env: RULES_SECRET}
          - {id: chat, type: slack, url_env: RULES_URL}
        rules:
          - {name: r, subscriptions: [from-rules, chat]}
        """

    @Test(arguments: [
        // (method, path, body, status, code, field)
        ("POST", "/v1/subscriptions", #"{"type": "webhook", "url": "https://x.test/a", "secret": "whsec_c2hvcnQ="}"#, 422, "invalid_field", "secret" as String?),
        ("POST", "/v1/subscriptions", #"{"type": "webhook", "url": "https://x.test/a", "headers": {"Bad Name": "x"}}"#, 422, "invalid_field", "headers"),
        ("POST", "/v1/subscriptions", #"{"type": "webhook", "url": "https://x.test/a", "headers": {"X-A": "a\r\nInjected: yes"}}"#, 422, "invalid_field", "headers.X-A"),
        ("POST", "/v1/subscriptions", #"{"type": "webhook", "url": "https://x.test/a", "headers": {"X-A": "a\u0000"}}"#, 422, "invalid_field", "headers.X-A"),
        ("POST", "/v1/subscriptions", #"{"type": "webhook", "url": "https://x.test/a", "headers": {"X-A": ""}}"#, 422, "invalid_field", "headers.X-A"),
        ("POST", "/v1/subscriptions", #"{"type": "webhook", "url": "https://x.test/a", "headers": {"host": "evil.test"}}"#, 422, "invalid_field", "headers.host"),
        ("POST", "/v1/subscriptions", #"{"type": "webhook", "url": "https://x.test/a", "headers": {"Content-Length": "1"}}"#, 422, "invalid_field", "headers.Content-Length"),
        ("POST", "/v1/subscriptions", #"{"type": "webhook", "url": "https://x.test/a", "headers": {"Webhook-Signature": "v1,x"}}"#, 422, "invalid_field", "headers.Webhook-Signature"),
        ("POST", "/v1/subscriptions", #"{"type": "webhook", "url": "https://x.test/a", "headers": {"X-A": 5}}"#, 422, "invalid_field", "headers.X-A"),
        ("POST", "/v1/subscriptions", #"{"type": "webhook", "url": "https://x.test/a", "headers": ["X-A: b"]}"#, 422, "invalid_field", "headers"),
        ("POST", "/v1/subscriptions", #"{"type": "webhook", "url": "https://x.test/a", "headers": {"X-A": "1", "x-a": "2"}}"#, 422, "invalid_field", "headers.x-a"),
        ("PATCH", "/v1/subscriptions/hook", #"{"headers": {"X-B": "a\nb"}}"#, 422, "invalid_field", "headers.X-B"),
        ("PATCH", "/v1/subscriptions/hook", #"{"secret": "whsec_!!"}"#, 422, "invalid_field", "secret"),
        ("POST", "/v1/subscriptions/hook/secret/rotate", #"{"secret": "hunter2"}"#, 422, "invalid_field", "secret"),
        ("POST", "/v1/subscriptions/hook/secret/rotate", #"{"secret": "\#(given)"}"#, 422, "invalid_field", "secret"),
        ("POST", "/v1/subscriptions/hook/secret/rotate", #"{"previous_expires_in": "31d"}"#, 422, "invalid_field", "previous_expires_in"),
        ("POST", "/v1/subscriptions/hook/secret/rotate", #"{"previous_expires_in": "-1h"}"#, 422, "invalid_field", "previous_expires_in"),
        ("POST", "/v1/subscriptions/hook/secret/rotate", #"{"previous_expires_in": "tomorrow"}"#, 422, "invalid_field", "previous_expires_in"),
        ("POST", "/v1/subscriptions/hook/secret/rotate", #"{"previous_expires_in": 3600}"#, 422, "invalid_field", "previous_expires_in"),
        ("POST", "/v1/subscriptions/hook/secret/rotate", #"{"expires": "1h"}"#, 400, "unknown_field", "expires"),
        ("POST", "/v1/subscriptions/hook/secret/rotate", "[]", 400, "invalid_json", nil),
        ("GET", "/v1/subscriptions/hook/secret/rotate", "", 405, "method_not_allowed", nil),
        ("POST", "/v1/subscriptions/nope/secret/rotate", "", 404, "not_found", nil),
        ("POST", "/v1/subscriptions/chat/secret/rotate", "", 409, "conflict", nil),
        ("POST", "/v1/subscriptions/from-rules/secret/rotate", "", 409, "conflict", nil),
        ("DELETE", "/v1/subscriptions/from-rules/secret/previous", "", 409, "conflict", nil),
        ("POST", "/v1/subscriptions/slackapi/secret/rotate", "", 409, "conflict", nil),
    ])
    func badInputGetsAClearErrorAndChangesNothing(method: String, path: String, body: String, status: Int, code: String, field: String?) async throws {
        let setup = try await Setup(rules: Self.rules, environment: ["RULES_URL": "https://rules.test/hook", "RULES_SECRET": Self.given])
        _ = try await setup.harness.admin(.POST, "/v1/subscriptions", """
            {"id": "hook", "type": "webhook", "url": "https://x.test/a", "secret": "\(Self.given)", "headers": {"X-B": "kept-value"}}
            """)
        _ = try await setup.harness.admin(.POST, "/v1/subscriptions", #"{"id": "slackapi", "type": "slack", "url": "https://x.test/s"}"#)
        let before = try await setup.harness.admin(.GET, "/v1/subscriptions").json
        let response = try await setup.harness.admin(try #require(HTTPRequest.Method(rawValue: method)), path, body)
        #expect(response.status == status, "\(response.json)")
        #expect(response.json["error"]?["code"] == .string(code))
        #expect(response.json["error"]?["field"] == field.map(JSONValue.string), "\(response.json)")
        #expect(response.json["error"]?["message"]?.stringValue?.isEmpty == false)
        let answer = Self.text(response.json)
        #expect(!answer.contains("hunter2") && !answer.contains(String(Self.given.dropFirst(6))) && !answer.contains("Injected"))
        #expect(try await setup.harness.admin(.GET, "/v1/subscriptions").json == before, "nothing changed")
        await setup.finish()
    }

    @Test func headersAreReplacedByPutKeptWhenLeftOutAndMergedByPatch() async throws {
        let setup = try await Setup()
        _ = try await setup.harness.admin(.POST, "/v1/subscriptions", """
            {"id": "hook", "type": "webhook", "url": "https://x.test/a", "secret": "\(Self.given)", "headers": {"X-A": "one-value", "X-B": "two-value"}}
            """)
        let patched = try await setup.harness.admin(.PATCH, "/v1/subscriptions/hook", #"{"headers": {"x-a": "uno-value", "X-B": null, "X-C": "three"}}"#)
        #expect(patched.json["headers"] == .array([.string("x-a"), .string("X-C")]), "\(patched.json)")
        let kept = try await setup.harness.admin(.PUT, "/v1/subscriptions/hook", #"{"type": "webhook", "url": "https://x.test/b"}"#)
        #expect(kept.json["headers"] == .array([.string("x-a"), .string("X-C")]) && kept.json["new_secret"] == nil)
        let cleared = try await setup.harness.admin(.PATCH, "/v1/subscriptions/hook", #"{"headers": null}"#)
        #expect(cleared.json["headers"] == .array([]))
        // Switching a Slack subscription to webhook without a secret generates one, shown once.
        _ = try await setup.harness.admin(.POST, "/v1/subscriptions", #"{"id": "chat", "type": "slack", "url": "https://x.test/s"}"#)
        let switched = try await setup.harness.admin(.PATCH, "/v1/subscriptions/chat", #"{"type": "webhook"}"#)
        #expect(switched.status == 200 && switched.json["new_secret"]?.stringValue?.hasPrefix("whsec_") == true, "\(switched.json)")
        await setup.finish()
    }

    /// A receiver that answers with everything it was sent: request line, headers, body.
    static func echo(status: Int) -> RecordingServer.Responder {
        { request in
            let query = request.query.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "&")
            let headers = request.headers.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "\n")
            let text = "\(request.method) \(request.path)?\(query)\n\(headers)\n\n" + String(decoding: request.body, as: UTF8.self)
            return HTTPServerResponse(status: status, body: Array(text.utf8))
        }
    }

    @Test(arguments: [400, 500])
    func aReceiverEchoingTheRequestLeavesNoSecretInAttemptsOrAnswers(status: Int) async throws {
        let setup = try await Setup(responder: Self.echo(status: status))
        let created = try await setup.harness.admin(.POST, "/v1/subscriptions", """
            {"id": "hook", "type": "webhook", "url": "\(setup.hookURL)", "headers": {"Authorization": "\(Self.authorization)"},
             "filter": {"types": ["login_lock"]}}
            """)
        let secret = try #require(created.json["new_secret"]?.stringValue)
        try await setup.push("echoed")
        _ = try await setup.delivery(of: "echoed")
        let path = "/v1/deliveries?subscription_id=hook"
        #expect(try await eventually {
            (try await setup.harness.admin(.GET, path).json["deliveries"]?.arrayValue?.first?["last_error"]?.stringValue) != nil
        })
        let list = try await setup.harness.admin(.GET, path).json
        let id = try #require(list["deliveries"]?.arrayValue?.first?["id"]?.stringValue)
        let detail = try await setup.harness.admin(.GET, "/v1/deliveries/\(id)").json
        let attempts = try #require(detail["attempt_log"]?.arrayValue)
        #expect(!attempts.isEmpty)
        #expect(attempts.first?["error"]?.stringValue?.hasPrefix("HTTP \(status): POST [redacted]") == true, "\(attempts)")
        for shown in [Self.text(list), Self.text(detail)] {
            for fragment in [Self.token, Self.queryKey, "sk_live_abcdefghijkl", secret, String(secret.dropFirst(6)), setup.hookURL] {
                #expect(!shown.contains(fragment), "\(fragment) in \(shown)")
            }
        }
        await setup.finish()
    }

    /// Slack-app webhooks post as the app: a username or icon set for one is accepted, with a
    /// warning, since legacy webhooks, Mattermost and Rocket.Chat do honour them.
    @Test func aUsernameOrIconOnASlackAppWebhookIsAcceptedWithAWarning() async throws {
        let setup = try await Setup()
        let app = try await setup.harness.admin(.POST, "/v1/subscriptions", """
            {"id": "app", "type": "slack", "url": "https://hooks.slack.com/services/T0/B0/abcdefghijkl", "slack_username": "Relay", "slack_icon": ":bell:"}
            """)
        #expect(app.status == 201)
        let warning = try #require(app.json["warnings"]?.arrayValue?.first?.stringValue)
        #expect(warning.contains("slack_username and slack_icon will be ignored"), "\(warning)")
        let patched = try await setup.harness.admin(.PATCH, "/v1/subscriptions/app", #"{"slack_icon": null}"#)
        #expect(patched.json["warnings"]?.arrayValue?.first?.stringValue?.hasPrefix("slack_username will be ignored") == true, "\(patched.json)")
        let plain = try await setup.harness.admin(.PATCH, "/v1/subscriptions/app", #"{"slack_username": null}"#)
        #expect(plain.status == 200 && plain.json["warnings"] == nil)
        let mattermost = try await setup.harness.admin(.POST, "/v1/subscriptions", """
            {"id": "mm", "type": "slack", "url": "https://chat.example.com/hooks/abcdefghijkl", "slack_username": "Relay"}
            """)
        #expect(mattermost.status == 201 && mattermost.json["warnings"] == nil)
        #expect(try await setup.harness.admin(.GET, "/v1/subscriptions/app").json["warnings"] == nil, "warnings answer saves, not reads")
        await setup.finish()
    }

    /// Each kind takes its own keys: another kind's are refused by name, and the type's own list is given.
    @Test func aKeyOfAnotherKindIsRefusedNamingTheKeysThisKindTakes() async throws {
        let setup = try await Setup()
        let refused = try await setup.harness.admin(.POST, "/v1/subscriptions", """
            {"id": "chat", "type": "slack", "url": "https://chat.test/hooks/abcdefghijkl", "secret": "\(Self.given)"}
            """)
        #expect(refused.status == 400 && refused.json["error"]?["field"] == .string("secret"), "\(refused.json)")
        let message = refused.json["error"]?["message"]?.stringValue ?? ""
        #expect(message.contains("slack_username") && !message.contains(Self.given), "\(message)")
        let unknown = try await setup.harness.admin(.POST, "/v1/subscriptions", #"{"type": "pager", "url": "https://x.test/a"}"#)
        #expect(unknown.status == 422 && unknown.json["error"]?["message"]?.stringValue == "type: must be one of: webhook, slack, mattermost, rocketchat, discord, teams, googlechat, email")
        // A PATCH to another type keeps what both kinds have (the URL) and drops the rest (the signing secret).
        #expect(try await setup.harness.admin(.POST, "/v1/subscriptions", #"{"id": "hook", "type": "webhook", "url": "\#(setup.hookURL)"}"#).status == 201)
        let switched = try await setup.harness.admin(.PATCH, "/v1/subscriptions/hook", #"{"type": "slack"}"#)
        #expect(switched.status == 200 && switched.json["secret"] == nil && switched.json["url"]?.stringValue?.hasPrefix(setup.receiver.baseURL) == true,
            "\(switched.json)")
        #expect(try await setup.harness.admin(.GET, "/v1/subscriptions").json["subscriptions"]?.arrayValue?.count == 1, "nothing else was saved")
        await setup.finish()
    }

    /// Clients that send every key, `null` for "unset": a whole document's `null` secret is none
    /// (generated on create, kept on replace); only a patch's `null` asks to clear it.
    @Test func aNullSecretInAWholeDocumentIsLeftOutNotCleared() async throws {
        let setup = try await Setup()
        let created = try await setup.harness.admin(.POST, "/v1/subscriptions", """
            {"id": "hook", "type": "webhook", "url": "\(setup.hookURL)", "secret": null, "headers": null}
            """)
        #expect(created.status == 201 && created.json["new_secret"]?.stringValue?.hasPrefix("whsec_") == true, "\(created.json)")
        let rotated = try await setup.harness.admin(.POST, "/v1/subscriptions/hook/secret/rotate")
        let fingerprint = rotated.json["secret_fingerprint"]
        let replaced = try await setup.harness.admin(.PUT, "/v1/subscriptions/hook", #"{"type": "webhook", "secret": null}"#)
        #expect(replaced.status == 200 && replaced.json["new_secret"] == nil, "\(replaced.json)")
        #expect(replaced.json["secret_fingerprint"] == fingerprint && replaced.json["previous_secrets"]?.arrayValue?.count == 1,
            "the secret, its rotation and the URL (never shown whole) are kept")
        #expect(replaced.json["url"]?.stringValue?.hasPrefix(setup.receiver.baseURL) == true)
        let cleared = try await setup.harness.admin(.PATCH, "/v1/subscriptions/hook", #"{"secret": null}"#)
        #expect(cleared.status == 422 && cleared.json["error"]?["field"] == .string("secret"), "\(cleared.json)")
        await setup.finish()
    }

    /// A variable's value reaches a webhook as `[redacted]`, unless its subscription asks for raw values.
    @Test func variableValuesReachWebhooksRedactedUnlessRawValuesAreAskedFor() async throws {
        let setup = try await Setup()
        for (id, raw) in [("plain", false), ("raw", true)] {
            let created = try await setup.harness.admin(.POST, "/v1/subscriptions", """
                {"id": "\(id)", "type": "webhook", "url": "\(setup.receiver.baseURL)/\(id)", "raw_values": \(raw), "filter": {"types": ["edit_variable"]}}
                """)
            #expect(created.status == 201 && created.json["raw_values"] == .bool(raw), "\(created.json)")
        }
        let event: JSONValue = .object([
            "id": .string("var-1"), "created_at": .string(Timestamp.format(Date())), "type": .string("edit_variable"),
            "app_name": .string("web"), "user": .object(["username": .string("ann")]),
            "type_data": .object(["name": .string("STRIPE_KEY"), "value": .string("sk_live_NEWVALUE123"), "old_value": .string("sk_live_OLDVALUE456")]),
        ])
        let response = try await setup.harness.client.execute(HTTPRequest(
            method: .POST, url: setup.harness.adminURL + "/v1/ingest/in",
            headers: [("Authorization", "Bearer \(Self.bearer)"), ("Content-Type", "application/json")], body: event.encoded()))
        #expect(response.status == 202)
        #expect(await setup.receiver.waitFor { requests in Set(requests.map(\.path)) == ["/plain", "/raw"] })
        let plain = try JSONValue.parse(try #require(setup.receiver.requests.first { $0.path == "/plain" }).body)
        let raw = try JSONValue.parse(try #require(setup.receiver.requests.first { $0.path == "/raw" }).body)
        #expect(plain["raw"]?["type_data"]?["value"] == .string("[redacted]"))
        #expect(plain["raw"]?["type_data"]?["old_value"] == .string("[redacted]"))
        #expect(plain["raw"]?["type_data"]?["name"] == .string("STRIPE_KEY"))
        #expect(raw["raw"]?["type_data"]?["value"] == .string("sk_live_NEWVALUE123"))
        #expect(!String(decoding: plain.encoded(), as: UTF8.self).contains("VALUE"))
        await setup.finish()
    }
}
