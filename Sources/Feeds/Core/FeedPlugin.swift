import EventModel
import Foundation
import HTTPClient
import YAMLSupport

/// A feed that cannot be set up (a missing secret, a bad environment value). Safe to print.
public struct FeedSetupError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// One configured feed, as its platform's folder read it: everything but its secrets, which are
/// read from the environment when the feed is made (never from the configuration file).
public protocol FeedSettings: Sendable {
    /// The platform: its plug-in's `kind`.
    var kind: String { get }
    /// The feed's name (unique across all feeds): checkpoints are stored under it.
    var name: String { get }
    /// Where it was declared, for messages: `relay.yaml:12`, or the environment variable.
    var location: String { get }
    func makeFeed(environment: [String: String], transport: any HTTPTransport) throws(FeedSetupError) -> any EventFeed
}

/// One platform, as the relay sees it. Everything about a platform lives in its folder under
/// `Feeds/` (settings and their validation, the feed, its paging and checkpoint, decoding, docs);
/// `FeedRegistry` lists the folders, and nothing else names a platform.
public protocol FeedPlugin: Sendable {
    /// The key under `feeds:` in the configuration file, and the `source` of its events.
    static var kind: String { get }
    /// Every key a `feeds.<kind>` entry accepts (docs/configuration.md documents each).
    static var settingsKeys: [String] { get }
    /// Reads one `feeds.<kind>` entry; errors name the file, line, column and key.
    static func settings(from entry: YAMLValue) throws(YAMLError) -> any FeedSettings
    /// Feeds set up by environment variables alone, for a run without a configuration file.
    static func settings(environment: [String: String]) throws(FeedSetupError) -> [any FeedSettings]
    /// This platform's events in a JSON document (a raw event, or a page or webhook body that
    /// carries some), normalized; empty when the document is not this platform's.
    static func events(in document: JSONValue, feed: String, receivedAt: Date) -> [Event]
    /// One of this platform's events as a person should read it (nil: the generic presentation,
    /// from its summary). Must never include a secret value.
    static func presentation(of event: Event) -> EventPresentation?
    /// Whether events of `type` may carry values that must not travel (a variable's value).
    static func mayCarrySecretValues(type: String) -> Bool
    /// Where this event carries them: paths rooted at the event (`raw` or `details` first), `*`
    /// for every element. Empty: none.
    static func secretValuePaths(of event: Event) -> [[String]]
}

extension FeedPlugin {
    public static func settings(environment: [String: String]) throws(FeedSetupError) -> [any FeedSettings] { [] }
    public static func presentation(of event: Event) -> EventPresentation? { nil }
    public static func mayCarrySecretValues(type: String) -> Bool { false }
    public static func secretValuePaths(of event: Event) -> [[String]] { [] }
}

/// The relay's presenter: each platform presents (and redacts) its own events; anything else,
/// and any platform's type it does not present, gets the generic presentation. `extraPaths`
/// (the configuration's `delivery.redact_paths`: dotted paths into the raw document as filters
/// write them, or into the normalized `details` when they start with `details.`) are redacted
/// from every event, for every destination, before it is presented or sent.
public struct PlatformPresenter: EventPresenter {
    public let extraPaths: [[String]]

    public init(extraPaths: [String] = []) {
        self.extraPaths = extraPaths.map { path in
            let parts = path.split(separator: ".").map(String.init)
            return parts.first == "details" ? parts : ["raw"] + parts
        }
    }

    public func present(_ event: Event) -> EventPresentation {
        let event = extraPaths.isEmpty ? event : event.redacting(extraPaths)
        return FeedRegistry.plugin(kind: event.source)?.presentation(of: event) ?? GenericPresenter.presentation(of: event)
    }

    public func mayCarrySecretValues(source: String, type: String, keepingPlatformValues: Bool) -> Bool {
        !extraPaths.isEmpty || (!keepingPlatformValues && (FeedRegistry.plugin(kind: source)?.mayCarrySecretValues(type: type) ?? false))
    }

    public func redacted(_ event: Event, keepingPlatformValues: Bool) -> Event {
        let platform = keepingPlatformValues ? [] : FeedRegistry.plugin(kind: event.source)?.secretValuePaths(of: event) ?? []
        return event.redacting(platform + extraPaths)
    }
}

