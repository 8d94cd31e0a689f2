import EventModel
import Feeds
import Foundation
import HTTPClient
import HTTPServer
import Testing

/// The EscapeKit feed alone, against the loopback fake over real HTTP, with time given by the test.
@Suite("EscapeKit feed: paging by id over HTTP")
struct EscapeKitFeedTests {
    static func feed(
        _ fake: FakeEscapeKit, _ client: some HTTPTransport, pageSize: Int = 5, maxPages: Int = 50, backfillHours: Int = 0,
        token: String? = nil, authHeader: String = "Authorization", authScheme: String = "Bearer", filters: [String: String] = [:]
    ) -> EscapeKitFeed {
        EscapeKitFeed(
            configuration: EscapeKitConfiguration(
                name: "ek", apiURL: fake.url, token: SecretString(token ?? fake.token), authHeader: authHeader, authScheme: authScheme,
                pageSize: pageSize, filters: filters, backfillHours: backfillHours, maxPages: maxPages),
            transport: client)
    }

    static let base = Date(timeIntervalSince1970: 1_770_000_000)
    static func at(_ seconds: TimeInterval) -> Date { base.addingTimeInterval(seconds) }

    @Test func firstStartIsABaselineThenNewEventsArriveOnceOldestFirst() async throws {
        let fake = try FakeEscapeKit()
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let feed = Self.feed(fake, client)
        fake.publish(EscapeKitEventFactory.run(from: 1, count: 12, start: Self.at(-1000)))
        let first = await feed.poll(stream: "events", cursor: nil, now: Self.base)
        #expect(first.events.isEmpty && first.failure == nil && first.cursor != nil, "nothing old is sent")
        #expect(first.pages == 4, "the baseline reads the lateness window below the newest event (all twelve), to an empty page")
        fake.publish(EscapeKitEventFactory.run(from: 13, count: 8, start: Self.at(10)))
        let second = await feed.poll(stream: "events", cursor: first.cursor, now: Self.at(60))
        #expect(second.events.map(\.id) == (13...20).map(String.init))
        #expect(second.events.allSatisfy { $0.source == "escapekit" && $0.feed == "ek" && $0.category == .deployStarted })
        let third = await feed.poll(stream: "events", cursor: second.cursor, now: Self.at(90))
        #expect(third.events.isEmpty, "read again, delivered once")
        let request = try #require(fake.pageRequests.first)
        #expect(request.header("authorization") == "Bearer \(fake.token)" && request.query["page_size"] == "5")
        #expect(request.query["page_from"] == nil, "the first page names no page_from")
        await fake.stop()
    }

