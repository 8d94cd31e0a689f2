import Delivery
import EventModel
import Feeds
import Foundation
import HTTPClient
import HTTPServer
import Logging
import YAMLSupport

/// Everything `serve` needs, with embedded defaults: store under ./data, admin API on
/// 127.0.0.1:8080, rules from ./rules. `docs/configuration.md` documents every key.
public struct RelayConfiguration: Sendable {
    public var dataDirectory: String = "./data"
    public var rulesDirectory: String = "./rules"
    public var logLevel: Logger.Level = .info

    public var adminHost: String = "127.0.0.1"
    public var adminPort: UInt16 = 8080
    /// The environment variable holding the admin token. Unset: a generated token in the data directory.
    public var adminTokenEnv: String = "EVENT_RELAY_ADMIN_TOKEN"
    public var adminMaxBodyBytes: Int = 64 * 1024
    public var adminConnectionTimeout: Duration = .seconds(30)
    public var adminConnectionLimit: Int = 512

    public var httpClient = HTTPClientConfiguration(connectTimeout: .seconds(5), requestTimeout: .seconds(15), maxResponseBytes: 4 << 20)

    public var dispatcher = DispatcherConfiguration()
    /// How long SIGTERM waits for in-flight deliveries before abandoning them (they stay pending).
    public var shutdownGrace: Duration = .seconds(10)

    /// Scalingo feeds, each with its token's variable name (resolved by `resolveFeeds`).
    public var scalingoFeeds: [ScalingoFeedSettings] = []

    public init() {}

    /// A Scalingo feed as configured: everything but the token (with `ScalingoConfiguration`'s
    /// defaults), and the name of the variable that holds the token.
    public struct ScalingoFeedSettings: Sendable {
        public var configuration = ScalingoConfiguration(
            name: "scalingo", apiURL: ScalingoConfiguration.regions["osc-fr1"]!, token: SecretString(""))
        public var tokenEnv = "SCALINGO_API_TOKEN"
        /// Where it was declared, for error messages.
        public var location = "defaults"

        public init() {}
    }

    /// The feeds with their secrets read from the environment.
    public func resolveFeeds(environment: [String: String]) throws(ConfigurationError) -> [ScalingoConfiguration] {
        try scalingoFeeds.map { settings throws(ConfigurationError) in
            guard let token = environment[settings.tokenEnv], !token.isEmpty else {
                throw ConfigurationError("\(settings.location): feed \(settings.configuration.name): environment variable \(settings.tokenEnv) (the Scalingo API token) is not set")
            }
            var resolved = settings.configuration
            resolved.token = SecretString(token)
            return resolved
        }
    }
}

public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Reads the YAML config file. Unknown keys, wrong types and out-of-range values are errors
/// naming the file, line and key; nothing starts on a bad file.
public enum ConfigurationLoader {
    static let topKeys = ["data_dir", "rules_dir", "log_level", "admin", "http_client", "delivery", "feeds"]
    static let adminKeys = ["listen", "token_env", "max_body_bytes", "connection_timeout", "connection_limit"]
    static let clientKeys = ["connect_timeout", "request_timeout", "max_response_bytes"]
    static let deliveryKeys = ["concurrency", "lease", "max_attempts", "initial_backoff", "max_backoff", "shutdown_grace"]
    static let feedKinds = ["scalingo"]

    /// Every key the loader accepts (docs/configuration.md must document each).
    public static var documentedKeys: [String] {
        topKeys.filter { !["admin", "http_client", "delivery", "feeds"].contains($0) } + adminKeys + clientKeys + deliveryKeys
            + scalingoKeys
    }
    static let scalingoKeys = [
        "name", "region", "api_url", "auth_url", "token_env", "user_events", "apps", "interval", "backfill_hours", "lateness",
        "page_size", "max_pages", "environment",
    ]

    /// With no file: the embedded defaults, plus a Scalingo feed when `SCALINGO_API_TOKEN` is set
    /// (region from `SCALINGO_REGION`, apps from `SCALINGO_APPS`, comma-separated; `SCALINGO_API_URL`
    /// and `SCALINGO_AUTH_URL` override the endpoints, e.g. for a test double).
    public static func load(path: String?, environment: [String: String]) throws -> RelayConfiguration {
        guard let path else { return try defaults(environment: environment) }
        let document = try YAMLValue.load(contentsOf: URL(fileURLWithPath: path), displayName: path)
        return try parse(document, environment: environment)
    }

