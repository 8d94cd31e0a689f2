import EventModel
import Feeds
import Foundation
import Testing

/// The EscapeKit documentation as copied into the fixtures: its event types and its example page.
enum EscapeKitSeed {
    static func text() throws -> String {
        try String(contentsOf: Fixtures.url("escapekit/escapekit-events-api.txt"), encoding: .utf8)
    }

    /// The `type` enum's values, in order, each once (the document lists one twice).
    static func documentedTypes() throws -> [String] {
        var seen: Set<String> = []
        return try text().split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { $0.count > 2 && $0.hasPrefix("\"") && $0.hasSuffix("\"") }
            .map { String($0.dropFirst().dropLast()) }
            .filter { $0 == $0.uppercased() && seen.insert($0).inserted }
    }

    static func examplePage() throws -> JSONValue {
        let line = try #require(try text().split(separator: "\n").first { $0.hasPrefix("[ {") })
        return try JSONValue.parse(Array(line.utf8))
    }
}

@Suite("EscapeKit events: decoding")
struct EscapeKitDecoderTests {
    static func normalize(_ text: String, environment: String? = nil, fetchedAt: Date = Date()) throws -> Event? {
        EscapeKitEvents.normalize(try JSONValue.parse(Array(text.utf8)), feed: "ek", environment: environment, fetchedAt: fetchedAt)
    }

    @Test func theDocumentationsExamplePageDecodes() throws {
        let page = try EscapeKitSeed.examplePage()
        let events = FeedRegistry.events(in: page, feed: "ek", receivedAt: Date())
        #expect(events?.kind == "escapekit")
        let decoded = try #require(events?.events)
        #expect(decoded.map(\.id) == ["123", "124"])
        #expect(decoded[0].type == "CREATE_INVENTORY_PROJECT" && decoded[0].project == "test" && decoded[0].actor?.name == "user")
        #expect(decoded[0].source == "escapekit" && decoded[0].feed == "ek")
        // 12343434343434 ns after the epoch: 12343 s and 434343434 ns.
        #expect(abs(decoded[0].time.timeIntervalSince1970 - 12343.434343434) < 1e-6)
        #expect(decoded[1].project == "state-test" && decoded[1].category == nil)
        #expect(decoded[1].raw["allowed_groups"] == .array([.string("my-group"), .string("your-group")]), "raw is kept as sent")
        #expect(decoded[1].details == nil)
        #expect(decoded[0].summary == "Inventory project test created by user")
    }

    @Test func theDocumentsTypeListIsWhatTheTestsThinkItIs() throws {
        let types = try EscapeKitSeed.documentedTypes()
        #expect(types.count == 27, "28 listed, one twice")
        #expect(types.first == "CREATE_INVENTORY_PROJECT" && types.last == "TEAM_SERVICE_ACCOUNT_CREATED")
    }

