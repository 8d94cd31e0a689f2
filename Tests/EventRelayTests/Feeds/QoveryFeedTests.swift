import EventModel
import Feeds
import Foundation
import HTTPClient
import Testing

/// The Qovery feed alone against the loopback fake (real HTTP through the relay's libcurl
/// client), with time given by the test.
struct QoveryRig {
    let qovery: FakeQovery
    let client: CurlHTTPClient
    let feed: QoveryFeed

    init(
        scheme: FakeQovery.Scheme = .token, pageSize: Int = 5, token: String? = nil, authScheme: QoveryConfiguration.AuthScheme = .token,
        adjust: (inout QoveryConfiguration) -> Void = { _ in }
    ) throws {
        qovery = try FakeQovery(scheme: scheme, pageSize: pageSize)
        client = try CurlHTTPClient()
        var configuration = QoveryConfiguration(
            name: "q", apiURL: qovery.baseURL, organizationID: qovery.organizationID, token: SecretString(token ?? qovery.apiToken),
            authScheme: authScheme)
        adjust(&configuration)
        feed = QoveryFeed(configuration: configuration, transport: client)
    }

    var stream: String { feed.streams[0] }

    func poll(_ cursor: TimelineCursor?, at now: Date) async -> StreamPoll {
        await feed.poll(stream: stream, cursor: cursor, now: now)
    }

    func finish() async {
        client.shutdown()
        await qovery.stop()
    }
}

@Suite("Qovery feed over HTTP: auth, paging, filters")
struct QoveryFeedTests {
    @Test(arguments: [(FakeQovery.Scheme.token, QoveryConfiguration.AuthScheme.token, "Token "), (.bearer, .bearer, "Bearer ")])
    func theTokenIsSentInTheConfiguredScheme(server: FakeQovery.Scheme, scheme: QoveryConfiguration.AuthScheme, prefix: String) async throws {
        let rig = try QoveryRig(scheme: server, authScheme: scheme)
        let result = await rig.poll(nil, at: Date())
        #expect(result.failure == nil && result.cursor != nil)
        let request = try #require(rig.qovery.pageRequests.first)
        #expect(request.header("authorization") == prefix + rig.qovery.apiToken)
        #expect(request.header("accept") == "application/json")
        #expect(rig.stream == "organization/\(rig.qovery.organizationID)")
        await rig.finish()
    }

    @Test(arguments: [
        (FakeQovery.Scheme.token, QoveryConfiguration.AuthScheme.bearer, nil as String?), (.bearer, .token, nil),
        (.token, .token, "qov-wrong-secret-123"),
    ])
    func aRefusedTokenIsUnauthorizedAndNeverInTheMessage(server: FakeQovery.Scheme, scheme: QoveryConfiguration.AuthScheme, token: String?) async throws {
        let rig = try QoveryRig(scheme: server, token: token, authScheme: scheme)
        let result = await rig.poll(nil, at: Date())
        let error = try #require(result.failure)
        #expect(error.isUnauthorized, "\(error)")
        #expect(result.cursor == nil, "nothing read, nothing to commit")
        #expect(!error.description.contains(token ?? rig.qovery.apiToken))
        #expect(error.description.contains("401") && error.description.contains("auth_scheme"))
        await rig.finish()
    }