/// The platforms the relay knows. Adding one is a folder under `Feeds/` and a line here.
public enum FeedRegistry {
    public static let plugins: [any FeedPlugin.Type] = [
        QoveryFeedPlugin.self,
        ScalingoFeedPlugin.self,
        EscapeKitFeedPlugin.self,
    ]

    public static var kinds: [String] { plugins.map { $0.kind } }

    public static func plugin(kind: String) -> (any FeedPlugin.Type)? {
        plugins.first { $0.kind == kind }
    }

    /// A normalized event that arrived without a category (or summary), from a known platform
    /// with its raw document: what that platform's folder would have made of it fills them in.
    public static func completed(_ event: Event, receivedAt: Date) -> Event {
        guard event.category == nil, let plugin = plugin(kind: event.source),
              let read = plugin.events(in: event.raw, feed: event.feed, receivedAt: receivedAt).first, read.id == event.id
        else { return event }
        var completed = event
        completed.category = read.category
        if completed.summary == Event.defaultSummary(type: event.type, app: event.app ?? event.project, actor: event.actor) {
            completed.summary = read.summary
        }
        return completed
    }

    /// One event from a document: a normalized EventRelay event, or a raw event of a known
    /// platform (as `rules test --event` and `POST /v1/render` take them).
    public static func readEvent(_ document: JSONValue, receivedAt: Date) -> Event? {
        if let fields = document.objectValue, let normalized = Event(json: fields) {
            return completed(normalized, receivedAt: receivedAt)
        }
        return events(in: document, feed: "render", receivedAt: receivedAt)?.events.first
    }

    /// The events in a document of any known platform (the first that recognises it).
    public static func events(in document: JSONValue, feed: String, receivedAt: Date) -> (kind: String, events: [Event])? {
        for plugin in plugins {
            let events = plugin.events(in: document, feed: feed, receivedAt: receivedAt)
            if !events.isEmpty { return (plugin.kind, events) }
        }
        return nil
    }
}

/// The settings every polled feed shares, read the same way by every platform's folder.
public struct CommonFeedSettings: Sendable {
    public var name: String
    public var interval: Duration
    public var lateness: Duration = .seconds(300)
    public var maxPages = 50
    public var backfillHours = 0
    public var environment: String?
    public var location = "defaults"

    public init(name: String, interval: Duration = .seconds(30)) {
        self.name = name
        self.interval = interval
    }

    public static let keys = ["name", "interval", "lateness", "max_pages", "backfill_hours", "environment"]

    /// Reads the shared keys of one feed entry (the caller has checked the entry's keys).
    public mutating func read(_ fields: YAMLMapping, entry: YAMLValue) throws(YAMLError) {
        location = "\(entry.file):\(entry.line)"
        if let value = fields["name"] { name = try value.feedName() }
        if let value = fields["interval"] { interval = try value.duration(in: .seconds(1)...(.seconds(86400))) }
        if let value = fields["lateness"] { lateness = try value.duration(in: .zero...(.seconds(86400))) }
        if let value = fields["max_pages"] { maxPages = try value.int(in: 2...1000) }
        if let value = fields["backfill_hours"] { backfillHours = try value.int(in: 0...72) }
        if let value = fields["environment"] { environment = try value.nonEmptyString() }
    }

    /// The secret in `variable`, or an error naming the feed and the variable (never a value).
    public func secret(_ variable: String, what: String, environment: [String: String]) throws(FeedSetupError) -> SecretString {
        guard let value = environment[variable], !value.isEmpty else {
            throw FeedSetupError("\(location): feed \(name): environment variable \(variable) (\(what)) is not set")
        }
        return SecretString(value)
    }
}

extension YAMLValue {
    /// A feed's (or push feed's) name: it keys checkpoints and URLs.
    public func feedName() throws(YAMLError) -> String {
        let name = try nonEmptyString()
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-_")
        guard name.allSatisfy({ allowed.contains($0) }), name.count <= 64 else {
            throw error("must be lower-case letters, digits, - and _ (at most 64)")
        }
        return name
    }

    /// An http(s) URL, validated as subscription URLs are.
    public func httpURL() throws(YAMLError) -> String {
        let text = try string()
        if let problem = Subscription.validateURL(text, field: path) { throw error(problem.message) }
        return text
    }
}
