import EventModel
import Feeds
import Foundation
import HTTPClient
import Testing

/// The Scalingo feed alone, against the loopback fake API, with time given by the test.
@Suite("Scalingo feed: bearer lifetime and paging over HTTP")
struct ScalingoFeedTests {
    @Test func bearerIsRenewedBeforeItsHourIsUp() async throws {
        let scalingo = try FakeScalingo()
        let client = try CurlHTTPClient()
        let feed = ScalingoFeed(
            configuration: ScalingoConfiguration(name: "s", apiURL: scalingo.baseURL, authURL: scalingo.baseURL, token: SecretString(scalingo.apiToken)),
            transport: client)
        let start = Date()
        var cursor = await feed.poll(stream: "events", cursor: nil, now: start).cursor
        cursor = await feed.poll(stream: "events", cursor: cursor, now: start.addingTimeInterval(50 * 60)).cursor
        #expect(scalingo.requests(path: "/v1/tokens/exchange") == 1, "still valid at 50 minutes")
        _ = await feed.poll(stream: "events", cursor: cursor, now: start.addingTimeInterval(56 * 60))
        #expect(scalingo.requests(path: "/v1/tokens/exchange") == 2, "renewed 5 minutes before the hour")
        client.shutdown()
        await scalingo.stop()
    }

    @Test func aRefusedTokenIsAnUnauthorizedErrorWithoutTheToken() async throws {
        let scalingo = try FakeScalingo()
        let client = try CurlHTTPClient()
        let feed = ScalingoFeed(
            configuration: ScalingoConfiguration(name: "s", apiURL: scalingo.baseURL, authURL: scalingo.baseURL, token: SecretString("tk-wrong-secret")),
            transport: client)
        let result = await feed.poll(stream: "events", cursor: nil, now: Date())
        let error = try #require(result.failure)
        #expect(result.cursor == nil, "nothing read, nothing to commit")
        #expect(error.isUnauthorized)
        #expect(!error.description.contains("tk-wrong-secret"))
        client.shutdown()
        await scalingo.stop()
    }

    @Test func walksPagesUntilNothingIsNewEvenWhenNextPageNeverTurnsNull() async throws {
        let scalingo = try FakeScalingo(pageSize: 4)
        let client = try CurlHTTPClient()
        let feed = ScalingoFeed(
            configuration: ScalingoConfiguration(name: "s", apiURL: scalingo.baseURL, authURL: scalingo.baseURL, token: SecretString(scalingo.apiToken)),
            transport: client)
        let base = Date()
        scalingo.publish((0..<6).map { ScalingoEventFactory.generic(id: "old\($0)", type: "restart", app: "web", at: base.addingTimeInterval(Double($0))) })
        let first = await feed.poll(stream: "events", cursor: nil, now: base)
        #expect(first.events.isEmpty && first.pages == 2, "the baseline reads the lateness window: both pages")
        scalingo.publish((0..<10).map { ScalingoEventFactory.generic(id: "new\($0)", type: "restart", app: "web", at: base.addingTimeInterval(100 + Double($0))) })
        let second = await feed.poll(stream: "events", cursor: first.cursor, now: base.addingTimeInterval(200))
        #expect(second.events.map(\.id) == (0..<10).map { "new\($0)" }, "all ten, oldest first")
        #expect(second.pages == 4, "down to the last page: every event is inside the lateness window")
        let third = await feed.poll(stream: "events", cursor: second.cursor, now: base.addingTimeInterval(900))
        #expect(third.events.isEmpty && third.pages == 4, "still inside the window of the last sweep's start")
        let fourth = await feed.poll(stream: "events", cursor: third.cursor, now: base.addingTimeInterval(960))
        #expect(fourth.events.isEmpty && fourth.pages == 1, "once the window has passed, one page is enough")
        #expect(fourth.failure == nil)
        client.shutdown()
        await scalingo.stop()
    }
}

extension FakeScalingo {
    func requests(path: String) -> Int { requests.filter { $0.path == path }.count }
}

