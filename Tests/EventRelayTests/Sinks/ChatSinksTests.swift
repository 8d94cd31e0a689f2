import EventModel
import Feeds
import Foundation
import HTTPClient
import HTTPServer
import Sinks
import Testing

/// Mattermost, Rocket.Chat, Discord, Teams and Google Chat: every event type renders a message
/// each service's documented checks accept (`ChatReceivers`), each service's documented answers
/// read right, and each goes through the relay to a loopback receiver.
@Suite("Chat destinations: Mattermost, Rocket.Chat, Discord, Teams, Google Chat")
struct ChatSinksTests {
    static let kinds = ["mattermost", "rocketchat", "discord", "teams", "googlechat"]

    static func settings(_ kind: String) throws -> any SinkSettings {
        let plugin = try #require(SinkRegistry.kinds.named(kind))
        var body: [String: JSONValue] = ["url": .string("https://chat.example.com/hooks/abcdefgh"), "time_zone": .string("Europe/Paris")]
        if plugin.keys(for: .api).contains("username") {
            body["username"] = .string("EventRelay")
            body["icon"] = .string("https://example.com/relay.png")
        }
        return try plugin.read(JSONSettingsSource(api: body))
    }

    @Test(arguments: kinds)
    func everyEventTypeRendersAMessageTheServiceAccepts(kind: String) async throws {
        let presenter = PlatformPresenter()
        let subscription = Subscription(id: "s", settings: try Self.settings(kind))
        for event in try SlackGoldenTests.allEvents() {
            let transport = Capture()
            let notifier = NotifierFactory(transport: transport, presenter: presenter).notifier(for: subscription)
            _ = await notifier.notify(event, context: DeliveryContext(deliveryID: "d", subscriptionID: "s", matchedBy: "r", attempt: 1, now: Date()))
            let request = try #require(transport.requests.first, "\(kind) \(event.type)")
            #expect(ChatReceivers.problem(kind: kind, body: request.body) == nil, "\(kind) \(event.source) \(event.type)")
            #expect(request.headers.contains { $0.name == "Content-Type" && $0.value.hasPrefix("application/json") })
            let text = String(decoding: request.body, as: UTF8.self)
            for secret in ["VAL1", "VAL2", "VALUE-MUST-NOT-LEAK", "TOKEN-MUST-NOT-LEAK", "QOVERY_VALUE_MUST_NOT_LEAK", "QOVERY_OLD_VALUE"] {
                #expect(!text.contains(secret), "\(kind) \(event.type) shows \(secret)")
            }
        }
    }

    @Test(arguments: kinds)
    func hugeMessagesAreCutToTheServicesLimitsNotRefused(kind: String) async throws {
        let many = StubPresenter(presentation: EventPresentation(
            tone: .failure, title: String(repeating: "t", count: 600), subject: String(repeating: "s", count: 300), actor: "ann",
            facts: (0..<300).map { EventPresentation.Fact("label \($0)", String(repeating: "v", count: 5000), code: $0 % 2 == 0) },
            links: (0..<20).map { .init("link \($0)", "https://x.test/\($0)") }, fallback: String(repeating: "z", count: 50_000)))
        let transport = Capture()
        let notifier = NotifierFactory(transport: transport, presenter: many).notifier(for: Subscription(id: "s", settings: try Self.settings(kind)))
        _ = await notifier.notify(
            Fixtures.event(type: "deployment"), context: DeliveryContext(deliveryID: "d", subscriptionID: "s", matchedBy: "r", attempt: 1, now: Date()))
        let body = try #require(transport.requests.first?.body)
        #expect(ChatReceivers.problem(kind: kind, body: body) == nil)
        let text = String(decoding: body, as: UTF8.self)
        #expect(text.contains("(truncated)") || text.contains("more not shown"), "the cut is visible")
    }

