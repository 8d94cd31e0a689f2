import Delivery
import EventModel
import Feeds
import Foundation
import HTTPClient
import Logging
import Relay

/// Runs the real relay in-process on a temporary data directory (real SQLite file, admin API on
/// a loopback port through libmicrohttpd), and talks to it with libcurl.
final class RelayHarness: @unchecked Sendable {
    static let adminToken = "test-admin-token-0123456789abcdef"
    /// `delivery.allowed_networks` for tests whose sinks are loopback peers.
    static let loopbackNetworks: [IPNetwork] = ["127.0.0.0/8", "::1/128"].compactMap { try? IPNetwork($0) }
    static let webhookSecret = "whsec_" + Data((0..<32).map { UInt8($0) }).base64EncodedString()

    let directory: TemporaryDirectory
    let client: CurlHTTPClient
    private(set) var relay: Relay?
    private var runTask: Task<Void, any Error>?
    var environment: [String: String]

    init(environment: [String: String] = [:]) throws {
        directory = try TemporaryDirectory()
        client = try CurlHTTPClient()
        self.environment = environment.merging(["EVENT_RELAY_ADMIN_TOKEN": Self.adminToken]) { $1 }
        try FileManager.default.createDirectory(at: directory.url.appendingPathComponent("rules"), withIntermediateDirectories: true)
    }

    func writeRule(_ name: String, _ yaml: String) throws { try directory.write("rules/\(name)", yaml) }

    /// A configuration for tests: fast polls and retries, port 0, the fake Scalingo's URLs.
    func configuration(
        scalingo: FakeScalingo?, apps: [String] = [], backfillHours: Int = 0, feed adjust: (inout ScalingoConfiguration) -> Void = { _ in }
    ) -> RelayConfiguration {
        var configuration = baseConfiguration()
        if let scalingo {
            var feed = ScalingoFeedSettings()
            feed.configuration.name = "scalingo"
            feed.configuration.apiURL = scalingo.baseURL
            feed.configuration.authURL = scalingo.baseURL
            feed.tokenEnv = "TEST_SCALINGO_TOKEN"
            feed.configuration.apps = apps
            feed.configuration.interval = .milliseconds(150)
            feed.configuration.backfillHours = backfillHours
            feed.configuration.requestsPerMinute = 100_000  // the fake has no rate limit; tests read many pages
            adjust(&feed.configuration)
            configuration.feeds = [feed]
            environment["TEST_SCALINGO_TOKEN"] = scalingo.apiToken
        }
        return configuration
    }

    /// The same, with one Qovery feed named `qovery` on the fake Qovery (its token in `TEST_QOVERY_TOKEN`).
    func configuration(
        qovery: FakeQovery, backfillHours: Int = 0, feed adjust: (inout QoveryConfiguration) -> Void = { _ in }
    ) -> RelayConfiguration {
        var configuration = baseConfiguration()
        var feed = QoveryFeedSettings(organizationID: qovery.organizationID)
        feed.configuration.apiURL = qovery.baseURL
        feed.configuration.authScheme = qovery.scheme == .bearer ? .bearer : .token
        feed.tokenEnv = "TEST_QOVERY_TOKEN"
        feed.configuration.interval = .milliseconds(150)
        feed.configuration.backfillHours = backfillHours
        adjust(&feed.configuration)
        configuration.feeds = [feed]
        environment["TEST_QOVERY_TOKEN"] = qovery.apiToken
        return configuration
    }

    /// Fast polls and retries, port 0, no feed.
    private func baseConfiguration() -> RelayConfiguration {
        var configuration = RelayConfiguration()
        configuration.dataDirectory = directory.path + "/data"
        configuration.rulesDirectory = directory.path + "/rules"
        configuration.adminPort = 0
        configuration.logLevel = .critical
        configuration.shutdownGrace = .seconds(5)
        configuration.dispatcher.retry = RetryScheduleForTests.fast
        configuration.dispatcher.idlePoll = .milliseconds(100)
        configuration.httpClient.requestTimeout = .seconds(5)
        // The fake sinks listen on loopback, which deliveries may not reach unless allowed.
        configuration.deliveryAllowedNetworks = Self.loopbackNetworks
        return configuration
    }

    func start(_ configuration: RelayConfiguration) async throws {
        var logger = Logger(label: "test")
        logger.logLevel = configuration.logLevel
        let relay = try await Relay(configuration: configuration, environment: environment, handleSignals: false, logger: logger)
        self.relay = relay
        runTask = Task { try await relay.run() }
    }

    func stop() async throws {
        guard let relay, let runTask else { return }
        await relay.shutdown()
        try await runTask.value
        self.relay = nil
        self.runTask = nil
    }

    func cleanup() async {
        try? await stop()
        client.shutdown()
        directory.cleanup()
    }

    var adminURL: String { "http://127.0.0.1:\(relay?.adminPort ?? 0)" }

    /// Hands events to the running relay's pipeline, as a feed's poll does.
    func ingest(_ events: [Event]) async throws -> IngestResult {
        guard let relay else { throw CocoaError(.featureUnsupported) }
        return try await relay.pipeline.ingest(IngestBatch(events: events, now: Date()))
    }

    /// Calls the admin API with the token; the body is JSON text.
    func admin(_ method: HTTPRequest.Method, _ path: String, _ body: String? = nil, token: String? = adminToken) async throws -> (status: Int, json: JSONValue) {
        var headers: [(name: String, value: String)] = [("Content-Type", "application/json")]
        if let token { headers.append(("Authorization", "Bearer \(token)")) }
        let response = try await client.execute(HTTPRequest(method: method, url: adminURL + path, headers: headers, body: Array((body ?? "").utf8)))
        let json = response.body.isEmpty ? JSONValue.null : ((try? JSONValue.parse(response.body)) ?? .string(response.bodyText))
        return (response.status, json)
    }

    /// The named stream of the (only) feed, as `GET /v1/feeds` shows it.
    func stream(_ name: String) async throws -> JSONValue? {
        let feeds = try await admin(.GET, "/v1/feeds").json["feeds"]?.arrayValue ?? []
        return feeds.first?["streams"]?.arrayValue?.first { $0["name"] == .string(name) }
    }

    /// Waits until every stream of every feed has set its baseline.
    func waitForFeedsToStart(timeout: Duration = .seconds(10)) async throws -> Bool {
        try await eventually(timeout: timeout) {
            let feeds = try await self.admin(.GET, "/v1/feeds").json["feeds"]?.arrayValue ?? []
            return !feeds.isEmpty && feeds.allSatisfy { feed in
                (feed["streams"]?.arrayValue ?? []).allSatisfy { $0["started"] == .bool(true) }
            }
        }
    }
}

enum RetryScheduleForTests {
    /// Five attempts within about a second.
    static let fast = RetrySchedule(
        delays: [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(400)], maxRetryAfter: .seconds(5))
}

/// Polls `condition` every 25 ms until it holds or the timeout passes.
func eventually(timeout: Duration = .seconds(30), _ condition: @Sendable () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(25))
    }
    return try await condition()
}
