import EventModel
import Feeds
import Foundation
import Sinks
import Testing

/// What users reported of messages: text cut without saying so, failures without their reason,
/// variable changes without the variable's name, crashes shown as information, and backslashes
/// before underscores.
@Suite("Messages say what was cut, why it failed, and read as written")
struct MessageRenderingTests {
    static let now = Date(timeIntervalSince1970: 1_764_763_200)

    /// Every destination kind, Slack included, with the settings the golden tests use.
    static func everyDestination() throws -> [(String, any SinkSettings)] {
        let slack = try #require(SinkRegistry.kinds.named("slack"))
        let slackSettings = try slack.read(JSONSettingsSource(api: ["url": .string("https://hooks.slack.com/services/T0/B0/abcdefghijkl")]))
        return [("slack", slackSettings)] + (try SlackGoldenTests.destinationSettings())
    }

    /// Every string a destination receives for an event, as its reader sees it (an e-mail's
    /// base64 parts decoded).
    static func texts(_ event: Event, kind: String, settings: any SinkSettings, presenter: any EventPresenter = PlatformPresenter()) async -> [String] {
        let request = await DryRun.render(event, for: Subscription(id: "s", settings: settings), presenter: presenter, now: now)
        if kind == "email", let message = request["message"]?.stringValue {
            return message.components(separatedBy: "Content-Transfer-Encoding: base64\r\n\r\n").dropFirst().compactMap { part in
                let encoded = (part.components(separatedBy: "\r\n--").first ?? "").replacingOccurrences(of: "\r\n", with: "")
                return Data(base64Encoded: encoded).map { String(decoding: $0, as: UTF8.self) }
            }
        }
        return strings(in: request["body"] ?? .null)
    }

    static func strings(in value: JSONValue) -> [String] {
        switch value {
        case .string(let text): return [text]
        case .array(let items): return items.flatMap(strings(in:))
        case .object(let fields): return fields.values.flatMap(strings(in:))
        default: return []
        }
    }

