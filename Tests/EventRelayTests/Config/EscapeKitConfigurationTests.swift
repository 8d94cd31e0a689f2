import EventModel
import Feeds
import Foundation
import HTTPClient
import Relay
import Testing
import YAMLSupport

@Suite("Configuration: feeds.escapekit")
struct EscapeKitConfigurationTests {
    static func parse(_ yaml: String, environment: [String: String] = [:]) throws -> RelayConfiguration {
        try ConfigurationLoader.parse(try YAMLValue.parse(yaml, file: "relay.yaml"), environment: environment)
    }

    @Test func everyKeyIsReadIntoTheFeed() throws {
        let configuration = try Self.parse("""
            feeds:
              escapekit:
                - name: ek-prod
                  api_url: https://escape.example.com/api/v1/events/
                  token_env: EK_TOKEN
                  auth_header: X-API-Key
                  auth_scheme: ""
                  page_size: 250
                  interval: 10s
                  lateness: 2m
                  max_pages: 20
                  backfill_hours: 6
                  environment: production
                  state_project: shop
                  state_environment: prod
                  state_deployment: web
                - api_url: http://127.0.0.1:9/events
                  inventory_project: core
                  inventory_application: api
                  inventory_version: 1.2.3
            """)
        let feeds = configuration.feeds.compactMap { $0 as? EscapeKitFeedSettings }
        #expect(feeds.count == 2)
        let feed = try #require(feeds.first)
        #expect(feed.kind == "escapekit" && feed.name == "ek-prod" && feed.tokenEnv == "EK_TOKEN" && feed.location == "relay.yaml:3")
        let settings = feed.configuration
        #expect(settings.apiURL == "https://escape.example.com/api/v1/events/")
        #expect(settings.authHeader == "X-API-Key" && settings.authScheme == "" && settings.pageSize == 250)
        #expect(settings.interval == .seconds(10) && settings.lateness == .seconds(120) && settings.maxPages == 20)
        #expect(settings.backfillHours == 6 && settings.environment == "production")
        #expect(settings.filters == ["state_project": "shop", "state_environment": "prod", "state_deployment": "web"])
        let second = try #require(feeds.last)
        #expect(second.name == "escapekit" && second.tokenEnv == "ESCAPEKIT_API_TOKEN")
        #expect(second.configuration.authHeader == "Authorization" && second.configuration.authScheme == "Bearer")
        #expect(second.configuration.pageSize == 100 && second.configuration.maxPages == 50 && second.configuration.interval == .seconds(30))
        #expect(second.configuration.filters["inventory_version"] == "1.2.3")
    }

    @Test(arguments: [
        ("feeds:\n  escapekit:\n    - name: ek\n", 3, 7, "api_url is required"),
        ("feeds:\n  escapekit:\n    - {}\n", 3, 7, "api_url is required"),
        ("feeds:\n  escapekit:\n    - api_url: ftp://x/events\n", 3, 16, "api_url: must be an http or https URL, not ftp"),
        ("feeds:\n  escapekit:\n    - api_url: not a url\n", 3, 16, "is not a valid URL"),
        ("feeds:\n  escapekit:\n    - {api_url: \"http://h/e\", region: eu}\n", 3, 31, "region: unknown key"),
        ("feeds:\n  escapekit:\n    - {api_url: \"http://h/e\", page_size: 0}\n", 3, 42, "page_size: must be between 1 and 1000, not 0"),
        ("feeds:\n  escapekit:\n    - {api_url: \"http://h/e\", page_size: 5000}\n", 3, 42, "must be between 1 and 1000"),
        ("feeds:\n  escapekit:\n    - {api_url: \"http://h/e\", page_size: ten}\n", 3, 42, "must be a whole number between 1 and 1000"),
        ("feeds:\n  escapekit:\n    - {api_url: \"http://h/e\", token_env: my-token}\n", 3, 42, "must name an environment variable"),
        ("feeds:\n  escapekit:\n    - {api_url: \"http://h/e\", auth_header: \"X Key\"}\n", 3, 44, "must be an HTTP header name"),
        ("feeds:\n  escapekit:\n    - {api_url: \"http://h/e\", auth_scheme: \"Bearer x\"}\n", 3, 44, "must be one word"),
        ("feeds:\n  escapekit:\n    - {api_url: \"http://h/e\", state_project: \"\"}\n", 3, 46, "state_project: must not be empty"),
        ("feeds:\n  escapekit:\n    - {api_url: \"http://h/e\", inventory_project: [a]}\n", 3, 50, "must be a single value"),
        ("feeds:\n  escapekit:\n    - {api_url: \"http://h/e\", inventory_application: api}\n", 3, 54, "unless inventory_project is set"),
        ("feeds:\n  escapekit:\n    - {api_url: \"http://h/e\", state_project: a, state_deployment: d}\n", 3, 67,
         "state_deployment: is ignored by EscapeKit unless state_environment is set"),
        ("feeds:\n  escapekit:\n    - {api_url: \"http://h/e\", inventory_project: a, state_project: b}\n", 3, 68,
         "state_project: is ignored by EscapeKit when inventory_project is set"),
        ("feeds:\n  escapekit:\n    - {api_url: \"http://h/e\", backfill_hours: 73}\n", 3, 47, "between 0 and 72"),
        ("feeds:\n  escapekit:\n    - {api_url: \"http://h/e\"}\n    - {api_url: \"http://h/f\"}\n", 4, 7, "already named escapekit"),
    ])
    func badEntriesNameTheFileLineColumnAndKey(yaml: String, line: Int, column: Int, message: String) throws {
        let error = try #require(throws: YAMLError.self) { try Self.parse(yaml) }
        #expect(error.description.hasPrefix("relay.yaml:\(line):\(column): "), "\(error)")
        #expect(error.description.contains(message), "\(error)")
    }