    /// Event text cannot make markup: a commit message's link or a label's brackets arrive as text.
    @Test(arguments: kinds)
    func eventTextCannotInjectMarkup(kind: String) async throws {
        let hostile = StubPresenter(presentation: EventPresentation(
            tone: .info, title: "Deploy", subject: "app",
            facts: [
                .init("Last commits", "[Approve](https://evil.example/steal) **bold** <b>tag</b> `tick`"),
                .init("Ref", String(repeating: "r", count: 3000), link: "https://x.test/commit/(1)", code: true),
            ],
            fallback: "Deploy"))
        let transport = Capture()
        let notifier = NotifierFactory(transport: transport, presenter: hostile).notifier(for: Subscription(id: "s", settings: try Self.settings(kind)))
        _ = await notifier.notify(
            Fixtures.event(type: "deployment"), context: DeliveryContext(deliveryID: "d", subscriptionID: "s", matchedBy: "r", attempt: 1, now: Date()))
        let text = String(decoding: try #require(transport.requests.first?.body), as: UTF8.self)
        #expect(!text.contains("<b>tag</b>"), "\(kind): raw HTML")
        if kind != "googlechat" {  // Google Chat's cards read an HTML subset, not Markdown
            #expect(!text.contains("[Approve](https://evil.example/steal)"), "\(kind): an unescaped link")
            #expect(!text.contains("/commit/(1)"), "\(kind): a parenthesis ends a Markdown link target early")
        }
        #expect(ChatReceivers.problem(kind: kind, body: Array(text.utf8)) == nil)
    }

    @Test func eachServicesDocumentedAnswersReadRight() {
        func classify(_ kind: String, _ status: Int, _ body: String = "", headers: [(String, String)] = []) -> SendResult {
            let response = HTTPResponse(status: status, headers: headers, body: Array(body.utf8))
            let now = Date(timeIntervalSince1970: 0)
            switch kind {
            case "mattermost": return MattermostFormat.classify(response, now: now, scrubber: .none)
            case "rocketchat": return RocketChatFormat.classify(response, now: now, scrubber: .none)
            case "discord": return DiscordFormat.classify(response, now: now, scrubber: .none)
            case "teams": return TeamsFormat.classify(response, now: now, scrubber: .none)
            default: return GoogleChatFormat.classify(response, now: now, scrubber: .none)
            }
        }
        #expect(classify("mattermost", 200, "ok") == .delivered(status: 200))
        #expect(classify("mattermost", 400, #"{"id":"web.incoming_webhook.invalid.app_error","status_code":400}"#).cause == .http(400),
            "Mattermost says so for a failed lookup too: not proof the hook is gone")
        #expect(classify("mattermost", 404).cause == .http(404), "a proxy's 404 does not disable")
        #expect(classify("mattermost", 400, #"{"id":"api.context.invalid_body_param.app_error"}"#).cause == .http(400))
        #expect(classify("mattermost", 503).cause == .http(503))
        #expect(classify("rocketchat", 200, #"{"success":true}"#) == .delivered(status: 200))
        if case .failed(_, _, let cause) = classify("rocketchat", 200, #"{"success":false,"error":"invalid-channel"}"#) {
            #expect(cause == .http(400))
        } else {
            Issue.record("Rocket.Chat's success:false is a refusal")
        }
        #expect(classify("rocketchat", 404).cause == .http(404))
        #expect(classify("discord", 204) == .delivered(status: 204))
        #expect(classify("discord", 404, #"{"message": "Unknown Webhook", "code": 10015}"#).cause == .gone)
        #expect(classify("discord", 404, "<html>Not Found</html>").cause == .http(404), "a proxy's 404 does not disable")
        #expect(classify("discord", 401, #"{"message": "Invalid Webhook Token", "code": 50027}"#).cause == .gone)
        #expect(classify("discord", 400, #"{"message": "Invalid Form Body", "code": 50035}"#).cause == .http(400))
        guard case .retry(429, _, let wait, _) = classify("discord", 429, #"{"message":"You are being rate limited.","retry_after":1.5,"global":false}"#) else {
            Issue.record("a 429 is retried")
            return
        }
        #expect(wait == .milliseconds(1500), "Discord's retry_after (seconds) when no Retry-After header")
        #expect(classify("teams", 202) == .delivered(status: 202))
        #expect(classify("teams", 404).cause == .http(404))
        #expect(classify("teams", 429, headers: [("Retry-After", "7")]) == .retry(status: 429, reason: "HTTP 429", retryAfter: .seconds(7), cause: .http(429)))
        #expect(classify("googlechat", 200, "{}") == .delivered(status: 200))
        #expect(classify("googlechat", 404, #"{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND"}}"#).cause == .gone)
        #expect(classify("googlechat", 403).cause == .http(403) && classify("googlechat", 404).cause == .http(404))
        #expect(classify("googlechat", 400, #"{"error":{"code":400,"message":"Invalid JSON payload"}}"#).cause == .http(400))
    }

