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
        var cursor = try await feed.poll(stream: "events", cursor: nil, now: start).cursor
        cursor = try await feed.poll(stream: "events", cursor: cursor, now: start.addingTimeInterval(50 * 60)).cursor
        #expect(scalingo.requests(path: "/v1/tokens/exchange") == 1, "still valid at 50 minutes")
        _ = try await feed.poll(stream: "events", cursor: cursor, now: start.addingTimeInterval(56 * 60))
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
        let error = try await #require(throws: FeedError.self) { try await feed.poll(stream: "events", cursor: nil, now: Date()) }
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
        let first = try await feed.poll(stream: "events", cursor: nil, now: base)
        #expect(first.events.isEmpty && first.pages == 1)
        scalingo.publish((0..<10).map { ScalingoEventFactory.generic(id: "new\($0)", type: "restart", app: "web", at: base.addingTimeInterval(100 + Double($0))) })
        let second = try await feed.poll(stream: "events", cursor: first.cursor, now: base.addingTimeInterval(200))
        #expect(second.events.map(\.id) == (0..<10).map { "new\($0)" }, "all ten, oldest first")
        // Page 3 ends the news but holds only seen events besides; page 4 is all history: stop there.
        #expect(second.pages == 4)
        let third = try await feed.poll(stream: "events", cursor: second.cursor, now: base.addingTimeInterval(300))
        #expect(third.events.isEmpty && third.pages == 1)
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
        let first = try await feed.poll(stream: "events", cursor: nil, now: base)
        // Exactly a page of news, and the page count says 1 but a sloppy server would say otherwise:
        scalingo.publish((0..<3).map { ScalingoEventFactory.generic(id: "n\($0)", type: "restart", app: "web", at: base.addingTimeInterval(10 + Double($0))) })
        let second = try await feed.poll(stream: "events", cursor: first.cursor, now: base.addingTimeInterval(60))
        #expect(second.events.map(\.id) == ["n0", "n1", "n2"])
        client.shutdown()
        await scalingo.stop()
    }
}

@Suite("Scalingo feed: rate limits and the page limit during a walk")
struct ScalingoCatchUpTests {
    static func feed(_ scalingo: FakeScalingo, _ client: CurlHTTPClient, maxPages: Int = 50, waits: LockedValue<[Duration]>) -> ScalingoFeed {
        ScalingoFeed(
            configuration: ScalingoConfiguration(
                name: "s", apiURL: scalingo.baseURL, authURL: scalingo.baseURL, token: SecretString(scalingo.apiToken), maxPages: maxPages),
            transport: client, sleep: { duration in waits.withValue { $0.append(duration) } })
    }

    @Test func a429IsWaitedOutAndTheWalkGoesOn() async throws {
        let scalingo = try FakeScalingo(pageSize: 4)
        let client = try CurlHTTPClient()
        let waits = LockedValue<[Duration]>([])
        let feed = Self.feed(scalingo, client, waits: waits)
        let base = Date()
        let first = try await feed.poll(stream: "events", cursor: nil, now: base)
        scalingo.publish((0..<10).map { ScalingoEventFactory.generic(id: "n\($0)", type: "restart", app: "web", at: base.addingTimeInterval(10 + Double($0))) })
        scalingo.failNextRequests([(429, [("Retry-After", "7")], "{}"), (429, [], "{}")])
        let second = try await feed.poll(stream: "events", cursor: first.cursor, now: base.addingTimeInterval(60))
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
        let first = try await feed.poll(stream: "events", cursor: nil, now: Date())
        scalingo.failNextRequests([(429, [("Retry-After", "3600")], "{}")])
        let error = try await #require(throws: FeedError.self) { try await feed.poll(stream: "events", cursor: first.cursor, now: Date()) }
        #expect(error.isRateLimit && error.retryAfter == .seconds(3600))
        #expect(waits.value.isEmpty)
        client.shutdown()
        await scalingo.stop()
    }

    @Test func stoppingAtThePageLimitIsReported() async throws {
        let scalingo = try FakeScalingo(pageSize: 3)
        let client = try CurlHTTPClient()
        let waits = LockedValue<[Duration]>([])
        let feed = Self.feed(scalingo, client, maxPages: 2, waits: waits)
        let base = Date()
        let first = try await feed.poll(stream: "events", cursor: nil, now: base)
        scalingo.publish((0..<9).map { ScalingoEventFactory.generic(id: "n\($0)", type: "restart", app: "web", at: base.addingTimeInterval(10 + Double($0))) })
        let second = try await feed.poll(stream: "events", cursor: first.cursor, now: base.addingTimeInterval(60))
        #expect(second.truncated)
        #expect(second.events.count == 6)
        #expect(!(try await feed.poll(stream: "events", cursor: second.cursor, now: base.addingTimeInterval(90))).truncated)
        client.shutdown()
        await scalingo.stop()
    }
}
