import EventModel
import Feeds
import Foundation
import HTTPClient
import Sinks
import Testing

/// Subscription templates: checked when saved (field, line, column), escaped for their output,
/// with the documented context and helpers; and `POST /v1/render` shows what would be sent.
@Suite("Message templates and render")
struct TemplateTests {
    static let event = Event(
        source: "scalingo", feed: "s", id: "t-1", type: "deployment", category: .deployFailed, time: Date(timeIntervalSince1970: 1_764_763_200),
        actor: Actor(name: "ann", email: "ann@example.com"), app: "shop-prod", summary: "Deployment of shop-prod failed",
        raw: .object(["type_data": .object(["status": .string("build-error"), "pusher": .string("a \"quoted\" <pusher>")])]))

    static func context(zone: TimeZone = .gmt) -> TemplateContext {
        TemplateContext(event: event, presentation: PlatformPresenter().present(event), zone: zone)
    }

    @Test func errorsNameTheFieldLineAndColumn() {
        #expect(throws: FieldError.self) { try MessageTemplate.compile("{{#event}}\nunclosed", output: .text, field: "text_template") }
        do {
            _ = try MessageTemplate.compile("ok\n{{#event}}\n{{app}}", output: .text, field: "text_template")
            Issue.record("an unclosed section is refused")
        } catch {
            #expect(error.field == "text_template" && error.message.contains("line") && error.message.contains("section"), "\(error.message)")
        }
        #expect(TemplateField.validate(#"{"text": {{event.summary}}"#, output: .json, field: "body_template")?.field == "body_template",
            "a body that does not render JSON is refused when saved")
        #expect(TemplateField.validate(#"{"a": 1}"#, output: .json, field: "blocks_template", array: true)?.message.contains("array") == true)
        #expect(TemplateField.validate(#"[{"type": "section", "text": {"type": "mrkdwn", "text": "{{event.summary}}"}}]"#, output: .json, field: "blocks_template", array: true) == nil)
    }

    /// A template that renders JSON for the sample event but not for this one: nothing is sent,
    /// the delivery fails saying so.
    @Test func aBodyThatIsNotJSONForARealEventIsNotSent() async throws {
        let template = #"{"n": "x"{{{raw.type_data.extra}}}}"#
        #expect(TemplateField.validate(template, output: .json, field: "body_template") == nil, "the sample has no extra: valid")
        let settings = WebhookSettings(
            url: SecretString("https://receiver.example.com/hook"), secret: SecretString("whsec_" + Data(repeating: 1, count: 32).base64EncodedString()),
            bodyTemplate: template)
        var event = Self.event
        event.raw = .object(["type_data": .object(["extra": .string("oops")])])
        let rendered = await DryRun.render(event, for: Subscription(id: "h", settings: settings), presenter: PlatformPresenter())
        #expect(rendered["error"] == .string("body_template rendered no JSON for this event"), "\(rendered)")
    }

    @Test func valuesAreEscapedForTheTemplatesOutputAndHelpersWork() throws {
        let json = try MessageTemplate.compile(#"{"who": "{{raw.type_data.pusher}}", "at": "{{local(event.time)}}", "n": {{unix(event.time)}}}"#, output: .json, field: "b")
        let rendered = try JSONValue.parse(Array(json.render(Self.context(zone: TimeZone(identifier: "Europe/Paris") ?? .gmt)).utf8))
        #expect(rendered["who"] == .string(#"a "quoted" <pusher>"#), "JSON-escaped, not HTML-escaped")
        #expect(rendered["at"] == .string("2025-12-03 13:00:00 Europe/Paris") && rendered["n"] == .integer(1_764_763_200))
        let slack = try MessageTemplate.compile("{{presentation.emoji}} {{raw.type_data.pusher}} · {{uppercased(event.app)}} · {{short(presentation.title)}}", output: .slack, field: "t")
        #expect(slack.render(Self.context()) == "❌ a \"quoted\" &lt;pusher&gt; · SHOP-PROD · Deployment failed")
        let facts = try MessageTemplate.compile("{{#presentation.facts}}{{label}}={{value}};{{/presentation.facts}}", output: .text, field: "t")
        #expect(facts.render(Self.context()).hasPrefix("Status=build-error;"))
        let raw = try MessageTemplate.compile("{{{raw.type_data.pusher}}}|{{json(event.summary)}}", output: .markdown, field: "t")
        #expect(raw.render(Self.context()) == #"a "quoted" <pusher>|Deployment of shop-prod failed"#)
    }

    /// Through the API: a bad template is refused with its line; a good one is what is sent,
    /// and `POST /v1/render` shows it without sending.
    @Test func templatesThroughTheAPIAndRender() async throws {
        let setup = try await SecretsAPITests.Setup()
        let bad = try await setup.harness.admin(.POST, "/v1/subscriptions", #"{"id": "bad", "type": "slack", "url": "https://x.test/a", "text_template": "{{#event}}"}"#)
        #expect(bad.status == 422 && bad.json["error"]?["field"] == .string("text_template"), "\(bad.json)")
        #expect(bad.json["error"]?["message"]?.stringValue?.contains("line 1") == true, "\(bad.json)")
        let created = try await setup.harness.admin(.POST, "/v1/subscriptions", """
            {"id": "hook", "type": "webhook", "url": "\(setup.receiver.baseURL)/hook", "filter": {"types": ["login_lock"]},
             "body_template": "{\\"alert\\": \\"{{presentation.title}}\\", \\"user\\": \\"{{event.actor.name}}\\", \\"ip\\": \\"{{raw.type_data.remote_ip}}\\"}"}
            """)
        #expect(created.status == 201, "\(created.json)")
        try await setup.push("tpl-1")
        #expect(await setup.receiver.waitFor { requests in requests.contains { $0.path == "/hook" } })
        let body = try JSONValue.parse(try #require(setup.receiver.requests.first { $0.path == "/hook" }).body)
        #expect(body == .object(["alert": .string("Account locked after repeated failed logins"), "user": .string("ann"), "ip": .string("10.0.0.1")]))
        let rendered = try await setup.harness.admin(.POST, "/v1/render", """
            {"event": {"id": "r-1", "created_at": "2026-12-03T10:00:00Z", "type": "login_lock", "user": {"username": "bob"}, "type_data": {"remote_ip": "192.0.2.7"}}}
            """)
        #expect(rendered.status == 200, "\(rendered.json)")
        let destination = try #require(rendered.json["destinations"]?.arrayValue?.first)
        #expect(destination["subscription_id"] == .string("hook") && destination["request"]?["method"] == .string("POST"))
        #expect(destination["request"]?["body"]?["user"] == .string("bob") && destination["request"]?["body"]?["ip"] == .string("192.0.2.7"))
        #expect(destination["request"]?["url"]?.stringValue?.contains("…") == true, "the URL is masked")
        #expect(setup.receiver.requests.filter { $0.path == "/hook" }.count == 1, "render sends nothing")
        let signature = destination["request"]?["headers"]?.arrayValue?.first { $0["name"] == .string("webhook-signature") }
        #expect(signature?["value"] == .string("(signed when sent)"), "render signs nothing a caller could replay")
        let named = try await setup.harness.admin(.POST, "/v1/render", #"{"subscription_id": "nope", "event": {"source": "x", "id": "1", "type": "t", "time": "2026-12-03T10:00:00Z"}}"#)
        #expect(named.status == 404)
        await setup.finish()
    }
}