    @Test func theBaselineSendsNothingOldThenEveryNewEventOnceOldestFirst() async throws {
        let rig = try QoveryRig(pageSize: 4)
        let base = Date()
        rig.qovery.publish(QoveryEventFactory.burst("old", count: 6, from: base.addingTimeInterval(-3600), step: 1))
        rig.qovery.publish(QoveryEventFactory.burst("recent", count: 6, from: base.addingTimeInterval(-100), step: 1))
        let first = await rig.poll(nil, at: base)
        #expect(first.events.isEmpty && first.failure == nil, "a first start is a baseline")
        #expect(first.pages == 2, "down past now - lateness: the recent page and the one below it")
        rig.qovery.publish(QoveryEventFactory.burst("new", count: 10, from: base.addingTimeInterval(10), step: 1))
        let second = await rig.poll(first.cursor, at: base.addingTimeInterval(60))
        #expect(second.events.map(\.id) == (0..<10).map { "new-\($0)" }, "all ten, oldest first")
        #expect(second.failure == nil)
        let linked = rig.qovery.pageRequests.filter { $0.query["continueToken"] != nil }
        #expect(!linked.isEmpty && linked.allSatisfy { $0.query["sig"] == FakeQovery.signature($0.query["continueToken"] ?? "") },
                "every later page came from links.next, unchanged")
        let third = await rig.poll(second.cursor, at: base.addingTimeInterval(120))
        #expect(third.events.isEmpty && third.failure == nil)
        await rig.finish()
    }

    @Test(arguments: [FakeQovery.LinkStyle.absolute, .rootRelative, .pathRelative])
    func linksAreFollowedWhetherAbsoluteOrRelative(style: FakeQovery.LinkStyle) async throws {
        let rig = try QoveryRig(pageSize: 2)
        rig.qovery.linkStyle = style
        let base = Date()
        let first = await rig.poll(nil, at: base)
        rig.qovery.publish(QoveryEventFactory.burst("n", count: 7, from: base.addingTimeInterval(1), step: 1))
        let second = await rig.poll(first.cursor, at: base.addingTimeInterval(30))
        #expect(second.failure == nil, "\(String(describing: second.failure))")
        #expect(second.events.map(\.id) == (0..<7).map { "n-\($0)" })
        #expect(second.pages == 4)
        #expect(rig.qovery.pageRequests.allSatisfy { $0.path == rig.qovery.eventsPath })
        await rig.finish()
    }

    @Test(arguments: [FakeQovery.EndStyle.nullNext, .missingNext, .emptyNext, .noLinks, .trailingEmptyPage])
    func theLastPageEndsTheWalkHoweverItSaysSo(end: FakeQovery.EndStyle) async throws {
        let rig = try QoveryRig(pageSize: 3)
        rig.qovery.endStyle = end
        let base = Date()
        let first = await rig.poll(nil, at: base)
        #expect(first.failure == nil && first.pages == 1)
        rig.qovery.publish(QoveryEventFactory.burst("n", count: 6, from: base.addingTimeInterval(1), step: 1))
        let second = await rig.poll(first.cursor, at: base.addingTimeInterval(30))
        #expect(second.failure == nil)
        #expect(second.events.count == 6)
        #expect(second.pages == (end == .trailingEmptyPage ? 3 : 2))
        await rig.finish()
    }

    @Test func pageSizeAndEveryFilterAreSentAndKeptByTheLinks() async throws {
        let project = "5a1c8e1e-1111-4111-8111-111111111111"
        let rig = try QoveryRig { configuration in
            configuration.pageSize = 2
            configuration.filters = QoveryConfiguration.Filters(
                eventType: "DEPLOY_FAILED", targetType: "APPLICATION", subTargetType: nil, triggeredBy: "Qovery",
                targetID: "7d0ab2e4-0000-4000-8000-000000000001", serviceProjectID: project,
                serviceEnvironmentID: "6b2d9f2f-2222-4222-8222-222222222222", origin: "QOVERY_INTERNAL")
        }
        let base = Date()
        let first = await rig.poll(nil, at: base)
        var events = (0..<5).map { QoveryEventFactory.deployFailed(id: "match-\($0)", at: base.addingTimeInterval(Double(10 + $0))) }
        events.append(QoveryEventFactory.event(id: "other-type", type: "DEPLOYED", at: base.addingTimeInterval(20), by: "Qovery", origin: "QOVERY_INTERNAL"))
        events.append(QoveryEventFactory.event(id: "other-origin", type: "DEPLOY_FAILED", at: base.addingTimeInterval(21), by: "Qovery", origin: "API"))
        events.append(QoveryEventFactory.event(
            id: "other-target", type: "DEPLOY_FAILED", at: base.addingTimeInterval(22), by: "Qovery", origin: "QOVERY_INTERNAL",
            targetID: "7d0ab2e4-0000-4000-8000-000000000002"))
        rig.qovery.publish(events)
        let second = await rig.poll(first.cursor, at: base.addingTimeInterval(60))
        #expect(second.events.map(\.id) == (0..<5).map { "match-\($0)" })
        let requests = rig.qovery.pageRequests
        #expect(requests.count >= 4)
        for request in requests {
            #expect(request.query["pageSize"] == "2")
            #expect(request.query["eventType"] == "DEPLOY_FAILED" && request.query["targetType"] == "APPLICATION")
            #expect(request.query["triggeredBy"] == "Qovery" && request.query["origin"] == "QOVERY_INTERNAL")
            #expect(request.query["targetId"] == "7d0ab2e4-0000-4000-8000-000000000001" && request.query["serviceProjectId"] == project)
            #expect(request.query["serviceEnvironmentId"] == "6b2d9f2f-2222-4222-8222-222222222222")
            #expect(request.query["subTargetType"] == nil && request.query["fromTimestamp"] == nil)
        }
        await rig.finish()
    }

    @Test func filterValuesAreEscapedInTheQuery() throws {
        let feed = QoveryFeed(
            configuration: QoveryConfiguration(
                name: "q", apiURL: "https://api.example.com/", organizationID: "3C90C3CC-0D44-4B50-8888-8DD25736052A", token: SecretString("t"),
                filters: .init(triggeredBy: "Ann & Bob+co=1?#")),
            transport: NoTransport())
        #expect(feed.firstPageURL() == "https://api.example.com/organization/3c90c3cc-0d44-4b50-8888-8dd25736052a/events?triggeredBy=Ann%20%26%20Bob%2Bco%3D1%3F%23")
    }

    @Test func aBackfillSendsFromTimestampInNanosecondsAndDeliversOnlyItsWindow() async throws {
        let rig = try QoveryRig(pageSize: 3) { $0.backfillHours = 2 }
        let base = Date()
        rig.qovery.publish(QoveryEventFactory.burst("ancient", count: 4, from: base.addingTimeInterval(-3 * 3600), step: 1))
        rig.qovery.publish(QoveryEventFactory.burst("window", count: 5, from: base.addingTimeInterval(-3600), step: 60))
        let first = await rig.poll(nil, at: base)
        #expect(first.events.map(\.id) == (0..<5).map { "window-\($0)" })
        let request = try #require(rig.qovery.pageRequests.first)
        let from = try #require(request.query["fromTimestamp"].flatMap { Int64($0) })
        let expected = Int64(base.addingTimeInterval(-2 * 3600).timeIntervalSince1970 * 1e9)
        #expect(abs(from - expected) < 1_000_000, "nanoseconds since 1970: \(from) vs \(expected)")
        #expect(rig.qovery.pageRequests.dropFirst().allSatisfy { $0.query["continueToken"] != nil })
        let second = await rig.poll(first.cursor, at: base.addingTimeInterval(30))
        #expect(second.events.isEmpty)
        #expect(rig.qovery.pageRequests.filter { $0.query["continueToken"] == nil }.dropFirst().allSatisfy { $0.query["fromTimestamp"] == nil },
                "only a backfilling first start is bounded")
        await rig.finish()
    }

    @Test func relativeAndAbsoluteLinksResolveAgainstTheAPIAndNeverLeaveIt() throws {
        let feed = QoveryFeed(
            configuration: QoveryConfiguration(
                name: "q", apiURL: "https://api.qovery.com", organizationID: "3c90c3cc-0d44-4b50-8888-8dd25736052a", token: SecretString("t")),
            transport: NoTransport())
        let path = "/organization/3c90c3cc-0d44-4b50-8888-8dd25736052a/events"
        #expect(try feed.resolve("https://api.qovery.com\(path)?continueToken=1767261600123456789")
            == "https://api.qovery.com\(path)?continueToken=1767261600123456789")
        #expect(try feed.resolve("HTTPS://API.QOVERY.COM:443\(path)?continueToken=1") == "HTTPS://API.QOVERY.COM:443\(path)?continueToken=1", "kept as given")
        #expect(try feed.resolve("\(path)?continueToken=1767261600123456789&pageSize=3")
            == "https://api.qovery.com\(path)?continueToken=1767261600123456789&pageSize=3")
        #expect(try feed.resolve("?continueToken=17") == "https://api.qovery.com\(path)?continueToken=17")
        #expect(try feed.resolve("events?continueToken=17") == "https://api.qovery.com/organization/3c90c3cc-0d44-4b50-8888-8dd25736052a/events?continueToken=17")
        // Another origin: the same path and query, on api_url (the token never leaves it).
        for (elsewhere, rooted) in [
            ("https://evil.example\(path)?continueToken=1", "https://api.qovery.com\(path)?continueToken=1"),
            ("http://api.qovery.com\(path)?continueToken=1&x=%2F", "https://api.qovery.com\(path)?continueToken=1&x=%2F"),
            ("https://api.qovery.com:8443\(path)?continueToken=1", "https://api.qovery.com\(path)?continueToken=1"),
            ("//evil.example/x?continueToken=1", "https://api.qovery.com/x?continueToken=1"),
        ] {
            #expect(try feed.resolve(elsewhere) == rooted)
        }
    }
}

