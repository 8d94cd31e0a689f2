import EventModel
import Foundation
import HTTPClient
import HTTPServer
import Sinks
import Testing

/// Slack with a bot token, against a loopback fake of `chat.postMessage` and `chat.update` that
/// checks what Slack checks (the bearer token, the channel, a known message to update) and
/// answers as Slack does (HTTP 200 with `ok` and `error`).
@Suite("Slack bot token: one message per deployment, updated or threaded")
struct SlackBotTests {
    final class FakeSlack: @unchecked Sendable {
        private let lock = NSLock()
        private var next = 0
        private(set) var messages: [String: JSONValue] = [:]
        /// The calls made with the right token.
        private(set) var calls: [(method: String, body: JSONValue)] = []

        func answer(_ request: HTTPServerRequest) -> HTTPServerResponse {
            let method = String(request.path.split(separator: "/").last ?? "")
            let body = (try? JSONValue.parse(request.body)) ?? .null
            let reply = lock.withLock { () -> JSONValue in
                guard request.headers["authorization"] == "Bearer xoxb-test-token" else { return Self.fail("invalid_auth") }
                calls.append((method, body))
                guard request.headers["content-type"]?.hasPrefix("application/json") == true else { return Self.fail("invalid_form_data") }
                let channel = body["channel"]?.stringValue ?? ""
                guard channel == "C0123" else { return Self.fail(channel == "CARCHIVED" ? "is_archived" : "channel_not_found") }
                guard body["text"]?.stringValue?.isEmpty == false || body["blocks"]?.arrayValue?.isEmpty == false else {
                    return Self.fail("no_text")
                }
                switch method {
                case "chat.postMessage":
                    if let parent = body["thread_ts"]?.stringValue, messages[parent] == nil { return Self.fail("thread_not_found") }
                    next += 1
                    let ts = "1700000000.\(String(format: "%06d", next))"
                    messages[ts] = body
                    return .object(["ok": .bool(true), "channel": .string(channel), "ts": .string(ts)])
                case "chat.update":
                    guard let ts = body["ts"]?.stringValue, messages[ts] != nil else { return Self.fail("message_not_found") }
                    messages[ts] = body
                    return .object(["ok": .bool(true), "channel": .string(channel), "ts": .string(ts)])
                default:
                    return Self.fail("unknown_method")
                }
            }
            return HTTPServerResponse(status: 200, headers: [("Content-Type", "application/json")], body: reply.encoded())
        }

        var snapshot: [(method: String, body: JSONValue)] { lock.withLock { calls } }

        static func fail(_ error: String) -> JSONValue { .object(["ok": .bool(false), "error": .string(error)]) }
    }

    static func deployment(_ id: String, status: String) -> JSONValue {
        .object([
            "id": .string(id), "created_at": .string(Timestamp.format(Date())), "type": .string("deployment"), "app_id": .string("app-1"),
            "app_name": .string("shop-prod"), "user": .object(["username": .string("ann")]),
            "type_data": .object(["deployment_id": .string("dep-42"), "status": .string(status), "git_ref": .string("0123456789")]),
        ])
    }

