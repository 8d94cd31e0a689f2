import EventModel
import Foundation
import Testing

/// `/v1/mutes` over real HTTP (libmicrohttpd in, libcurl out) on a relay with a real SQLite
/// file: bad input is refused naming the field and changes nothing; a mute made holds what it
/// covers (visible as `muted` in the delivery log), is kept across a restart, and deleting it ends it.
@Suite("Admin API: mutes", .serialized)
struct MutesAPITests {
    static let rules = """
        subscriptions:
          - {id: ops, type: webhook, url_env: TEST_URL, secret_env: TEST_SECRET}
        rules:
          - {name: deploys, filter: {sources: [test]}, subscriptions: [ops]}
        mutes:
          - {id: from-file, subscription: ops, filter: {app: frozen}, ends_at: "2099-01-01T00:00:00Z", comment: declared in a file}
        """

    @Test func mutesAreMadeCheckedListedKeptAndDeleted() async throws {
        let harness = try RelayHarness(environment: ["TEST_URL": "http://127.0.0.1:9/x", "TEST_SECRET": RelayHarness.webhookSecret])
        defer { Task { await harness.cleanup() } }
        try harness.writeRule("routes.yaml", Self.rules)
        try await harness.start(harness.configuration(scalingo: nil))

        let refused: [(String, String)] = [
            (#"{"comment": "x", "duration": "1h"}"#, "filter"),
            (#"{"rule": "deploy", "duration": "1h", "comment": "typo"}"#, "rule"),
            (#"{"subscription": "nobody", "duration": "1h", "comment": "x"}"#, "subscription"),
            (#"{"filter": {"app": "web", "colour": "red"}, "duration": "1h", "comment": "x"}"#, "filter.colour"),
            (#"{"rule": "deploys", "comment": "no end"}"#, "ends_at"),
            (#"{"rule": "deploys", "ends_at": "2001-01-01T00:00:00Z", "comment": "over"}"#, "ends_at"),
            (#"{"rule": "deploys", "duration": "1h"}"#, "comment"),
            (#"{"rule": "deploys", "duration": "1h", "comment": "x", "until": "later"}"#, "until"),
        ]
        for (body, field) in refused {
            let answer = try await harness.admin(.POST, "/v1/mutes", body)
            #expect(answer.status == 422 || answer.status == 400, "\(body): \(answer.json)")
            #expect(answer.json["error"]?["field"] == .string(field), "\(body): \(answer.json)")
        }
        #expect(try await harness.admin(.GET, "/v1/mutes").json["mutes"]?.arrayValue?.count == 1, "nothing refused was kept")

        let made = try await harness.admin(
            .POST, "/v1/mutes", #"{"id": "release", "rule": "deploys", "filter": {"app": "web"}, "duration": "2h", "comment": "release day"}"#)
        #expect(made.status == 201, "\(made.json)")
        #expect(made.json["status"] == .string("active") && made.json["filter"]?["app"] == .array([.string("web")]))
        #expect(try await harness.admin(.POST, "/v1/mutes", #"{"id": "release", "rule": "deploys", "duration": "1h", "comment": "again"}"#).status == 409)
        #expect(try await harness.admin(.DELETE, "/v1/mutes/from-file").status == 409, "a file's mute is changed in its file")

        let pushed = try await harness.ingest([
            Fixtures.event(type: "deployment", app: "web", source: "test", id: "muted-1", time: Date()),
            Fixtures.event(type: "deployment", app: "api", source: "test", id: "sent-1", time: Date()),
        ])
        #expect(pushed.deliveries == 2)
        let muted = try await harness.admin(.GET, "/v1/deliveries?status=muted").json
        #expect(muted["deliveries"]?.arrayValue?.map { $0["event"] } == [.string("test:muted-1")])
        #expect(muted["deliveries"]?.arrayValue?.first?["note"]?.stringValue?.hasPrefix("muted by release until") == true)

        // Kept across a restart.
        try await harness.stop()
        try await harness.start(harness.configuration(scalingo: nil))
        let listed = try await harness.admin(.GET, "/v1/mutes").json["mutes"]?.arrayValue?.compactMap { $0["id"]?.stringValue }
        #expect(listed?.sorted() == ["from-file", "release"])
        #expect(try await harness.admin(.DELETE, "/v1/mutes/release").status == 204)
        #expect(try await harness.admin(.GET, "/v1/mutes/release").status == 404)
        _ = try await harness.ingest([Fixtures.event(type: "deployment", app: "web", source: "test", id: "after-1", time: Date())])
        let after = try await harness.admin(.GET, "/v1/deliveries?event=test:after-1").json
        #expect(after["deliveries"]?.arrayValue?.first?["status"] == .string("pending"), "deleting the mute ended it")
    }
}