/// A transport for tests that never reach the network.
struct NoTransport: HTTPTransport {
    func execute(_ request: HTTPRequest) async throws -> HTTPResponse { throw HTTPClientError.connectFailed }
}

@Suite("Qovery feed over HTTP: no loss across polls, page limits and errors")
struct QoveryNoLossTests {
    @Test func aWalkCutAtThePageLimitResumesWithTheExactLink() async throws {
        let rig = try QoveryRig(pageSize: 3) { $0.maxPages = 2 }
        let base = Date()
        let first = await rig.poll(nil, at: base)
        rig.qovery.publish(QoveryEventFactory.burst("n", count: 9, from: base.addingTimeInterval(10), step: 1))
        let second = await rig.poll(first.cursor, at: base.addingTimeInterval(60))
        #expect(second.events.map(\.id) == (3..<9).map { "n-\($0)" })
        let resume = try #require(second.cursor?.backlog?.resume)
        #expect(second.cursor?.isBehind == true)
        // The link the second page answered with, exactly: the fake's own signature proves it.
        let components = try #require(URLComponents(string: resume))
        let token = try #require(components.queryItems?.first { $0.name == "continueToken" }?.value)
        #expect(resume.hasPrefix(rig.qovery.baseURL + rig.qovery.eventsPath + "?"))
        #expect(components.queryItems?.first { $0.name == "sig" }?.value == FakeQovery.signature(token))
        #expect(token.count == 19, "a nanosecond timestamp, untouched: \(token)")
        let third = await rig.poll(second.cursor, at: base.addingTimeInterval(90))
        #expect(third.events.map(\.id) == ["n-0", "n-1", "n-2"])
        #expect(third.cursor?.backlog == nil && third.failure == nil)
        #expect(rig.qovery.pageRequests.last?.query["continueToken"] != nil)
        await rig.finish()
    }

