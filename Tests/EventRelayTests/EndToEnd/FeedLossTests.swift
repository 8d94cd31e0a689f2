import EventModel
import Foundation
import HTTPServer
import Testing

/// The relay's first promise, on real parts (a fake Scalingo over loopback HTTP, the relay's
/// libcurl client, SQLite outbox, signed webhooks to a recording sink): every event that appears
/// after the first start is delivered exactly once, whatever the paging does.
@Suite("End to end: a feed loses nothing")
struct FeedLossTests {
    /// The webhook bodies' event ids, in arrival order.
    static func deliveredIDs(_ sinks: RecordingServer) -> [String] {
        sinks.requests.compactMap { try? JSONValue.parse($0.body)["event"]?["id"]?.stringValue }
    }

    static func locks(_ prefix: String, count: Int, from start: Date, step: TimeInterval = 0.01) -> [JSONValue] {
        (0..<count).map { index in
            ScalingoEventFactory.loginLock(id: "\(prefix)-\(index)", user: "u\(index % 7)", ip: "10.0.0.\(index % 250)", at: start.addingTimeInterval(Double(index) * step))
        }
    }

    /// The figures: with Scalingo's 30 a page and 50 pages a poll, 6,000 events at once
    /// used to lose 4,500. Now the walk stops at 50 pages and the next polls resume there.
    @Test func aBurstOfSixThousandIsDeliveredExactlyOnce() async throws {
        let scenario = try Scenario(pageSize: 30)
        try await scenario.start()
        let burst = Self.locks("burst", count: 6_000, from: Date().addingTimeInterval(-60))
        scenario.scalingo.publish(burst)
        #expect(await scenario.sinks.waitFor(timeout: .seconds(120)) { $0.count >= 6_000 })
        let ids = Self.deliveredIDs(scenario.sinks)
        #expect(ids.count == 6_000 && Set(ids).count == 6_000, "each of the 6,000 exactly once")
        #expect(scenario.scalingo.pageRequests(path: "/v1/events") >= 200, "read over several polls: 200 pages at least")
        let stream = try #require(try await scenario.harness.stream("events"))
        #expect(stream["behind"] == .bool(false), "all read; a sweep may still be looking again for late inserts")
        #expect(stream["healthy"] == .bool(true))
        await scenario.finish()
    }

    /// A burst beyond the page limit is visible as a backlog (feed and /healthz) until the polls
    /// after it have read it; a page failing in the middle keeps what was read.
    @Test func aBacklogIsVisibleUntilItIsRead() async throws {
        let scenario = try Scenario(pageSize: 5)
        let failing = LockedValue(true)
        try await scenario.harness.start(scenario.harness.configuration(scalingo: scenario.scalingo) {
            $0.interval = .seconds(3600)
            $0.maxPages = 4
        })
        #expect(try await scenario.harness.waitForFeedsToStart())
        // Page 5 fails until the test has looked: the first poll reads pages 1–4, the catch-up poll
        // re-reads the top and fails on page 5, where the backlog resumes.
        scenario.scalingo.failPages { _, page in page == 5 && failing.value ? 502 : nil }
        scenario.scalingo.publish(Self.locks("b", count: 60, from: Date().addingTimeInterval(-30)))
        #expect(try await scenario.harness.admin(.POST, "/v1/feeds/scalingo/poll").status == 202)
        #expect(try await eventually { try await scenario.harness.stream("events")?["consecutive_failures"]?.intValue == 1 })
        #expect(await scenario.sinks.waitFor { $0.count >= 20 })
        let stream = try #require(try await scenario.harness.stream("events"))
        #expect(stream["behind"] == .bool(true) && stream["backlog"]?["reached"] != .null, "\(stream)")
        #expect(stream["last_error"]?.stringValue?.contains("502") == true)
        let health = try await scenario.harness.admin(.GET, "/healthz", token: nil).json
        #expect(health["streams_behind"] == .array([.string("scalingo/events")]))
        #expect(health["streams_failing"] == .array([.string("scalingo/events")]))
        failing.value = false
        #expect(try await scenario.harness.admin(.POST, "/v1/feeds/scalingo/poll").status == 202)
        #expect(await scenario.sinks.waitFor { $0.count >= 60 })
        #expect(try await eventually { try await scenario.harness.stream("events")?["behind"] == .bool(false) })
        let after = try await scenario.harness.admin(.GET, "/healthz", token: nil).json
        #expect(after["streams_behind"] == .array([]) && after["streams_failing"] == .array([]))
        let ids = Self.deliveredIDs(scenario.sinks)
        #expect(ids.count == 60 && Set(ids).count == 60)
        #expect(try await scenario.harness.admin(.POST, "/v1/feeds/nope/poll").status == 404)
        #expect(try await scenario.harness.admin(.GET, "/v1/feeds/nope").status == 404)
        #expect(try await scenario.harness.admin(.GET, "/v1/feeds/scalingo").json["name"] == .string("scalingo"))
        await scenario.finish()
    }

