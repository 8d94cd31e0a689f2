import EventModel
import Feeds
import Foundation
import Testing

@Suite("Scalingo events: normalization of real recorded data")
struct ScalingoDecoderTests {
    @Test func recordedAppEventsNormalize() throws {
        let body = try Fixtures.recordedBody("app_events_page1.recorded.json")
        let events = try #require(body["events"]?.arrayValue)
        let normalized = events.compactMap { ScalingoEvents.normalize($0, feed: "s", environment: "production", fetchedAt: Date()) }
        #expect(normalized.count == events.count)
        let deployment = try #require(normalized.first { $0.type == "deployment" })
        #expect(deployment.id == "5ed0fe5f884fef000f5e4fd7")
        #expect(deployment.app == "example-running-app")
        #expect(deployment.appID == "5ed0fe5d884fef000f5e4fd1")
        #expect(deployment.actor?.name == "example-username")
        #expect(deployment.environment == "production")
        #expect(deployment.time == Timestamp.parse("2020-05-29T12:21:51.334Z"))
        #expect(deployment.raw["type_data"]?["git_ref_url"] == .null, "raw keeps nulls as they came")
        // Scale counts arrive as "3:S" strings, not the documented numbers: kept verbatim.
        let scale = try #require(normalized.first { $0.type == "scale" })
        #expect(scale.raw["type_data"]?["previous_containers"]?["web"]?.stringValue?.contains(":") == true)
    }

    @Test func unknownTypesAndFieldsAreKept() throws {
        let value = try JSONValue.parse(Array("""
            {"id": "x1", "created_at": "2026-01-01T00:00:00+01:00", "type": "brand_new_thing", "surprise": {"a": [1, 2.5, true]},
             "user": {"username": "ann"}, "project_name": "billing"}
            """.utf8))
        let event = try #require(ScalingoEvents.normalize(value, feed: "s", environment: nil, fetchedAt: Date()))
        #expect(event.type == "brand_new_thing")
        #expect(event.project == "billing")
        #expect(event.raw["surprise"]?["a"] == .array([.integer(1), .number(2.5), .bool(true)]))
        #expect(event.time == Date(timeIntervalSince1970: 1_767_222_000))
    }

