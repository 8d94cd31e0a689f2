import EventModel
import Foundation
import Sinks
import Testing

@Suite("Slack message formatting (pure)")
struct SlackMessageTests {
    static func deployment(status: String) -> Event {
        Event(
            source: "scalingo", feed: "s", id: "d1", type: "deployment", time: Date(timeIntervalSince1970: 1_590_755_011),
            actor: Actor(id: "us-1", name: "example-username", email: "e@x.test"), app: "example-running-app",
            raw: .object([
                "type_data": .object([
                    "status": .string(status), "git_ref": .string("a5dca8ec8f48630c07c56fd8370e4f5535fe0fd8"),
                    "git_ref_url": .string("https://github.com/acme/app/commit/a5dca8e"), "pusher": .string("ann"),
                    "duration": .integer(92),
                ])
            ]))
    }

    static func text(_ message: JSONValue) -> String {
        String(decoding: message.encoded(), as: UTF8.self)
    }

    @Test func failedDeploymentShowsAppStatusRefPusherAndDuration() throws {
        let message = SlackMessage.render(Self.deployment(status: "build-error"), username: "EventRelay", icon: ":rotating_light:")
        #expect(message["text"]?.stringValue == "Deployment failed (build-error) on example-running-app")
        let blocks = try #require(message["blocks"]?.arrayValue)
        #expect(blocks[0]["text"]?["text"]?.stringValue?.contains(":x: *Deployment failed* on *example-running-app*") == true)
        let fields = try #require(blocks[1]["fields"]?.arrayValue).compactMap { $0["text"]?.stringValue }
        #expect(fields.contains("*App*\nexample-running-app"))
        #expect(fields.contains("*Status*\n`build-error`"))
        #expect(fields.contains("*Git ref*\n<https://github.com/acme/app/commit/a5dca8e|`a5dca8e`>"))
        #expect(fields.contains("*Pusher*\nann"))
        #expect(fields.contains("*Duration*\n1m 32s"))
        #expect(message["username"]?.stringValue == "EventRelay")
        #expect(message["icon_emoji"]?.stringValue == ":rotating_light:")
        #expect(message["icon_url"] == nil)
    }

    @Test func successfulDeploymentAndIconURL() {
        let message = SlackMessage.render(Self.deployment(status: "success"), username: nil, icon: "https://example.com/i.png")
        #expect(message["text"]?.stringValue == "Deployment succeeded on example-running-app")
        #expect(message["icon_url"]?.stringValue == "https://example.com/i.png")
        #expect(message["icon_emoji"] == nil && message["username"] == nil)
    }

    @Test func loginLockShowsUserAndRemoteIP() throws {
        let event = Event(
            source: "scalingo", feed: "s", id: "l1", type: "login_lock", time: Date(timeIntervalSince1970: 0),
            actor: Actor(name: "johndoe", email: "john@doe.com"), raw: .object(["type_data": .object(["remote_ip": .string("1.2.3.4")])]))
        let message = SlackMessage.render(event, username: nil, icon: nil)
        #expect(message["text"]?.stringValue == "Account locked: johndoe (remote IP 1.2.3.4)")
        let all = Self.text(message)
        #expect(all.contains("*Account locked*: johndoe after repeated failed logins from 1.2.3.4"))
        #expect(all.contains("*User*\\njohndoe") && all.contains("*Remote IP*\\n1.2.3.4"))
    }

    @Test func unknownTypeStillReadsWellAndMarkupIsEscaped() {
        let event = Fixtures.event(type: "database/add_feature", app: "<script>&app")
        let message = SlackMessage.render(event, username: nil, icon: nil)
        let all = Self.text(message)
        #expect(all.contains("*Database/add feature on &lt;script&gt;&amp;app*"))
        #expect(all.contains("*App*\\n&lt;script&gt;&amp;app"))
        #expect(!all.contains("<script>"))
    }

    /// Any platform's event reads as the summary its folder wrote, marked by its category.
    @Test func anotherPlatformsEventShowsItsSummaryAndCategory() {
        let event = Event(
            source: "qovery", feed: "q", id: "q1", type: "DEPLOY_FAILED", category: .deployFailed, time: Date(timeIntervalSince1970: 0),
            actor: Actor(name: "ann@example.com"), app: "api", project: "acme", environment: "production",
            summary: "Deployment of api (production, project acme) failed by ann@example.com", raw: .object([:]))
        let message = SlackMessage.render(event, username: nil, icon: nil)
        #expect(message["text"]?.stringValue == "Deployment of api (production, project acme) failed by ann@example.com")
        let all = Self.text(message)
        #expect(all.contains(":x: *Deployment of api (production, project acme) failed by ann@example.com*"))
        #expect(all.contains("*Environment*\\nproduction") && all.contains("*Project*\\nacme"))
    }

    @Test func longValuesStayWithinSlackLimits() throws {
        let event = Fixtures.event(type: String(repeating: "x", count: 5000), app: String(repeating: "a", count: 5000))
        let message = SlackMessage.render(event, username: nil, icon: nil)
        for block in try #require(message["blocks"]?.arrayValue) {
            if let text = block["text"]?["text"]?.stringValue { #expect(text.count < 3001) }
            for field in block["fields"]?.arrayValue ?? [] { #expect((field["text"]?.stringValue?.count ?? 0) <= 2000) }
            for element in block["elements"]?.arrayValue ?? [] { #expect((element["text"]?.stringValue?.count ?? 0) < 3001) }
        }
    }
}

@Suite("Webhook payload and Standard Webhooks signature (pure)")
struct WebhookPayloadTests {
    @Test func signatureMatchesTheStandardWebhooksReferenceVector() {
        // From the Standard Webhooks specification's test suite.
        let signature = WebhookSignature.sign(
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330,
            body: Array(#"{"test": 2432232314}"#.utf8))
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        #expect(WebhookSignature.sign(secret: "not-whsec", id: "x", timestamp: 0, body: []) == nil)
    }

    @Test func bodyHoldsNormalizedAndRawEventAndIsStable() throws {
        let event = SlackMessageTests.deployment(status: "crashed-error")
        let context = DeliveryContext(deliveryID: "dlv_1", subscriptionID: "hook", matchedBy: "rule:x", attempt: 1, now: Date())
        let body = WebhookPayload.body(event, context: context)
        var later = context
        later.attempt = 3
        later.now = Date().addingTimeInterval(60)
        #expect(WebhookPayload.body(event, context: later) == body, "the same delivery renders the same bytes")
        let document = try JSONValue.parse(body)
        #expect(document["delivery_id"]?.stringValue == "dlv_1")
        #expect(document["event"]?["type"]?.stringValue == "deployment")
        #expect(document["event"]?["app"]?.stringValue == "example-running-app")
        #expect(document["event"]?["raw"] == nil)
        #expect(document["raw"] == event.raw)
    }

    @Test func redactionShowsEnoughToRecogniseAndNoMore() {
        #expect(Redact.url("https://hooks.slack.com/services/T000/B000/XXXXXXXXabcd") == "https://hooks.slack.com/…abcd")
        #expect(Redact.url("https://example.com:8443/hook?token=s3cr3t") == "https://example.com:8443/…cr3t")
        #expect(Redact.url("https://user:pw@example.com/x") == "<invalid URL>", "refused URLs show nothing of themselves")
        #expect(Redact.url("https://example.com") == "https://example.com/")
        #expect(Redact.secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") == "whsec_…LaSw")
        #expect("\(SecretString("tok"))" == "<redacted>")
    }
}