    @Test func aPageFailingMidWalkKeepsWhatWasReadAndResumesThere() async throws {
        let rig = try QoveryRig(pageSize: 3)
        let base = Date()
        let first = await rig.poll(nil, at: base)
        rig.qovery.publish(QoveryEventFactory.burst("n", count: 12, from: base.addingTimeInterval(10), step: 1))
        let failing = LockedValue(true)
        let failedToken = LockedValue<String?>(nil)
        rig.qovery.failPages { page in
            guard page.pageInWalk == 3, failing.value else { return nil }
            failedToken.value = page.continueToken
            return .serverError
        }
        let second = await rig.poll(first.cursor, at: base.addingTimeInterval(60))
        let error = try #require(second.failure)
        #expect(error.description.contains("500") && !error.isUnauthorized && !error.isRateLimit)
        #expect(second.events.map(\.id) == (6..<12).map { "n-\($0)" }, "the two pages read are kept")
        let resume = try #require(second.cursor?.backlog?.resume)
        #expect(URLComponents(string: resume)?.queryItems?.first { $0.name == "continueToken" }?.value == failedToken.value)
        failing.value = false
        let third = await rig.poll(second.cursor, at: base.addingTimeInterval(90))
        #expect(third.failure == nil)
        #expect(third.events.map(\.id) == (0..<6).map { "n-\($0)" })
        #expect(third.cursor?.backlog == nil)
        await rig.finish()
    }

    /// Events arriving while the feed pages (on top: keyset pages do not shift), and late inserts
    /// 60–120 s older than events already read, each delivered exactly once over several polls.
    @Test func arrivalsDuringPagingAndLateInsertsAreDeliveredExactlyOnce() async throws {
        let rig = try QoveryRig(pageSize: 4)
        let base = Date()
        let first = await rig.poll(nil, at: base)
        let arrived = LockedValue(0)
        let qovery = rig.qovery
        qovery.onPage { page in
            guard page.pageInWalk > 1, arrived.value < 30 else { return }
            let serial = arrived.withValue { value -> Int in
                value += 3
                return value - 3
            }
            qovery.publish(QoveryEventFactory.burst("during-\(serial)", count: 3, from: Date().addingTimeInterval(200), step: 0.001))
        }
        qovery.publish(QoveryEventFactory.burst("first", count: 40, from: base.addingTimeInterval(10), step: 0.5))
        var delivered: [String] = []
        var cursor = first.cursor
        var now = base.addingTimeInterval(240)
        for _ in 0..<4 {
            let result = await rig.poll(cursor, at: now)
            #expect(result.failure == nil)
            delivered += result.events.map(\.id)
            cursor = result.cursor
            now.addTimeInterval(5)
        }
        #expect(arrived.value == 30)
        // Late: 60–120 s below events already read.
        qovery.onPage { _ in }
        let newestRead = base.addingTimeInterval(200)
        qovery.publish([60.0, 75, 90, 105, 120].map { QoveryEventFactory.deployFailed(id: "late-\(Int($0))", at: newestRead.addingTimeInterval(-$0)) })
        let late = await rig.poll(cursor, at: now)
        delivered += late.events.map(\.id)
        #expect(Set(late.events.map(\.id)) == ["late-60", "late-75", "late-90", "late-105", "late-120"])
        #expect(delivered.count == 75 && Set(delivered).count == 75, "40 + 30 + 5, each once")
        await rig.finish()
    }
}