    public static func defaults(environment: [String: String]) throws(ConfigurationError) -> RelayConfiguration {
        var configuration = RelayConfiguration()
        if let token = environment["SCALINGO_API_TOKEN"], !token.isEmpty {
            var feed = RelayConfiguration.ScalingoFeedSettings()
            if let region = environment["SCALINGO_REGION"], let url = ScalingoConfiguration.regions[region] { feed.configuration.apiURL = url }
            if let url = environment["SCALINGO_API_URL"], !url.isEmpty { feed.configuration.apiURL = url }
            if let url = environment["SCALINGO_AUTH_URL"], !url.isEmpty { feed.configuration.authURL = url }
            feed.configuration.apps = (environment["SCALINGO_APPS"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }
            feed.location = "environment (SCALINGO_API_TOKEN)"
            for (name, url) in [("SCALINGO_API_URL", feed.configuration.apiURL), ("SCALINGO_AUTH_URL", feed.configuration.authURL)] {
                if let problem = Subscription.validateURL(url, field: name) { throw ConfigurationError("\(problem)") }
            }
            if let region = environment["SCALINGO_REGION"], !region.isEmpty, ScalingoConfiguration.regions[region] == nil {
                throw ConfigurationError("SCALINGO_REGION: unknown region \(region) (known: \(ScalingoConfiguration.regions.keys.sorted().joined(separator: ", ")))")
            }
            configuration.scalingoFeeds = [feed]
        }
        return configuration
    }

    public static func parse(_ document: YAMLValue, environment: [String: String]) throws(YAMLError) -> RelayConfiguration {
        var configuration = RelayConfiguration()
        let top = try document.mapping()
        try top.allowOnly(topKeys)
        if let value = top["data_dir"] { configuration.dataDirectory = try value.nonEmptyString() }
        if let value = top["rules_dir"] { configuration.rulesDirectory = try value.nonEmptyString() }
        if let value = top["log_level"] {
            guard let level = Logger.Level(rawValue: try value.string().lowercased()) else {
                throw value.error("must be one of: trace, debug, info, notice, warning, error, critical")
            }
            configuration.logLevel = level
        }
        if let admin = top["admin"], !admin.isNull {
            let fields = try admin.mapping()
            try fields.allowOnly(adminKeys)
            if let listen = fields["listen"] {
                let (host, port) = try parseListen(listen)
                configuration.adminHost = host
                configuration.adminPort = port
            }
            if let value = fields["token_env"] { configuration.adminTokenEnv = try value.environmentVariableName() }
            if let value = fields["max_body_bytes"] { configuration.adminMaxBodyBytes = try value.int(in: 1024...(16 << 20)) }
            if let value = fields["connection_timeout"] {
                configuration.adminConnectionTimeout = try value.duration(in: .seconds(1)...(.seconds(3600)))
            }
            if let value = fields["connection_limit"] { configuration.adminConnectionLimit = try value.int(in: 1...100_000) }
        }
        if let client = top["http_client"], !client.isNull {
            let fields = try client.mapping()
            try fields.allowOnly(clientKeys)
            if let value = fields["connect_timeout"] {
                configuration.httpClient.connectTimeout = try value.duration(in: .milliseconds(100)...(.seconds(120)))
            }
            if let value = fields["request_timeout"] {
                configuration.httpClient.requestTimeout = try value.duration(in: .milliseconds(100)...(.seconds(600)))
            }
            if let value = fields["max_response_bytes"] { configuration.httpClient.maxResponseBytes = try value.int(in: 1024...(256 << 20)) }
        }
        if let delivery = top["delivery"], !delivery.isNull {
            let fields = try delivery.mapping()
            try fields.allowOnly(deliveryKeys)
            if let value = fields["concurrency"] { configuration.dispatcher.concurrency = try value.int(in: 1...1024) }
            if let value = fields["lease"] { configuration.dispatcher.lease = try value.duration(in: .seconds(5)...(.seconds(3600))) }
            if let value = fields["max_attempts"] { configuration.dispatcher.retry.maxAttempts = try value.int(in: 1...1000) }
            if let value = fields["initial_backoff"] {
                configuration.dispatcher.retry.initialBackoff = try value.duration(in: .milliseconds(10)...(.seconds(3600)))
            }
            if let value = fields["max_backoff"] {
                configuration.dispatcher.retry.maxBackoff = try value.duration(in: .milliseconds(10)...(.seconds(86400)))
            }
            if let value = fields["shutdown_grace"] { configuration.shutdownGrace = try value.duration(in: .zero...(.seconds(600))) }
            if configuration.dispatcher.retry.maxBackoff < configuration.dispatcher.retry.initialBackoff {
                throw (fields["max_backoff"] ?? delivery).error("must not be shorter than initial_backoff")
            }
        }
        if let feeds = top["feeds"], !feeds.isNull {
            let kinds = try feeds.mapping()
            try kinds.allowOnly(feedKinds)
            var names: Set<String> = []
            if let list = kinds["scalingo"], !list.isNull {
                for entry in try list.sequence() {
                    let feed = try scalingoFeed(entry)
                    guard names.insert(feed.configuration.name).inserted else {
                        throw entry.error("another feed is already named \(feed.configuration.name)")
                    }
                    configuration.scalingoFeeds.append(feed)
                }
            }
        }
        return configuration
    }

    static func scalingoFeed(_ value: YAMLValue) throws(YAMLError) -> RelayConfiguration.ScalingoFeedSettings {
        let fields = try value.mapping()
        try fields.allowOnly(scalingoKeys)
        var feed = RelayConfiguration.ScalingoFeedSettings()
        feed.location = "\(value.file):\(value.line)"
        if let name = fields["name"] {
            feed.configuration.name = try name.nonEmptyString()
            let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-_")
            guard feed.configuration.name.allSatisfy({ allowed.contains($0) }), feed.configuration.name.count <= 64 else {
                throw name.error("must be lower-case letters, digits, - and _ (at most 64)")
            }
        }
        if let region = fields["region"] {
            guard let url = ScalingoConfiguration.regions[try region.string()] else {
                throw region.error("unknown region (known: \(ScalingoConfiguration.regions.keys.sorted().joined(separator: ", ")); or set api_url)")
            }
            feed.configuration.apiURL = url
        }
        if let url = fields["api_url"] { feed.configuration.apiURL = try httpURL(url) }
        if let url = fields["auth_url"] { feed.configuration.authURL = try httpURL(url) }
        if let env = fields["token_env"] { feed.tokenEnv = try env.environmentVariableName() }
        if let value = fields["user_events"] { feed.configuration.userEvents = try value.bool() }
        if let value = fields["apps"] {
            feed.configuration.apps = try value.stringList()
            for app in feed.configuration.apps where app.isEmpty || app.contains("/") { throw value.error("app names must not be empty or contain /") }
        }
        if let value = fields["interval"] { feed.configuration.interval = try value.duration(in: .seconds(1)...(.seconds(86400))) }
        if let value = fields["backfill_hours"] { feed.configuration.backfillHours = try value.int(in: 0...72) }
        if let value = fields["lateness"] { feed.configuration.lateness = try value.duration(in: .zero...(.seconds(86400))) }
        if let value = fields["page_size"] { feed.configuration.pageSize = try value.int(in: 1...100) }
        if let value = fields["max_pages"] { feed.configuration.maxPages = try value.int(in: 2...1000) }
        if let value = fields["environment"] { feed.configuration.environment = try value.nonEmptyString() }
        if !feed.configuration.userEvents && feed.configuration.apps.isEmpty {
            throw value.error("feed \(feed.configuration.name) polls nothing: enable user_events or list apps")
        }
        return feed
    }

    static func parseListen(_ value: YAMLValue) throws(YAMLError) -> (String, UInt16) {
        let text = try value.string()
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else {
            throw value.error("must be address:port, like 127.0.0.1:8080")
        }
        let host = String(text[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        guard host == "localhost" || host.split(separator: ".").count == 4 || host.contains(":") else {
            throw value.error("the address must be an IP address (127.0.0.1, 0.0.0.0, ::1) or localhost")
        }
        return (host, port)
    }

    static func httpURL(_ value: YAMLValue) throws(YAMLError) -> String {
        let text = try value.string()
        if let problem = Subscription.validateURL(text, field: value.path) { throw value.error(problem.message) }
        return text
    }
}
