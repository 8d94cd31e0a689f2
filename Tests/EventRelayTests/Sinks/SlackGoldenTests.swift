import EventModel
import Feeds
import Foundation
import Sinks
import Testing

/// One event of every type of every source, as Slack receives it, compared with a file under
/// `Fixtures/slack-golden/<source>/<type>.json` that a person has read. `UPDATE_GOLDEN=1 swift
/// test --filter SlackGolden` rewrites them (then read the diff before committing it).
@Suite("Slack messages for every event type (golden files)")
struct SlackGoldenTests {
    static let receivedAt = Date(timeIntervalSince1970: 1_764_763_200)  // 2025-12-03T12:00:00Z
    static let paris = TimeZone(identifier: "Europe/Paris") ?? .gmt
    static let goldenDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/slack-golden")

    /// Every documented Scalingo type, from the seed's own examples (`Fixtures/scalingo/seed_examples.json`).
    static func scalingoEvents() throws -> [Event] {
        let list = try JSONValue.parse(Array(try Data(contentsOf: Fixtures.url("scalingo/seed_examples.json"))))
        return (list.arrayValue ?? []).compactMap { entry in
            entry["event"].flatMap { ScalingoFeedPlugin.events(in: $0, feed: "scalingo", receivedAt: receivedAt).first }
        }
    }

