import Foundation
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
        #expect(configuration.dispatcher.concurrency == 32)
        #expect(configuration.dispatcher.retry.maxBackoff == .seconds(3600))
        let feed = try #require(configuration.scalingoFeeds.first)
        #expect(feed.configuration.apiURL == "https://api.osc-fr1.scalingo.com")
        #expect(feed.configuration.apps == ["my-app-prod"])
        #expect(feed.configuration.interval == .seconds(30))
        #expect(feed.configuration.environment == "production")
        #expect(throws: ConfigurationError.self) { try configuration.resolveFeeds(environment: [:]) }
        #expect(try configuration.resolveFeeds(environment: ["SCALINGO_API_TOKEN": "tk"]).first?.token.value == "tk")
    }

    @Test func everyKeyIsDocumented() throws {
        let reference = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        let keys = ConfigurationLoader.documentedKeys
        #expect(!keys.isEmpty)
        for key in keys { #expect(reference.contains("`\(key)`"), "docs/configuration.md does not document \(key)") }
    }

    @Test func noFileMeansEmbeddedDefaultsAndAFeedWhenATokenIsSet() throws {
        let bare = try ConfigurationLoader.load(path: nil, environment: [:])
        #expect(bare.dataDirectory == "./data" && bare.rulesDirectory == "./rules" && bare.adminPort == 8080 && bare.scalingoFeeds.isEmpty)
        let withToken = try ConfigurationLoader.load(path: nil, environment: [
            "SCALINGO_API_TOKEN": "tk", "SCALINGO_REGION": "osc-secnum-fr1", "SCALINGO_APPS": "a, b",
        ])
        #expect(withToken.scalingoFeeds.first?.configuration.apiURL == "https://api.osc-secnum-fr1.scalingo.com")
        #expect(withToken.scalingoFeeds.first?.configuration.apps == ["a", "b"])
        let pointed = try ConfigurationLoader.load(path: nil, environment: [
            "SCALINGO_API_TOKEN": "tk", "SCALINGO_API_URL": "http://127.0.0.1:9999", "SCALINGO_AUTH_URL": "http://127.0.0.1:9998",
        ])
        #expect(pointed.scalingoFeeds.first?.configuration.apiURL == "http://127.0.0.1:9999")
        #expect(pointed.scalingoFeeds.first?.configuration.authURL == "http://127.0.0.1:9998")
        #expect(throws: ConfigurationError.self) {
            try ConfigurationLoader.load(path: nil, environment: ["SCALINGO_API_TOKEN": "tk", "SCALINGO_API_URL": "ftp://x"])
        }
        #expect(throws: ConfigurationError.self) {
            try ConfigurationLoader.load(path: nil, environment: ["SCALINGO_API_TOKEN": "tk", "SCALINGO_REGION": "mars-1"])
        }
    }

    @Test(arguments: [
        ("admin:\n  listen: 8080\n", 2, "must be address:port"),
        ("admin:\n  listen: example.com:80\n", 2, "must be an IP address"),
        ("delivery:\n  concurrency: 0\n", 2, "between 1 and 1024"),
        ("delivery:\n  initial_backoff: soon\n", 2, "must be a duration"),
        ("delivery:\n  initial_backoff: 10s\n  max_backoff: 1s\n", 3, "must not be shorter than initial_backoff"),
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
    ])
    func badFilesNameTheLineAndTheProblem(yaml: String, line: Int, message: String) throws {
        let error = try #require(throws: YAMLError.self) {
            try ConfigurationLoader.parse(try YAMLValue.parse(yaml, file: "relay.yaml"), environment: [:])
        }
        #expect(error.line == line, "\(error)")
        #expect(error.description.contains(message), "\(error)")
        #expect(error.description.hasPrefix("relay.yaml:\(line):"))
    }
}
