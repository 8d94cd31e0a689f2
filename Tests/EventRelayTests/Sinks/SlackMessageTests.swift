import EventModel
import Feeds
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

    static let presenter = PlatformPresenter()

    static func render(_ event: Event, username: String? = nil, icon: String? = nil, timeZone: TimeZone = .gmt) -> JSONValue {
        SlackMessage.render(event, presentation: presenter.present(event), username: username, icon: icon, timeZone: timeZone)
    }

    static func fields(_ message: JSONValue) -> [String] {
        (message["blocks"]?.arrayValue ?? []).flatMap { $0["fields"]?.arrayValue ?? [] }.compactMap { $0["text"]?.stringValue }
    }

    @Test func failedDeploymentShowsStatusRefPusherDurationAndALink() throws {
        let message = Self.render(Self.deployment(status: "build-error"), username: "EventRelay", icon: ":rotating_light:")
        #expect(message["text"]?.stringValue == ":x: Deployment failed on example-running-app by example-username (status: build-error)")
        let blocks = try #require(message["blocks"]?.arrayValue)
        #expect(blocks[0]["type"] == .string("header"))
        #expect(blocks[0]["text"]?["text"]?.stringValue == ":x: Deployment failed · example-running-app")
        let fields = Self.fields(message)
        #expect(fields.contains("*Status*\n`build-error`"))
        #expect(fields.contains("*Git ref*\n<https://github.com/acme/app/commit/a5dca8e|`a5dca8e`>"))
        #expect(fields.contains("*Pusher*\nann"))
        #expect(fields.contains("*Duration*\n1m 32s"))
        #expect(Self.text(message).contains("<https://github.com/acme/app/commit/a5dca8e|Commit>"))
        #expect(message["username"]?.stringValue == "EventRelay")
        #expect(message["icon_emoji"]?.stringValue == ":rotating_light:")
        #expect(message["icon_url"] == nil)
    }

    @Test func successfulDeploymentAndIconURL() {
        let message = Self.render(Self.deployment(status: "success"), icon: "https://example.com/i.png")
        #expect(message["text"]?.stringValue?.hasPrefix(":white_check_mark: Deployment succeeded on example-running-app") == true)
        #expect(message["icon_url"]?.stringValue == "https://example.com/i.png")
        #expect(message["icon_emoji"] == nil && message["username"] == nil)
    }

    @Test func theFooterShowsTheTimeInTheSubscriptionsZone() throws {
        let event = Self.deployment(status: "success")  // 2020-05-29T12:23:31Z
        let paris = try #require(TimeZone(identifier: "Europe/Paris"))
        let context = { (message: JSONValue) in
            message["blocks"]?.arrayValue?.last?["elements"]?.arrayValue?.first?["text"]?.stringValue ?? ""
        }
        #expect(context(Self.render(event)) == "scalingo · 2020-05-29 12:23:31 UTC · `deployment`")
        #expect(context(Self.render(event, timeZone: paris)) == "scalingo · 2020-05-29 14:23:31 Europe/Paris · `deployment`")
    }

    @Test func loginLockShowsUserRemoteIPAndTime() throws {
        let event = Event(
            source: "scalingo", feed: "s", id: "l1", type: "login_lock", category: .authLocked, time: Date(timeIntervalSince1970: 0),
            actor: Actor(name: "johndoe", email: "john@doe.com"), raw: .object(["type_data": .object(["remote_ip": .string("1.2.3.4")])]))
        let message = Self.render(event)
        #expect(message["blocks"]?.arrayValue?.first?["text"]?["text"]?.stringValue == ":lock: Account locked after repeated failed logins")
        let fields = Self.fields(message)
        #expect(fields.contains("*User*\njohndoe") && fields.contains("*Email*\njohn@doe.com") && fields.contains("*Remote IP*\n`1.2.3.4`"))
        #expect(Self.text(message).contains("scalingo · 1970-01-01 00:00:00 UTC"), "the time, in the footer")
    }

    @Test func markupFromEventsIsEscaped() {
        let event = Fixtures.event(type: "database/add_feature", app: "<script>&app")
        let message = Self.render(event)
        // mrkdwn (the text, the fields, the context) escapes; the header is plain_text, shown as written.
        #expect(message["text"]?.stringValue?.contains("&lt;script&gt;&amp;app") == true)
        #expect(message["blocks"]?.arrayValue?.first?["text"]?["type"] == .string("plain_text"))
        var mrkdwn = message
        if case .object(var object) = mrkdwn { object["blocks"] = .array(Array(message["blocks"]?.arrayValue?.dropFirst() ?? [])); mrkdwn = .object(object) }
        #expect(!Self.text(mrkdwn).contains("<script>"))
    }

    /// Any platform's event reads as its folder presents it.
    @Test func anotherPlatformsEventShowsItsStepScopeAndAuthor() {
        let event = Event(
            source: "qovery", feed: "q", id: "q1", type: "DEPLOY_FAILED", category: .deployFailed, time: Date(timeIntervalSince1970: 0),
            actor: Actor(name: "ann@example.com"), app: "api", project: "acme", environment: "production",
            summary: "Deployment of api (production, project acme) failed by ann@example.com",
            raw: .object(["target_type": .string("APPLICATION"), "target_name": .string("api"), "project_name": .string("acme"),
                          "environment_name": .string("production"), "origin": .string("CONSOLE")]))
        let message = Self.render(event)
        #expect(message["blocks"]?.arrayValue?.first?["text"]?["text"]?.stringValue == ":x: Deployment failed · api")
        let fields = Self.fields(message)
        #expect(fields.contains("*Application*\napi") && fields.contains("*Environment*\nproduction") && fields.contains("*Project*\nacme"))
        #expect(fields.contains("*By*\nann@example.com") && fields.contains("*From*\nconsole"))
    }

    @Test func everyLimitIsKeptByCuttingWithAVisibleMarker() throws {
        var data: [String: JSONValue] = ["command": .string(String(repeating: "c", count: 9000))]
        for index in 0..<400 { data["field_\(index)"] = .string("v\(index)") }
        let long = Event(
            source: "scalingo", feed: "s", id: "x", type: "run", time: Date(timeIntervalSince1970: 0), app: String(repeating: "a", count: 5000),
            raw: .object(["type_data": .object(data)]))
        let many = EventPresentation(
            tone: .info, title: String(repeating: "t", count: 400), subject: "app",
            facts: (0..<700).map { EventPresentation.Fact("f\($0)", String(repeating: "v", count: 3000)) },
            links: [.init("l", "https://x.test/")], fallback: String(repeating: "z", count: 50_000))
        for message in [Self.render(long), SlackMessage.render(long, presentation: many)] {
            let blocks = try #require(message["blocks"]?.arrayValue)
            #expect(blocks.count <= 50)
            #expect((message["text"]?.stringValue?.count ?? 0) <= 40_000)
            for block in blocks {
                if block["type"] == .string("header") { #expect((block["text"]?["text"]?.stringValue?.count ?? 0) <= 150) }
                if let text = block["text"]?["text"]?.stringValue { #expect(text.count < 3000) }
                let fields = block["fields"]?.arrayValue ?? []
                #expect(fields.count <= 10)
                for field in fields { #expect((field["text"]?.stringValue?.count ?? 0) <= 2000) }
                for element in block["elements"]?.arrayValue ?? [] { #expect((element["text"]?.stringValue?.count ?? 0) < 3000) }
            }
        }
        let cut = SlackMessage.render(long, presentation: many)
        #expect(Self.text(cut).contains("… (truncated)"))
        #expect(Self.text(cut).contains("more facts not shown"))
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
