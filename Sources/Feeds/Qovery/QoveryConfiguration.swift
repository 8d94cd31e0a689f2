import EventModel
import Foundation

/// One Qovery feed: an organization's audit events (`GET /organization/{id}/events`). The token
/// itself is never in the configuration file: only the name of the variable that holds it.
public struct QoveryConfiguration: Sendable {
    /// How the token is presented: `Token <t>` for an API token (the default), `Bearer <t>` for a JWT.
    public enum AuthScheme: String, Sendable, CaseIterable {
        case token
        case bearer

        var headerPrefix: String {
            switch self {
            case .token: "Token"
            case .bearer: "Bearer"
            }
        }
    }

    /// The API's own filters, sent as query parameters on the first page of every walk (the next
    /// pages follow `links.next` exactly, as Qovery gives it). Any non-empty value is accepted:
    /// Qovery adds enum values often; `QoveryCatalog` lists the ones documented so far.
    public struct Filters: Sendable, Equatable {
        public var eventType: String?
        public var targetType: String?
        public var subTargetType: String?
        public var triggeredBy: String?
        public var targetID: String?
        public var serviceProjectID: String?
        public var serviceEnvironmentID: String?
        public var origin: String?

        public init(
            eventType: String? = nil, targetType: String? = nil, subTargetType: String? = nil, triggeredBy: String? = nil,
            targetID: String? = nil, serviceProjectID: String? = nil, serviceEnvironmentID: String? = nil, origin: String? = nil
        ) {
            self.eventType = eventType
            self.targetType = targetType
            self.subTargetType = subTargetType
            self.triggeredBy = triggeredBy
            self.targetID = targetID
            self.serviceProjectID = serviceProjectID
            self.serviceEnvironmentID = serviceEnvironmentID
            self.origin = origin
        }

        /// The query parameters, in the API's spelling, in a fixed order.
        var query: [(String, String)] {
            let pairs: [(String, String?)] = [
                ("eventType", eventType), ("targetType", targetType), ("subTargetType", subTargetType), ("triggeredBy", triggeredBy),
                ("targetId", targetID), ("serviceProjectId", serviceProjectID), ("serviceEnvironmentId", serviceEnvironmentID),
                ("origin", origin),
            ]
            return pairs.compactMap { name, value in value.map { (name, $0) } }
        }
    }

    public var name: String
    public var apiURL: String
    /// The organization whose events are read (a UUID, stored lower-cased).
    public var organizationID: String
    public var token: SecretString
    public var authScheme: AuthScheme
    public var filters: Filters
    public var interval: Duration
    /// On the very first start, deliver the events of the last N hours (also sent as `fromTimestamp`). 0: none.
    public var backfillHours: Int
    /// How far below the newest event seen a late insertion is still caught.
    public var lateness: Duration
    /// `pageSize`; nil leaves the API's default (10).
    public var pageSize: Int?
    /// Pages read per poll at most; a walk cut short resumes on the next poll from the exact link.
    public var maxPages: Int
    /// The environment label of events that name none (`environment_name` wins when present).
    public var environment: String?

    public init(
        name: String, apiURL: String = QoveryConfiguration.defaultAPIURL, organizationID: String, token: SecretString,
        authScheme: AuthScheme = .token, filters: Filters = Filters(), interval: Duration = .seconds(30), backfillHours: Int = 0,
        lateness: Duration = .seconds(300), pageSize: Int? = nil, maxPages: Int = 50, environment: String? = nil
    ) {
        self.name = name
        self.apiURL = apiURL
        self.organizationID = organizationID.lowercased()
        self.token = token
        self.authScheme = authScheme
        self.filters = filters
        self.interval = interval
        self.backfillHours = backfillHours
        self.lateness = lateness
        self.pageSize = pageSize
        self.maxPages = maxPages
        self.environment = environment
    }

    public static let defaultAPIURL = "https://api.qovery.com"

    /// Qovery's page size when `pageSize` is not sent.
    public static let defaultPageSize = 10

    /// An organization id as Qovery writes them: a UUID (any case).
    public static func isOrganizationID(_ text: String) -> Bool { UUID(uuidString: text) != nil }
}
