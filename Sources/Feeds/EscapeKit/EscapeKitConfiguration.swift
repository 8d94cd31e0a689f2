import EventModel
import Foundation

/// One EscapeKit feed. EscapeKit's documentation names neither a base URL nor an auth scheme, so
/// both are configured: `apiURL` is the events endpoint itself, and the token travels in
/// `authHeader` as `"<authScheme> <token>"` (or the bare token when the scheme is empty, for
/// `X-API-Key`-style headers). The token is only its value, read from the environment.
public struct EscapeKitConfiguration: Sendable {
    public var name: String
    /// The events endpoint (`page_size`, `page_from` and the filters are added to its query).
    public var apiURL: String
    public var token: SecretString
    public var authHeader: String
    /// Put before the token with a space; empty: the header carries the bare token.
    public var authScheme: String
    /// `page_size`, always sent: a page shorter than this is the end of the timeline.
    public var pageSize: Int
    /// The query filters EscapeKit documents (`inventory_project`, …, `state_deployment`), by name.
    public var filters: [String: String]
    public var interval: Duration
    public var backfillHours: Int
    /// How late an event may appear below newer ones and still be delivered (see `TimelineWalk`).
    public var lateness: Duration
    public var maxPages: Int
    /// The `environment` of events that carry no `state_environment` of their own.
    public var environment: String?

    public init(
        name: String = "escapekit", apiURL: String, token: SecretString, authHeader: String = EscapeKitConfiguration.defaultAuthHeader,
        authScheme: String = EscapeKitConfiguration.defaultAuthScheme, pageSize: Int = EscapeKitConfiguration.defaultPageSize,
        filters: [String: String] = [:], interval: Duration = .seconds(30), backfillHours: Int = 0, lateness: Duration = .seconds(300),
        maxPages: Int = 50, environment: String? = nil
    ) {
        self.name = name
        self.apiURL = apiURL
        self.token = token
        self.authHeader = authHeader
        self.authScheme = authScheme
        self.pageSize = pageSize
        self.filters = filters
        self.interval = interval
        self.backfillHours = backfillHours
        self.lateness = lateness
        self.maxPages = maxPages
        self.environment = environment
    }

    public static let defaultAuthHeader = "Authorization"
    public static let defaultAuthScheme = "Bearer"
    public static let defaultTokenEnv = "ESCAPEKIT_API_TOKEN"
    public static let defaultPageSize = 100
    public static let pageSizes = 1...1000

    /// The events endpoint's filters, in the order they are sent. Each but the first applies only
    /// when the ones it refines are set (`requires`), and the `state_*` ones only without
    /// `inventory_project`: EscapeKit silently ignores them otherwise, so such a set is refused.
    public static let filterKeys = [
        "inventory_project", "inventory_application", "inventory_version", "state_project", "state_environment", "state_deployment",
    ]

    static let requires: [String: [String]] = [
        "inventory_application": ["inventory_project"],
        "inventory_version": ["inventory_project", "inventory_application"],
        "state_environment": ["state_project"],
        "state_deployment": ["state_project", "state_environment"],
    ]

    /// Why this set of filters would not filter as written (the key at fault and the reason), or nil.
    public static func filterProblem(_ filters: [String: String]) -> (key: String, message: String)? {
        for key in filterKeys where filters[key] != nil {
            for needed in requires[key] ?? [] where filters[needed] == nil {
                return (key, "is ignored by EscapeKit unless \(needed) is set too")
            }
            if key.hasPrefix("state_"), filters["inventory_project"] != nil {
                return (key, "is ignored by EscapeKit when inventory_project is set: use one or the other")
            }
        }
        return nil
    }

    /// Whether `text` can be an HTTP header name (an RFC 9110 token).
    public static func isHeaderName(_ text: String) -> Bool {
        let allowed = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
        return !text.isEmpty && text.count <= 100 && text.allSatisfy { allowed.contains($0) }
    }
}