    @Test func anEventWithoutAnIdCannotBeTracked() throws {
        let value = try JSONValue.parse(Array(#"{"type": "deployment"}"#.utf8))
        #expect(ScalingoEvents.normalize(value, feed: "s", environment: nil, fetchedAt: Date()) == nil)
    }
}

@Suite("Scalingo categories and summaries")
struct ScalingoCategoryTests {
    /// Every type the Scalingo events document lists (../shared/seeds/scalingo-events-api.txt).
    static let documentedTypes = [
        "new_app", "rename_app", "transfer_app", "restart", "scale", "deployment", "run", "new_domain", "edit_domain", "delete_domain",
        "new_addon", "upgrade_addon", "delete_addon", "database/add_feature", "database/remove_feature", "new_collaborator",
        "accept_collaborator", "delete_collaborator", "change_collaborator_role", "new_variable", "edit_variable", "edit_variables",
        "delete_variable", "add_credit", "add_payment_method", "add_voucher", "new_log_drain", "delete_log_drain", "new_addon_log_drain",
        "delete_addon_log_drain", "link_scm", "update_scm", "unlink_scm", "create_review_app", "destroy_review_app", "login_success",
        "login_failure", "password_reset_query", "password_reset_success", "login_lock", "login_unlock_success",
        "create_data_access_consent", "edit_hds_contact", "stack_changed", "plan_database_maintenance", "start_database_maintenance",
        "complete_database_maintenance", "database_backup_succeeded", "database_backup_failed", "new_project", "edit_project",
        "accept_project_transfer_invitation", "accept_project_transfer_invitation_error", "cancel_project_transfer_invitation",
        "decline_project_transfer_invitation", "delete_project", "update_app_project",
    ]

    static func event(_ type: String, typeData: JSONValue = .object([:]), app: String? = "web-prod") -> Event? {
        var fields: [String: JSONValue] = [
            "id": .string("ev-\(type)"), "type": .string(type), "created_at": .string("2026-12-01T10:00:00.000Z"),
            "user": .object(["username": .string("ann"), "email": .string("ann@example.com"), "id": .string("us-1")]),
            "type_data": typeData,
        ]
        if let app { fields["app_name"] = .string(app) }
        return ScalingoEvents.normalize(.object(fields), feed: "s", environment: nil, fetchedAt: Date())
    }

    @Test(arguments: documentedTypes)
    func everyDocumentedTypeIsInTheTableAndDecodes(type: String) throws {
        #expect(ScalingoCatalog.categories.keys.contains(type), "\(type) has no row in the category table")
        let event = try #require(Self.event(type))
        #expect(event.type == type && event.source == "scalingo" && !event.summary.isEmpty)
    }

    @Test(arguments: [
        ("login_lock", EventCategory.authLocked), ("login_failure", .authLoginFailed), ("run", .consoleOpened), ("restart", .appRestarted),
        ("scale", .appScaled), ("new_app", .appCreated), ("new_collaborator", .accessChanged), ("new_variable", .configChanged),
        ("database_backup_failed", .databaseBackupFailed), ("start_database_maintenance", .databaseMaintenance), ("add_credit", .billing),
    ])
    func typesMapToTheirCategory(type: String, category: EventCategory) throws {
        #expect(try #require(Self.event(type)).category == category)
    }

    @Test func typesWithoutACounterpartAndUnknownTypesHaveNoCategory() throws {
        #expect(try #require(Self.event("login_success")).category == nil)
        let future = try #require(Self.event("something_scalingo_adds_next_year"))
        #expect(future.category == nil && future.summary.contains("something scalingo adds next year"))
    }

    @Test(arguments: [
        ("success", EventCategory.deploySucceeded, "succeeded"), ("build-error", .deployFailed, "failed: build-error"),
        ("crashed-error", .deployFailed, "failed: crashed-error"), ("timeout-error", .deployFailed, "failed: timeout-error"),
        ("hook-error", .deployFailed, "failed: hook-error"), ("aborted", .deployFailed, "failed: aborted"),
        ("building", .deployStarted, "building"), ("pushing", .deployStarted, "pushing"),
    ])
    func deploymentsAreCategorisedByStatus(status: String, category: EventCategory, words: String) throws {
        let event = try #require(Self.event("deployment", typeData: .object(["status": .string(status), "git_ref": .string("0123456789abcdef"), "pusher": .string("bob")])))
        #expect(event.category == category)
        #expect(event.summary == "Deployment of web-prod \(words) (0123456) by bob")
    }

    @Test func summariesReadWellAndNeverCarryAVariableValue() throws {
        let variable = try #require(Self.event("new_variable", typeData: .object(["name": .string("DATABASE_URL"), "value": .string("postgres://secret@db")])))
        #expect(variable.summary == "Variable DATABASE_URL added on web-prod by ann")
        let scale = try #require(Self.event("scale", typeData: .object([
            "previous_containers": .object(["web": .integer(1), "worker": .string("0")]), "containers": .object(["web": .string("3:S"), "worker": .integer(1)]),
        ])))
        #expect(scale.summary == "web-prod scaled: web 1→3:S, worker 0→1 by ann")
        let run = try #require(Self.event("run", typeData: .object(["command": .string("bundle exec rails console")])))
        #expect(run.summary == "ann ran `bundle exec rails console` on web-prod")
        let lock = try #require(Self.event("login_lock", typeData: .object(["remote_ip": .string("1.2.3.4")]), app: nil))
        #expect(lock.summary == "Account ann locked after repeated failed logins (from 1.2.3.4)")
    }
}