    @Test func aDeploymentIsOneMessageUpdatedOrThreadedAndARevokedTokenDisables() async throws {
        let slack = FakeSlack()
        let setup = try await SecretsAPITests.Setup { request in slack.answer(request) }
        let api = setup.receiver.baseURL + "/api"
        for (id, extra) in [("updated", ""), ("threaded", #", "thread_mode": "reply""#)] {
            let created = try await setup.harness.admin(.POST, "/v1/subscriptions", """
                {"id": "\(id)", "type": "slack", "bot_token": "xoxb-test-token", "channel": "C0123", "api_url": "\(api)"\(extra),
                 "filter": {"types": ["deployment"]}}
                """)
            #expect(created.status == 201 && created.json["bot_token"]?.stringValue?.contains("test-token") == false, "\(created.json)")
        }
        let revoked = try await setup.harness.admin(.POST, "/v1/subscriptions", """
            {"id": "revoked", "type": "slack", "bot_token": "xoxb-revoked", "channel": "C0123", "api_url": "\(api)", "filter": {"types": ["deployment"]}}
            """)
        #expect(revoked.status == 201)
        let push = try await setup.harness.client.execute(HTTPRequest(
            method: .POST, url: setup.harness.adminURL + "/v1/ingest/in",
            headers: [("Authorization", "Bearer \(SecretsAPITests.bearer)"), ("Content-Type", "application/json")],
            body: JSONValue.array([Self.deployment("d-1", status: "building"), Self.deployment("d-2", status: "success")]).encoded()))
        #expect(push.status == 202, "\(push.bodyText)")
        #expect(try await eventually {
            let counts = try await setup.harness.relay?.store.deliveryCountsBySubscription() ?? [:]
            return counts["updated"]?[.delivered] == 2 && counts["threaded"]?[.delivered] == 2
        })
        let calls = slack.snapshot.filter { $0.body["channel"] != nil }
        let updates = calls.filter { $0.method == "chat.update" }
        #expect(updates.count == 1, "the updated subscription edits its message once: \(calls.map(\.method))")
        let replies = calls.filter { $0.method == "chat.postMessage" && $0.body["thread_ts"] != nil }
        #expect(replies.count == 1, "the threaded one answers under its first message")
        #expect(calls.filter { $0.method == "chat.postMessage" && $0.body["thread_ts"] == nil }.count == 2, "one new message per subscription")
        let updatedTS = try #require(updates.first?.body["ts"]?.stringValue)
        #expect(String(decoding: (slack.messages[updatedTS] ?? .null).encoded(), as: UTF8.self).contains("Deployment succeeded"),
            "the channel's one message now says the deployment succeeded")
        // A render shows the request without its token.
        let render = try await setup.harness.admin(.POST, "/v1/render", """
            {"subscription_id": "updated", "event": \(String(decoding: Self.deployment("d-3", status: "success").encoded(), as: UTF8.self))}
            """)
        #expect(render.status == 200 && !String(decoding: render.json.encoded(), as: UTF8.self).contains("test-token"), "\(render.json)")
        let authorization = render.json["destinations"]?.arrayValue?.first?["request"]?["headers"]?.arrayValue?.first { $0["name"] == .string("Authorization") }
        #expect(authorization?["value"] == .string("[secret]"))
        #expect(render.json["destinations"]?.arrayValue?.first?["request"]?["body"]?["ts"] == .string(updatedTS),
            "the render shows the update the story's next event would make")
        #expect(try await setup.harness.relay?.store.thread(subscriptionID: "updated", key: "app-1/deployment/dep-42")?.ts == updatedTS,
            "and remembers nothing")
        let stored = try await setup.harness.relay?.store.thread(subscriptionID: "updated", key: "app-1/deployment/dep-42")
        #expect(stored == MessageThread(channel: "C0123", ts: updatedTS), "kept durably")
        #expect(try await eventually {
            try await setup.harness.admin(.GET, "/v1/subscriptions/revoked").json["state"]?["status"] == .string("disabled")
        }, "a revoked token disables the subscription")
        await setup.finish()
    }

    @Test func eitherAWebhookOrABotTokenAndAChannel() async throws {
        let setup = try await SecretsAPITests.Setup()
        for (body, field) in [
            (#"{"type": "slack", "bot_token": "xoxb-1"}"#, "channel"),
            (#"{"type": "slack", "url": "https://hooks.slack.com/services/T/B/abcdefgh", "bot_token": "xoxb-1", "channel": "C1"}"#, "bot_token"),
            (#"{"type": "slack", "url": "https://hooks.slack.com/services/T/B/abcdefgh", "channel": "C1"}"#, "channel"),
            (#"{"type": "slack", "bot_token": "not-a-token", "channel": "C1"}"#, "bot_token"),
            (#"{"type": "slack", "bot_token": "xoxb-1", "channel": "C1", "thread_mode": "sideways"}"#, "thread_mode"),
            (#"{"type": "slack"}"#, "url"),
        ] {
            let answer = try await setup.harness.admin(.POST, "/v1/subscriptions", body)
            #expect(answer.status == 422 && answer.json["error"]?["field"] == .string(field), "\(body): \(answer.json)")
        }
        #expect(try await setup.harness.admin(.GET, "/v1/subscriptions").json["subscriptions"]?.arrayValue?.isEmpty == true)
        await setup.finish()
    }
}
