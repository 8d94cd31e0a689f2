import AdminAPI
import EventModel
import Foundation
import HTTPClient
import HTTPServer
import Sinks
import Testing

/// `POST /v1/ingest/{feed}` on the live relay (libmicrohttpd in, libcurl out, real SQLite), with
/// each accepted format and each authentication mode, good and bad.
@Suite("Push ingest")
struct PushIngestTests {
    static let bearer = "push-bearer-token-0123456789"
    static let shared = "qovery-shared-secret-0123456789"
    static let signing = "whsec_" + Data((100..<132).map { UInt8($0) }).base64EncodedString()

    /// A relay with three push feeds and the end-to-end rules (login_lock → signed webhook "audit"),
    /// optionally polling a fake Scalingo too.
    static func scenario(polling: Bool = false) async throws -> Scenario {
        let scenario = try Scenario()
        scenario.harness.environment["PUSH_BEARER"] = bearer
        scenario.harness.environment["PUSH_SHARED"] = shared
        scenario.harness.environment["PUSH_SIGNING"] = signing
        var configuration = scenario.harness.configuration(scalingo: polling ? scenario.scalingo : nil)
        configuration.pushFeeds = [
            PushFeedSettings(name: "scalingo-hooks", format: "scalingo", auth: .bearer, secretEnv: "PUSH_BEARER"),
            PushFeedSettings(name: "shared", format: "scalingo", auth: .sharedSecret, secretEnv: "PUSH_SHARED", header: "Qovery-Signature"),
            PushFeedSettings(name: "signed", format: "relay", auth: .signature, secretEnv: "PUSH_SIGNING", environment: "staging"),
        ]
        try await scenario.harness.start(configuration)
        if polling { #expect(try await scenario.harness.waitForFeedsToStart()) }
        return scenario
    }

    static func post(_ scenario: Scenario, _ feed: String, _ body: [UInt8], headers: [(String, String)]) async throws -> (status: Int, json: JSONValue) {
        let response = try await scenario.harness.client.execute(HTTPRequest(
            method: .POST, url: scenario.harness.adminURL + "/v1/ingest/\(feed)",
            headers: [("Content-Type", "application/json")] + headers.map { (name: $0.0, value: $0.1) }, body: body))
        return (response.status, (try? JSONValue.parse(response.body)) ?? .string(response.bodyText))
    }

    static func lock(_ id: String, at date: Date = Date()) -> [UInt8] {
        ScalingoEventFactory.loginLock(id: id, user: "ann", ip: "10.9.9.9", at: date).encoded()
    }

    static func deliveredIDs(_ scenario: Scenario) -> [String] {
        scenario.sinks.requests.compactMap { try? JSONValue.parse($0.body)["event"]?["id"]?.stringValue }
    }

    @Test func aBearerPushOfAScalingoEventIsDeliveredAndABadOneChangesNothing() async throws {
        let scenario = try await Self.scenario()
        let good = try await Self.post(scenario, "scalingo-hooks", Self.lock("pushed-1"), headers: [("Authorization", "Bearer \(Self.bearer)")])
        #expect(good.status == 202 && good.json["new"] == .integer(1) && good.json["deliveries"] == .integer(1), "\(good.json)")
        #expect(await scenario.sinks.waitFor { $0.count >= 1 })
        #expect(Self.deliveredIDs(scenario) == ["pushed-1"])
        for headers in [[("Authorization", "Bearer wrong")], [], [("Authorization", "Basic \(Self.bearer)")]] {
            let refused = try await Self.post(scenario, "scalingo-hooks", Self.lock("pushed-2"), headers: headers)
            #expect(refused.status == 401 && refused.json["error"]?["code"] == .string("unauthorized"))
            #expect(!"\(refused.json)".contains(Self.bearer))
        }
        let again = try await Self.post(scenario, "scalingo-hooks", Self.lock("pushed-1"), headers: [("Authorization", "Bearer \(Self.bearer)")])
        #expect(again.status == 202 && again.json["duplicates"] == .integer(1) && again.json["new"] == .integer(0))
        let feeds = try await scenario.harness.admin(.GET, "/v1/feeds").json["push_feeds"]?.arrayValue ?? []
        let stats = try #require(feeds.first { $0["name"] == .string("scalingo-hooks") })
        #expect(stats["accepted"] == .integer(1) && stats["rejected"] == .integer(3) && stats["duplicates"] == .integer(1))
        #expect(!"\(feeds)".contains(Self.bearer))
        // Also by name, as polled feeds are; it is not polled.
        let one = try await scenario.harness.admin(.GET, "/v1/feeds/scalingo-hooks")
        #expect(one.status == 200 && one.json["accepted"] == .integer(1) && one.json["path"] == .string("/v1/ingest/scalingo-hooks"))
        let poll = try await scenario.harness.admin(.POST, "/v1/feeds/scalingo-hooks/poll")
        #expect(poll.status == 404 && "\(poll.json)".contains("push feed"))
        let counts = try await scenario.harness.admin(.GET, "/v1/deliveries").json["deliveries"]?.arrayValue ?? []
        #expect(counts.count == 1, "a refused push wrote nothing")
        await scenario.finish()
    }

    @Test func aSharedSecretInItsOwnHeaderIsComparedWhole() async throws {
        let scenario = try await Self.scenario()
        let good = try await Self.post(scenario, "shared", Self.lock("shared-1"), headers: [("Qovery-Signature", Self.shared)])
        #expect(good.status == 202)
        for value in [String(Self.shared.dropLast()), Self.shared + "x", "", "Bearer \(Self.shared)"] {
            #expect(try await Self.post(scenario, "shared", Self.lock("shared-2"), headers: [("Qovery-Signature", value)]).status == 401)
        }
        #expect(try await Self.post(scenario, "shared", Self.lock("shared-2"), headers: [("Authorization", "Bearer \(Self.shared)")]).status == 401)
        #expect(await scenario.sinks.waitFor { $0.count >= 1 })
        #expect(Self.deliveredIDs(scenario) == ["shared-1"])
        await scenario.finish()
    }

    static func signed(_ body: [UInt8], id: String = "msg_1", at date: Date = Date(), secret: String = signing) -> [(String, String)] {
        let timestamp = Int64(date.timeIntervalSince1970)
        let signature = WebhookSignature.sign(secret: secret, id: id, timestamp: timestamp, body: body) ?? ""
        return [("webhook-id", id), ("webhook-timestamp", String(timestamp)), ("webhook-signature", signature)]
    }

    static func normalized(_ id: String, type: String = "login_lock") -> [UInt8] {
        let event = Event(source: "scalingo", feed: "x", id: id, type: type, category: .authLocked, time: Date(), summary: "locked", raw: .object([:]))
        return (try? Array(Event.makeEncoder().encode(event))) ?? []
    }

    @Test func aStandardWebhooksSignatureIsVerifiedOverTheExactBody() async throws {
        let scenario = try await Self.scenario()
        let body = Self.normalized("signed-1")
        let good = try await Self.post(scenario, "signed", body, headers: Self.signed(body))
        #expect(good.status == 202, "\(good.json)")
        let other = Self.normalized("signed-2")
        let wrongSecret = "whsec_" + Data(repeating: 9, count: 32).base64EncodedString()
        let cases: [[(String, String)]] = [
            Self.signed(body, id: "msg_2").map { $0.0 == "webhook-id" ? ($0.0, "msg_other") : $0 },  // id not what was signed
            Self.signed(body),  // signature of another body
            Self.signed(other, at: Date().addingTimeInterval(-600)),  // too old: a replay
            Self.signed(other, secret: wrongSecret),
            Array(Self.signed(other).dropLast()),  // no signature
        ]
        for (index, headers) in cases.enumerated() {
            let refused = try await Self.post(scenario, "signed", other, headers: headers)
            #expect(refused.status == 401, "case \(index): \(refused.json)")
        }
        // Rotation: the sender signs with an old and a new secret; one valid signature is enough.
        let both = Self.signed(other).map { header -> (String, String) in
            guard header.0 == "webhook-signature" else { return header }
            let stale = Self.signed(other, secret: wrongSecret).first { $0.0 == "webhook-signature" }?.1 ?? ""
            return (header.0, stale + " " + header.1)
        }
        #expect(try await Self.post(scenario, "signed", other, headers: both).status == 202)
        #expect(await scenario.sinks.waitFor { $0.count >= 2 })
        let environments = scenario.sinks.requests.compactMap { try? JSONValue.parse($0.body)["event"]?["environment"]?.stringValue }
        #expect(environments == ["staging", "staging"], "the push feed's label fills a missing environment")
        await scenario.finish()
    }

    /// The relay's own format, as another relay's webhook delivers it (`event` beside `raw`), without
    /// a category: the platform's folder works it out from the raw event, so category rules match.
    @Test func aRelayFormatEventWithoutACategoryGetsItFromItsRawEvent() async throws {
        let scenario = try await Self.scenario()
        let created = try await scenario.harness.admin(.POST, "/v1/subscriptions", """
            {"id": "locked-only", "type": "webhook", "url": "\(scenario.sinks.baseURL)/locked", "secret": "\(RelayHarness.webhookSecret)",
             "filter": {"categories": ["auth.locked"]}}
            """)
        #expect(created.status == 201, "\(created.json)")
        let raw = ScalingoEventFactory.loginLock(id: "relayed-1", user: "ann", ip: "10.2.2.2", at: Date())
        let body = JSONValue.object([
            "type": .string("event"),
            "event": .object(["source": .string("scalingo"), "id": .string("relayed-1"), "type": .string("login_lock"), "time": .string(Timestamp.format(Date()))]),
            "raw": raw,
        ]).encoded()
        let pushed = try await Self.post(scenario, "signed", body, headers: Self.signed(body))
        #expect(pushed.status == 202 && pushed.json["deliveries"] == .integer(2), "the audit rule and the category subscription: \(pushed.json)")
        #expect(await scenario.sinks.waitFor { $0.contains { $0.path == "/locked" } })
        let delivered = try JSONValue.parse(try #require(scenario.sinks.requests.first { $0.path == "/locked" }).body)
        #expect(delivered["event"]?["category"] == .string("auth.locked"))
        #expect(delivered["event"]?["summary"]?.stringValue?.contains("locked") == true)
        await scenario.finish()
    }

    @Test func aBatchIsAcceptedWholeOrNotAtAll() async throws {
        let scenario = try await Self.scenario()
        let auth = [("Authorization", "Bearer \(Self.bearer)")]
        let three = JSONValue.array((1...3).map { ScalingoEventFactory.loginLock(id: "batch-\($0)", user: "u", ip: "10.0.0.1", at: Date()) })
        let broken = JSONValue.array([ScalingoEventFactory.loginLock(id: "bad-1", user: "u", ip: "10.0.0.1", at: Date()), .object(["no": .string("id")])])
        let refused = try await Self.post(scenario, "scalingo-hooks", broken.encoded(), headers: auth)
        #expect(refused.status == 422 && refused.json["error"]?["message"]?.stringValue?.contains("event 1") == true, "\(refused.json)")
        let page = JSONValue.object(["events": .array([ScalingoEventFactory.loginLock(id: "page-1", user: "u", ip: "10.0.0.1", at: Date()), .object(["no_id": .bool(true)]), .string("junk")])])
        let refusedPage = try await Self.post(scenario, "scalingo-hooks", page.encoded(), headers: auth)
        #expect(refusedPage.status == 422 && refusedPage.json["error"]?["message"]?.stringValue?.contains("event 1") == true, "\(refusedPage.json)")
        #expect(try await Self.post(scenario, "scalingo-hooks", Array("{not json".utf8), headers: auth).status == 400)
        #expect(try await Self.post(scenario, "scalingo-hooks", Array("[]".utf8), headers: auth).status == 422)
        #expect(try await Self.post(scenario, "nope", Self.lock("x"), headers: auth).status == 404)
        let get = try await scenario.harness.client.execute(HTTPRequest(url: scenario.harness.adminURL + "/v1/ingest/scalingo-hooks"))
        #expect(get.status == 405)
        let huge = Array(repeating: UInt8(ascii: " "), count: 200 * 1024) + Self.lock("huge")
        #expect(try await Self.post(scenario, "scalingo-hooks", huge, headers: auth).status == 413)
        let accepted = try await Self.post(scenario, "scalingo-hooks", three.encoded(), headers: auth)
        #expect(accepted.status == 202 && accepted.json["new"] == .integer(3))
        #expect(await scenario.sinks.waitFor { $0.count >= 3 })
        #expect(Set(Self.deliveredIDs(scenario)) == ["batch-1", "batch-2", "batch-3"], "nothing of the refused batches")
        await scenario.finish()
    }

    @Test func anEventBothPolledAndPushedIsDeliveredOnce() async throws {
        let scenario = try await Self.scenario(polling: true)
        let event = ScalingoEventFactory.loginLock(id: "both-ways", user: "ann", ip: "10.1.2.3", at: Date())
        let pushed = try await Self.post(scenario, "scalingo-hooks", event.encoded(), headers: [("Authorization", "Bearer \(Self.bearer)")])
        #expect(pushed.status == 202 && pushed.json["new"] == .integer(1))
        scenario.scalingo.publish([event])
        // The poll reads it and finds it ingested: the feed's count stays at zero new events.
        #expect(try await eventually {
            try await scenario.harness.stream("events")?["last_success_at"] != .null
                && scenario.scalingo.pageRequests(path: "/v1/events") >= 3
        })
        #expect(await scenario.sinks.waitFor { $0.count >= 1 })
        let feeds = try await scenario.harness.admin(.GET, "/v1/feeds").json["feeds"]?.arrayValue ?? []
        #expect(feeds.first?["events_seen"] == .integer(0))
        #expect(Self.deliveredIDs(scenario) == ["both-ways"])
        await scenario.finish()
    }
}