    @Test(arguments: [
        (#""1700000000123456789""#, 1_700_000_000.123456789), ("1700000000123456789", 1_700_000_000.123456789),
        (#""0""#, 0), (#""999999999""#, 0.999999999), (#""000001700000000000000000""#, 1_700_000_000),
        (#""2026-03-01T10:00:00.250Z""#, 1_772_359_200.25), (#""2026-03-01T11:00:00+01:00""#, 1_772_359_200),
        ("1.7e18", 1_700_000_000), ("17000000001234567890", 17_000_000_001.23456789),
    ])
    func timestampsAreUnixNanoseconds(json: String, seconds: Double) throws {
        let time = try #require(EscapeKitTime.parse(try JSONValue.parse(Array(json.utf8))))
        #expect(abs(time.timeIntervalSince1970 - seconds) < 1e-5, "\(json) → \(time.timeIntervalSince1970)")
    }

    @Test func aLongDigitStringKeepsItsNanosecondsExactlyUntilTheLastConversion() throws {
        // 20 digits: beyond Int64 and far beyond a Double's 53 bits; read as seconds + nanoseconds.
        let time = try #require(EscapeKitTime.parse(.string("17000000001234567891")))
        #expect(time.timeIntervalSince1970 == 17_000_000_001 + 0.234567891)
    }

    @Test(arguments: [#""-5""#, "-5", #""soon""#, #""""#, "null", "true", "[1]", #""99999999999999999999999999999""#, "1e40"])
    func unreadableTimestampsAreNoTime(json: String) throws {
        #expect(EscapeKitTime.parse(try JSONValue.parse(Array(json.utf8))) == nil)
    }

    @Test func numbersAsStringsNullsAndMissingFieldsAreTolerated() throws {
        let fetched = Date(timeIntervalSince1970: 1_800_000_000)
        let event = try #require(try Self.normalize("""
            {"id": 4711, "type": "ADD_BUILD", "timestamp": 1700000000000000000, "username": null, "allowed_roles": null,
             "data": null, "state_project": "shop", "state_environment": 7, "state_deployment": "", "inventory_namespace": null}
            """, environment: "fallback", fetchedAt: fetched))
        #expect(event.id == "4711", "a numeric id is its decimal text")
        #expect(event.time == Date(timeIntervalSince1970: 1_700_000_000))
        #expect(event.actor == nil)
        #expect(event.environment == "7", "a number as a name")
        #expect(event.app == nil, "an empty deployment name is none")
        #expect(event.category == .deployStarted)
        #expect(event.summary == "Build started for shop/7")
        let bare = try #require(try Self.normalize(#"{"id": "1"}"#, environment: "production", fetchedAt: fetched))
        #expect(bare.type == "unknown" && bare.time == fetched && bare.environment == "production" && bare.category == nil)
    }

    @Test func anEventWithoutAnIdCannotBeTracked() throws {
        #expect(try Self.normalize(#"{"type": "ADD_BUILD", "timestamp": "1"}"#) == nil)
        #expect(try Self.normalize(#"{"id": "", "type": "ADD_BUILD"}"#) == nil)
        #expect(try Self.normalize(#"{"id": null}"#) == nil)
        #expect(try Self.normalize(#"["1"]"#) == nil)
    }

    @Test func unknownTypesAndFieldsPassThrough() throws {
        let event = try #require(try Self.normalize("""
            {"id": "9", "type": "SOMETHING_ESCAPEKIT_ADDS_LATER", "timestamp": "1700000000000000000", "username": "bob",
             "inventory_project": "core", "inventory_application": "api", "surprise": {"a": [1, 2.5, true]}}
            """))
        #expect(event.type == "SOMETHING_ESCAPEKIT_ADDS_LATER" && event.category == nil)
        #expect(event.summary == "something escapekit adds later on core/api by bob")
        #expect(event.raw["surprise"]?["a"] == .array([.integer(1), .number(2.5), .bool(true)]))
    }

    @Test func whereAnEventHappenedComesFromItsInventoryOrStateFields() throws {
        let release = try #require(try Self.normalize("""
            {"id": "1", "type": "UPLOAD_INVENTORY_APPLICATION", "timestamp": "1", "username": "ann",
             "inventory_project": "core", "inventory_application": "api", "inventory_version": "1.4.2"}
            """, environment: "label"))
        #expect(release.project == "core" && release.app == "api" && release.environment == "label")
        #expect(release.summary == "Release core/api@1.4.2 uploaded by ann")
        let deploy = try #require(try Self.normalize("""
            {"id": "2", "type": "REDEPLOY_STATE_DEPLOYMENT", "timestamp": "1", "username": "ann",
             "state_project": "shop", "state_environment": "prod", "state_deployment": "web"}
            """, environment: "label"))
        #expect(deploy.project == "shop" && deploy.app == "web" && deploy.environment == "prod", "the event's own environment wins")
        #expect(deploy.summary == "Redeploy of shop/prod/web requested by ann")
    }

    @Test func numericIDsCompareAsNumbersAndOthersAsText() {
        #expect(EscapeKitID.isBelow("999", "1000"))
        #expect(!EscapeKitID.isBelow("1000", "999"))
        #expect(EscapeKitID.isBelow("9999", "10000"))
        #expect(EscapeKitID.isBelow("0099", "100"), "leading zeros do not make a number larger")
        #expect(!EscapeKitID.isBelow("100", "100"))
        #expect(EscapeKitID.isBelow("99999999999999999999998", "99999999999999999999999"), "beyond 64 bits")
        #expect(EscapeKitID.isBelow("a10", "a9"), "text compares byte by byte")
        #expect(EscapeKitID.isBelow("1000", "a"), "a number and a text: as text")
        #expect(EscapeKitID.lowest(["1000", "999", "1001"]) == "999")
        #expect(EscapeKitID.lowest([]) == nil)
    }

    @Test func registryRecognisesEscapeKitDocumentsOnly() throws {
        let single = try JSONValue.parse(Array(#"{"id": "5", "type": "ADD_BUILD", "timestamp": "1700000000000000000"}"#.utf8))
        #expect(FeedRegistry.events(in: single, feed: "f", receivedAt: Date())?.kind == "escapekit")
        let scalingo = ScalingoEventFactory.loginLock(id: "s1", user: "u", ip: "10.0.0.1", at: Date())
        #expect(FeedRegistry.events(in: scalingo, feed: "f", receivedAt: Date())?.kind == "scalingo")
        #expect(EscapeKitFeedPlugin.events(in: scalingo, feed: "f", receivedAt: Date()).isEmpty)
        #expect(EscapeKitFeedPlugin.events(in: .object(["hello": .string("x")]), feed: "f", receivedAt: Date()).isEmpty)
    }
}

@Suite("EscapeKit categories and summaries")
struct EscapeKitCategoryTests {
    static func event(_ type: String, data: JSONValue = .null, fields: [String: JSONValue] = [:]) -> Event? {
        var object: [String: JSONValue] = [
            "id": .string("ev-\(type)"), "type": .string(type), "timestamp": .string("1764583200000000000"), "username": .string("ann"),
            "state_project": .string("shop"), "state_environment": .string("prod"), "state_deployment": .string("web"), "data": data,
        ]
        object.merge(fields) { $1 }
        return EscapeKitEvents.normalize(.object(object), feed: "ek", environment: nil, fetchedAt: Date())
    }

    /// The table, type by type: what docs/categories.md says.
    static let expected: [(String, EventCategory?)] = [
        ("CREATE_INVENTORY_PROJECT", nil), ("NEW_INVENTORY_APPLICATION", .appCreated), ("UPLOAD_INVENTORY_APPLICATION", nil),
        ("UPDATE_INVENTORY_PROJECT_USER_ACL", .accessChanged), ("DELETE_INVENTORY_PROJECT_USER_ACL", .accessChanged),
        ("UPDATE_INVENTORY_PROJECT_TEAM_ACL", .accessChanged), ("DELETE_INVENTORY_PROJECT_TEAM_ACL", .accessChanged),
        ("CREATE_STATE_PROJECT", nil), ("CREATE_STATE_ENVIRONMENT", nil), ("CREATE_STATE_DEPLOYMENT", .appCreated),
        ("UPDATE_STATE_DEPLOYMENT", .configChanged), ("REDEPLOY_STATE_DEPLOYMENT", .deployStarted), ("RERUN_SMOKE_TESTS", nil),
        ("DESTROY_REQUESTED", .appDeleted), ("ADD_BUILD", .deployStarted), ("TRIGGER_BUILD_WEBHOOK", nil), ("BUILD_FINISHED_EVENT", nil),
        ("UPDATE_STATE_PROJECT_USER_ACL", .accessChanged), ("DELETE_STATE_PROJECT_USER_ACL", .accessChanged),
        ("UPDATE_STATE_PROJECT_TEAM_ACL", .accessChanged), ("DELETE_STATE_PROJECT_TEAM_ACL", .accessChanged),
        ("USER_SIGNUP", nil), ("USER_CONFIRMED", nil), ("TEAM_CREATED", nil), ("TEAM_DELETED", .accessChanged),
        ("TEAM_MEMBER_UPDATED", .accessChanged), ("TEAM_MEMBER_DELETED", .accessChanged), ("TEAM_SERVICE_ACCOUNT_CREATED", .accessChanged),
    ]

    @Test func everyDocumentedTypeHasARowAndTheTableHasNothingElse() throws {
        let documented = try EscapeKitSeed.documentedTypes()
        for type in documented { #expect(EscapeKitCatalog.categories.keys.contains(type), "\(type) has no row") }
        let extra = Set(EscapeKitCatalog.categories.keys).subtracting(documented)
        #expect(extra == ["UPDATE_INVENTORY_PROJECT_TEAM_ACL"], "only the one the document seems to have misspelt")
        #expect(Set(Self.expected.map(\.0)) == Set(EscapeKitCatalog.categories.keys))
    }

    @Test(arguments: expected.map { $0.0 })
    func eachTypeDecodesToItsCategoryWithASummary(type: String) throws {
        let event = try #require(Self.event(type))
        let category = try #require(Self.expected.first { $0.0 == type }).1
        #expect(event.category == category, "\(type)")
        #expect(event.type == type && event.source == "escapekit")
        #expect(!event.summary.isEmpty && !event.summary.contains("_"), "\(event.summary)")
    }

    @Test(arguments: [
        (JSONValue.object(["status": .string("success")]), EventCategory?.some(.deploySucceeded), "Build for shop/prod/web succeeded by ann"),
        (.object(["success": .bool(false)]), .deployFailed, "Build for shop/prod/web failed: failed by ann"),
        (.object(["outcome": .string("deploy-error")]), .deployFailed, "Build for shop/prod/web failed: deploy-error by ann"),
        (.object(["result": .string("aborted")]), .deployFailed, "Build for shop/prod/web failed: aborted by ann"),
        (.object(["status": .string("weird")]), nil, "Build for shop/prod/web finished: weird by ann"),
        (.null, nil, "Build for shop/prod/web finished by ann"),
    ])
    func finishedBuildsAreCategorisedByTheirOutcome(data: JSONValue, category: EventCategory?, summary: String) throws {
        let event = try #require(Self.event("BUILD_FINISHED_EVENT", data: data))
        #expect(event.category == category)
        #expect(event.summary == summary)
    }

    @Test func summariesReadWell() throws {
        #expect(Self.event("DESTROY_REQUESTED")?.summary == "Destroy of shop/prod/web requested by ann")
        #expect(Self.event("CREATE_STATE_DEPLOYMENT")?.summary == "Deployment shop/prod/web created by ann")
        #expect(Self.event("UPDATE_STATE_PROJECT_TEAM_ACL")?.summary == "State project shop: a team ACL changed on it by ann")
        #expect(Self.event("DELETE_INVENTORY_PROJECT_USER_ACL", fields: ["inventory_project": .string("core")])?.summary
            == "Inventory project core: a user ACL removed from it by ann")
        #expect(Self.event("USER_SIGNUP")?.summary == "User ann signed up")
        #expect(Self.event("TEAM_CREATED", data: .object(["team": .string("ops")]))?.summary == "Team ops created by ann")
        #expect(Self.event("TEAM_MEMBER_DELETED", data: .object(["member": .string("bob"), "team": .string("ops")]))?.summary
            == "Member bob of team ops removed by ann")
        #expect(Self.event("NEW_INVENTORY_APPLICATION", fields: [
            "inventory_project": .string("core"), "inventory_application": .string("api"),
        ])?.summary == "Application core/api added to the inventory by ann")
    }
}
