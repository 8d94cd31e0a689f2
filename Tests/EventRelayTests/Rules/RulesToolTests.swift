import EventModel
import Foundation
import Relay
import Testing

/// `event-relay rules test --event FILE`: an event of every source, routed offline, and a rule by
/// category that covers them all.
@Suite("rules test, for every source")
struct RulesToolTests {
    static let rules = """
        subscriptions:
          - {id: ops, type: slack, url_env: OPS_URL}
        rules:
          - name: failed-deployments-anywhere
            filter: {categories: [deploy.failed]}
            subscriptions: [ops]
        """

    static let events: [(source: String, document: JSONValue)] = [
        ("scalingo", ScalingoEventFactory.deployment(id: "s-1", app: "web", status: "build-error", at: Date())),
        ("qovery", QoveryEventFactory.deployFailed(id: "q-1", at: Date())),
        ("escapekit", EscapeKitEventFactory.event(
            id: 7, type: "BUILD_FINISHED_EVENT", at: Date(),
            fields: ["state_project": .string("shop"), "state_environment": .string("prod"), "state_deployment": .string("web"),
                     "data": .object(["success": .bool(false), "status": .string("failed")])])),
    ]

    @Test(arguments: [0, 1, 2])
    func aRawEventOfEachSourceIsRoutedByCategory(index: Int) async throws {
        let (source, document) = Self.events[index]
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try directory.write("rules/ops.yaml", Self.rules)
        try directory.write("event.json", String(decoding: document.encoded(), as: UTF8.self))
        let result = await RulesTool.test(eventFile: directory.path + "/event.json", directory: directory.path + "/rules")
        #expect(result.ok, "\(result.report)")
        #expect(result.report.contains("event \(source):"), "\(result.report)")
        #expect(result.report.contains("category=deploy.failed") && result.report.contains("-> ops (rule:failed-deployments-anywhere)"), "\(result.report)")
    }

    @Test func aNormalizedEventAndAnUnknownDocument() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try directory.write("rules/ops.yaml", Self.rules)
        let event = Event(source: "qovery", feed: "x", id: "n-1", type: "DEPLOY_FAILED", category: .deployFailed, time: Date(), raw: .object([:]))
        try directory.write("event.json", String(decoding: try Event.makeEncoder().encode(event), as: UTF8.self))
        #expect(await RulesTool.test(eventFile: directory.path + "/event.json", directory: directory.path + "/rules").report.contains("-> ops"))
        try directory.write("other.json", #"{"hello": "world"}"#)
        let unknown = await RulesTool.test(eventFile: directory.path + "/other.json", directory: directory.path + "/rules")
        #expect(!unknown.ok && unknown.report.contains("neither a normalized event nor an event of a known platform"))
    }
}