@Suite("Scalingo feed: servers that answer 404 past the last page")
struct ScalingoPastLastPageTests {
    @Test func a404PastThePageCountEndsPagingInsteadOfFailingThePoll() async throws {
        let scalingo = try FakeScalingo(pageSize: 3)
        scalingo.notFoundPastLastPage = true
        let client = try CurlHTTPClient()
        let feed = ScalingoFeed(
            configuration: ScalingoConfiguration(name: "s", apiURL: scalingo.baseURL, authURL: scalingo.baseURL, token: SecretString(scalingo.apiToken)),
            transport: client)
        let base = Date()
        let first = await feed.poll(stream: "events", cursor: nil, now: base)
        // Exactly a page of news, and the page count says 1 but a sloppy server would say otherwise:
        scalingo.publish((0..<3).map { ScalingoEventFactory.generic(id: "n\($0)", type: "restart", app: "web", at: base.addingTimeInterval(10 + Double($0))) })
        let second = await feed.poll(stream: "events", cursor: first.cursor, now: base.addingTimeInterval(60))
        #expect(second.events.map(\.id) == ["n0", "n1", "n2"])
        #expect(second.failure == nil)
        client.shutdown()
        await scalingo.stop()
    }
}

@Suite("Scalingo feed: rate limits and the page limit during a walk")
struct ScalingoCatchUpTests {
    static func feed(_ scalingo: FakeScalingo, _ client: CurlHTTPClient, maxPages: Int = 50, waits: LockedValue<[Duration]>) -> ScalingoFeed {
        ManualClock.feed(
            ScalingoConfiguration(name: "s", apiURL: scalingo.baseURL, authURL: scalingo.baseURL, token: SecretString(scalingo.apiToken), maxPages: maxPages),
            client, waits: waits)
    }

    @Test func a429IsWaitedOutAndTheWalkGoesOn() async throws {
        let scalingo = try FakeScalingo(pageSize: 4)
        let client = try CurlHTTPClient()
        let waits = LockedValue<[Duration]>([])
        let feed = Self.feed(scalingo, client, waits: waits)
        let base = Date()
        let first = await feed.poll(stream: "events", cursor: nil, now: base)
        scalingo.publish((0..<10).map { ScalingoEventFactory.generic(id: "n\($0)", type: "restart", app: "web", at: base.addingTimeInterval(10 + Double($0))) })
        scalingo.failNextRequests([(429, [("Retry-After", "7")], "{}"), (429, [], "{}")])
        let second = await feed.poll(stream: "events", cursor: first.cursor, now: base.addingTimeInterval(60))
        #expect(second.events.count == 10, "the catch-up completes instead of failing the poll")
        #expect(waits.value == [.seconds(7), .seconds(20)], "Retry-After honoured; 20 s when the 429 gives none")
        client.shutdown()
        await scalingo.stop()
    }

    @Test func anUnreasonableRetryAfterStillFailsThePoll() async throws {
        let scalingo = try FakeScalingo()
        let client = try CurlHTTPClient()
        let waits = LockedValue<[Duration]>([])
        let feed = Self.feed(scalingo, client, waits: waits)
        let first = await feed.poll(stream: "events", cursor: nil, now: Date())
        scalingo.failNextRequests([(429, [("Retry-After", "3600")], "{}")])
        let error = try #require(await feed.poll(stream: "events", cursor: first.cursor, now: Date()).failure)
        #expect(error.isRateLimit && error.retryAfter == .seconds(3600))
        #expect(waits.value.isEmpty)
        client.shutdown()
        await scalingo.stop()
    }

    @Test func aWalkCutAtThePageLimitResumesWhereItStopped() async throws {
        let scalingo = try FakeScalingo(pageSize: 3)
        let client = try CurlHTTPClient()
        let waits = LockedValue<[Duration]>([])
        let feed = Self.feed(scalingo, client, maxPages: 2, waits: waits)
        let base = Date()
        let first = await feed.poll(stream: "events", cursor: nil, now: base)
        scalingo.publish((0..<9).map { ScalingoEventFactory.generic(id: "n\($0)", type: "restart", app: "web", at: base.addingTimeInterval(10 + Double($0))) })
        let second = await feed.poll(stream: "events", cursor: first.cursor, now: base.addingTimeInterval(60))
        #expect(second.cursor?.backlog?.resume == "3", "the first unread page")
        #expect(second.events.map(\.id) == (3..<9).map { "n\($0)" })
        let third = await feed.poll(stream: "events", cursor: second.cursor, now: base.addingTimeInterval(90))
        #expect(third.events.map(\.id) == ["n0", "n1", "n2"])
        #expect(third.cursor?.backlog == nil)
        client.shutdown()
        await scalingo.stop()
    }
}

@Suite("Scalingo feed: page tokens")
struct ScalingoPageTokenTests {
    static func feed(pageSize: Int?) -> ScalingoFeed {
        ScalingoFeed(
            configuration: ScalingoConfiguration(name: "s", apiURL: "http://127.0.0.1:9", token: SecretString("t"), pageSize: pageSize),
            transport: UnreachableTransport())
    }

    struct UnreachableTransport: HTTPTransport {
        func execute(_ request: HTTPRequest) async throws -> HTTPResponse { throw HTTPClientError.connectFailed }
    }

