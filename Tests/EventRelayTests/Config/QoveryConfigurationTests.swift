import EventModel
import Feeds
import Foundation
import HTTPClient
import Relay
import Testing
import YAMLSupport

@Suite("Configuration: feeds.qovery")
struct QoveryConfigurationTests {
    static let organization = "3c90c3cc-0d44-4b50-8888-8dd25736052a"

    static func parse(_ yaml: String, environment: [String: String] = [:]) throws -> RelayConfiguration {
        try ConfigurationLoader.parse(try YAMLValue.parse(yaml, file: "relay.yaml"), environment: environment)
    }

    @Test func everyKeyIsRead() throws {
        let configuration = try Self.parse("""
            feeds:
              qovery:
                - name: qovery-prod
                  api_url: https://api.example.com/
                  organization_id: 3C90C3CC-0D44-4B50-8888-8DD25736052A
                  token_env: MY_QOVERY_JWT
                  auth_scheme: bearer
                  interval: 45s
                  lateness: 2m
                  max_pages: 7
                  backfill_hours: 3
                  environment: production
                  page_size: 25
                  event_type: DEPLOY_FAILED
                  target_type: APPLICATION
                  sub_target_type: VARIABLE
                  triggered_by: ann@example.com
                  target_id: 7d0ab2e4-0000-4000-8000-000000000001
                  service_project_id: 5a1c8e1e-1111-4111-8111-111111111111
                  service_environment_id: 6b2d9f2f-2222-4222-8222-222222222222
                  origin: SOMETHING_QOVERY_ADDS_LATER
            """)
        let feed = try #require(configuration.feeds.first as? QoveryFeedSettings)
        let settings = feed.configuration
        #expect(feed.kind == "qovery" && feed.name == "qovery-prod" && feed.tokenEnv == "MY_QOVERY_JWT")
        #expect(feed.location == "relay.yaml:3")
        #expect(settings.apiURL == "https://api.example.com/" && settings.organizationID == Self.organization)
        #expect(settings.authScheme == .bearer && settings.interval == .seconds(45) && settings.lateness == .seconds(120))
        #expect(settings.maxPages == 7 && settings.backfillHours == 3 && settings.environment == "production" && settings.pageSize == 25)
        #expect(settings.filters == QoveryConfiguration.Filters(
            eventType: "DEPLOY_FAILED", targetType: "APPLICATION", subTargetType: "VARIABLE", triggeredBy: "ann@example.com",
            targetID: "7d0ab2e4-0000-4000-8000-000000000001", serviceProjectID: "5a1c8e1e-1111-4111-8111-111111111111",
            serviceEnvironmentID: "6b2d9f2f-2222-4222-8222-222222222222", origin: "SOMETHING_QOVERY_ADDS_LATER"))

        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let error = try #require(throws: FeedSetupError.self) { try feed.makeFeed(environment: ["QOVERY_API_TOKEN": "wrong-variable"], transport: client) }
        #expect(error.description == "relay.yaml:3: feed qovery-prod: environment variable MY_QOVERY_JWT (the Qovery API token) is not set")
        let made = try #require(try feed.makeFeed(environment: ["MY_QOVERY_JWT": "eyJhbGciOi.jwt.sig\n"], transport: client) as? QoveryFeed)
        #expect(made.configuration.token.value == "eyJhbGciOi.jwt.sig", "a trailing line break is not part of the token")
        #expect(made.streams == ["organization/\(Self.organization)"])
        #expect(!"\(made.configuration.token)".contains("eyJ"), "the token never prints")
    }

    @Test func theDefaults() throws {
        let configuration = try Self.parse("feeds:\n  qovery:\n    - organization_id: \(Self.organization)\n")
        let feed = try #require(configuration.feeds.first as? QoveryFeedSettings)
        #expect(feed.name == "qovery" && feed.tokenEnv == "QOVERY_API_TOKEN")
        let settings = feed.configuration
        #expect(settings.apiURL == "https://api.qovery.com" && settings.authScheme == .token && settings.pageSize == nil)
        #expect(settings.interval == .seconds(30) && settings.lateness == .seconds(300) && settings.maxPages == 50 && settings.backfillHours == 0)
        #expect(settings.filters == QoveryConfiguration.Filters() && settings.environment == nil)
    }

    @Test func aQoveryAndAScalingoFeedLiveSideBySide() throws {
        let configuration = try Self.parse("""
            feeds:
              scalingo:
                - apps: [web]
              qovery:
                - organization_id: \(Self.organization)
                - {name: qovery-staging, organization_id: 4d90c3cc-0d44-4b50-8888-8dd25736052a}
            """)
        #expect(configuration.feeds.map(\.name) == ["scalingo", "qovery", "qovery-staging"])
        #expect(configuration.feeds.map(\.kind) == ["scalingo", "qovery", "qovery"])
    }

    @Test(arguments: [
        ("feeds:\n  qovery:\n    - name: q\n", 3, 7, "organization_id is required"),
        ("feeds:\n  qovery:\n    - organization_id: acme\n", 3, 24, "feeds.qovery[0].organization_id: must be the organization's id, a UUID"),
        ("feeds:\n  qovery:\n    - {organization_id: \(organization), auth_scheme: jwt}\n", 3, 76, "auth_scheme: must be token"),
        ("feeds:\n  qovery:\n    - {organization_id: \(organization), api_url: ftp://api.qovery.com}\n", 3, 72, "must be an http or https URL"),
        ("feeds:\n  qovery:\n    - {organization_id: \(organization), api_url: not a url}\n", 3, 72, "is not a valid URL"),
        ("feeds:\n  qovery:\n    - {organization_id: \(organization), organisation: x}\n", 3, 63, "organisation: unknown key"),
        ("feeds:\n  qovery:\n    - {organization_id: \(organization), token_env: my-token}\n", 3, 74, "must name an environment variable"),
        ("feeds:\n  qovery:\n    - {organization_id: \(organization), page_size: 0}\n", 3, 74, "page_size: must be between 1 and 100"),
        ("feeds:\n  qovery:\n    - {organization_id: \(organization), event_type: \"\"}\n", 3, 75, "event_type: must not be empty"),
        ("feeds:\n  qovery:\n    - {organization_id: \(organization), target_id: 7d0ab2e4-0000-4000-8000-000000000001}\n", 3, 74, "needs target_type"),
        ("feeds:\n  qovery:\n    - {organization_id: \(organization), target_type: JOB, target_id: job-1}\n", 3, 92, "target_id: must be a UUID"),
        ("feeds:\n  qovery:\n    - {organization_id: \(organization), max_pages: 1}\n", 3, 74, "max_pages: must be between 2 and 1000"),
        ("feeds:\n  qovery:\n    - {organization_id: \(organization), backfill_hours: 73}\n", 3, 79, "between 0 and 72"),
        ("feeds:\n  qovery:\n    - {organization_id: \(organization)}\n  scalingo:\n    - {name: qovery}\n", 5, 7, "already named qovery"),
    ])
    func badValuesAreRefusedAtTheirLineAndColumn(yaml: String, line: Int, column: Int, message: String) throws {
        let error = try #require(throws: YAMLError.self) { try Self.parse(yaml) }
        #expect(error.description.hasPrefix("relay.yaml:\(line):\(column): "), "\(error)")
        #expect(error.description.contains(message), "\(error)")
    }

    @Test func theEnvironmentAloneStartsOneFeed() throws {
        let bare = try ConfigurationLoader.load(path: nil, environment: ["QOVERY_API_TOKEN": "qov-t", "QOVERY_ORGANIZATION_ID": Self.organization])
        let feed = try #require(bare.feeds.first as? QoveryFeedSettings)
        #expect(bare.feeds.count == 1 && feed.name == "qovery" && feed.location == "environment (QOVERY_API_TOKEN)")
        #expect(feed.configuration.apiURL == "https://api.qovery.com" && feed.configuration.organizationID == Self.organization)
        #expect(feed.configuration.authScheme == .token)
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        #expect((try feed.makeFeed(environment: ["QOVERY_API_TOKEN": "qov-t"], transport: client) as? QoveryFeed)?.configuration.token.value == "qov-t")

        let pointed = try ConfigurationLoader.load(path: nil, environment: [
            "QOVERY_API_TOKEN": "qov-t", "QOVERY_ORGANIZATION_ID": Self.organization, "QOVERY_API_URL": "http://127.0.0.1:9999",
            "QOVERY_AUTH_SCHEME": "bearer",
        ])
        #expect((pointed.feeds.first as? QoveryFeedSettings)?.configuration.apiURL == "http://127.0.0.1:9999")
        #expect((pointed.feeds.first as? QoveryFeedSettings)?.configuration.authScheme == .bearer)

        let both = try ConfigurationLoader.load(path: nil, environment: [
            "QOVERY_API_TOKEN": "qov-t", "QOVERY_ORGANIZATION_ID": Self.organization, "SCALINGO_API_TOKEN": "tk",
        ])
        #expect(Set(both.feeds.map(\.kind)) == ["qovery", "scalingo"])
        #expect(try ConfigurationLoader.load(path: nil, environment: ["QOVERY_ORGANIZATION_ID": Self.organization]).feeds.isEmpty,
                "no token, no feed")

        for (environment, words) in [
            (["QOVERY_API_TOKEN": "qov-secret"], "QOVERY_ORGANIZATION_ID is not"),
            (["QOVERY_API_TOKEN": "qov-secret", "QOVERY_ORGANIZATION_ID": "acme"], "QOVERY_ORGANIZATION_ID: must be"),
            (["QOVERY_API_TOKEN": "qov-secret", "QOVERY_ORGANIZATION_ID": Self.organization, "QOVERY_API_URL": "ftp://x"], "QOVERY_API_URL"),
            (["QOVERY_API_TOKEN": "qov-secret", "QOVERY_ORGANIZATION_ID": Self.organization, "QOVERY_AUTH_SCHEME": "basic"], "QOVERY_AUTH_SCHEME"),
        ] {
            let error = try #require(throws: ConfigurationError.self) { try ConfigurationLoader.load(path: nil, environment: environment) }
            #expect(error.description.contains(words) && !error.description.contains("qov-secret"), "\(error)")
        }
    }
}
