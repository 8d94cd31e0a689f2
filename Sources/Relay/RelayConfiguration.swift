import AdminAPI
import Delivery
import EventModel
import Feeds
import Foundation
import HTTPClient
import HTTPServer
import Logging
import Store
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
    /// How long settled deliveries stay in the delivery log.
    public var retention = RetentionPolicy()
    /// How long SIGTERM waits for in-flight deliveries before abandoning them (they stay pending).
    public var shutdownGrace: Duration = .seconds(10)
    /// Special-purpose networks (loopback, private, …) deliveries may connect to anyway.
    public var deliveryAllowedNetworks: [IPNetwork] = []

    /// What deliveries may connect to: public addresses, and `deliveryAllowedNetworks`.
    public var deliveryAddressPolicy: AddressPolicy {
        AddressPolicy(allowedNetworks: deliveryAllowedNetworks, settingName: "delivery.allowed_networks")
    }

    /// The feeds, of every platform, as their folders read them (secrets are read when each is made).
    public var feeds: [any FeedSettings] = []
    /// Feeds platforms push to (`POST /v1/ingest/{name}`).
    public var pushFeeds: [PushFeedSettings] = []
    /// Dotted paths into every event's raw document whose values no destination receives.
    public var redactPaths: [String] = []

    public init() {}
}

public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Reads the YAML config file. Unknown keys, wrong types and out-of-range values are errors
/// naming the file, line and key; nothing starts on a bad file.
public enum ConfigurationLoader {
    static let topKeys = ["data_dir", "rules_dir", "log_level", "admin", "http_client", "delivery", "feeds", "push"]
    static let adminKeys = ["listen", "token_env", "max_body_bytes", "connection_timeout", "connection_limit"]
    static let clientKeys = ["connect_timeout", "request_timeout", "max_response_bytes"]
    static let deliveryKeys = [
        "concurrency", "lease", "retry_schedule", "max_attempts", "initial_backoff", "max_backoff", "max_retry_after",
        "breaker_threshold", "breaker_probe_interval", "disable_after", "keep_delivered", "keep_dead_letters", "shutdown_grace", "allowed_networks",
        "redact_paths",
    ]

    /// Every key the loader accepts (docs/configuration.md must document each).
    public static var documentedKeys: [String] {
        topKeys.filter { !["admin", "http_client", "delivery", "feeds"].contains($0) } + adminKeys + clientKeys + deliveryKeys
            + FeedRegistry.plugins.flatMap { $0.settingsKeys } + PushFeedSettings.keys
    }

    /// With no file: the embedded defaults, plus the feeds each platform sets up from the
    /// environment alone (for Scalingo, `SCALINGO_API_TOKEN`).
    public static func load(path: String?, environment: [String: String]) throws -> RelayConfiguration {
        guard let path else { return try defaults(environment: environment) }
        let document = try YAMLValue.load(contentsOf: URL(fileURLWithPath: path), displayName: path)
        return try parse(document, environment: environment)
    }