    @Test func tokensNameThePageAndThePageSize() throws {
        #expect(Self.feed(pageSize: nil).token(page: 4) == "4")
        #expect(Self.feed(pageSize: 10).token(page: 4) == "4/10")
        #expect(try Self.feed(pageSize: 10).page(of: "4/10") == 4)
        #expect(try Self.feed(pageSize: nil).page(of: "4") == 4)
    }

    @Test func aTokenWrittenWithAnotherPageSizeIsConvertedWithoutSkipping() throws {
        // Page 4 of 10 starts at offset 30: page 2 of 20 (offset 20) reads it again, never later.
        #expect(try Self.feed(pageSize: 20).page(of: "4/10") == 2)
        #expect(try Self.feed(pageSize: 7).page(of: "4/10") == 5, "offset 30 is on page 5 of 7 (28…34)")
        #expect(try Self.feed(pageSize: 10).page(of: "2") == 4, "page 2 at the default 30 is offset 30")
        #expect(try Self.feed(pageSize: nil).page(of: "7/10") == 3, "offset 60 at the default 30")
    }

    @Test(arguments: ["", "x", "0", "-1", "3/0", "3/x", "1/2/3"])
    func unreadableTokensAreRefused(token: String) {
        #expect(throws: FeedError.self) { try Self.feed(pageSize: 10).page(of: token) }
    }
}

@Suite("Scalingo feed: the bearer's own expiry and the request budget")
struct ScalingoBudgetTests {
    @Test func theBearerIsRenewedFromItsOwnExpNotAnAssumedHour() async throws {
        let scalingo = try FakeScalingo()
        scalingo.issueJWTs(lifetime: 600)
        let client = try CurlHTTPClient()
        let feed = ScalingoFeed(
            configuration: ScalingoConfiguration(name: "s", apiURL: scalingo.baseURL, authURL: scalingo.baseURL, token: SecretString(scalingo.apiToken)),
            transport: client)
        let start = Date()
        var cursor = await feed.poll(stream: "events", cursor: nil, now: start).cursor
        cursor = await feed.poll(stream: "events", cursor: cursor, now: start.addingTimeInterval(240)).cursor
        #expect(scalingo.requests(path: "/v1/tokens/exchange") == 1, "valid for 10 minutes: still good at 4")
        let third = await feed.poll(stream: "events", cursor: cursor, now: start.addingTimeInterval(330))
        #expect(third.failure == nil)
        #expect(scalingo.requests(path: "/v1/tokens/exchange") == 2, "renewed 5 minutes before its exp, not before an hour")
        client.shutdown()
        await scalingo.stop()
    }

    @Test func everyRequestWaitsItsTurnInTheTokensBudget() async throws {
        let scalingo = try FakeScalingo(pageSize: 2)
        let client = try CurlHTTPClient()
        let waits = LockedValue<[Duration]>([])
        var configuration = ScalingoConfiguration(
            name: "s", apiURL: scalingo.baseURL, authURL: scalingo.baseURL, token: SecretString(scalingo.apiToken))
        configuration.requestsPerMinute = 3
        let feed = ManualClock.feed(configuration, client, waits: waits)
        let now = Date()
        scalingo.publish((0..<9).map { ScalingoEventFactory.generic(id: "e\($0)", type: "restart", app: "web", at: now.addingTimeInterval(Double($0))) })
        let first = await feed.poll(stream: "events", cursor: nil, now: now)
        #expect(first.pages == 5 && first.failure == nil)
        // 3 a minute: the first three go at once, then one every 20 s as the tokens refill.
        #expect(waits.value == [.seconds(20), .seconds(20)])
        client.shutdown()
        await scalingo.stop()
    }

    @Test func anIntervalTheBudgetCannotHonourIsSaid() {
        var configuration = ScalingoConfiguration(name: "s", apiURL: "http://127.0.0.1:9", token: SecretString("t"), apps: (0..<40).map { "app\($0)" })
        let busy = ScalingoFeed(configuration: configuration, transport: ScalingoPageTokenTests.UnreachableTransport())
        #expect(busy.notes.count == 1)
        #expect(busy.notes.first?.contains("41 timelines every 30s") == true && busy.notes.first?.contains("about every 41s") == true, "\(busy.notes)")
        configuration.apps = ["one"]
        #expect(ScalingoFeed(configuration: configuration, transport: ScalingoPageTokenTests.UnreachableTransport()).notes.isEmpty)
    }
}

