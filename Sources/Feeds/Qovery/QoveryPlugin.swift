import EventModel
import Foundation
import HTTPClient
import YAMLSupport

/// Qovery in the registry: its configuration keys, its environment-only setup, its events.
public enum QoveryFeedPlugin: FeedPlugin {
    public static let kind = "qovery"

    /// Configuration keys of the API's query filters, to the parameter each one sets.
    static let filterKeys: [(key: String, set: @Sendable (inout QoveryConfiguration.Filters, String) -> Void)] = [
        ("event_type", { $0.eventType = $1 }), ("target_type", { $0.targetType = $1 }), ("sub_target_type", { $0.subTargetType = $1 }),
        ("triggered_by", { $0.triggeredBy = $1 }), ("target_id", { $0.targetID = $1 }),
        ("service_project_id", { $0.serviceProjectID = $1 }), ("service_environment_id", { $0.serviceEnvironmentID = $1 }),
        ("origin", { $0.origin = $1 }),
    ]

    public static let settingsKeys = CommonFeedSettings.keys + [
        "api_url", "organization_id", "token_env", "auth_scheme", "page_size",
    ] + filterKeys.map(\.key)

    public static func settings(from entry: YAMLValue) throws(YAMLError) -> any FeedSettings {
        let fields = try entry.mapping()
        try fields.allowOnly(settingsKeys)
        var common = CommonFeedSettings(name: "qovery")
        try common.read(fields, entry: entry)
        let organization = try fields.require("organization_id")
        let organizationID = try organization.nonEmptyString()
        guard QoveryConfiguration.isOrganizationID(organizationID) else {
            throw organization.error("must be the organization's id, a UUID such as 3c90c3cc-0d44-4b50-8888-8dd25736052a")
        }
        var feed = QoveryFeedSettings(common: common, organizationID: organizationID)
        if let url = fields["api_url"] { feed.configuration.apiURL = try url.httpURL() }
        if let env = fields["token_env"] { feed.tokenEnv = try env.environmentVariableName() }
        if let value = fields["auth_scheme"] {
            let text = try value.string()
            guard let scheme = QoveryConfiguration.AuthScheme(rawValue: text) else {
                throw value.error("must be token (an API token, sent as \"Token …\") or bearer (a JWT, sent as \"Bearer …\")")
            }
            feed.configuration.authScheme = scheme
        }
        if let value = fields["page_size"] { feed.configuration.pageSize = try value.int(in: 1...100) }
        for (key, set) in filterKeys {
            guard let value = fields[key] else { continue }
            let text = try value.nonEmptyString()
            guard text.count <= 256, !text.contains(where: { $0.isNewline }) else { throw value.error("must be one line of at most 256 characters") }
            set(&feed.configuration.filters, text)
        }
        if let target = fields["target_id"] {
            guard QoveryConfiguration.isOrganizationID(try target.string()) else { throw target.error("must be a UUID (the target's id)") }
            guard fields["target_type"] != nil else { throw target.error("needs target_type too (the API filters on both together)") }
        }
        return feed
    }

    /// `QOVERY_API_TOKEN` and `QOVERY_ORGANIZATION_ID` start one feed (`QOVERY_API_URL` points it
    /// elsewhere; `QOVERY_AUTH_SCHEME=bearer` sends a JWT as a bearer).
    public static func settings(environment: [String: String]) throws(FeedSetupError) -> [any FeedSettings] {
        guard let token = environment["QOVERY_API_TOKEN"], !token.isEmpty else { return [] }
        guard let organizationID = environment["QOVERY_ORGANIZATION_ID"], !organizationID.isEmpty else {
            throw FeedSetupError("QOVERY_API_TOKEN is set but QOVERY_ORGANIZATION_ID is not: the Qovery feed needs the organization's id")
        }
        guard QoveryConfiguration.isOrganizationID(organizationID) else {
            throw FeedSetupError("QOVERY_ORGANIZATION_ID: must be the organization's id, a UUID")
        }
        var common = CommonFeedSettings(name: "qovery")
        common.location = "environment (QOVERY_API_TOKEN)"
        var feed = QoveryFeedSettings(common: common, organizationID: organizationID)
        if let url = environment["QOVERY_API_URL"], !url.isEmpty {
            if let problem = Subscription.validateURL(url, field: "QOVERY_API_URL") { throw FeedSetupError("\(problem)") }
            feed.configuration.apiURL = url
        }
        if let text = environment["QOVERY_AUTH_SCHEME"], !text.isEmpty {
            guard let scheme = QoveryConfiguration.AuthScheme(rawValue: text) else {
                throw FeedSetupError("QOVERY_AUTH_SCHEME: must be token or bearer")
            }
            feed.configuration.authScheme = scheme
        }
        return [feed]
    }

    public static func presentation(of event: Event) -> EventPresentation? { QoveryPresenter.presentation(of: event) }

    public static func mayCarrySecretValues(type: String) -> Bool { QoveryPresenter.mayCarrySecretValues(type: type) }

    public static func secretValuePaths(of event: Event) -> [[String]] { QoveryPresenter.secretValuePaths(of: event) }

    /// A raw Qovery organization event (as `rules test --event` reads one), or an events page.
    /// Only documents in Qovery's shape (`event_type`) are claimed.
    public static func events(in document: JSONValue, feed: String, receivedAt: Date) -> [Event] {
        if let list = document["events"]?.arrayValue {
            guard list.contains(where: { $0["event_type"] != nil }) else { return [] }
            return list.compactMap { QoveryDecoder.event($0, feed: feed, environment: nil, fetchedAt: receivedAt) }
        }
        guard document["event_type"] != nil, document["timestamp"] != nil else { return [] }
        return QoveryDecoder.event(document, feed: feed, environment: nil, fetchedAt: receivedAt).map { [$0] } ?? []
    }
}

/// A Qovery feed as configured: everything but the token, and the name of the variable that holds it.
public struct QoveryFeedSettings: FeedSettings {
    public var configuration: QoveryConfiguration
    public var tokenEnv = "QOVERY_API_TOKEN"
    public var location: String

    public init(common: CommonFeedSettings = CommonFeedSettings(name: "qovery"), organizationID: String) {
        configuration = QoveryConfiguration(
            name: common.name, organizationID: organizationID, token: SecretString(""), interval: common.interval,
            backfillHours: common.backfillHours, lateness: common.lateness, maxPages: common.maxPages, environment: common.environment)
        location = common.location
    }

    public var kind: String { QoveryFeedPlugin.kind }
    public var name: String { configuration.name }

    public func makeFeed(environment: [String: String], transport: any HTTPTransport) throws(FeedSetupError) -> any EventFeed {
        // A token read from a file often ends with a line break: not part of it.
        guard let token = environment[tokenEnv]?.trimmingCharacters(in: .whitespacesAndNewlines), !token.isEmpty else {
            throw FeedSetupError("\(location): feed \(name): environment variable \(tokenEnv) (the Qovery API token) is not set")
        }
        guard !token.contains(where: { $0.isNewline }) else {
            throw FeedSetupError("\(location): feed \(name): environment variable \(tokenEnv) holds a line break")
        }
        var resolved = configuration
        resolved.token = SecretString(token)
        return QoveryFeed(configuration: resolved, transport: transport)
    }
}