    public static func defaults(environment: [String: String]) throws(ConfigurationError) -> RelayConfiguration {
        var configuration = RelayConfiguration()
        for plugin in FeedRegistry.plugins {
            do {
                configuration.feeds += try plugin.settings(environment: environment)
            } catch {
                throw ConfigurationError(error.description)
            }
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
            if let value = fields["concurrency"] {
                configuration.dispatcher.concurrency = try value.int(in: 1...DeliveryOptions.maxConcurrency)
            }
            if let value = fields["lease"] { configuration.dispatcher.lease = try value.duration(in: .seconds(5)...(.seconds(3600))) }
            let exponential = ["max_attempts", "initial_backoff", "max_backoff"].compactMap { fields[$0] }
            if let value = fields["retry_schedule"] {
                if let other = exponential.first {
                    throw other.error("give either retry_schedule or max_attempts/initial_backoff/max_backoff, not both")
                }
                let steps = try value.sequence()
                guard steps.count <= DeliveryOptions.maxRetrySteps else { throw value.error("has more than \(DeliveryOptions.maxRetrySteps) steps") }
                configuration.dispatcher.retry.delays = try steps.map { step throws(YAMLError) in
                    try step.duration(in: .zero...DeliveryOptions.maxRetryDelay)
                }
            } else if !exponential.isEmpty {
                let attempts = try fields["max_attempts"]?.int(in: 1...DeliveryOptions.maxRetrySteps + 1) ?? 8
                let initial = try fields["initial_backoff"]?.duration(in: .milliseconds(10)...(.seconds(3600))) ?? .seconds(5)
                let maximum = try fields["max_backoff"]?.duration(in: .milliseconds(10)...(.seconds(86400))) ?? .seconds(36000)
                if maximum < initial {
                    throw (fields["max_backoff"] ?? delivery).error("must not be shorter than initial_backoff")
                }
                configuration.dispatcher.retry.delays = RetrySchedule.exponential(initial: initial, maximum: maximum, attempts: attempts).delays
            }
            if let value = fields["max_retry_after"] {
                configuration.dispatcher.retry.maxRetryAfter = try value.duration(in: .seconds(1)...(.seconds(86400)))
            }
            if let value = fields["breaker_threshold"] { configuration.dispatcher.breaker.threshold = try value.int(in: 1...1000) }
            if let value = fields["breaker_probe_interval"] {
                // Probes start a second apart and double up to this.
                let interval = try value.duration(in: .milliseconds(100)...(.seconds(3600)))
                configuration.dispatcher.breaker = CircuitBreaker.Settings(
                    threshold: configuration.dispatcher.breaker.threshold, initialCooldown: min(.seconds(1), interval), maxCooldown: interval)
            }
            if let value = fields["disable_after"] {
                configuration.dispatcher.disableAfter = try value.duration(in: .seconds(60)...(.seconds(365 * 86400)))
            }
            if let value = fields["keep_delivered"] {
                configuration.retention.delivered = try value.duration(in: .seconds(60)...(.seconds(3650 * 86400)))
            }
            if let value = fields["keep_dead_letters"] {
                configuration.retention.deadLetters = try value.duration(in: .seconds(60)...(.seconds(3650 * 86400)))
            }
            if let value = fields["shutdown_grace"] { configuration.shutdownGrace = try value.duration(in: .zero...(.seconds(600))) }
            if let value = fields["redact_paths"], !value.isNull {
                for entry in try value.sequence() {
                    let path = try entry.nonEmptyString()
                    guard !path.split(separator: ".", omittingEmptySubsequences: false).contains(where: \.isEmpty), path.count <= 256 else {
                        throw entry.error("must be a dotted path into the raw event, such as type_data.password (* for every element)")
                    }
                    configuration.redactPaths.append(path)
                }
            }
            if let value = fields["allowed_networks"], !value.isNull {
                for entry in try value.sequence() {
                    let text = try entry.string()
                    do throws(IPNetwork.ParseError) {
                        configuration.deliveryAllowedNetworks.append(try IPNetwork(text))
                    } catch {
                        throw entry.error(error.description)
                    }
                }
            }
        }
        if let feeds = top["feeds"], !feeds.isNull {
            let kinds = try feeds.mapping()
            try kinds.allowOnly(FeedRegistry.kinds)
            var names: Set<String> = []
            for (kind, _, list) in kinds.entries where !list.isNull {
                guard let plugin = FeedRegistry.plugin(kind: kind) else { continue }
                for entry in try list.sequence() {
                    let feed = try plugin.settings(from: entry)
                    guard names.insert(feed.name).inserted else { throw entry.error("another feed is already named \(feed.name)") }
                    configuration.feeds.append(feed)
                }
            }
        }
        if let push = top["push"], !push.isNull {
            // One namespace with the polled feeds: events say their feed's name, and the API looks feeds up by it.
            var names = Set(configuration.feeds.map(\.name))
            for entry in try push.sequence() {
                let feed = try PushFeedSettings.parse(entry)
                guard names.insert(feed.name).inserted else { throw entry.error("another feed is already named \(feed.name)") }
                configuration.pushFeeds.append(feed)
            }
        }
        // A lease must outlast the request it covers (and the write of its outcome): a shorter one
        // lets the delivery be claimed, and sent, again while it is still in flight.
        let timeout = configuration.httpClient.requestTimeout
        if configuration.dispatcher.lease < timeout * 2 {
            let place = top["delivery"].flatMap { try? $0.mapping() }?["lease"] ?? top["http_client"] ?? document
            throw place.error(
                "delivery.lease (\(DurationText.format(configuration.dispatcher.lease))) must be at least twice "
                    + "http_client.request_timeout (\(DurationText.format(timeout)))")
        }
        return configuration
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
}