    /// Every event type of Qovery's schema (`OrganizationEventType`), on an application; changes
    /// of a variable for the change verbs (so the golden files show what is left out).
    static func qoveryEvents() throws -> [Event] {
        let schema = try JSONValue.parse(Array(try Data(contentsOf: Fixtures.url("qovery/organization_events.openapi-extract.json"))))
        let types = schema["components"]?["schemas"]?["OrganizationEventType"]?["enum"]?.arrayValue?.compactMap(\.stringValue) ?? []
        return types.enumerated().compactMap { index, type in
            var raw: [String: JSONValue] = [
                "id": .string("3c90c3cc-0d44-4b50-8888-\(String(format: "%012d", index))"), "timestamp": .string("2025-12-03T11:59:00Z"),
                "event_type": .string(type), "target_id": .string("7e1b0a9c-0000-4000-8000-000000000001"), "target_name": .string("api"),
                "target_type": .string("APPLICATION"), "origin": .string("CONSOLE"), "triggered_by": .string("ann@example.com"),
                "project_id": .string("p-1"), "project_name": .string("shop"), "environment_id": .string("e-1"),
                "environment_name": .string("production"),
            ]
            if ["CREATE", "UPDATE", "DELETE", "CLONE", "IMPORT", "EXPORT"].contains(type) {
                raw["sub_target_type"] = .string("VARIABLE")
                raw["change"] = .string(#"{"key":"STRIPE_KEY","value":"sk_live_QOVERY_VALUE_MUST_NOT_LEAK"}"#)
                raw["original_change"] = .string(#"{"key":"STRIPE_KEY","value":"sk_live_QOVERY_OLD_VALUE"}"#)
            }
            return QoveryFeedPlugin.events(in: .object(raw), feed: "qovery", receivedAt: receivedAt).first
        }
    }

    /// Every type EscapeKit documents, in the inventory or the state it concerns.
    static func escapeKitEvents() -> [Event] {
        EscapeKitCatalog.categories.keys.sorted().enumerated().compactMap { index, type in
            var raw: [String: JSONValue] = [
                "id": .integer(Int64(1000 + index)), "type": .string(type), "timestamp": .integer(1_764_763_140_000_000_000),
                "username": .string("ann"),
            ]
            if type.contains("INVENTORY") {
                raw["inventory_project"] = .string("shop")
                raw["inventory_application"] = .string("web")
                if type == "UPLOAD_INVENTORY_APPLICATION" { raw["inventory_version"] = .string("1.4.2") }
            } else if !type.hasPrefix("USER_") && !type.hasPrefix("TEAM_") {
                raw["state_project"] = .string("shop")
                raw["state_environment"] = .string("production")
                if !type.hasSuffix("STATE_PROJECT") && type != "CREATE_STATE_ENVIRONMENT" { raw["state_deployment"] = .string("web") }
            }
            switch type {
            case "BUILD_FINISHED_EVENT": raw["data"] = .object(["status": .string("failed")])
            case let team where team.hasPrefix("TEAM_"): raw["data"] = .object(["team": .string("platform"), "member": .string("bob")])
            default: break
            }
            return EscapeKitFeedPlugin.events(in: .object(raw), feed: "escapekit", receivedAt: receivedAt).first
        }
    }

    static func allEvents() throws -> [Event] { try scalingoEvents() + qoveryEvents() + escapeKitEvents() }

    static func render(_ event: Event) -> JSONValue {
        SlackMessage.render(event, presentation: PlatformPresenter().present(event), username: "EventRelay", icon: ":satellite:", timeZone: paris)
    }

    static func pretty(_ value: JSONValue) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: try JSONSerialization.jsonObject(with: Data(value.encoded())), options: [
            .prettyPrinted, .sortedKeys, .withoutEscapingSlashes,
        ])
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    @Test func theCorpusHasEveryDocumentedType() throws {
        #expect(Set(try Self.scalingoEvents().map(\.type)) == Set(ScalingoCatalog.categories.keys))
        #expect(try Self.qoveryEvents().count == 57)
        #expect(Set(Self.escapeKitEvents().map(\.type)) == Set(EscapeKitCatalog.categories.keys))
    }

    @Test func everyTypeRendersAsItsGoldenFile() throws {
        let update = ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1"
        for event in try Self.allEvents() {
            let file = Self.goldenDirectory.appendingPathComponent(event.source)
                .appendingPathComponent(event.type.replacingOccurrences(of: "/", with: "-") + ".json")
            let rendered = try Self.pretty(Self.render(event))
            if update {
                try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
                try rendered.write(to: file, atomically: true, encoding: .utf8)
                continue
            }
            let golden = try? String(contentsOf: file, encoding: .utf8)
            #expect(golden == rendered, "\(event.source) \(event.type): \(file.path) differs (UPDATE_GOLDEN=1 rewrites it; read the diff)")
        }
    }

    /// The common types as every other destination receives them (the request, through
    /// `DryRun`), in `Fixtures/destination-golden/<type>/<source>-<event type>.json`.
    static let commonTypes: Set<String> = ["deployment", "login_lock", "scale", "edit_variables", "run", "DEPLOY_FAILED", "BUILD_FINISHED_EVENT"]

    static func destinationSettings() throws -> [(String, any SinkSettings)] {
        var list: [(String, any SinkSettings)] = []
        for kind in SinkRegistry.kinds.names where kind != "slack" {
            let plugin = try #require(SinkRegistry.kinds.named(kind))
            var body: [String: JSONValue] = ["url": .string("https://hooks.example.com/services/T0/B0/abcdefghijkl"), "time_zone": .string("Europe/Paris")]
            if plugin.keys(for: .api).contains("username") { body["username"] = .string("EventRelay") }
            if kind == "webhook" { body = ["url": body["url"] ?? .null, "secret": .string("whsec_" + Data(repeating: 7, count: 32).base64EncodedString())] }
            if kind == "email" {
                body = ["smtp_host": .string("smtp.example.com"), "from": .string("relay@example.com"), "to": .array([.string("ops@example.com")]),
                        "time_zone": .string("Europe/Paris")]
            }
            list.append((kind, try plugin.read(JSONSettingsSource(api: body))))
        }
        return list
    }

    @Test func commonTypesRenderForEveryDestinationAsTheirGoldenFiles() async throws {
        let update = ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1"
        let directory = Self.goldenDirectory.deletingLastPathComponent().appendingPathComponent("destination-golden")
        let events = try Self.allEvents().filter { Self.commonTypes.contains($0.type) }
        #expect(events.count == Self.commonTypes.count)
        for (kind, settings) in try Self.destinationSettings() {
            for event in events {
                let request = await DryRun.render(
                    event, for: Subscription(id: "example", settings: settings), presenter: PlatformPresenter(), now: Self.receivedAt)
                let file = directory.appendingPathComponent(kind).appendingPathComponent("\(event.source)-\(event.type).json")
                let rendered = try Self.pretty(request)
                if update {
                    try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
                    try rendered.write(to: file, atomically: true, encoding: .utf8)
                    continue
                }
                #expect((try? String(contentsOf: file, encoding: .utf8)) == rendered, "\(kind) \(event.type): \(file.path) differs")
            }
        }
    }

    /// A type-specific message, not the generic line: every documented type gets a title of its
    /// own, not its summary (which is what a type the presenter does not know gets).
    @Test func noDocumentedTypeFallsBackToTheGenericLine() throws {
        for event in try Self.scalingoEvents() {
            let presentation = PlatformPresenter().present(event)
            let generic = event.summary.prefix(1).uppercased() + event.summary.dropFirst()
            #expect(presentation.title != generic && !presentation.title.isEmpty, "\(event.type): \(presentation.title)")
        }
        var unknown = try #require(try Self.scalingoEvents().first)
        unknown.type = "brand_new_type"
        unknown.summary = "Brand new type on appname"
        #expect(PlatformPresenter().present(unknown).title == "Brand new type on appname", "the check above can tell the two apart")
    }

    /// Variable values (and a Qovery variable's change) never reach a chat message; webhooks
    /// redact them too, unless the subscription asks for raw values.
    @Test func noVariableValueReachesAnyChatPayload() throws {
        let values = ["VAL1", "VAL2", "OLD_VAL2", "VALUE-MUST-NOT-LEAK", "TOKEN-MUST-NOT-LEAK", "QOVERY_VALUE_MUST_NOT_LEAK", "QOVERY_OLD_VALUE"]
        let events = try Self.allEvents()
        var checked = 0
        for event in events {
            let chat = String(decoding: Self.render(event).encoded(), as: UTF8.self)
            for value in values { #expect(!chat.contains(value), "\(event.source) \(event.type) shows \(value)") }
            let redacted = String(decoding: try StoredEvent(PlatformPresenter().redacted(event)).json, as: UTF8.self)
            for value in values {
                #expect(!redacted.contains(value), "\(event.source) \(event.type): a webhook would carry \(value)")
            }
            if PlatformPresenter().mayCarrySecretValues(source: event.source, type: event.type) { checked += 1 }
        }
        #expect(checked >= 4 + 6, "the Scalingo variable types and Qovery's change verbs were checked")
        // Configured paths apply to every event.
        let configured = PlatformPresenter(extraPaths: ["type_data.command"])
        let run = try #require(events.first { $0.type == "run" })
        #expect(configured.redacted(run).raw["type_data"]?["command"] == .string("[redacted]"))
        #expect(!configured.present(run).facts.contains { $0.label == "Command" && $0.value != "[redacted]" }, "chat messages too")
        #expect(PlatformPresenter().present(run).facts.contains { $0.label == "Command" })
        // A Qovery change's parsed copy in `details` can be named too.
        let qovery = try #require(events.first { $0.source == "qovery" && $0.type == "UPDATE" })
        #expect(qovery.details?["change"] != nil)
        #expect(PlatformPresenter(extraPaths: ["details.change"]).redacted(qovery, keepingPlatformValues: true).details?["change"] == .string("[redacted]"))
        #expect(configured.mayCarrySecretValues(source: "anything", type: "any"))
    }
}

@Suite("Links to the platform's dashboard")
struct DashboardLinkTests {
    @Test func aScalingoEventOfAKnownRegionLinksToItsAppsDashboardPage() throws {
        let event = try #require(try SlackGoldenTests.scalingoEvents().first { $0.type == "deployment" })
        let linked = ScalingoConfiguration.withDashboardLink(event, apiURL: "https://api.osc-secnum-fr1.scalingo.com/")
        #expect(linked.details?["dashboard_url"] == .string("https://dashboard.scalingo.com/apps/osc-secnum-fr1/appname"))
        let presentation = PlatformPresenter().present(linked)
        #expect(presentation.links.contains(EventPresentation.Link("Open in Scalingo", "https://dashboard.scalingo.com/apps/osc-secnum-fr1/appname")))
        // An API that is no known region's (a proxy, a test server): no guess.
        #expect(ScalingoConfiguration.withDashboardLink(event, apiURL: "http://127.0.0.1:8080").details?["dashboard_url"] == nil)
        var odd = event
        odd.app = "app/../../x"
        #expect(ScalingoConfiguration.withDashboardLink(odd, apiURL: ScalingoConfiguration.defaultAPIURL).details?["dashboard_url"] == nil)
    }
}