@Suite("Qovery feed over HTTP: faults become FeedErrors without the token")
struct QoveryFaultTests {
    static let token = "qov-secret-token-do-not-log-9f8e"

    static func failure(_ fault: FakeQovery.Fault, now: Date = Date()) async throws -> FeedError {
        let rig = try QoveryRig(token: nil)
        rig.qovery.failNextRequests([fault])
        let result = await rig.poll(nil, at: now)
        let error = try #require(result.failure)
        #expect(result.cursor == nil)
        #expect(!error.description.contains(rig.qovery.apiToken))
        await rig.finish()
        return error
    }

    @Test(arguments: [FakeQovery.Fault.unauthorized, .forbidden])
    func refusalsAreUnauthorized(fault: FakeQovery.Fault) async throws {
        let error = try await Self.failure(fault)
        #expect(error.isUnauthorized && error.description.contains("HTTP \(fault.status)"))
    }

    @Test func rateLimitsCarryRetryAfterInSecondsOrAsADateOrASafeDefault() async throws {
        let now = Date()
        #expect(try await Self.failure(.rateLimited(retryAfter: "7")).retryAfter == .seconds(7))
        let date = QoveryHTTPDate.format(now.addingTimeInterval(30))
        let dated = try await Self.failure(.rateLimited(retryAfter: date), now: now).retryAfter
        #expect(dated.map { $0 >= .seconds(29) && $0 <= .seconds(31) } == true, "\(date) → \(String(describing: dated))")
        let none = try await Self.failure(.rateLimited(retryAfter: nil))
        #expect(none.isRateLimit && none.retryAfter == .seconds(60))
        #expect(try await Self.failure(.rateLimited(retryAfter: "soon")).retryAfter == .seconds(60))
        #expect(try await Self.failure(.rateLimited(retryAfter: "99999999")).retryAfter == .seconds(3600), "capped at an hour")
        #expect(try await Self.failure(.rateLimited(retryAfter: QoveryHTTPDate.format(now.addingTimeInterval(-60))), now: now).retryAfter == .seconds(1))
    }

    @Test(arguments: [
        (FakeQovery.Fault.serverError, "HTTP 500"), (.badGateway, "HTML error page"), (.htmlPage, "HTML page, not JSON"),
        (.truncatedJSON, "not JSON"), (.wrongShape, "no \"events\" list"), (.eventsNotAList, "not a list"),
        (FakeQovery.Fault(status: 404, body: "{}"), "no such organization"), (FakeQovery.Fault(status: 400, body: "{}"), "HTTP 400"),
    ])
    func brokenAnswersAreErrorsThePollerBacksOffFrom(fault: FakeQovery.Fault, words: String) async throws {
        let error = try await Self.failure(fault)
        #expect(!error.isUnauthorized && !error.isRateLimit)
        #expect(error.description.contains(words), "\(error)")
    }

    @Test func anUnreachableAPIIsATransportError() async throws {
        let client = try CurlHTTPClient(configuration: HTTPClientConfiguration(connectTimeout: .seconds(2), requestTimeout: .seconds(2)))
        let feed = QoveryFeed(
            configuration: QoveryConfiguration(
                name: "q", apiURL: "http://127.0.0.1:9", organizationID: "3c90c3cc-0d44-4b50-8888-8dd25736052a", token: SecretString(Self.token)),
            transport: client)
        let result = await feed.poll(stream: feed.streams[0], cursor: nil, now: Date())
        let error = try #require(result.failure)
        #expect(error.description.hasPrefix("GET /organization/3c90c3cc-0d44-4b50-8888-8dd25736052a/events:"), "\(error)")
        #expect(!error.description.contains(Self.token))
        client.shutdown()
    }

