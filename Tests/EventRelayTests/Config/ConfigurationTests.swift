import AdminAPI
import Delivery
import Feeds
import Foundation
import HTTPClient
import Relay
import Testing
import YAMLSupport

@Suite("Configuration file: documented keys, validated at load")
struct ConfigurationTests {
    @Test func theShippedExampleLoadsWithEveryKey() throws {
        let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("deploy/config.example.yaml")
        let configuration = try ConfigurationLoader.load(path: example.path, environment: [:])
        #expect(configuration.dataDirectory == "/var/lib/event-relay/data")
        #expect(configuration.adminHost == "127.0.0.1" && configuration.adminPort == 8080)
        #expect(configuration.dispatcher.concurrency == 16)
        #expect(configuration.dispatcher.retry.delays == RetrySchedule.standardWebhooksDelays)
        #expect(configuration.dispatcher.disableAfter == .seconds(3 * 86400))
        #expect(configuration.dispatcher.breaker == CircuitBreaker.Settings(threshold: 5, initialCooldown: .milliseconds(500), maxCooldown: .milliseconds(500)))
        let feed = try #require(configuration.feeds.first as? ScalingoFeedSettings)
        #expect(feed.configuration.apiURL == "https://api.osc-fr1.scalingo.com")
        #expect(feed.configuration.apps == ["my-app-prod"])
        #expect(feed.configuration.interval == .seconds(30))
        #expect(feed.configuration.environment == "production")
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        #expect(throws: FeedSetupError.self) { try feed.makeFeed(environment: [:], transport: client) }
        let made = try #require(try feed.makeFeed(environment: ["SCALINGO_API_TOKEN": "tk"], transport: client) as? ScalingoFeed)
        #expect(made.configuration.token.value == "tk")
    }

    @Test func everyKeyIsDocumented() throws {
        let reference = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        let keys = ConfigurationLoader.documentedKeys
        #expect(!keys.isEmpty)
        for key in keys {
            let documented = reference.contains("`\(key)`")
            #expect(documented, "docs/configuration.md does not document \(key)")
        }
    }

    @Test func pushFeedsAreReadAndTheirSecretsResolvedAtStart() throws {
        let yaml = """
            push:
              - {name: scalingo-hooks, format: scalingo, auth: bearer, secret_env: HOOK_TOKEN}
              - {name: qovery-hooks, format: relay, auth: shared_secret, secret_env: Q_SECRET, header: Qovery-Signature, environment: prod}
              - {name: signed, format: relay, auth: signature, secret_env: SIGNING}
            """
        let configuration = try ConfigurationLoader.parse(try YAMLValue.parse(yaml, file: "relay.yaml"), environment: [:])
        #expect(configuration.pushFeeds.map(\.name) == ["scalingo-hooks", "qovery-hooks", "signed"])
        #expect(configuration.pushFeeds[1].header == "Qovery-Signature" && configuration.pushFeeds[1].environment == "prod")
        let missing = try #require(throws: FeedSetupError.self) { try configuration.pushFeeds[0].resolve(environment: [:]) }
        #expect(missing.description.contains("HOOK_TOKEN") && missing.description.contains("relay.yaml:2"))
        let notWhsec = try #require(throws: FeedSetupError.self) { try configuration.pushFeeds[2].resolve(environment: ["SIGNING": "plain-secret"]) }
        #expect(notWhsec.description.contains("whsec_") && !notWhsec.description.contains("plain-secret"))
        #expect(try configuration.pushFeeds[0].resolve(environment: ["HOOK_TOKEN": "t"]).name == "scalingo-hooks")
    }

