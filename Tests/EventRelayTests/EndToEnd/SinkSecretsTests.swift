import EventModel
import Foundation
import GRDB
import HTTPClient
import HTTPServer
import Sinks
import Testing

/// Every destination kind, through every way a delivery fails (connection refused, a 4xx and a
/// 5xx echoing the whole request back, a timeout), in the real executable with debug logging:
/// none of its secrets may appear in the logs, the stored attempt records, the admin API's
/// answers or the metrics.
@Suite("Destination secrets never leak", .serialized)
struct SinkSecretsTests {
    static let token = "sink-secrets-admin-token-0123456789"
    static let pushToken = "sink-secrets-push-token-0123456789"

    /// A kind's subscription body for a URL, and the secrets it holds beyond the URL's own.
    struct KindCase: Sendable {
        var body: @Sendable (_ id: String, _ url: String) -> String
        var secrets: [String]
    }

    static let signingSecret = "whsec_" + Data((40..<72).map { UInt8($0) }).base64EncodedString()
    static let headerToken = "hdr_tok_5e4d3c2b1a09f8e7"

    /// One entry per registered kind: a kind without one fails `everyKindIsCovered`.
    static let kinds: [String: KindCase] = [
        "webhook": KindCase(
            body: { id, url in
                #"{"id": "\#(id)", "type": "webhook", "url": "\#(url)", "secret": "\#(signingSecret)", "headers": {"Authorization": "Bearer \#(headerToken)"}, "filter": {"sources": ["test"]}, "delivery": {"ordering": "none", "retry_schedule": ["100ms", "100ms"]}}"#
            },
            secrets: [signingSecret, String(signingSecret.dropFirst(6)), headerToken]),
        "slack": KindCase(
            body: { id, url in
                #"{"id": "\#(id)", "type": "slack", "url": "\#(url)", "slack_username": "Relay", "headers": {"X-Proxy-Key": "\#(headerToken)"}, "filter": {"sources": ["test"]}, "delivery": {"ordering": "none", "retry_schedule": ["100ms", "100ms"]}}"#
            },
            secrets: [headerToken]),
        // Credentials from the relay's environment; the server is one of the failing receivers.
        "email": KindCase(
            body: { id, url in
                let port = url.split(separator: ":").last?.prefix { $0.isNumber } ?? "25"
                return #"{"id": "\#(id)", "type": "email", "smtp_host": "127.0.0.1", "smtp_port": \#(port), "from": "relay@example.com", "to": ["ops@example.com"], "username_env": "TEST_SMTP_USER", "password_env": "TEST_SMTP_PASSWORD", "filter": {"sources": ["test"]}, "delivery": {"ordering": "none", "retry_schedule": ["100ms", "100ms"]}}"#
            },
            secrets: [smtpPassword]),
    ].merging(chatKinds, uniquingKeysWith: { first, _ in first })

    static let smtpPassword = "smtp-passw0rd-must-not-leak"

    /// The chat services: a URL (secret) and headers for a proxy in front.
    static let chatKinds: [String: KindCase] = Dictionary(uniqueKeysWithValues: ["mattermost", "rocketchat", "discord", "teams", "googlechat"].map { kind in
        (kind, KindCase(
            body: { id, url in
                #"{"id": "\#(id)", "type": "\#(kind)", "url": "\#(url)", "headers": {"X-Proxy-Key": "\#(headerToken)"}, "filter": {"sources": ["test"]}, "delivery": {"ordering": "none", "retry_schedule": ["100ms", "100ms"]}}"#
            },
            secrets: [headerToken]))
    })

    @Test func everyKindIsCovered() {
        #expect(Set(Self.kinds.keys) == Set(SinkRegistry.kinds.names))
    }