    @Test func aTimeoutIsATransportErrorWithoutTheToken() async throws {
        let slow = try RecordingServer { _ in
            try? await Task.sleep(for: .seconds(3))
            return json(200, #"{"events": []}"#)
        }
        let client = try CurlHTTPClient(configuration: HTTPClientConfiguration(connectTimeout: .seconds(2), requestTimeout: .milliseconds(300)))
        let feed = QoveryFeed(
            configuration: QoveryConfiguration(
                name: "q", apiURL: slow.baseURL, organizationID: "3c90c3cc-0d44-4b50-8888-8dd25736052a", token: SecretString(Self.token)),
            transport: client)
        let result = await feed.poll(stream: feed.streams[0], cursor: nil, now: Date())
        let error = try #require(result.failure)
        #expect(result.cursor == nil && !error.isUnauthorized && !error.isRateLimit)
        #expect(error.description.contains("GET /organization/") && !error.description.contains(Self.token), "\(error)")
        client.shutdown()
        await slow.stop()
    }

    @Test func aLinkToAnotherHostIsFollowedOnTheAPIOnly() async throws {
        let rig = try QoveryRig(pageSize: 1)
        let base = Date()
        let first = await rig.poll(nil, at: base)
        rig.qovery.publish(QoveryEventFactory.burst("n", count: 2, from: base.addingTimeInterval(5), step: 1))
        let token = String(FakeQovery.nanoseconds(QoveryEventFactory.stamp(base.addingTimeInterval(6))) ?? 0)
        let event = QoveryEventFactory.deployFailed(id: "n-1", at: base.addingTimeInterval(6))
        let elsewhere = "http://127.0.0.2:1\(rig.qovery.eventsPath)?pageSize=1&continueToken=\(token)&sig=\(FakeQovery.signature(token))"
        let body = JSONValue.object(["events": .array([event]), "links": .object(["next": .string(elsewhere)])])
        rig.qovery.failNextRequests([FakeQovery.Fault(status: 200, body: String(decoding: body.encoded(), as: UTF8.self))])
        let second = await rig.poll(first.cursor, at: base.addingTimeInterval(30))
        #expect(second.failure == nil, "\(String(describing: second.failure))")
        #expect(second.events.map(\.id) == ["n-0", "n-1"])
        #expect(rig.qovery.pageRequests.last?.query["continueToken"] == token, "the next page was asked of api_url, with the token")
        await rig.finish()
    }
}

/// HTTP dates for Retry-After in tests.
enum QoveryHTTPDate {
    static func format(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.string(from: date)
    }
}

@Suite("Qovery feed: a platform clock behind the relay's")
struct QoverySkewTests {
    /// Found by a user: with Qovery's clock 10 minutes behind, all 15 new events were called
    /// history (lines drawn from the relay's clock) and dropped without a word.
    @Test(arguments: [true, false])
    func tenMinutesBehindLosesNothingAndIsReported(emptyAtStart: Bool) async throws {
        let rig = try QoveryRig()
        let base = Date(timeIntervalSince1970: 1_770_000_000)
        let skew: TimeInterval = -600
        if !emptyAtStart { rig.qovery.publish(QoveryEventFactory.burst("old", count: 6, from: base.addingTimeInterval(skew - 3600), step: 1)) }
        let first = await rig.poll(nil, at: base)
        #expect(first.events.isEmpty && first.failure == nil)
        rig.qovery.publish(QoveryEventFactory.burst("new", count: 15, from: base.addingTimeInterval(skew + 5), step: 1))
        let second = await rig.poll(first.cursor, at: base.addingTimeInterval(30))
        #expect(second.events.count == 15 && second.failure == nil, "\(second.events.map(\.id))")
        let offset = try #require(second.clockOffset)
        #expect(FeedPoller.isSkewed(offset, interval: .seconds(30)) && offset < .seconds(-600))
        // Quiet afterwards: nothing twice; once the sweep after the arrival is done, a walk reads
        // one page (its line follows the offset seen, not the quiet timeline's newest event).
        let third = await rig.poll(second.cursor, at: base.addingTimeInterval(1200))
        let fourth = await rig.poll(third.cursor, at: base.addingTimeInterval(1230))
        #expect(third.events.isEmpty && fourth.events.isEmpty)
        #expect(fourth.pages == 1, "\(fourth.pages) pages")
        await rig.finish()
    }
}