    /// Offset pages shift while the relay reads them: every page it asks for after the first, three
    /// more events arrive on top, so each page starts with events it has just read.
    @Test func eventsArrivingWhileTheRelayPagesAreAllDelivered() async throws {
        let scenario = try Scenario(pageSize: 5)
        try await scenario.start()
        let start = Date().addingTimeInterval(-100)
        let arrived = LockedValue(0)
        let scalingo = scenario.scalingo
        scalingo.onPage { path, page in
            guard path == "/v1/events", page > 1, arrived.value < 300 else { return }
            let serial = arrived.withValue { value -> Int in
                value += 3
                return value - 3
            }
            scalingo.publish(Self.locks("during-\(serial)", count: 3, from: Date()))
        }
        scalingo.publish(Self.locks("first", count: 200, from: start, step: 0.1))
        #expect(await scenario.sinks.waitFor(timeout: .seconds(60)) { $0.count >= 200 + arrived.value && arrived.value >= 300 })
        let ids = Self.deliveredIDs(scenario.sinks)
        #expect(ids.count == 500 && Set(ids).count == 500, "the 200 and the 300 that arrived meanwhile, once each")
        await scenario.finish()
    }

    /// Real Scalingo inserts some events 60–120 s below newer ones, after those were read.
    @Test func lateInsertsBelowSeenPagesAreDelivered() async throws {
        let scenario = try Scenario(pageSize: 5)
        try await scenario.start()
        let now = Date()
        scenario.scalingo.publish(Self.locks("seen", count: 30, from: now.addingTimeInterval(-30), step: 1))
        #expect(await scenario.sinks.waitFor { $0.count >= 30 })
        // Three pages' worth of seen events lie above where these land.
        let late = [60.0, 75, 90, 105, 120].map { ScalingoEventFactory.loginLock(id: "late-\(Int($0))", user: "x", ip: "10.1.1.1", at: now.addingTimeInterval(-$0)) }
        scenario.scalingo.publish(late)
        #expect(await scenario.sinks.waitFor { $0.count >= 35 })
        let ids = Self.deliveredIDs(scenario.sinks)
        #expect(Set(ids.filter { $0.hasPrefix("late-") }) == ["late-60", "late-75", "late-90", "late-105", "late-120"])
        #expect(ids.count == 35 && Set(ids).count == 35)
        await scenario.finish()
    }

    /// An app renamed away answers 404 on its timeline: it backs off alone, and the user
    /// timeline keeps its own schedule.
    @Test func aFailingAppTimelineDoesNotHoldUpTheUserTimeline() async throws {
        let scenario = try Scenario(pageSize: 5)
        try await scenario.harness.start(scenario.harness.configuration(scalingo: scenario.scalingo, apps: ["renamed-away"]))
        let harness = scenario.harness
        #expect(try await eventually { try await harness.stream("events")?["started"] == .bool(true) })
        // Let the app timeline fail enough to back off for seconds (150 ms × 2⁴ = 2.4 s at the 5th failure).
        #expect(try await eventually { try await (harness.stream("apps/renamed-away")?["consecutive_failures"]?.intValue ?? 0) >= 5 })
        scenario.scalingo.publish([ScalingoEventFactory.loginLock(id: "while-failing", user: "a", ip: "10.0.0.1", at: Date())])
        #expect(await scenario.sinks.waitFor(timeout: .seconds(2)) { $0.count >= 1 }, "the user timeline is polled on its own schedule")
        let app = try #require(try await harness.stream("apps/renamed-away"))
        #expect(app["healthy"] == .bool(false) && app["last_error"]?.stringValue?.contains("404") == true)
        #expect(try await harness.stream("events")?["healthy"] == .bool(true))
        let health = try await harness.admin(.GET, "/healthz", token: nil).json
        #expect(health["streams_failing"] == .array([.string("scalingo/apps/renamed-away")]))
        await scenario.finish()
    }
}

@Suite("End to end: Scalingo apps: all")
struct ScalingoAllAppsTests {
    /// `apps: all` reads the token's apps, and follows apps created and deleted later; an app
    /// found later has what happened on it since the discovery before delivered.
    @Test func appsCreatedAndDeletedLaterAreFollowed() async throws {
        let scenario = try Scenario(pageSize: 5)
        let scalingo = scenario.scalingo
        scalingo.createApp("web")
        try await scenario.harness.start(scenario.harness.configuration(scalingo: scalingo) {
            $0.allApps = true
            $0.appsRefresh = .milliseconds(200)
        })
        let harness = scenario.harness
        #expect(try await eventually { try await harness.stream("apps/web")?["started"] == .bool(true) })
        let names: @Sendable () async throws -> [String] = {
            let feeds = try await harness.admin(.GET, "/v1/feeds").json["feeds"]?.arrayValue ?? []
            return (feeds.first?["streams"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
        }
        #expect(try await names() == ["events", "apps/web"])

        // A new app, with a failed deployment on its own timeline only, before it is discovered.
        scalingo.createApp("api")
        scalingo.publish([ScalingoEventFactory.deployment(id: "api-dep", app: "api", status: "build-error", at: Date())], userTimeline: false)
        #expect(await scenario.sinks.waitFor { $0.contains { $0.path == "/slack" } })
        let text = String(decoding: scenario.sinks.requests.first { $0.path == "/slack" }?.body ?? [], as: UTF8.self)
        #expect(text.contains("api"))

        scalingo.deleteApp("web")
        #expect(try await eventually { try await names() == ["events", "apps/api"] })
        #expect(try await harness.admin(.GET, "/healthz", token: nil).json["streams_failing"] == .array([]), "a deleted app is dropped, not failing")
        await scenario.finish()
    }
}