    @Test func noFileMeansEmbeddedDefaultsAndAFeedWhenATokenIsSet() throws {
        let bare = try ConfigurationLoader.load(path: nil, environment: [:])
        #expect(bare.dataDirectory == "./data" && bare.rulesDirectory == "./rules" && bare.adminPort == 8080 && bare.feeds.isEmpty)
        let withToken = try ConfigurationLoader.load(path: nil, environment: [
            "SCALINGO_API_TOKEN": "tk", "SCALINGO_REGION": "osc-secnum-fr1", "SCALINGO_APPS": "a, b",
        ])
        #expect((withToken.feeds.first as? ScalingoFeedSettings)?.configuration.apiURL == "https://api.osc-secnum-fr1.scalingo.com")
        #expect((withToken.feeds.first as? ScalingoFeedSettings)?.configuration.apps == ["a", "b"])
        let pointed = try ConfigurationLoader.load(path: nil, environment: [
            "SCALINGO_API_TOKEN": "tk", "SCALINGO_API_URL": "http://127.0.0.1:9999", "SCALINGO_AUTH_URL": "http://127.0.0.1:9998",
        ])
        #expect((pointed.feeds.first as? ScalingoFeedSettings)?.configuration.apiURL == "http://127.0.0.1:9999")
        #expect((pointed.feeds.first as? ScalingoFeedSettings)?.configuration.authURL == "http://127.0.0.1:9998")
        #expect(throws: ConfigurationError.self) {
            try ConfigurationLoader.load(path: nil, environment: ["SCALINGO_API_TOKEN": "tk", "SCALINGO_API_URL": "ftp://x"])
        }
        #expect(throws: ConfigurationError.self) {
            try ConfigurationLoader.load(path: nil, environment: ["SCALINGO_API_TOKEN": "tk", "SCALINGO_REGION": "mars-1"])
        }
    }

    @Test func theBreakerProbesEveryHalfSecondUnlessToldToSpaceProbesOut() throws {
        let spaced = try ConfigurationLoader.parse(
            try YAMLValue.parse("delivery:\n  breaker_threshold: 3\n  breaker_probe_interval: 30s\n", file: "relay.yaml"), environment: [:])
        #expect(spaced.dispatcher.breaker == CircuitBreaker.Settings(threshold: 3, initialCooldown: .seconds(1), maxCooldown: .seconds(30)))
        let quick = try ConfigurationLoader.parse(try YAMLValue.parse("delivery:\n  breaker_probe_interval: 250ms\n", file: "relay.yaml"), environment: [:])
        #expect(quick.dispatcher.breaker == CircuitBreaker.Settings(threshold: 5, initialCooldown: .milliseconds(250), maxCooldown: .milliseconds(250)))
    }

    @Test(arguments: [
        ("admin:\n  listen: 8080\n", 2, "must be address:port"),
        ("admin:\n  listen: example.com:80\n", 2, "must be an IP address"),
        ("delivery:\n  concurrency: 0\n", 2, "between 1 and 1024"),
        ("delivery:\n  initial_backoff: soon\n", 2, "must be a duration"),
        ("delivery:\n  initial_backoff: 10s\n  max_backoff: 1s\n", 3, "must not be shorter than initial_backoff"),
        ("delivery:\n  lease: 10s\n", 2, "delivery.lease (10s) must be at least twice http_client.request_timeout (15s)"),
        ("delivery:\n  retry_schedule: [5s, 8d]\n", 2, "must be between 0s and 168h"),
        ("delivery:\n  retry_schedule: [5s]\n  max_attempts: 3\n", 3, "either retry_schedule or max_attempts"),
        ("delivery:\n  keep_delivered: 10s\n", 2, "between 1m and"),
        ("delivery:\n  breaker_probe_interval: 10ms\n", 2, "between 100ms and"),
        ("feeds:\n  scalingo:\n    - {name: a}\npush:\n  - {name: a, format: relay, auth: bearer, secret_env: S}\n", 5, "another feed is already named a"),
        ("log_level: loud\n", 1, "must be one of"),
        ("feeds:\n  heroku: []\n", 2, "unknown key"),
        ("feeds:\n  scalingo:\n    - region: mars-1\n", 3, "unknown region"),
        ("feeds:\n  scalingo:\n    - token_env: my-token\n", 3, "must name an environment variable"),
        ("feeds:\n  scalingo:\n    - backfill_hours: 100\n", 3, "between 0 and 72"),
        ("feeds:\n  scalingo:\n    - api_url: ftp://x\n", 3, "http or https"),
        ("feeds:\n  scalingo:\n    - user_events: false\n", 3, "polls nothing"),
        ("feeds:\n  scalingo:\n    - {name: a}\n    - {name: a}\n", 4, "already named a"),
        ("data_dir: [a, b]\n", 1, "must be a single value"),
        ("admin:\n  listen: 127.0.0.1:8080\n  listen: 127.0.0.1:9090\n", 2, "duplicate key listen"),  // the mapping holding it
        ("push:\n  - {name: hooks, format: heroku, auth: bearer, secret_env: S}\n", 2, "format: must be one of: qovery, scalingo, escapekit, relay"),
        ("push:\n  - {name: hooks, format: scalingo, auth: basic, secret_env: S}\n", 2, "must be one of: bearer, shared_secret, signature"),
        ("push:\n  - {name: hooks, format: scalingo, auth: bearer}\n", 2, "secret_env is required"),
        ("push:\n  - {name: Hooks!, format: scalingo, auth: bearer, secret_env: S}\n", 2, "lower-case letters"),
        ("push:\n  - {name: hooks, format: relay, auth: bearer, secret_env: S, header: X-Secret}\n", 2, "only a shared_secret push feed names a header"),
        ("push:\n  - {name: h, format: relay, auth: shared_secret, secret_env: S, header: 'X Secret'}\n", 2, "must be a header name"),
        ("push:\n  - {name: h, format: relay, auth: bearer, secret_env: S}\n  - {name: h, format: relay, auth: bearer, secret_env: T}\n", 3, "already named h"),
        ("push:\n  - {name: h, format: relay, auth: bearer, secret_env: S, token: x}\n", 2, "unknown key"),
    ])
    func badFilesNameTheLineAndTheProblem(yaml: String, line: Int, message: String) throws {
        let error = try #require(throws: YAMLError.self) {
            try ConfigurationLoader.parse(try YAMLValue.parse(yaml, file: "relay.yaml"), environment: [:])
        }
        #expect(error.line == line, "\(error)")
        #expect(error.description.contains(message), "\(error)")
        #expect(error.description.hasPrefix("relay.yaml:\(line):"))
    }

    /// Values that used to crash the process (an overflow trap converting to Int64) or that a
    /// loader must not trust: each is an error at its line and column naming the accepted range.
    @Test(arguments: [
        ("http_client: {connect_timeout: 1e300s}\n", 1, 32, "http_client.connect_timeout: must be between 100ms and 2m, not \"1e300s\""),
        ("delivery: {shutdown_grace: 99999999999999999999h}\n", 1, 28, "delivery.shutdown_grace: must be between 0s and 10m"),
        ("delivery:\n  lease: 9223372036854775807ms\n", 2, 10, "delivery.lease: must be between 5s and 1h"),
        ("delivery:\n  max_backoff: 1e400s\n", 2, 16, "delivery.max_backoff: must be between 10ms and 24h"),
        ("delivery:\n  initial_backoff: -1s\n", 2, 20, "must be between 10ms and 1h, not \"-1s\""),
        ("delivery:\n  initial_backoff: -1e300d\n", 2, 20, "must be between 10ms and 1h"),
        ("delivery:\n  initial_backoff: nan\n", 2, 20, "must be a duration such as 500ms, 30s, 5m or 2h (between 10ms and 1h)"),
        ("delivery:\n  initial_backoff: infs\n", 2, 20, "must be a duration"),
        ("delivery:\n  initial_backoff: 0x1p99s\n", 2, 20, "must be a duration"),
        ("admin: {connection_timeout: 1e18}\n", 1, 29, "admin.connection_timeout: must be between 1s and 1h"),
        ("feeds:\n  scalingo:\n    - {interval: 1e300d, user_events: true}\n", 3, 18, "interval: must be between 1s and 24h"),
        ("feeds:\n  scalingo:\n    - {lateness: 99999999999999999999, user_events: true}\n", 3, 18, "lateness: must be between 0s and 24h"),
        ("feeds:\n  scalingo:\n    - max_pages: 1e30\n", 3, 18, "max_pages: must be a whole number between 2 and 1000, not \"1e30\""),
        ("feeds:\n  scalingo:\n    - max_pages: 99999999999999999999\n", 3, 18, "max_pages: must be between 2 and 1000"),
        ("feeds:\n  scalingo:\n    - page_size: -5\n", 3, 18, "page_size: must be between 1 and 100, not -5"),
        ("admin:\n  connection_limit: -99999999999999999999\n", 2, 21, "connection_limit: must be between 1 and 100000"),
        ("admin:\n  max_body_bytes: 1.5\n", 2, 19, "must be a whole number between 1024 and 16777216"),
        ("? [data_dir]\n: ./data\n", 1, 3, "keys must be plain names"),
        ("{1: 2}\n", 1, 2, "1: unknown key"),
        ("data_dir: &dir ./data\nrules_dir: *dir\n", 2, 12, "aliases (*dir) are not supported"),
        ("a: &k data_dir\n*k : ./data\n", 2, 1, "aliases (*k) are not supported"),
        ("feeds:\n  scalingo:\n    - apps: [*-prod]\n", 3, 14, "a value starting with * must be quoted"),
    ])
    func dangerousValuesAreRefusedAtTheirLineAndColumn(yaml: String, line: Int, column: Int, message: String) throws {
        let error = try #require(throws: YAMLError.self) {
            try ConfigurationLoader.parse(try YAMLValue.parse(yaml, file: "relay.yaml"), environment: [:])
        }
        #expect(error.description.hasPrefix("relay.yaml:\(line):\(column): "), "\(error)")
        #expect(error.description.contains(message), "\(error)")
    }

    /// libyaml stops at about 1000 levels (composing recurses once per level), with a plain message.
    @Test func deepNestingIsRefusedAtItsLine() throws {
        for (yaml, line) in [
            ("data_dir: " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "\n", 1),
            ("data_dir: " + String(repeating: "{a: ", count: 5000) + "1" + String(repeating: "}", count: 5000) + "\n", 1),
            ("data_dir:\n  " + String(repeating: "- ", count: 5000) + "x\n", 2),
        ] {
            let error = try #require(throws: YAMLError.self) { try YAMLValue.parse(yaml, file: "relay.yaml") }
            #expect(error.description.hasPrefix("relay.yaml:\(line):"), "\(error)")
            #expect(error.message == "not valid YAML: lists and mappings are nested too deeply (the limit is about 1000 levels)")
        }
    }

    /// Composing expands aliases: with anchors that refer to anchors, 10^8 copies here (10^9 and
    /// more fit in a kilobyte), which Yams hashes one by one as a mapping key, a minute and more at
    /// 100% CPU. Aliases are refused before composing, at the first one.
    @Test func aliasBombIsRefusedAtItsFirstAlias() throws {
        let yaml = Fixtures.aliasBomb(levels: 8)
        let error = try #require(throws: YAMLError.self) { try YAMLValue.parse(yaml, file: "relay.yaml") }
        #expect(error.description.hasPrefix("relay.yaml:2:10: aliases (*l0) are not supported"), "\(error)")
    }

    @Test func durationTextNeverTrapsAndReadsWhatItDocuments() {
        #expect(DurationText.read("500ms") == .duration(.milliseconds(500)))
        #expect(DurationText.read("1.5") == .duration(.milliseconds(1500)))
        #expect(DurationText.read("2m") == .duration(.seconds(120)))
        #expect(DurationText.read("1e3ms") == .duration(.seconds(1)))
        #expect(DurationText.read("36500d") == .duration(.seconds(36500 * 86400)))
        for text in ["1e300s", "99999999999999999999h", "9223372036854775807ms", "1e400", "-1s", "-0.5ms", "36501d"] {
            #expect(DurationText.read(text) == .outOfRange, "\(text)")
        }
        for text in ["nan", "inf", "-inf", "infinity", "0x10s", "", "s", ".s", "1e", "1.2.3s", "5 weeks", "1_000s"] {
            #expect(DurationText.read(text) == .invalid, "\(text)")
        }
        #expect(!DurationText.format(.seconds(Int64.max)).isEmpty, "saturates instead of trapping")
        #expect(DurationText.format(.milliseconds(1500)) == "1500ms")
        #expect(DurationText.format(.seconds(7 * 86400)) == "168h")
    }

    @Test func onlyARegularFileOfReasonableSizeIsRead() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        #expect(throws: YAMLError(file: "/dev/zero", line: 0, column: 0, path: "", message: "is not a regular file")) {
            try YAMLValue.load(contentsOf: URL(fileURLWithPath: "/dev/zero"))
        }
        try directory.write("big.yaml", "# " + String(repeating: "x", count: YAMLValue.maximumFileBytes) + "\n")
        let error = try #require(throws: YAMLError.self) { try YAMLValue.load(contentsOf: directory.url.appendingPathComponent("big.yaml")) }
        #expect(error.message.contains("is larger than 1024 KiB"), "\(error)")
        try directory.write("real.yaml", "data_dir: ./elsewhere\n")
        try FileManager.default.createSymbolicLink(
            at: directory.url.appendingPathComponent("link.yaml"), withDestinationURL: directory.url.appendingPathComponent("real.yaml"))
        #expect(try ConfigurationLoader.load(path: directory.path + "/link.yaml", environment: [:]).dataDirectory == "./elsewhere")
    }
}
