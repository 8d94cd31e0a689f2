import EventModel
import Foundation
import HTTPClient
import HTTPServer
import Testing

/// The real executable's log, with a rules-file webhook in mid-rotation whose receiver echoes
/// every request back in its error answers: nothing secret may reach the log or the API.
@Suite("event-relay as a process: secrets stay out of logs", .serialized)
struct SecretsProcessTests {
    static let adminToken = "process-secrets-admin-token-0123456789"
    static let pushToken = "process-secrets-push-token-0123456789"
    static let current = "whsec_" + Data((0..<32).map { UInt8($0) }).base64EncodedString()
    static let previous = "whsec_" + Data((100..<132).map { UInt8($0) }).base64EncodedString()
    static let authorization = "Bearer sk_live_abcdefghijkl"
    static let token = "tok_9f8e7d6c5b4a3210"
    static let queryKey = "qwertyuiop123"

    @Test func aReceiverEchoingTheRequestPutsNoSecretInTheLogOrTheAPI() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let statuses = LockedValue([500, 400])
        let receiver = try RecordingServer { request in
            let status = statuses.withValue { $0.isEmpty ? 400 : $0.removeFirst() }
            let query = request.query.map { "\($0.key)=\($0.value)" }.joined(separator: "&")
            let headers = request.headers.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "\n")
            return HTTPServerResponse(status: status, body: Array("\(request.method) \(request.path)?\(query)\n\(headers)\n\n".utf8) + request.body)
        }
        try directory.write("rules/hook.yaml", """
            subscriptions:
              - id: hook
                type: webhook
                url_env: HOOK_URL
                secret_env: HOOK_SECRET
                previous_secret_env: HOOK_SECRET_OLD
                previous_secret_expires: 2999-01-01T00:00:00Z
                headers_env: {Authorization: HOOK_AUTH}
            rules:
              - {name: locks, filter: {types: [login_lock]}, subscriptions: [hook]}
            """)
        try directory.write("relay.yaml", """
            data_dir: \(directory.path)/data
            rules_dir: \(directory.path)/rules
            log_level: debug
            admin:
              listen: 127.0.0.1:0
            delivery:
              retry_schedule: [100ms, 100ms]
              allowed_networks: [127.0.0.0/8]
            push:
              - {name: in, format: scalingo, auth: bearer, secret_env: PUSH_TOKEN}
            """)
        let hookURL = receiver.baseURL + "/in/\(Self.token)?key=\(Self.queryKey)"
        let environment = [
            "EVENT_RELAY_ADMIN_TOKEN": Self.adminToken, "PUSH_TOKEN": Self.pushToken, "HOOK_URL": hookURL,
            "HOOK_SECRET": Self.current, "HOOK_SECRET_OLD": Self.previous, "HOOK_AUTH": Self.authorization,
        ]
        let relay = try RelayProcess(arguments: ["serve", "--config", directory.path + "/relay.yaml"], environment: environment, workingDirectory: directory.url)
        let port = try #require(try await relay.waitForAdminPort(), "\(relay.log)")
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let admin = "http://127.0.0.1:\(port)"
        let pushed = try await client.execute(HTTPRequest(
            method: .POST, url: admin + "/v1/ingest/in", headers: [("Authorization", "Bearer \(Self.pushToken)")],
            body: ScalingoEventFactory.loginLock(id: "echo-1", user: "ann", ip: "10.0.0.1", at: Date()).encoded()))
        #expect(pushed.status == 202, "\(pushed.bodyText)")

        // A 500 (retried), then a 400 (dead-lettered).
        @Sendable func get(_ path: String) async throws -> JSONValue {
            try JSONValue.parse(try await client.execute(HTTPRequest(url: admin + path, headers: [("Authorization", "Bearer \(Self.adminToken)")])).body)
        }
        #expect(try await eventually { try await get("/v1/deliveries")["counts"]?["dead_letter"] == .integer(1) }, "\(relay.log)")
        let first = try #require(receiver.requests.first)
        #expect(first.header("authorization") == Self.authorization)
        #expect(first.header("webhook-signature")?.split(separator: " ").count == 2, "both secrets sign")

        let deliveries = try await get("/v1/deliveries")
        let id = try #require(deliveries["deliveries"]?.arrayValue?.first?["id"]?.stringValue)
        let detail = try await get("/v1/deliveries/\(id)")
        #expect(detail["attempt_log"]?.arrayValue?.count == 2)
        let subscriptions = try await get("/v1/subscriptions")
        #expect(subscriptions["subscriptions"]?.arrayValue?.first?["headers"] == .array([.string("Authorization")]))
        #expect(subscriptions["subscriptions"]?.arrayValue?.first?["previous_secrets"]?.arrayValue?.count == 1)

        relay.signal(SIGTERM)
        #expect(try await relay.wait() == 0, "\(relay.log)")
        let log = relay.log
        #expect(log.contains("delivery attempt failed; will retry") && log.contains("[redacted]"), "\(log)")
        let secrets = [
            hookURL, Self.token, Self.queryKey, Self.current, String(Self.current.dropFirst(6)), Self.previous,
            String(Self.previous.dropFirst(6)), Self.authorization, "sk_live_abcdefghijkl", Self.adminToken, Self.pushToken,
        ]
        for (name, text) in [("log", log), ("deliveries", "\(deliveries)"), ("delivery", "\(detail)"), ("subscriptions", "\(subscriptions)")] {
            for secret in secrets { #expect(!text.contains(secret), "\(secret) in the \(name): \(text)") }
        }
        await receiver.stop()
    }
}
