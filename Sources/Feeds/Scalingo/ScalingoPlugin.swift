import EventModel
import Foundation
import HTTPClient
import YAMLSupport

/// Scalingo in the registry: its configuration keys, its environment-only setup, its events.
public enum ScalingoFeedPlugin: FeedPlugin {
    public static let kind = "scalingo"

    public static let settingsKeys = CommonFeedSettings.keys + [
        "region", "api_url", "auth_url", "token_env", "user_events", "apps", "page_size", "requests_per_minute", "apps_refresh", "audit_logs", "audit_log_excerpt_bytes",
    ]

    public static func settings(from entry: YAMLValue) throws(YAMLError) -> any FeedSettings {
        let fields = try entry.mapping()
        try fields.allowOnly(settingsKeys)
        var common = CommonFeedSettings(name: "scalingo")
        try common.read(fields, entry: entry)
        var feed = ScalingoFeedSettings(common: common)
        if let region = fields["region"] {
            guard let url = ScalingoConfiguration.regions[try region.string()] else {
                throw region.error("unknown region (known: \(ScalingoConfiguration.regions.keys.sorted().joined(separator: ", ")); or set api_url)")
            }
            feed.configuration.apiURL = url
        }
        if let url = fields["api_url"] { feed.configuration.apiURL = try url.httpURL() }
        if let url = fields["auth_url"] { feed.configuration.authURL = try url.httpURL() }
        if let env = fields["token_env"] { feed.tokenEnv = try env.environmentVariableName() }
        if let value = fields["user_events"] { feed.configuration.userEvents = try value.bool() }
        if let value = fields["apps"] {
            if (try? value.string()) == "all" {
                feed.configuration.allApps = true
            } else {
                feed.configuration.apps = try value.stringList()
                for app in feed.configuration.apps where app.isEmpty || app.contains("/") { throw value.error("app names must not be empty or contain /") }
                if feed.configuration.apps.contains("all") { throw value.error("write apps: all (not in a list) to poll every app") }
            }
        }
        if let value = fields["page_size"] { feed.configuration.pageSize = try value.int(in: 1...100) }
        if let value = fields["audit_logs"] { feed.configuration.auditLogs = try value.bool() }
        if let value = fields["audit_log_excerpt_bytes"] { feed.configuration.auditLogExcerptBytes = try value.int(in: 256...65536) }
        if let value = fields["apps_refresh"] { feed.configuration.appsRefresh = try value.duration(in: .seconds(10)...(.seconds(86400))) }
        if let value = fields["requests_per_minute"] { feed.configuration.requestsPerMinute = try value.int(in: 1...100_000) }
        if !feed.configuration.userEvents && feed.configuration.apps.isEmpty && !feed.configuration.allApps {
            throw entry.error("feed \(common.name) polls nothing: enable user_events or list apps")
        }
        return feed
    }

    /// `SCALINGO_API_TOKEN` alone starts one feed (region from `SCALINGO_REGION`, apps from
    /// `SCALINGO_APPS`, comma-separated; `SCALINGO_API_URL` and `SCALINGO_AUTH_URL` point it at any
    /// Scalingo-compatible API).
    public static func settings(environment: [String: String]) throws(FeedSetupError) -> [any FeedSettings] {
        guard let token = environment["SCALINGO_API_TOKEN"], !token.isEmpty else { return [] }
        var common = CommonFeedSettings(name: "scalingo")
        common.location = "environment (SCALINGO_API_TOKEN)"
        var feed = ScalingoFeedSettings(common: common)
        if let region = environment["SCALINGO_REGION"], !region.isEmpty {
            guard let url = ScalingoConfiguration.regions[region] else {
                throw FeedSetupError("SCALINGO_REGION: unknown region \(region) (known: \(ScalingoConfiguration.regions.keys.sorted().joined(separator: ", ")))")
            }
            feed.configuration.apiURL = url
        }
        if let url = environment["SCALINGO_API_URL"], !url.isEmpty { feed.configuration.apiURL = url }
        if let url = environment["SCALINGO_AUTH_URL"], !url.isEmpty { feed.configuration.authURL = url }
        let apps = (environment["SCALINGO_APPS"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        if apps == ["all"] { feed.configuration.allApps = true } else { feed.configuration.apps = apps }
        for (name, url) in [("SCALINGO_API_URL", feed.configuration.apiURL), ("SCALINGO_AUTH_URL", feed.configuration.authURL)] {
            if let problem = Subscription.validateURL(url, field: name) { throw FeedSetupError("\(problem)") }
        }
        return [feed]
    }

    public static func presentation(of event: Event) -> EventPresentation? { ScalingoPresenter.presentation(of: event) }

    public static func mayCarrySecretValues(type: String) -> Bool { !ScalingoPresenter.secretValuePaths(type: type).isEmpty }

    public static func secretValuePaths(of event: Event) -> [[String]] {
        ScalingoPresenter.secretValuePaths(type: event.type).map { ["raw"] + $0 }
    }

    /// A raw Scalingo event (what a Scalingo notifier posts, or `rules test --event` reads), or
    /// an events page.
    public static func events(in document: JSONValue, feed: String, receivedAt: Date) -> [Event] {
        // A Scalingo page: an `events` list of Scalingo-shaped events (other platforms' pages hold `events` too).
        if let list = document["events"]?.arrayValue {
            guard list.allSatisfy({ $0["created_at"] != nil && $0["type"] != nil }) else { return [] }
            return list.compactMap { ScalingoDecoder.event($0, feed: feed, environment: nil, fetchedAt: receivedAt) }
        }
        guard document["created_at"] != nil, document["type"] != nil else { return [] }
        return ScalingoDecoder.event(document, feed: feed, environment: nil, fetchedAt: receivedAt).map { [$0] } ?? []
    }
}

/// A Scalingo feed as configured: everything but the token (with `ScalingoConfiguration`'s
/// defaults), and the name of the variable that holds the token.
public struct ScalingoFeedSettings: FeedSettings {
    public var configuration: ScalingoConfiguration
    public var tokenEnv = "SCALINGO_API_TOKEN"
    public var location: String

    public init(common: CommonFeedSettings = CommonFeedSettings(name: "scalingo")) {
        configuration = ScalingoConfiguration(
            name: common.name, apiURL: ScalingoConfiguration.defaultAPIURL, token: SecretString(""), interval: common.interval,
            backfillHours: common.backfillHours, lateness: common.lateness, maxPages: common.maxPages, environment: common.environment)
        location = common.location
    }

    public var kind: String { ScalingoFeedPlugin.kind }
    public var name: String { configuration.name }

    public func makeFeed(environment: [String: String], transport: any HTTPTransport) throws(FeedSetupError) -> any EventFeed {
        guard let token = environment[tokenEnv], !token.isEmpty else {
            throw FeedSetupError("\(location): feed \(name): environment variable \(tokenEnv) (the Scalingo API token) is not set")
        }
        var resolved = configuration
        resolved.token = SecretString(token)
        return ScalingoFeed(configuration: resolved, transport: transport)
    }
}