    @Test func serviceRulesAreCheckedWhenSaved() throws {
        let discord = try #require(SinkRegistry.kinds.named("discord"))
        let named = try discord.read(JSONSettingsSource(api: ["url": .string("https://discord.com/api/webhooks/1/abc"), "username": .string("My Discord Bot")]))
        #expect(named.validate()?.field == "username")
        let emoji = try discord.read(JSONSettingsSource(api: ["url": .string("https://discord.com/api/webhooks/1/abc"), "icon": .string(":bell:")]))
        #expect(emoji.validate()?.field == "icon")
        let teams = try #require(SinkRegistry.kinds.named("teams"))
        #expect(!teams.keys(for: .api).contains("username"), "Workflows post as the flow")
        #expect(throws: FieldError.self) {
            try teams.read(JSONSettingsSource(api: ["time_zone": .string("Mars/Olympus")]))
        }
        let zone = try teams.read(JSONSettingsSource(api: ["url": .string("https://x.test/a"), "time_zone": .string("Mars/Olympus")]))
        #expect(zone.validate()?.field == "time_zone")
    }

    /// Through the relay: each service's receiver on loopback takes one event, checks it as the
    /// service would, and a deleted webhook (404) disables its subscription.
    @Test func eachKindDeliversThroughTheRelayAndAGoneWebhookDisablesIt() async throws {
        let setup = try await SecretsAPITests.Setup { request in
            let kind = String(request.path.dropFirst())
            if kind.hasPrefix("gone") { return HTTPServerResponse(status: 404, body: Array(#"{"message":"Unknown Webhook","code":10015}"#.utf8)) }
            if let problem = ChatReceivers.problem(kind: kind, body: request.body) { return HTTPServerResponse(status: 400, body: Array(problem.utf8)) }
            return ChatReceivers.success(kind: kind)
        }
        for kind in Self.kinds + ["gone"] {
            let type = kind == "gone" ? "discord" : kind
            let sender = SinkRegistry.kinds.named(type)?.keys(for: .api).contains("username") == true
                ? #", "username": "Relay", "icon": "https://example.com/i.png""# : ""
            let created = try await setup.harness.admin(.POST, "/v1/subscriptions", """
                {"id": "\(kind)", "type": "\(type)", "url": "\(setup.receiver.baseURL)/\(kind)"\(sender), "filter": {"types": ["login_lock"]}}
                """)
            #expect(created.status == 201, "\(created.json)")
        }
        try await setup.push("chat-1")
        #expect(await setup.receiver.waitFor { requests in Set(requests.map(\.path)).isSuperset(of: Set((Self.kinds + ["gone"]).map { "/\($0)" })) })
        #expect(try await eventually {
            let counts = try await setup.harness.relay?.store.deliveryCountsBySubscription() ?? [:]
            return Self.kinds.allSatisfy { counts[$0]?[.delivered] == 1 }
        })
        #expect(try await eventually {
            try await setup.harness.admin(.GET, "/v1/subscriptions/gone").json["state"]?["status"] == .string("disabled")
        })
        let discord = try JSONValue.parse(try #require(setup.receiver.requests.first { $0.path == "/discord" }).body)
        #expect(discord["username"] == .string("Relay") && discord["avatar_url"] == .string("https://example.com/i.png"))
        let rocket = try JSONValue.parse(try #require(setup.receiver.requests.first { $0.path == "/rocketchat" }).body)
        #expect(rocket["alias"] == .string("Relay") && rocket["username"] == .string("Relay") && rocket["avatar"] == .string("https://example.com/i.png"))
        await setup.finish()
    }
}

/// A transport that records what it is asked to send and answers 200.
final class Capture: HTTPTransport, @unchecked Sendable {
    private let lock = NSLock()
    private var sent: [HTTPRequest] = []
    var requests: [HTTPRequest] { lock.withLock { sent } }

    func execute(_ request: HTTPRequest) async throws -> HTTPResponse {
        lock.withLock { sent.append(request) }
        return HTTPResponse(status: 200)
    }
}

/// Presents every event as the same presentation (to push a renderer to its limits).
struct StubPresenter: EventPresenter {
    let presentation: EventPresentation
    func present(_ event: Event) -> EventPresentation { presentation }
    func mayCarrySecretValues(source: String, type: String, keepingPlatformValues: Bool) -> Bool { false }
    func redacted(_ event: Event, keepingPlatformValues: Bool) -> Event { event }
}
