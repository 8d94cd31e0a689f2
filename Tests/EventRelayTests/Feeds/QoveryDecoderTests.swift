import EventModel
import Feeds
import Foundation
import Testing

/// The enums of Qovery's OpenAPI extract (copied into Fixtures/qovery), by schema name.
enum QoveryOpenAPI {
    static func enumValues(_ schema: String) throws -> [String] {
        let document = try Fixtures.json("qovery/organization_events.openapi-extract.json")
        let values = try #require(document["components"]?["schemas"]?[schema]?["enum"]?.arrayValue)
        return values.compactMap(\.stringValue)
    }
}

@Suite("Qovery events: decoding pages and events")
struct QoveryDecoderTests {
    static let fetchedAt = Date(timeIntervalSince1970: 1_800_000_000)

    static func decode(_ text: String, environment: String? = nil) throws -> Event? {
        QoveryEvents.normalize(try JSONValue.parse(Array(text.utf8)), feed: "q", environment: environment, fetchedAt: fetchedAt)
    }

    static func page(_ text: String) throws(FeedError) -> (events: [Event], next: String?, malformed: Int) {
        try QoveryEvents.page(Array(text.utf8), feed: "q", environment: "prod-label", fetchedAt: fetchedAt)
    }

    @Test func theSeedsExamplePageDecodes() throws {
        let body = try Data(contentsOf: Fixtures.url("qovery/seed_example_page.json"))
        let page = try QoveryEvents.page(Array(body), feed: "q", environment: nil, fetchedAt: Self.fetchedAt)
        #expect(page.malformed == 0)
        #expect(page.next == "<string>", "links.next is kept exactly as sent")
        let event = try #require(page.events.first)
        #expect(event.source == "qovery" && event.feed == "q")
        #expect(event.id == "3c90c3cc-0d44-4b50-8888-8dd25736052a")
        #expect(event.type == "CREATE")
        #expect(event.category == .configChanged, "CREATE of an application's ADVANCED_SETTINGS is a configuration change")
        #expect(event.time == Timestamp.parse("2023-11-07T05:31:56Z"))
        #expect(event.appID == "3c90c3cc-0d44-4b50-8888-8dd25736052a" && event.app == "<string>")
        #expect(event.projectID == "3c90c3cc-0d44-4b50-8888-8dd25736052a")
        #expect(event.details == .object(["change": .string("<string>"), "original_change": .string("<string>")]))
        #expect(event.raw["sub_target_type"] == .string("ADVANCED_SETTINGS"), "raw is the document as sent")
    }

    @Test func everyEnumValueOfTheOpenAPIExtractIsInTheCatalog() throws {
        #expect(Set(try QoveryOpenAPI.enumValues("OrganizationEventType")) == Set(QoveryCatalog.eventTypes))
        #expect(Set(try QoveryOpenAPI.enumValues("OrganizationEventTargetType")) == Set(QoveryCatalog.targetTypes))
        #expect(Set(try QoveryOpenAPI.enumValues("OrganizationEventSubTargetType")) == Set(QoveryCatalog.subTargetTypes))
        #expect(Set(try QoveryOpenAPI.enumValues("OrganizationEventOrigin")) == Set(QoveryCatalog.origins))
        for type in try QoveryOpenAPI.enumValues("OrganizationEventType") {
            #expect(QoveryCatalog.isKnown(eventType: type), "\(type) has no row in the category table")
        }
        for sub in try QoveryOpenAPI.enumValues("OrganizationEventSubTargetType") {
            #expect(QoveryCatalog.subTargetCategories.keys.contains(sub), "\(sub) has no row in the sub-target table")
        }
    }