    static func scalingo(_ type: String, typeData: JSONValue) throws -> Event {
        try #require(ScalingoEvents.normalize(.object([
            "id": .string("ev-\(type)"), "type": .string(type), "created_at": .string("2025-12-03T11:59:00.000Z"), "app_name": .string("web-prod"),
            "user": .object(["username": .string("ann"), "email": .string("ann@example.com"), "id": .string("us-1")]), "type_data": typeData,
        ]), feed: "scalingo", environment: nil, fetchedAt: now))
    }

    static func qovery(_ type: String, fields: [String: JSONValue] = [:]) throws -> Event {
        var raw: [String: JSONValue] = [
            "id": .string("3c90c3cc-0d44-4b50-8888-000000000001"), "timestamp": .string("2025-12-03T11:59:00Z"), "event_type": .string(type),
            "target_id": .string("7e1b0a9c-0000-4000-8000-000000000001"), "target_name": .string("api"), "target_type": .string("APPLICATION"),
            "origin": .string("CONSOLE"), "triggered_by": .string("ann@example.com"), "project_name": .string("shop"),
            "environment_name": .string("production"),
        ]
        raw.merge(fields) { $1 }
        return try #require(QoveryEvents.normalize(.object(raw), feed: "qovery", environment: nil, fetchedAt: now))
    }

    // MARK: 1. Cut text says it was cut

    @Test func aLongConsoleCommandIsCutWithTheMarkerInEveryDestination() async throws {
        let command = "bundle exec rails runner '" + String(repeating: "Order.find_each(&:touch); ", count: 80) + "'"
        let run = try Self.scalingo("run", typeData: .object(["command": .string(command)]))
        let fact = try #require(PlatformPresenter().present(run).facts.first { $0.label == "Command" })
        #expect(fact.value.count < command.count && fact.value.hasSuffix(ChatText.marker), "the presentation's command says it was cut")
        #expect(run.summary.contains(ChatText.marker), "the one-line summary (what webhooks carry) says it was cut: \(run.summary)")
        for (kind, settings) in try Self.everyDestination() {
            let texts = await Self.texts(run, kind: kind, settings: settings)
            #expect(!texts.isEmpty, "\(kind) rendered something")
            #expect(texts.contains { $0.contains(ChatText.marker) }, "\(kind): the command is cut without the marker")
            #expect(!texts.contains { $0.contains(command) } || kind == "webhook", "\(kind) shows the whole command")
        }
    }

    @Test func aShortCommandIsShownWhole() throws {
        let run = try Self.scalingo("run", typeData: .object(["command": .string("bundle exec rake db:migrate")]))
        #expect(PlatformPresenter().present(run).facts.contains(EventPresentation.Fact("Command", "bundle exec rake db:migrate", code: true)))
        #expect(!run.summary.contains(ChatText.marker))
    }

    // MARK: 2. Qovery: why it failed, which variable

    @Test(arguments: [
        ["change": JSONValue.string(#"{"status":"DEPLOYMENT_ERROR","message":"Image build failed: exit code 137"}"#)],
        ["change": .string(#"{"error":{"message":"Image build failed: exit code 137"}}"#)],
        ["change": .string("Image build failed: exit code 137")],
        ["reason": .string("Image build failed: exit code 137")],
        ["error_message": .string("Image build failed: exit code 137")],
    ])
    func aQoveryFailureShowsItsReason(fields: [String: JSONValue]) async throws {
        let failed = try Self.qovery("DEPLOY_FAILED", fields: fields)
        let presentation = PlatformPresenter().present(failed)
        #expect(presentation.tone == .failure)
        #expect(presentation.facts.contains { $0.label == "Reason" && $0.value == "Image build failed: exit code 137" }, "\(presentation.facts)")
        #expect(presentation.fallback.contains("exit code 137"), "the one-line text says why too: \(presentation.fallback)")
        for (kind, settings) in try Self.everyDestination() where kind != "webhook" {
            #expect(await Self.texts(failed, kind: kind, settings: settings).contains { $0.contains("exit code 137") }, "\(kind)")
        }
    }

    @Test func aQoverySuccessHasNoReasonAndAFailureWithoutOneSaysNothingMade() throws {
        let deployed = try Self.qovery("DEPLOYED", fields: ["change": .string(#"{"message":"all good"}"#)])
        #expect(!PlatformPresenter().present(deployed).facts.contains { $0.label == "Reason" })
        let bare = try Self.qovery("DEPLOY_FAILED")
        #expect(!PlatformPresenter().present(bare).facts.contains { $0.label == "Reason" })
    }

    @Test(arguments: ["VARIABLE", "SECRET"])
    func aQoveryVariableChangeNamesTheVariableButNeverItsValue(subTarget: String) async throws {
        let updated = try Self.qovery("UPDATE", fields: [
            "sub_target_type": .string(subTarget), "change": .string(#"{"key":"STRIPE_KEY","value":"sk_live_NEW_MUST_NOT_LEAK"}"#),
            "original_change": .string(#"{"key":"STRIPE_KEY","value":"sk_live_OLD_MUST_NOT_LEAK"}"#),
        ])
        let deleted = try Self.qovery("DELETE", fields: [
            "sub_target_type": .string(subTarget), "original_change": .string(#"{"key":"OLD_TOKEN","value":"sk_live_OLD_MUST_NOT_LEAK"}"#),
        ])
        for (event, name) in [(updated, "STRIPE_KEY"), (deleted, "OLD_TOKEN")] {
            let presentation = PlatformPresenter().present(event)
            #expect(presentation.facts.contains { $0.value == name }, "\(event.type): \(presentation.facts)")
            #expect(presentation.fallback.contains(name), "\(presentation.fallback)")
            for (kind, settings) in try Self.everyDestination() {
                let texts = await Self.texts(event, kind: kind, settings: settings)
                if kind != "webhook" { #expect(texts.contains { $0.contains(name) }, "\(kind) \(event.type) names the variable") }
                #expect(!texts.contains { $0.contains("MUST_NOT_LEAK") }, "\(kind) \(event.type) shows a value")
            }
        }
    }

    // MARK: 3. Scalingo crashes

    @Test(arguments: ["app_crashed", "app_crashed_repeated"])
    func aScalingoCrashIsAFailureNamingItsAppOnce(type: String) async throws {
        let crash = try Self.scalingo(type, typeData: .object([:]))
        #expect(crash.category == .appCrashed)
        let presentation = PlatformPresenter().present(crash)
        #expect(presentation.tone == .failure)
        #expect(presentation.subject == "web-prod")
        #expect(ChatText.headline(presentation).components(separatedBy: "web-prod").count == 2, "\(ChatText.headline(presentation))")
        #expect(presentation.fallback.components(separatedBy: "web-prod").count == 2, "\(presentation.fallback)")
        #expect(presentation.fallback.components(separatedBy: "ann").count <= 2, "\(presentation.fallback)")
        let slack = try #require(try Self.everyDestination().first { $0.0 == "slack" })
        let texts = await Self.texts(crash, kind: "slack", settings: slack.1)
        #expect(texts.contains { $0.hasPrefix(":x:") }, "Slack shows a failure: \(texts)")
    }

    // MARK: 4. Markdown escaping for what each renderer reads

    @Test(arguments: ["mattermost", "rocketchat", "discord", "teams"])
    func underscoresInsideNamesAreNotEscapedButEmphasisIs(kind: String) async throws {
        let presenter = StubPresenter(presentation: EventPresentation(
            tone: .info, title: "Deploy", subject: "my_app",
            facts: [
                .init("App", "my_app"), .init("Worker", "queue_worker_2"), .init("Note", "an _emphasised_ word and __init__"),
            ],
            links: [.init("my_app logs", "https://x.test/a"), .init("my_app page", "https://x.test/b")], fallback: "Deploy my_app"))
        let settings = try ChatSinksTests.settings(kind)
        let texts = await Self.texts(Fixtures.event(type: "deployment", app: "my_app"), kind: kind, settings: settings, presenter: presenter)
        let all = texts.joined(separator: "\n")
        #expect(!all.contains(#"my\_app"#) && !all.contains(#"queue\_worker"#), "\(kind): \(all)")
        #expect(texts.contains("my_app") || texts.contains { $0.contains("my_app") }, "\(kind)")
        #expect(all.contains("queue_worker_2"), "\(kind)")
        #expect(!all.contains(" _emphasised_ "), "\(kind): emphasis from event text is still neutralised")
        #expect(!all.contains(" __init__"), "\(kind): emphasis from event text is still neutralised")
    }
}
