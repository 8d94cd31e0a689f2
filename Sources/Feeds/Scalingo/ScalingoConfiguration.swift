import EventModel
import Foundation

/// One Scalingo feed. The API token itself is never here: only its value, read from the
/// environment variable the config file names, wrapped so it never prints.
public struct ScalingoConfiguration: Sendable {
    public var name: String
    public var apiURL: String
    public var authURL: String
    public var token: SecretString
    /// Poll the user timeline (`/v1/events`): the only place account events such as `login_lock` appear.
    public var userEvents: Bool
    /// Apps whose own timelines (`/v1/apps/{app}/events`) are polled too.
    public var apps: [String]
    /// Poll every app the token can see (`GET /v1/apps`), following apps created and deleted
    /// later, instead of `apps`.
    public var allApps = false
    /// With `allApps`: how often the list of apps is read again.
    public var appsRefresh: Duration = .seconds(300)
    public var interval: Duration
    /// On the very first start, deliver the events of the last N hours (the API's `from`, at most 72). 0: none.
    public var backfillHours: Int
    /// How far below the newest event seen a late insertion is still caught: every poll reads the
    /// timeline down past `newest - lateness`.
    public var lateness: Duration
    /// `per_page`; nil leaves the API's default (30).
    public var pageSize: Int?
    /// Pages read per stream and poll at most; a walk cut short resumes on the next poll.
    public var maxPages: Int
    /// A label put on every event as its `environment` (Scalingo has no environments of its own).
    public var environment: String?
    /// The token's allowance: Scalingo allows 60 requests a minute. Every request of every
    /// timeline of the feed waits its turn.
    public var requestsPerMinute = 60
    /// For `run` events (a one-off console or command): fetch its audit log and attach an excerpt
    /// of at most `auditLogExcerptBytes` to the event's `details` (webhooks carry it). Off by default.
    public var auditLogs = false
    public var auditLogExcerptBytes = 4096

    public init(
        name: String, apiURL: String, authURL: String = ScalingoConfiguration.defaultAuthURL, token: SecretString,
        userEvents: Bool = true, apps: [String] = [], interval: Duration = .seconds(30), backfillHours: Int = 0,
        lateness: Duration = .seconds(300), pageSize: Int? = nil, maxPages: Int = 50, environment: String? = nil
    ) {
        self.name = name
        self.apiURL = apiURL
        self.authURL = authURL
        self.token = token
        self.userEvents = userEvents
        self.apps = apps
        self.interval = interval
        self.backfillHours = backfillHours
        self.lateness = lateness
        self.pageSize = pageSize
        self.maxPages = maxPages
        self.environment = environment
    }

    /// Scalingo's page size when `per_page` is not sent.
    public static let defaultPageSize = 30

    public static let defaultAPIURL = "https://api.osc-fr1.scalingo.com"

    public static let defaultAuthURL = "https://auth.scalingo.com"

    /// The event with `details.dashboard_url`, the app's page in Scalingo's dashboard, when the
    /// feed's API is a known region's (the region is in the dashboard's address) and the event
    /// names an app. Messages link to it.
    public static func withDashboardLink(_ event: Event, apiURL: String) -> Event {
        let api = apiURL.hasSuffix("/") ? String(apiURL.dropLast()) : apiURL
        guard let region = regions.first(where: { $0.value == api })?.key, let app = event.app,
              !app.isEmpty, app.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
        else { return event }
        var linked = event
        var details = event.details?.objectValue ?? [:]
        details["dashboard_url"] = .string("https://dashboard.scalingo.com/apps/\(region)/\(app)")
        linked.details = .object(details)
        return linked
    }

    /// The API endpoint of each Scalingo region.
    public static let regions: [String: String] = [
        "osc-fr1": defaultAPIURL,
        "osc-secnum-fr1": "https://api.osc-secnum-fr1.scalingo.com",
    ]
}