    /// The fake speaks the documented shape: every field it writes is a property of the schema.
    @Test func theFakesPagesUseOnlyDocumentedFields() throws {
        let schemas = try #require(try Fixtures.json("qovery/organization_events.openapi-extract.json")["components"]?["schemas"])
        let eventFields = Set(try #require(schemas["OrganizationEventResponse"]?["properties"]?.objectValue).keys)
        let pageFields = Set(try #require(schemas["OrganizationEventResponseList"]?["properties"]?.objectValue).keys)
        let event = QoveryEventFactory.event(id: "e", type: "CREATE", at: Self.fetchedAt, subTarget: "VARIABLE")
        #expect(Set(try #require(event.objectValue).keys).isSubset(of: eventFields))
        #expect(eventFields.subtracting(try #require(event.objectValue).keys).isEmpty, "and every documented field is exercised")
        #expect(pageFields == ["links", "organization_max_limit_reached", "events"])
    }

    /// Every event type × every target type of the extract decodes, with its type verbatim and a summary.
    @Test func everyEventTypeAndTargetTypeDecodes() throws {
        let targets = try QoveryOpenAPI.enumValues("OrganizationEventTargetType")
        for type in try QoveryOpenAPI.enumValues("OrganizationEventType") {
            for target in targets {
                let value = QoveryEventFactory.event(id: "e-\(type)-\(target)", type: type, at: Self.fetchedAt, target: target)
                let event = try #require(QoveryEvents.normalize(value, feed: "q", environment: nil, fetchedAt: Self.fetchedAt))
                #expect(event.type == type && event.source == "qovery" && event.id == "e-\(type)-\(target)")
                #expect(!event.summary.isEmpty && !event.summary.contains("_"), "\(type)/\(target): \(event.summary)")
                #expect(event.raw["target_type"] == .string(target))
            }
        }
    }

    @Test func unknownEnumValuesPassThroughWithoutACategory() throws {
        let event = try #require(try Self.decode("""
            {"id": "u1", "timestamp": "2026-05-01T10:00:00Z", "event_type": "QUANTUM_DEPLOY", "target_type": "SPACESHIP",
             "sub_target_type": "WARP_DRIVE", "origin": "TELEPATHY", "target_name": "enterprise", "triggered_by": "kirk"}
            """))
        #expect(event.type == "QUANTUM_DEPLOY" && event.category == nil)
        #expect(event.summary == "Quantum deploy on spaceship enterprise by kirk")
        let create = try #require(try Self.decode(#"{"id": "u2", "event_type": "CREATE", "target_type": "SPACESHIP", "target_name": "x"}"#))
        #expect(create.category == nil, "an unknown target has no category")
        let update = try #require(try Self.decode(#"{"id": "u3", "event_type": "UPDATE", "target_type": "APPLICATION", "sub_target_type": "WARP_DRIVE"}"#))
        #expect(update.category == nil, "an unknown sub-target has no category")
        #expect(update.summary == "Warp drive updated on application")
    }

    @Test func numbersAsStringsNullsAndMissingFieldsNeverDropAnEvent() throws {
        let page = try Self.page("""
            {"links": null, "organization_max_limit_reached": "false", "events": [
              {"id": 12345, "timestamp": "1767261600123456789", "event_type": "DEPLOYED", "target_id": 987, "target_name": "api",
               "project_id": null, "project_name": null, "environment_id": null, "environment_name": null, "change": null,
               "original_change": null, "user_agent": null, "sub_target_type": null, "triggered_by": null},
              {"id": "ms", "timestamp": 1767261600123, "event_type": "STOPPED"},
              {"id": "s", "timestamp": "1767261600", "event_type": "RESTARTED"},
              {"id": "only-id"},
              {"id": "bad-time", "timestamp": "yesterday", "event_type": "SHELL"}
            ]}
            """)
        #expect(page.malformed == 0 && page.next == nil)
        #expect(page.events.map(\.id) == ["12345", "ms", "s", "only-id", "bad-time"])
        let first = page.events[0]
        #expect(abs(first.time.timeIntervalSince1970 - 1_767_261_600.123456789) < 1e-6, "nanoseconds since 1970, as text")
        #expect(first.appID == "987" && first.projectID == nil && first.project == nil && first.details == nil && first.actor == nil)
        #expect(first.environment == "prod-label", "the feed's environment when the event names none")
        #expect(first.category == .deploySucceeded && first.summary == "Deployment of api (prod-label) succeeded")
        #expect(abs(page.events[1].time.timeIntervalSince1970 - 1_767_261_600.123) < 1e-6, "milliseconds as a number")
        #expect(page.events[2].time == Date(timeIntervalSince1970: 1_767_261_600), "seconds as text")
        #expect(page.events[3].type == "unknown" && page.events[3].time == Self.fetchedAt)
        #expect(page.events[4].time == Self.fetchedAt, "an unreadable time is the time it was read")
    }

    @Test func eventsWithoutAnIdAreCountedAsMalformed() throws {
        let page = try Self.page("""
            {"links": {"next": "/organization/x/events?continueToken=1"}, "events": [
              {"id": "ok", "timestamp": "2026-01-01T00:00:00Z", "event_type": "SHELL"},
              {"timestamp": "2026-01-01T00:00:00Z", "event_type": "SHELL"},
              {"id": null, "event_type": "SHELL"}, {"id": "  "}, "not an object", 42
            ]}
            """)
        #expect(page.events.map(\.id) == ["ok"])
        #expect(page.malformed == 5)
        #expect(page.next == "/organization/x/events?continueToken=1")
    }

    @Test func anEmptyOrNullEventsListIsAnEmptyPage() throws {
        #expect(try Self.page(#"{"events": null, "links": {"next": "x"}}"#).events.isEmpty)
        #expect(try Self.page(#"{"events": []}"#).events.isEmpty)
    }

    @Test(arguments: [
        (#"{"events": [], "links": {}}"#, nil as String?), (#"{"events": [], "links": {"next": null}}"#, nil),
        (#"{"events": [], "links": {"next": ""}}"#, nil), (#"{"events": [], "links": {"next": "  "}}"#, nil),
        (#"{"events": [], "links": {"next": 5}}"#, nil), (#"{"events": []}"#, nil),
        (#"{"events": [], "links": {"next": "https://api.qovery.com/organization/o/events?continueToken=1767261600123456789"}}"#,
         "https://api.qovery.com/organization/o/events?continueToken=1767261600123456789"),
        (#"{"events": [], "links": {"next": "?continueToken=1767261600123456789&pageSize=3"}}"#, "?continueToken=1767261600123456789&pageSize=3"),
        (#"{"events": [], "links": {"next": {"href": "/x?continueToken=1"}}}"#, "/x?continueToken=1"),
    ])
    func linksNextIsKeptExactlyOrIsTheEnd(body: String, next: String?) throws {
        #expect(try Self.page(body).next == next)
    }

    @Test(arguments: [
        ("<!DOCTYPE html><html><body>Bad gateway</body></html>", "HTML"), ("  \n<html></html>", "HTML"),
        (#"{"links":{"next":null},"events":[{"id":"a","event_type":"DEPL"#, "not JSON"), ("", "empty"), ("   ", "empty"),
        (#"{"data": []}"#, "no \"events\" list"), (#"{"events": {"id": "a"}}"#, "not a list"), (#"{"events": "[]"}"#, "not a list"),
        ("[]", "not a JSON object"), (#""events""#, "not a JSON object"), ("null", "not a JSON object"),
    ])
    func bodiesThatAreNotAnEventsPageAreErrors(body: String, words: String) throws {
        let error = try #require(throws: FeedError.self) { try Self.page(body) }
        #expect(error.description.contains(words), "\(error)")
        #expect(!error.isRateLimit && !error.isUnauthorized)
    }

    @Test(arguments: [
        ("2026-03-04T05:06:07.123456789Z", 1_772_600_767.123456789), ("2026-03-04T05:06:07.1Z", 1_772_600_767.1),
        ("2026-03-04T05:06:07Z", 1_772_600_767), ("2026-03-04T07:06:07.123456789+02:00", 1_772_600_767.123456789),
        ("2026-03-04T05:06:07.000000001Z", 1_772_600_767.000000001), ("1772600767123456789", 1_772_600_767.123456789),
    ])
    func timestampsKeepTheirFraction(text: String, seconds: Double) throws {
        let event = try #require(try Self.decode(#"{"id": "t", "event_type": "DEPLOYED", "timestamp": "\#(text)"}"#))
        #expect(abs(event.time.timeIntervalSince1970 - seconds) < 2e-6, "\(text) → \(event.time.timeIntervalSince1970)")
    }

    @Test func changeIsParsedAsJSONWhereItIsJSONAndKeptAsTextWhereNot() throws {
        let json = try #require(try Self.decode("""
            {"id": "c1", "event_type": "UPDATE", "target_type": "APPLICATION", "sub_target_type": "ADVANCED_SETTINGS",
             "change": "{\\"deployment.termination_grace_period_seconds\\": 120, \\"tags\\": [\\"a\\"]}",
             "original_change": "{\\"deployment.termination_grace_period_seconds\\": 60}"}
            """))
        #expect(json.details?["change"]?["deployment.termination_grace_period_seconds"] == .integer(120))
        #expect(json.details?["change"]?["tags"] == .array([.string("a")]))
        #expect(json.details?["original_change"]?["deployment.termination_grace_period_seconds"] == .integer(60))
        #expect(json.raw["change"]?.stringValue?.hasPrefix("{") == true, "raw keeps the string as sent")

        let text = try #require(try Self.decode(#"{"id": "c2", "event_type": "UPDATE", "change": "min_running_instances: 1 -> 2", "original_change": ""}"#))
        #expect(text.details == .object(["change": .string("min_running_instances: 1 -> 2")]), "text kept; an empty original_change left out")
        let truncated = try #require(try Self.decode(#"{"id": "c3", "event_type": "UPDATE", "change": "{\"a\": 1"}"#))
        #expect(truncated.details?["change"] == .string(#"{"a": 1"#))
        let object = try #require(try Self.decode(#"{"id": "c4", "event_type": "UPDATE", "change": {"a": 1}}"#))
        #expect(object.details?["change"] == .object(["a": .integer(1)]), "already an object: kept")
        let none = try #require(try Self.decode(#"{"id": "c5", "event_type": "UPDATE", "change": null}"#))
        #expect(none.details == nil)
    }

    @Test func triggeredByIsTheActorWithAnEmailWhenItLooksLikeOne() throws {
        let person = try #require(try Self.decode(#"{"id": "a1", "event_type": "SHELL", "triggered_by": "ann@example.com", "target_name": "api"}"#))
        #expect(person.actor == Actor(name: "ann@example.com", email: "ann@example.com"))
        let token = try #require(try Self.decode(#"{"id": "a2", "event_type": "SHELL", "triggered_by": "ci-token (API token)"}"#))
        #expect(token.actor == Actor(name: "ci-token (API token)"))
        for notAnEmail in ["@example.com", "ann@", "ann@localhost", "a b@example.com", "ann@example."] {
            let event = try #require(try Self.decode(#"{"id": "a3", "event_type": "SHELL", "triggered_by": "\#(notAnEmail)"}"#))
            #expect(event.actor?.email == nil, "\(notAnEmail)")
        }
        let object = try #require(try Self.decode(#"{"id": "a4", "event_type": "SHELL", "triggered_by": {"name": "Bob", "email": "bob@example.com", "id": "u-1"}}"#))
        #expect(object.actor == Actor(id: "u-1", name: "Bob", email: "bob@example.com"))
    }

    @Test func aQoveryPageIsClaimedByQoveryAndAScalingoPageStillByScalingo() throws {
        let body = try Fixtures.json("qovery/seed_example_page.json")
        let found = try #require(FeedRegistry.events(in: body, feed: "f", receivedAt: Self.fetchedAt))
        #expect(found.kind == "qovery" && found.events.count == 1)
        let raw = try #require(body["events"]?.arrayValue?.first)
        let single = try #require(FeedRegistry.events(in: raw, feed: "f", receivedAt: Self.fetchedAt))
        #expect(single.kind == "qovery")
        let scalingo = try Fixtures.recordedBody("user_events_page1.recorded.json")
        #expect(FeedRegistry.events(in: scalingo, feed: "f", receivedAt: Self.fetchedAt)?.kind == "scalingo")
    }
}

@Suite("Qovery categories and summaries, type by type")
struct QoveryCategoryTests {
    static func event(_ type: String, target: String? = "APPLICATION", sub: String? = nil, name: String? = "api", by: String? = "ann@example.com",
                      project: String? = "acme", environment: String? = "production") -> Event? {
        var fields: [String: JSONValue] = ["id": .string("ev-\(type)"), "timestamp": .string("2026-12-01T10:00:00.123456789Z"), "event_type": .string(type)]
        if let target { fields["target_type"] = .string(target) }
        if let sub { fields["sub_target_type"] = .string(sub) }
        if let name { fields["target_name"] = .string(name) }
        if let by { fields["triggered_by"] = .string(by) }
        if let project { fields["project_name"] = .string(project) }
        if let environment { fields["environment_name"] = .string(environment) }
        return QoveryEvents.normalize(.object(fields), feed: "q", environment: nil, fetchedAt: Date())
    }

    /// Every `event_type` of the extract, on an application without a sub-target: its category.
    static let byType: [(String, EventCategory?)] = [
        ("CREATE", .appCreated), ("UPDATE", .configChanged), ("DELETE", .appDeleted), ("ACCEPT", .accessChanged), ("EXPORT", nil),
        ("CLONE", .appCreated), ("DEPLOY_QUEUED", .deployStarted), ("STOP_QUEUED", nil), ("RESTART_QUEUED", nil), ("DELETE_QUEUED", nil),
        ("UNINSTALL_QUEUED", nil), ("MAINTENANCE", nil), ("DRY_RUN", nil), ("TRIGGER_REDEPLOY", .deployStarted), ("TRIGGER_CANCEL", nil),
        ("FORCE_RUN_QUEUED", nil), ("FORCE_RUN_QUEUED_DEPLOY", nil), ("FORCE_RUN_QUEUED_STOP", nil), ("FORCE_RUN_QUEUED_DELETE", nil),
        ("TRIGGER_DEPLOY", .deployStarted), ("TRIGGER_STOP", nil), ("TRIGGER_RESTART", nil), ("TRIGGER_DELETE", nil), ("TRIGGER_UNINSTALL", nil),
        ("TRIGGER_DEPLOY_DRY_RUN", nil), ("TRIGGER_TERRAFORM_FORCE_UNLOCK", nil), ("TRIGGER_TERRAFORM_MIGRATE_STATE", nil),
        ("TRIGGER_FORCE_RUN", nil), ("TRIGGER_FORCE_RUN_DEPLOY", nil), ("TRIGGER_FORCE_RUN_STOP", nil), ("TRIGGER_FORCE_RUN_DELETE", nil),
        ("DEPLOYED", .deploySucceeded), ("STOPPED", .appStopped), ("DELETED", .appDeleted), ("UNINSTALLED", nil), ("RESTARTED", .appRestarted),
        ("DEPLOYED_DRY_RUN", nil), ("FORCE_RUN_SUCCEEDED", nil), ("TERRAFORM_FORCE_UNLOCK_SUCCEEDED", nil),
        ("TERRAFORM_MIGRATE_STATE_SUCCEEDED", nil), ("DEPLOY_FAILED", .deployFailed), ("STOP_FAILED", nil), ("DELETE_FAILED", nil),
        ("UNINSTALL_FAILED", nil), ("RESTART_FAILED", nil), ("DEPLOYED_DRY_RUN_FAILED", nil), ("FORCE_RUN_FAILED", nil),
        ("TERRAFORM_FORCE_UNLOCK_FAILED", nil), ("TERRAFORM_MIGRATE_STATE_FAILED", nil), ("SHELL", .consoleOpened),
        ("PORT_FORWARD", .consoleOpened), ("REMOTE_DEBUG", .consoleOpened), ("MCP", nil), ("IMPORT", .configChanged), ("LOCK", .configChanged),
        ("UNLOCK", .configChanged), ("POLICY_FAILED", nil),
    ]

    @Test func theTableHasARowForEveryTypeOfTheExtract() throws {
        #expect(Set(Self.byType.map(\.0)) == Set(try QoveryOpenAPI.enumValues("OrganizationEventType")))
        #expect(Self.byType.count == Set(Self.byType.map(\.0)).count)
    }

    @Test(arguments: byType)
    func eachTypeMapsToItsCategory(type: String, category: EventCategory?) throws {
        #expect(try #require(Self.event(type)).category == category, "\(type)")
    }

    /// `CREATE` / `UPDATE` / `DELETE` of a whole target (no sub-target), target type by target type.
    @Test(arguments: [
        ("APPLICATION", EventCategory.appCreated as EventCategory?, EventCategory.configChanged as EventCategory?, EventCategory.appDeleted as EventCategory?),
        ("CONTAINER", .appCreated, .configChanged, .appDeleted), ("JOB", .appCreated, .configChanged, .appDeleted),
        ("DATABASE", .appCreated, .configChanged, .appDeleted), ("HELM", .appCreated, .configChanged, .appDeleted),
        ("TERRAFORM", .appCreated, .configChanged, .appDeleted), ("ENVIRONMENT", .appCreated, .configChanged, .appDeleted),
        ("PROJECT", nil, .configChanged, nil), ("CLUSTER", .configChanged, .configChanged, .configChanged),
        ("CONTAINER_REGISTRY", .configChanged, .configChanged, .configChanged), ("HELM_REPOSITORY", .configChanged, .configChanged, .configChanged),
        ("WEBHOOK", .configChanged, .configChanged, .configChanged), ("ORGANIZATION", .configChanged, .configChanged, .configChanged),
        ("AGENTIC_WORKFLOW", .configChanged, .configChanged, .configChanged),
        ("MEMBERS_AND_ROLES", .accessChanged, .accessChanged, .accessChanged),
        ("ENTERPRISE_CONNECTION", .accessChanged, .accessChanged, .accessChanged),
    ])
    func changesOfAWholeTargetDependOnTheTarget(target: String, create: EventCategory?, update: EventCategory?, delete: EventCategory?) throws {
        #expect(try #require(Self.event("CREATE", target: target)).category == create, "CREATE \(target)")
        #expect(try #require(Self.event("UPDATE", target: target)).category == update, "UPDATE \(target)")
        #expect(try #require(Self.event("DELETE", target: target)).category == delete, "DELETE \(target)")
    }

    @Test func everyTargetTypeOfTheExtractHasARowAbove() throws {
        let covered: Set<String> = [
            "APPLICATION", "CONTAINER", "JOB", "DATABASE", "HELM", "TERRAFORM", "ENVIRONMENT", "PROJECT", "CLUSTER", "CONTAINER_REGISTRY",
            "HELM_REPOSITORY", "WEBHOOK", "ORGANIZATION", "AGENTIC_WORKFLOW", "MEMBERS_AND_ROLES", "ENTERPRISE_CONNECTION",
        ]
        #expect(Set(try QoveryOpenAPI.enumValues("OrganizationEventTargetType")) == covered)
    }

    /// A sub-target decides, whatever the verb: variables and settings are configuration, tokens and roles access.
    @Test(arguments: [
        ("ADVANCED_SETTINGS", EventCategory.configChanged as EventCategory?), ("ALERT_RECEIVER", .configChanged), ("ALERT_RULE", .configChanged),
        ("ANNOTATIONS_GROUP", .configChanged), ("API_TOKEN", .accessChanged), ("ARGOCD_CLUSTER_MAPPING", .configChanged),
        ("ARGOCD_CONFIGURATION", .configChanged), ("BILLING_INFO", .billing), ("BILLING_USAGE_REPORT", .billing),
        ("BLUEPRINT_MIGRATION", .configChanged), ("CLOUD_PROVIDER_CREDENTIALS", .accessChanged), ("CLUSTER_CREDENTIALS", .accessChanged),
        ("CLUSTER_ROUTING_TABLE", .configChanged), ("CONFIG", .configChanged), ("CREDIT_CARD", .billing), ("CREDIT_CODE", .billing),
        ("CUSTOM_DOMAIN", .configChanged), ("CUSTOM_ROLE", .accessChanged), ("DEPLOYMENT_RULE", .configChanged),
        ("DEPLOYMENT_STAGE", .configChanged), ("DNS_PROVIDER", .configChanged), ("GITHUB_APP", .configChanged),
        ("GIT_REPOSITORY", .configChanged), ("GIT_TOKEN", .accessChanged), ("INVITATION", .accessChanged), ("JWT_TOKEN_FORGED", .accessChanged),
        ("KUBERNETES_CONFIGURATION", .configChanged), ("KUBERNETES_CREDENTIALS", .accessChanged), ("LABELS_GROUP", .configChanged),
        ("MCP_SERVER", .configChanged), ("MEMBER_ROLE", .accessChanged), ("PLAN", .billing), ("POLICY_API_TOKEN", .accessChanged),
        ("REMOTE_ACCESS", .accessChanged), ("SECRET", .configChanged), ("SSO", .accessChanged), ("TERRAFORM", .configChanged),
        ("TOOL_CALL", nil), ("TRANSFER_OWNERSHIP", .accessChanged), ("VARIABLE", .configChanged),
    ])
    func subTargetsMapToTheirCategoryForEveryVerb(sub: String, category: EventCategory?) throws {
        for verb in ["CREATE", "UPDATE", "DELETE"] {
            #expect(try #require(Self.event(verb, sub: sub)).category == category, "\(verb) \(sub)")
        }
    }

    @Test func maintenanceIsADatabaseMaintenanceOnlyOnADatabase() throws {
        #expect(try #require(Self.event("MAINTENANCE", target: "DATABASE")).category == .databaseMaintenance)
        #expect(try #require(Self.event("MAINTENANCE", target: "CLUSTER")).category == nil)
    }

    @Test func lifecycleCategoriesDoNotDependOnTheTarget() throws {
        for target in ["APPLICATION", "CONTAINER", "JOB", "DATABASE", "HELM", "TERRAFORM", "ENVIRONMENT", "CLUSTER", "UNHEARD_OF"] {
            #expect(try #require(Self.event("DEPLOY_FAILED", target: target)).category == .deployFailed)
            #expect(try #require(Self.event("DEPLOYED", target: target)).category == .deploySucceeded)
            #expect(try #require(Self.event("SHELL", target: target)).category == .consoleOpened)
        }
    }

    @Test func summariesReadAsOneLine() throws {
        #expect(try #require(Self.event("DEPLOY_FAILED", by: nil)).summary == "Deployment of api (production, project acme) failed")
        #expect(try #require(Self.event("DEPLOYED", by: "Qovery")).summary == "Deployment of api (production, project acme) succeeded by Qovery")
        #expect(try #require(Self.event("TRIGGER_DEPLOY")).summary == "Deployment of api (production, project acme) requested by ann@example.com")
        #expect(try #require(Self.event("DEPLOY_QUEUED", by: nil)).summary == "Deployment of api (production, project acme) queued")
        #expect(try #require(Self.event("SHELL", project: nil, environment: nil)).summary == "Shell opened on api by ann@example.com")
        #expect(try #require(Self.event("PORT_FORWARD", environment: nil)).summary == "Port forward opened on api (project acme) by ann@example.com")
        #expect(try #require(Self.event("RESTARTED", by: nil)).summary == "Restart of api (production, project acme) succeeded")
        #expect(try #require(Self.event("STOPPED", name: nil, by: nil)).summary == "Stop of the application (production, project acme) succeeded")
        #expect(try #require(Self.event("CREATE", by: "ann")).summary == "Application api created (production, project acme) by ann")
        #expect(try #require(Self.event("UPDATE", sub: "VARIABLE", by: "ann")).summary
            == "Variable updated on application api (production, project acme) by ann")
        #expect(try #require(Self.event("DELETE", target: "ORGANIZATION", sub: "API_TOKEN", name: "acme-org", project: nil, environment: nil)).summary
            == "API token deleted on organization acme-org by ann@example.com")
        #expect(try #require(Self.event("ACCEPT", target: "MEMBERS_AND_ROLES", sub: "INVITATION", name: nil, project: nil, environment: nil)).summary
            == "Invitation accepted on members and roles by ann@example.com")
        #expect(try #require(Self.event("LOCK", target: "CLUSTER", name: "eks-prod", project: nil, environment: nil)).summary
            == "Cluster eks-prod locked by ann@example.com")
        #expect(try #require(Self.event("MAINTENANCE", target: "DATABASE", name: "pg", by: nil)).summary
            == "Maintenance of pg (production, project acme) ran")
        #expect(try #require(Self.event("POLICY_FAILED", by: nil)).summary == "Policy check of api (production, project acme) failed")
        #expect(try #require(Self.event("MCP", target: nil, name: nil, project: nil, environment: nil)).summary == "MCP action on a target by ann@example.com")
    }

    @Test func aSummaryNeverCarriesTheChange() throws {
        let value: JSONValue = .object([
            "id": .string("s1"), "event_type": .string("UPDATE"), "target_type": .string("APPLICATION"), "sub_target_type": .string("SECRET"),
            "target_name": .string("api"), "change": .string(#"{"key": "STRIPE_KEY", "value": "sk_live_s3cr3t"}"#),
        ])
        let event = try #require(QoveryEvents.normalize(value, feed: "q", environment: nil, fetchedAt: Date()))
        #expect(event.summary == "Secret updated on application api")
        #expect(!event.summary.contains("s3cr3t") && !event.summary.contains("STRIPE"))
    }
}