    @Test func theEnvironmentAloneStartsOneFeed() throws {
        let bare = try ConfigurationLoader.load(path: nil, environment: [
            "ESCAPEKIT_API_URL": "http://127.0.0.1:9/api/v1/events/", "ESCAPEKIT_API_TOKEN": "tk",
        ])
        let feed = try #require(bare.feeds.first as? EscapeKitFeedSettings)
        #expect(bare.feeds.count == 1 && feed.name == "escapekit" && feed.configuration.apiURL == "http://127.0.0.1:9/api/v1/events/")
        #expect(feed.location.contains("ESCAPEKIT_API_URL"))
        let keyed = try ConfigurationLoader.load(path: nil, environment: [
            "ESCAPEKIT_API_URL": "http://127.0.0.1:9/e", "ESCAPEKIT_API_TOKEN": "tk", "ESCAPEKIT_AUTH_HEADER": "X-API-Key",
            "ESCAPEKIT_AUTH_SCHEME": "", "SCALINGO_API_TOKEN": "tk2",
        ])
        #expect(keyed.feeds.map(\.kind).sorted() == ["escapekit", "scalingo"], "each platform its own feed")
        let ek = try #require(keyed.feeds.first { $0.kind == "escapekit" } as? EscapeKitFeedSettings)
        #expect(ek.configuration.authHeader == "X-API-Key" && ek.configuration.authScheme == "")
        #expect(try ConfigurationLoader.load(path: nil, environment: [:]).feeds.isEmpty)
    }

    @Test(arguments: [
        ["ESCAPEKIT_API_TOKEN": "tk-secret-value"],
        ["ESCAPEKIT_API_URL": "http://127.0.0.1:9/e"],
        ["ESCAPEKIT_API_URL": "ftp://x/e", "ESCAPEKIT_API_TOKEN": "tk-secret-value"],
        ["ESCAPEKIT_API_URL": "http://127.0.0.1:9/e", "ESCAPEKIT_API_TOKEN": "tk-secret-value", "ESCAPEKIT_AUTH_HEADER": "X Key"],
    ])
    func aHalfOrBadEnvironmentIsAnErrorWithoutTheToken(environment: [String: String]) throws {
        let error = try #require(throws: ConfigurationError.self) { try ConfigurationLoader.load(path: nil, environment: environment) }
        #expect(!"\(error)".contains("tk-secret-value") && "\(error)".contains("ESCAPEKIT_"), "\(error)")
    }

    @Test func theTokenComesFromTheNamedVariableAndIsNeverShown() throws {
        let configuration = try Self.parse("feeds:\n  escapekit:\n    - {api_url: \"http://127.0.0.1:9/e\", token_env: EK_TOKEN}\n")
        let settings = try #require(configuration.feeds.first)
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let missing = try #require(throws: FeedSetupError.self) {
            try settings.makeFeed(environment: ["ESCAPEKIT_API_TOKEN": "the-default-var"], transport: client)
        }
        #expect(missing.description.contains("EK_TOKEN") && missing.description.contains("relay.yaml:3"))
        let injected = try #require(throws: FeedSetupError.self) {
            try settings.makeFeed(environment: ["EK_TOKEN": "abc\r\nX-Evil: 1"], transport: client)
        }
        #expect(!injected.description.contains("abc") && !injected.description.contains("Evil"))
        let feed = try #require(try settings.makeFeed(environment: ["EK_TOKEN": "tk-1"], transport: client) as? EscapeKitFeed)
        #expect(feed.configuration.token.value == "tk-1" && feed.source == "escapekit" && feed.streams == ["events"])
        #expect(!"\(feed.configuration.token)".contains("tk-1"))
    }

    @Test func anAPIURLWithAQueryKeepsIt() {
        let feed = EscapeKitFeed(
            configuration: EscapeKitConfiguration(apiURL: "https://h/events?tenant=a&", token: SecretString("t"), pageSize: 3),
            transport: EscapeKitUnreachable())
        #expect(feed.url(pageFrom: nil) == "https://h/events?tenant=a&page_size=3")
        #expect(EscapeKitFeed(configuration: EscapeKitConfiguration(apiURL: "https://h/e?x=1", token: SecretString("t")), transport: EscapeKitUnreachable())
            .url(pageFrom: "a&b") == "https://h/e?x=1&page_size=100&page_from=a%26b")
    }
}

struct EscapeKitUnreachable: HTTPTransport {
    func execute(_ request: HTTPRequest) async throws -> HTTPResponse { throw HTTPClientError.connectFailed }
}
