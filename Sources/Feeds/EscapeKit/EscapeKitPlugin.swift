import EventModel
import Foundation
import HTTPClient
import YAMLSupport

/// EscapeKit in the registry: its configuration keys, its environment-only setup, its events.
public enum EscapeKitFeedPlugin: FeedPlugin {
    public static let kind = "escapekit"

    public static let settingsKeys = CommonFeedSettings.keys + ["api_url", "token_env", "auth_header", "auth_scheme", "page_size"]
        + EscapeKitConfiguration.filterKeys

    public static func settings(from entry: YAMLValue) throws(YAMLError) -> any FeedSettings {
        let fields = try entry.mapping()
        try fields.allowOnly(settingsKeys)
        var common = CommonFeedSettings(name: kind)
        try common.read(fields, entry: entry)
        var feed = EscapeKitFeedSettings(common: common, apiURL: try fields.require("api_url").httpURL())
        if let env = fields["token_env"] { feed.tokenEnv = try env.environmentVariableName() }
        if let value = fields["auth_header"] {
            let header = try value.string()
            guard EscapeKitConfiguration.isHeaderName(header) else {
                throw value.error("must be an HTTP header name (letters, digits, - and no spaces), such as Authorization or X-API-Key")
            }
            feed.configuration.authHeader = header
        }
        if let value = fields["auth_scheme"] {
            let scheme = value.isNull ? "" : try value.string()
            guard scheme.isEmpty || EscapeKitConfiguration.isHeaderName(scheme) else {
                throw value.error("must be one word such as Bearer or Token, or empty to send the bare token")
            }
            feed.configuration.authScheme = scheme
        }
        if let value = fields["page_size"] { feed.configuration.pageSize = try value.int(in: EscapeKitConfiguration.pageSizes) }
        for key in EscapeKitConfiguration.filterKeys {
            if let value = fields[key] { feed.configuration.filters[key] = try value.nonEmptyString() }
        }
        if let (key, message) = EscapeKitConfiguration.filterProblem(feed.configuration.filters) {
            throw (fields[key] ?? entry).error(message)
        }
        return feed
    }

    /// `ESCAPEKIT_API_URL` with `ESCAPEKIT_API_TOKEN` starts one feed (`ESCAPEKIT_AUTH_HEADER` and
    /// `ESCAPEKIT_AUTH_SCHEME` optional). One without the other is an error, not silence.
    public static func settings(environment: [String: String]) throws(FeedSetupError) -> [any FeedSettings] {
        let url = environment["ESCAPEKIT_API_URL"] ?? ""
        let token = environment[EscapeKitConfiguration.defaultTokenEnv] ?? ""
        if url.isEmpty && token.isEmpty { return [] }
        guard !url.isEmpty else { throw FeedSetupError("ESCAPEKIT_API_TOKEN is set but ESCAPEKIT_API_URL (the events endpoint) is not") }
        guard !token.isEmpty else { throw FeedSetupError("ESCAPEKIT_API_URL is set but ESCAPEKIT_API_TOKEN is not") }
        if let problem = Subscription.validateURL(url, field: "ESCAPEKIT_API_URL") { throw FeedSetupError("\(problem)") }
        var common = CommonFeedSettings(name: kind)
        common.location = "environment (ESCAPEKIT_API_URL)"
        var feed = EscapeKitFeedSettings(common: common, apiURL: url)
        if let header = environment["ESCAPEKIT_AUTH_HEADER"], !header.isEmpty {
            guard EscapeKitConfiguration.isHeaderName(header) else { throw FeedSetupError("ESCAPEKIT_AUTH_HEADER: not an HTTP header name") }
            feed.configuration.authHeader = header
        }
        if let scheme = environment["ESCAPEKIT_AUTH_SCHEME"] {
            guard scheme.isEmpty || EscapeKitConfiguration.isHeaderName(scheme) else {
                throw FeedSetupError("ESCAPEKIT_AUTH_SCHEME: must be one word such as Bearer, or empty for the bare token")
            }
            feed.configuration.authScheme = scheme
        }
        return [feed]
    }

    public static func presentation(of event: Event) -> EventPresentation? { EscapeKitPresenter.presentation(of: event) }

    /// A raw EscapeKit event (what `rules test --event` reads, or a push), or a page of them.
    public static func events(in document: JSONValue, feed: String, receivedAt: Date) -> [Event] {
        let candidates = document.arrayValue ?? [document]
        return candidates.filter(EscapeKitEvents.looksLikeEvent).compactMap {
            EscapeKitEvents.normalize($0, feed: feed, environment: nil, fetchedAt: receivedAt)
        }
    }
}

/// An EscapeKit feed as configured: everything but the token, and the variable that holds it.
public struct EscapeKitFeedSettings: FeedSettings {
    public var configuration: EscapeKitConfiguration
    public var tokenEnv = EscapeKitConfiguration.defaultTokenEnv
    public var location: String

    public init(common: CommonFeedSettings = CommonFeedSettings(name: EscapeKitFeedPlugin.kind), apiURL: String) {
        configuration = EscapeKitConfiguration(
            name: common.name, apiURL: apiURL, token: SecretString(""), interval: common.interval, backfillHours: common.backfillHours,
            lateness: common.lateness, maxPages: common.maxPages, environment: common.environment)
        location = common.location
    }

    public var kind: String { EscapeKitFeedPlugin.kind }
    public var name: String { configuration.name }

    public func makeFeed(environment: [String: String], transport: any HTTPTransport) throws(FeedSetupError) -> any EventFeed {
        guard let token = environment[tokenEnv], !token.isEmpty else {
            throw FeedSetupError("\(location): feed \(name): environment variable \(tokenEnv) (the EscapeKit API token) is not set")
        }
        // A line break would end the header early and smuggle in another: refused, without the value.
        guard !token.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw FeedSetupError("\(location): feed \(name): environment variable \(tokenEnv) holds control characters (a line break?)")
        }
        var resolved = configuration
        resolved.token = SecretString(token)
        return EscapeKitFeed(configuration: resolved, transport: transport)
    }
}