    /// Answers with everything it was sent: request line, headers, body.
    static func echo(_ request: HTTPServerRequest, status: Int) -> HTTPServerResponse {
        let query = request.query.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: "&")
        let headers = request.headers.map { "\($0.key): \($0.value)" }.sorted().joined(separator: "\n")
        let text = "\(request.method) \(request.path)?\(query)\n\(headers)\n\n\(String(decoding: request.body, as: UTF8.self))"
        return HTTPServerResponse(status: status, body: Array(text.utf8))
    }

    @Test func noSecretOfAnyKindLeaksThroughAnyFailure() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let rejecting = try RecordingServer { Self.echo($0, status: 400) }
        let failing = try RecordingServer { Self.echo($0, status: 500) }
        let hanging = try RecordingServer { _ in
            try? await Task.sleep(for: .seconds(4))
            return HTTPServerResponse(status: 204)
        }
        let closed = try RecordingServer()
        let closedPort = closed.port
        await closed.stop()

        try directory.write("rules/empty.yaml", "subscriptions: []\n")
        try directory.write("relay.yaml", """
            data_dir: \(directory.path)/data
            rules_dir: \(directory.path)/rules
            log_level: debug
            admin:
              listen: 127.0.0.1:0
            delivery:
              allowed_networks: [127.0.0.0/8]
            http_client:
              request_timeout: 1s
            push:
              - {name: in, format: relay, auth: bearer, secret_env: TEST_PUSH_TOKEN}
            """)
        let process = try RelayProcess(
            arguments: ["serve", "--config", directory.path + "/relay.yaml"],
            environment: [
                "EVENT_RELAY_ADMIN_TOKEN": Self.token, "TEST_PUSH_TOKEN": Self.pushToken, "TEST_SMTP_USER": "relay",
                "TEST_SMTP_PASSWORD": Self.smtpPassword,
            ], workingDirectory: directory.url)
        let port = try #require(try await process.waitForAdminPort(), "\(process.log)")
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        @Sendable func admin(_ method: HTTPRequest.Method, _ path: String, _ body: String? = nil) async throws -> (status: Int, text: String) {
            let response = try await client.execute(HTTPRequest(
                method: method, url: "http://127.0.0.1:\(port)\(path)",
                headers: [("Authorization", "Bearer \(Self.token)"), ("Content-Type", "application/json")], body: Array((body ?? "").utf8)))
            return (response.status, String(decoding: response.body, as: UTF8.self))
        }

        // Each kind to each failing receiver, at a URL whose path and query are secret.
        let receivers = [
            ("refused", "http://127.0.0.1:\(closedPort)"), ("rejected", rejecting.baseURL), ("failing", failing.baseURL),
            ("hanging", hanging.baseURL),
        ]
        var secrets = [Self.token, Self.pushToken, Self.smtpPassword]
        var ids: [String] = []
        for (kind, kindCase) in Self.kinds.sorted(by: { $0.key < $1.key }) {
            for (name, base) in receivers {
                let id = "\(kind)-\(name)"
                let pathToken = "T0SECRET\(kind)\(name)Path77"
                let queryToken = "qk_\(kind)_\(name)_9f8e7d6c"
                let url = "\(base)/services/\(pathToken)?key=\(queryToken)"
                secrets += [url, pathToken, queryToken] + kindCase.secrets
                let created = try await admin(.POST, "/v1/subscriptions", kindCase.body(id, url))
                #expect(created.status == 201, "\(created.text)")
                ids.append(id)
            }
        }
        let event = #"{"source": "test", "id": "leak-1", "type": "deployment", "time": "\#(Timestamp.format(Date()))"}"#
        let pushed = try await client.execute(HTTPRequest(
            method: .POST, url: "http://127.0.0.1:\(port)/v1/ingest/in",
            headers: [("Authorization", "Bearer \(Self.pushToken)"), ("Content-Type", "application/json")], body: Array(event.utf8)))
        #expect(pushed.status == 202)

        // Every subscription gives up after its three attempts.
        let expected = ids.count
        #expect(try await eventually(timeout: .seconds(60)) {
            let dead = try JSONValue.parse(Array(try await admin(.GET, "/v1/deliveries?status=dead_letter&limit=100").text.utf8))
            return (dead["deliveries"]?.arrayValue?.count ?? 0) == expected
        }, "\(process.log)")
        // The echoing receivers did see the secrets: what comes next is a real test of scrubbing.
        #expect(rejecting.requests.contains { $0.headers["x-proxy-key"] == Self.headerToken })
        #expect(failing.requests.contains { $0.headers["authorization"] == "Bearer \(Self.headerToken)" })

        var seen: [(String, String)] = []
        let listing = try await admin(.GET, "/v1/deliveries?limit=100")
        seen.append(("GET /v1/deliveries", listing.text))
        for delivery in try JSONValue.parse(Array(listing.text.utf8))["deliveries"]?.arrayValue ?? [] {
            let id = try #require(delivery["id"]?.stringValue)
            let one = try await admin(.GET, "/v1/deliveries/\(id)")
            seen.append(("GET /v1/deliveries/\(id)", one.text))
            #expect(one.text.contains("attempt_log"))
        }
        seen.append(("GET /v1/subscriptions", try await admin(.GET, "/v1/subscriptions").text))
        for id in ids {
            seen.append(("GET /v1/subscriptions/\(id)", try await admin(.GET, "/v1/subscriptions/\(id)").text))
            seen.append(("POST test \(id)", try await admin(.POST, "/v1/subscriptions/\(id)/test").text))
            seen.append(("PATCH \(id)", try await admin(.PATCH, "/v1/subscriptions/\(id)", #"{"headers": {"X-Other": "plain"}}"#).text))
        }
        seen.append(("GET /metrics", try await admin(.GET, "/metrics").text))
        let rejected = seen.first { $0.0.hasPrefix("GET /v1/deliveries/") && $0.1.contains("HTTP 400") }
        #expect(rejected?.1.contains(Scrubber.replacement) == true, "an echo's excerpt is kept, scrubbed")

        process.signal(SIGTERM)
        #expect(try await process.wait() == 0)
        seen.append(("log", process.log))
        #expect(process.log.contains("HTTP 500"), "debug logging showed the failures")
        // What the store keeps, read directly.
        let database = try DatabaseQueue(path: directory.path + "/data/event-relay.sqlite")
        let stored = try await database.read { db in
            try String.fetchAll(db, sql: "SELECT COALESCE(error, '') FROM delivery_attempts")
                + String.fetchAll(db, sql: "SELECT COALESCE(last_error, '') FROM deliveries")
        }
        try database.close()
        #expect(stored.contains { $0.contains("timed out") } && stored.contains { $0.contains("could not connect") })
        seen.append(("stored attempts", stored.joined(separator: "\n")))

        for (place, text) in seen {
            let lowered = text.lowercased()
            for secret in Set(secrets) where lowered.contains(secret.lowercased()) {
                Issue.record("\(place) shows a secret: \(secret)")
            }
        }
        await rejecting.stop()
        await failing.stop()
        await hanging.stop()
    }
}