    /// Ids compared as text would put "999" above "1000": the walk would skip or loop.
    @Test(arguments: [990, 9990])
    func pagesCrossTheDecimalBoundaryByNumber(start: Int) async throws {
        let fake = try FakeEscapeKit()
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let feed = Self.feed(fake, client, pageSize: 7)
        fake.publish(EscapeKitEventFactory.run(from: start, count: 6, start: Self.at(-1000)))
        let first = await feed.poll(stream: "events", cursor: nil, now: Self.base)
        fake.publish(EscapeKitEventFactory.run(from: start + 6, count: 17, start: Self.at(10)))
        let second = await feed.poll(stream: "events", cursor: first.cursor, now: Self.at(60))
        #expect(second.failure == nil)
        #expect(second.events.map(\.id) == (start + 6..<start + 23).map(String.init), "all 17, across \(start + 9)→\(start + 10), once")
        // The baseline read its page and the empty one below it (short pages do not end a baseline).
        let froms = fake.pageRequests.dropFirst(2).map { $0.query["page_from"] }
        #expect(
            froms == [nil, String(start + 16), String(start + 9), String(start + 2)],
            "each page starts at the lowest id of the one before, until a page is wholly older than the line")
        await fake.stop()
    }

    @Test func backfillDeliversTheLastHoursOnly() async throws {
        let fake = try FakeEscapeKit()
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let feed = Self.feed(fake, client, backfillHours: 1)
        fake.publish(EscapeKitEventFactory.run(from: 100, count: 10, start: Self.at(-7200)))
        fake.publish(EscapeKitEventFactory.run(from: 200, count: 12, start: Self.at(-1800), step: 60))
        let first = await feed.poll(stream: "events", cursor: nil, now: Self.base)
        #expect(first.events.map(\.id) == (200..<212).map(String.init))
        await fake.stop()
    }

    @Test func aWalkCutAtThePageLimitResumesAtExactlyTheIdItStoppedAt() async throws {
        let fake = try FakeEscapeKit()
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let feed = Self.feed(fake, client, maxPages: 2)
        fake.publish(EscapeKitEventFactory.run(from: 1, count: 3, start: Self.at(-1000)))
        let first = await feed.poll(stream: "events", cursor: nil, now: Self.base)
        fake.publish(EscapeKitEventFactory.run(from: 995, count: 23, start: Self.at(10)))  // 995…1017
        let second = await feed.poll(stream: "events", cursor: first.cursor, now: Self.at(60))
        #expect(second.events.map(\.id) == (1008...1017).map(String.init), "two pages of five")
        #expect(second.cursor?.backlog?.resume == "1008", "the lowest id read: the next page is below it")
        #expect(second.cursor?.isBehind == true)
        let third = await feed.poll(stream: "events", cursor: second.cursor, now: Self.at(70))
        #expect(fake.pageRequests.suffix(third.pages).map { $0.query["page_from"] } == [nil, "1008"], "the top, then the backlog")
        #expect(third.events.map(\.id) == (1003...1007).map(String.init))
        var cursor = third.cursor
        var rest: [String] = []
        for poll in 0..<4 where cursor?.backlog != nil {
            let result = await feed.poll(stream: "events", cursor: cursor, now: Self.at(80 + Double(poll)))
            rest += result.events.map(\.id)
            cursor = result.cursor
        }
        #expect(rest.count == 8 && Set(rest) == Set((995...1002).map(String.init)), "the rest, once each")
        #expect(cursor?.backlog == nil && cursor?.isBehind == false)
        await fake.stop()
    }

    @Test func aPageFailingMidWalkKeepsWhatWasReadAndResumesThere() async throws {
        let fake = try FakeEscapeKit()
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let feed = Self.feed(fake, client)
        let first = await feed.poll(stream: "events", cursor: nil, now: Self.base)
        fake.publish(EscapeKitEventFactory.run(from: 1, count: 14, start: Self.at(10)))
        let failing = LockedValue(true)
        fake.onPage { from in from == "5" && failing.value ? raw(500, #"{"error":"boom"}"#) : nil }
        let second = await feed.poll(stream: "events", cursor: first.cursor, now: Self.at(60))
        let error = try #require(second.failure)
        #expect(error.description.contains("500"))
        #expect(second.events.map(\.id) == (5...14).map(String.init), "the two pages before the failure")
        #expect(second.cursor?.backlog?.resume == "5")
        failing.value = false
        let third = await feed.poll(stream: "events", cursor: second.cursor, now: Self.at(70))
        #expect(third.failure == nil)
        #expect(third.events.map(\.id) == (1...4).map(String.init))
        // Resumed at 5; the short page below it is all new, so one more (empty) page is asked for.
        #expect(fake.pageRequests.suffix(2).map { $0.query["page_from"] } == ["5", "1"])
        await fake.stop()
    }

    /// Pages by id do not shift: events arriving while a walk pages sit above it and are read by
    /// the next poll, once.
    @Test func eventsArrivingWhilePagingAreDeliveredOnceAcrossPolls() async throws {
        let fake = try FakeEscapeKit()
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let feed = Self.feed(fake, client)
        var cursor = await feed.poll(stream: "events", cursor: nil, now: Self.base).cursor
        let next = LockedValue(1000)
        fake.onPage { from in
            guard from != nil, next.value < 1060 else { return nil }
            let first = next.withValue { value -> Int in
                value += 3
                return value - 3
            }
            fake.publish(EscapeKitEventFactory.run(from: first, count: 3, start: Self.at(30 + Double(first - 1000))))
            return nil
        }
        fake.publish(EscapeKitEventFactory.run(from: 1, count: 40, start: Self.at(5), step: 0.1))
        var delivered: [String] = []
        for poll in 0..<12 {
            let result = await feed.poll(stream: "events", cursor: cursor, now: Self.at(100 + Double(poll)))
            #expect(result.failure == nil)
            delivered += result.events.map(\.id)
            cursor = result.cursor
        }
        #expect(next.value >= 1060, "events did arrive while paging")
        #expect(delivered.count == 40 + 60 && Set(delivered).count == 100, "each exactly once")
        await fake.stop()
    }

    /// An event stored late gets an id below ones already read, with a timestamp 60–120 s older
    /// than the newest: the next sweep reads down past the last one's start minus the lateness
    /// window and finds it, wherever its id sits above the older events.
    @Test func lateInsertsBelowIdsAlreadyReadAreDelivered() async throws {
        let fake = try FakeEscapeKit()
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let feed = Self.feed(fake, client)
        fake.publish((1...20).map { EscapeKitEventFactory.event(id: $0 * 10, at: Self.at(-2000 + Double($0))) })
        var cursor = await feed.poll(stream: "events", cursor: nil, now: Self.base).cursor
        // Thirty events, ids 1000…1290 by tens, one a second up to 150 s.
        fake.publish((0..<30).map { EscapeKitEventFactory.event(id: 1000 + $0 * 10, at: Self.at(120 + Double($0))) })
        let seen = await feed.poll(stream: "events", cursor: cursor, now: Self.at(160))
        #expect(seen.events.count == 30)
        cursor = seen.cursor
        // Late: between ids already read (three pages down), and one just below the newest.
        let late = [(1005, 149.0 - 60), (1015, 149.0 - 90), (1105, 149.0 - 120), (1285, 149.0 - 100)].map {
            EscapeKitEventFactory.event(id: $0.0, type: "DESTROY_REQUESTED", at: Self.at($0.1))
        }
        fake.publish(late)
        let next = await feed.poll(stream: "events", cursor: cursor, now: Self.at(175))
        #expect(Set(next.events.map(\.id)) == ["1005", "1015", "1105", "1285"])
        let after = await feed.poll(stream: "events", cursor: next.cursor, now: Self.at(190))
        #expect(after.events.isEmpty)
        await fake.stop()
    }

    /// Pages ordered by id: an event stored late can have a HIGHER id than new ones and an old
    /// time. A walk that stopped at the first event older than its line would never read the new
    /// events below it; an id-ordered walk stops only at a page whose events are all older. The
    /// late one itself is new too: its id is above everything read before.
    @Test func anOldEventAboveNewIdsDoesNotHideThem() async throws {
        let fake = try FakeEscapeKit()
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let feed = Self.feed(fake, client)
        fake.publish(EscapeKitEventFactory.run(from: 1, count: 5, start: Self.at(-1000)))
        var cursor = await feed.poll(stream: "events", cursor: nil, now: Self.base).cursor
        fake.publish(EscapeKitEventFactory.run(from: 6, count: 8, start: Self.at(10)))  // 6…13, new
        fake.publish([EscapeKitEventFactory.event(id: 14, at: Self.at(-3600))])  // stored an hour late
        var delivered: [String] = []
        for poll in 0..<3 {
            let result = await feed.poll(stream: "events", cursor: cursor, now: Self.at(60 + Double(poll)))
            delivered += result.events.map(\.id)
            cursor = result.cursor
        }
        #expect(delivered.contains("10"), "a new event on the page that holds the old one is read")
        #expect(Set(delivered) == Set((6...14).map(String.init)), "and those on the page after it, and the late one")
        #expect(delivered.count == 9)
        await fake.stop()
    }

    @Test func filtersAndTheAuthHeaderAreSentAsConfigured() async throws {
        let fake = try FakeEscapeKit(token: "raw-key-42", authHeader: "X-API-Key", authScheme: "")
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let filters = ["state_project": "shop", "state_environment": "prod env"]
        let feed = Self.feed(fake, client, authHeader: "X-API-Key", authScheme: "", filters: filters)
        let first = await feed.poll(stream: "events", cursor: nil, now: Self.base)
        #expect(first.failure == nil)
        let shop = ["state_project": JSONValue.string("shop"), "state_environment": .string("prod env"), "state_deployment": .string("web")]
        let other = ["state_project": JSONValue.string("shop"), "state_environment": .string("staging")]
        fake.publish([
            EscapeKitEventFactory.event(id: 1, at: Self.at(10), fields: shop), EscapeKitEventFactory.event(id: 2, at: Self.at(11), fields: other),
            EscapeKitEventFactory.event(id: 3, at: Self.at(12), fields: shop),
        ])
        let second = await feed.poll(stream: "events", cursor: first.cursor, now: Self.at(60))
        #expect(second.events.map(\.id) == ["1", "3"])
        let request = try #require(fake.pageRequests.last)
        #expect(request.header("x-api-key") == "raw-key-42" && request.header("authorization") == nil)
        #expect(request.query["state_project"] == "shop" && request.query["state_environment"] == "prod env")
        #expect(request.query["inventory_project"] == nil)
        #expect(feed.url(pageFrom: "7").hasSuffix("?page_size=5&state_project=shop&state_environment=prod%20env&page_from=7"))
        await fake.stop()
    }

    @Test func entriesWithoutIdsAreCountedAndEventsWithoutTimesKeepTheirPlace() async throws {
        let fake = try FakeEscapeKit()
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let feed = Self.feed(fake, client)
        let first = await feed.poll(stream: "events", cursor: nil, now: Self.base)
        fake.failNextRequests([raw(200, """
            [\(String(decoding: EscapeKitEventFactory.event(id: 3, at: Self.at(30)).encoded(), as: UTF8.self)),
             {"id": 2, "type": "ADD_BUILD", "timestamp": null}, {"type": "no id"}, 17,
             \(String(decoding: EscapeKitEventFactory.event(id: 1, at: Self.at(10)).encoded(), as: UTF8.self))]
            """)])
        let second = await feed.poll(stream: "events", cursor: first.cursor, now: Self.at(60))
        #expect(second.malformed == 2)
        #expect(second.events.map(\.id) == ["1", "2", "3"] || second.events.map(\.id) == ["1", "3", "2"])
        #expect(second.events.first { $0.id == "2" }?.time == Self.at(30), "the time of the event above it")
        await fake.stop()
    }

    @Test func aNullPageIsAnEmptyOne() async throws {
        let fake = try FakeEscapeKit()
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        fake.failNextRequests([raw(200, "null")])
        let result = await Self.feed(fake, client).poll(stream: "events", cursor: nil, now: Self.base)
        #expect(result.failure == nil && result.pages == 1 && result.cursor != nil)
        await fake.stop()
    }
}

@Suite("EscapeKit feed: faults become FeedErrors without the token")
struct EscapeKitFaultTests {
    static let token = "ek-secret-token-0123"

    /// Polls after a baseline, with `fault` as the answer to the first events request.
    static func failure(_ fault: HTTPServerResponse, now: Date = EscapeKitFeedTests.base) async throws -> (StreamPoll, FakeEscapeKit) {
        let fake = try FakeEscapeKit(token: token)
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let feed = EscapeKitFeedTests.feed(fake, client)
        let first = await feed.poll(stream: "events", cursor: nil, now: now)
        fake.publish(EscapeKitEventFactory.run(from: 1, count: 3, start: now.addingTimeInterval(10)))
        fake.failNextRequests([fault])
        let result = await feed.poll(stream: "events", cursor: first.cursor, now: now.addingTimeInterval(60))
        await fake.stop()
        #expect(result.events.isEmpty && result.cursor == nil, "nothing read, nothing to commit")
        let error = try #require(result.failure)
        #expect(!error.description.contains(token))
        return (result, fake)
    }

    @Test func aWrongTokenIsUnauthorizedAndNeverEchoed() async throws {
        let fake = try FakeEscapeKit(token: "the-right-one")
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let result = await EscapeKitFeedTests.feed(fake, client, token: Self.token).poll(stream: "events", cursor: nil, now: Date())
        let error = try #require(result.failure)
        #expect(error.isUnauthorized && result.cursor == nil)
        #expect(!error.description.contains(Self.token) && error.description.contains("401"))
        let wrongScheme = await EscapeKitFeedTests.feed(fake, client, token: "the-right-one", authScheme: "Token")
            .poll(stream: "events", cursor: nil, now: Date())
        #expect(wrongScheme.failure?.isUnauthorized == true)
        await fake.stop()
    }

    @Test func forbiddenIsUnauthorizedToo() async throws {
        let (result, _) = try await Self.failure(raw(403, #"{"error":"forbidden for ek-secret-token-0123"}"#))
        #expect(result.failure?.isUnauthorized == true)
    }

    @Test(arguments: [("7", 7), ("0", 0), ("86400", 3600), (nil, 60), ("soon", 60)] as [(String?, Int64)])
    func rateLimitsCarryRetryAfter(header: String?, seconds: Int64) async throws {
        let (result, _) = try await Self.failure(raw(429, "{}", headers: header.map { [("Retry-After", $0)] } ?? []))
        let error = try #require(result.failure)
        #expect(error.isRateLimit && error.retryAfter == .seconds(seconds))
    }

    @Test func retryAfterMayBeAnHTTPDate() async throws {
        let now = EscapeKitFeedTests.base
        let (result, _) = try await Self.failure(raw(429, "{}", headers: [("Retry-After", "Mon, 02 Feb 2026 02:41:00 GMT")]), now: now)
        // base is 2026-02-02T02:40:00Z; the poll's now is 60 s later: the date is now.
        #expect(result.failure?.retryAfter == .seconds(0))
        #expect(EscapeKitFeed.retryAfter("Mon, 02 Feb 2026 02:45:00 GMT", now: now) == .seconds(300))
        #expect(EscapeKitFeed.retryAfter("Monday, 02-Feb-26 02:45:00 GMT", now: now) == .seconds(300))
        #expect(EscapeKitFeed.retryAfter("Mon Feb  2 02:45:00 2026", now: now) == .seconds(300))
        #expect(EscapeKitFeed.retryAfter("-3", now: now) == nil)
    }

    @Test(arguments: [500, 502, 503, 404])
    func serverErrorsAreBadStatuses(status: Int) async throws {
        let (result, _) = try await Self.failure(raw(status, #"{"error":"ek-secret-token-0123"}"#))
        let error = try #require(result.failure)
        #expect(error.description.contains("\(status)") && !error.isRateLimit && !error.isUnauthorized)
    }

    @Test(arguments: [
        (raw(200, "<html><body>Bad gateway ek-secret-token-0123</body></html>", contentType: "text/html; charset=utf-8"), "not JSON (text/html)"),
        (raw(200, #"[{"id": "3", "type": "ADD_BUILD", "timestamp": "17000"#), "not JSON"),
        (raw(200, ""), "not JSON"),
        (raw(200, #"{"events": []}"#), "an object, not a list"),
        (raw(200, #""ek-secret-token-0123""#), "a single value"),
    ])
    func bodiesThatAreNotAPageAreErrors(response: HTTPServerResponse, words: String) async throws {
        let (result, _) = try await Self.failure(response)
        let error = try #require(result.failure)
        #expect(error.description.contains(words), "\(error)")
    }

    @Test func aServerIgnoringPageFromIsAnErrorNotALoop() async throws {
        let fake = try FakeEscapeKit()
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let feed = EscapeKitFeedTests.feed(fake, client)
        let first = await feed.poll(stream: "events", cursor: nil, now: EscapeKitFeedTests.base)
        fake.publish(EscapeKitEventFactory.run(from: 1, count: 12, start: EscapeKitFeedTests.at(10)))
        let page = String(decoding: JSONValue.array(Array(EscapeKitEventFactory.run(from: 8, count: 5, start: EscapeKitFeedTests.at(17)).reversed())).encoded(), as: UTF8.self)
        fake.onPage { from in from == nil ? nil : raw(200, page) }
        let result = await feed.poll(stream: "events", cursor: first.cursor, now: EscapeKitFeedTests.at(60))
        #expect(result.failure?.description.contains("ignored page_from") == true)
        #expect(result.events.count == 5 && result.cursor?.backlog?.resume == "8", "the first page is kept")
        await fake.stop()
    }

    @Test func timeoutsAndRefusedConnectionsAreTransportErrors() async throws {
        let fake = try FakeEscapeKit()
        let client = try CurlHTTPClient(configuration: HTTPClientConfiguration(requestTimeout: .milliseconds(300)))
        defer { client.shutdown() }
        let release = AsyncStream<Void>.makeStream()
        fake.recorder.respond { _ in
            for await _ in release.stream {}
            return raw(200, "[]")
        }
        let timedOut = await EscapeKitFeedTests.feed(fake, client).poll(stream: "events", cursor: nil, now: Date())
        release.continuation.finish()
        #expect(timedOut.failure?.description.contains("timed out") == true, "\(String(describing: timedOut.failure))")
        let url = fake.url
        await fake.stop()
        let refused = await EscapeKitFeed(
            configuration: EscapeKitConfiguration(apiURL: url, token: SecretString(Self.token)), transport: client
        ).poll(stream: "events", cursor: nil, now: Date())
        let error = try #require(refused.failure)
        #expect(!error.isRateLimit && !error.isUnauthorized && !error.description.contains(Self.token))
    }
}

/// Losses found by a user on the walk's edges: pages capped below `page_size`, a platform clock
/// behind the relay's, and ids above everything read carrying old times.
@Suite("EscapeKit feed: capped pages, skewed clocks, old times on new ids")
struct EscapeKitEdgeTests {
    static func at(_ seconds: TimeInterval) -> Date { EscapeKitFeedTests.at(seconds) }

    @Test func aServerServingFewerThanPageSizeLosesNothing() async throws {
        let fake = try FakeEscapeKit()
        fake.capPages(at: 8)
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let feed = EscapeKitFeedTests.feed(fake, client, pageSize: 10)
        fake.publish(EscapeKitEventFactory.run(from: 1, count: 3, start: Self.at(-1000)))
        let first = await feed.poll(stream: "events", cursor: nil, now: Self.at(0))
        fake.publish(EscapeKitEventFactory.run(from: 100, count: 60, start: Self.at(10)))
        let second = await feed.poll(stream: "events", cursor: first.cursor, now: Self.at(60))
        #expect(second.failure == nil)
        #expect(second.events.map(\.id) == (100..<160).map(String.init), "all 60 over pages of 8, once each")
        let third = await feed.poll(stream: "events", cursor: second.cursor, now: Self.at(90))
        #expect(third.events.isEmpty)
        // A short page holding seen events is the last: the walk asks no further.
        #expect(third.pages == 1, "\(third.pages) pages")
        await fake.stop()
    }

    @Test(arguments: [true, false])
    func aPlatformClockTenMinutesBehindLosesNothingAndIsReported(emptyAtStart: Bool) async throws {
        let fake = try FakeEscapeKit()
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let feed = EscapeKitFeedTests.feed(fake, client)
        let skew: TimeInterval = -600
        if !emptyAtStart { fake.publish(EscapeKitEventFactory.run(from: 1, count: 3, start: Self.at(skew - 3600))) }
        let first = await feed.poll(stream: "events", cursor: nil, now: Self.at(0))
        #expect(first.events.isEmpty)
        // 15 events happen after the start, stamped by the platform's clock, 600 s behind.
        fake.publish(EscapeKitEventFactory.run(from: 10, count: 15, start: Self.at(5 + skew), step: 1))
        let second = await feed.poll(stream: "events", cursor: first.cursor, now: Self.at(30))
        #expect(second.events.map(\.id) == (10..<25).map(String.init))
        let offset = try #require(second.clockOffset)
        #expect(abs(offset.timeInterval - (19 + skew - 30)) < 1, "the newest new event's time minus now: \(offset)")
        #expect(FeedPoller.isSkewed(offset, interval: .seconds(30)))
        await fake.stop()
    }

    @Test func anIDAboveEverythingReadIsNewEvenWithTheSeedsOwn1970Timestamp() async throws {
        let fake = try FakeEscapeKit()
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let feed = EscapeKitFeedTests.feed(fake, client, pageSize: 3)
        fake.publish(EscapeKitEventFactory.run(from: 100, count: 4, start: Self.at(-10)))
        let first = await feed.poll(stream: "events", cursor: nil, now: Self.at(0))
        #expect(first.events.isEmpty && first.cursor?.top == "103")
        // The seed's example: `"timestamp": 12343434343434` ns, 3.4 hours into 1970. Seven of them,
        // more than two pages of three, with ids above everything read.
        let ancient = (0..<7).map { index in
            EscapeKitEventFactory.event(id: 200 + index, at: Date(timeIntervalSince1970: 12343.434343434 + Double(index)))
        }
        fake.publish(ancient)
        let second = await feed.poll(stream: "events", cursor: first.cursor, now: Self.at(60))
        #expect(second.events.map(\.id).sorted() == (200..<207).map(String.init))
        #expect(second.cursor?.top == "206")
        // Read again, never delivered twice, even once their seen entries would be forgotten.
        var cursor = second.cursor
        for poll in 0..<3 {
            let again = await feed.poll(stream: "events", cursor: cursor, now: Self.at(400 + Double(poll) * 400))
            #expect(again.events.isEmpty, "poll \(poll): \(again.events.map(\.id))")
            cursor = again.cursor
        }
        await fake.stop()
    }
}