/// A clock that moves only when told (by an injected sleep, say).
final class ManualClock: Sendable {
    private let current = LockedValue(Date(timeIntervalSince1970: 1_800_000_000))
    var wallClock: WallClock { WallClock { [current] in current.value } }
    func advance(by duration: Duration) { current.withValue { $0 = $0.addingTimeInterval(duration.timeInterval) } }

    /// A feed whose waits are recorded in `waits` and move its own manual clock, not the test's time.
    static func feed(_ configuration: ScalingoConfiguration, _ client: CurlHTTPClient, waits: LockedValue<[Duration]>) -> ScalingoFeed {
        let clock = ManualClock()
        return ScalingoFeed(configuration: configuration, transport: client, clock: clock.wallClock, sleep: { duration in
            waits.withValue { $0.append(duration) }
            clock.advance(by: duration)
        })
    }
}

@Suite("Scalingo feed: audit-log excerpts for run events")
struct ScalingoAuditLogTests {
    @Test func theExcerptIsTheTranscriptWithoutEscapesCutAtTheLimit() throws {
        let entries = try Fixtures.json("scalingo/audit_log.seed.json")
        let whole = ScalingoAuditLog.excerpt(entries, limit: 65536)
        #expect(whole.entries == 16 && !whole.truncated)
        #expect(whole.text.contains("You are in a one-off container.") && whole.text.contains("echo \"TEST\"\nTEST\nexit\n"))
        #expect(!whole.text.contains("\u{1B}") && !whole.text.contains("[1;34m"))
        let cut = ScalingoAuditLog.excerpt(entries, limit: 100)
        #expect(cut.truncated && cut.text.utf8.count <= 100 && whole.text.hasPrefix(cut.text))
        #expect(ScalingoAuditLog.stripEscapes("a\u{1B}[1;49;94mb\u{1B}]0;title\u{07}c\r\n") == "abc\n")
        // A cut never splits a character.
        let accents = JSONValue.array([.object(["content": .string(String(repeating: "é", count: 100)), "type": .string("output")])])
        let short = ScalingoAuditLog.excerpt(accents, limit: 51)
        #expect(short.text == String(repeating: "é", count: 25))
    }

    @Test func aRunEventCarriesItsExcerptWhenEnabledAndNothingOtherwise() async throws {
        let scalingo = try FakeScalingo()
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        scalingo.addAuditLog(id: "al-1", entries: try Fixtures.json("scalingo/audit_log.seed.json"))
        var configuration = ScalingoConfiguration(
            name: "s", apiURL: scalingo.baseURL, authURL: scalingo.baseURL, token: SecretString(scalingo.apiToken))
        configuration.auditLogs = true
        configuration.auditLogExcerptBytes = 300
        let feed = ScalingoFeed(configuration: configuration, transport: client)
        let now = Date()
        let first = await feed.poll(stream: "events", cursor: nil, now: now)
        func run(_ id: String, log: String) -> JSONValue {
            .object([
                "id": .string(id), "type": .string("run"), "created_at": .string(Timestamp.format(now.addingTimeInterval(5))), "app_name": .string("web"),
                "type_data": .object(["command": .string("bash"), "audit_log_id": .string(log)]),
            ])
        }
        scalingo.publish([run("r1", log: "al-1"), run("r2", log: "al-missing")])
        let second = await feed.poll(stream: "events", cursor: first.cursor, now: now.addingTimeInterval(10))
        let byID = Dictionary(uniqueKeysWithValues: second.events.map { ($0.id, $0) })
        let excerpt = try #require(byID["r1"]?.details?["audit_log"])
        #expect(excerpt["id"] == .string("al-1") && excerpt["truncated"] == .bool(true))
        #expect((excerpt["excerpt"]?.stringValue?.utf8.count ?? 999) <= 300)
        let missing = try #require(byID["r2"]?.details?["audit_log"])
        #expect(missing["error"]?.stringValue?.contains("404") == true, "delivered anyway, saying why there is no excerpt")

        let off = ScalingoFeed(
            configuration: ScalingoConfiguration(
                name: "s", apiURL: scalingo.baseURL, authURL: scalingo.baseURL, token: SecretString(scalingo.apiToken), backfillHours: 1),
            transport: client)
        let before = scalingo.requests.count
        let backfilled = await off.poll(stream: "events", cursor: nil, now: now.addingTimeInterval(20))
        #expect(Set(backfilled.events.map(\.id)) == ["r1", "r2"])
        #expect(backfilled.events.allSatisfy { $0.details == nil })
        #expect(!scalingo.requests.dropFirst(before).contains { $0.path.contains("audit_logs") }, "off by default: no audit log is read")
        await scalingo.stop()
    }
}
