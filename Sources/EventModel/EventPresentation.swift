import Foundation

/// What a person needs to read from an event, in plain text, whatever the destination: whether
/// it is good or bad news, what happened to what, the facts that matter for its type, and where
/// to look. Each platform's folder under `Feeds/` presents its own types (it alone knows them);
/// each chat or mail destination renders a presentation in its own format. Never holds a
/// secret value: variable values are left out by the platform's presenter.
public struct EventPresentation: Sendable, Equatable {
    public enum Tone: String, Sendable, Equatable {
        case success, failure, warning, progress, info
    }

    public struct Fact: Sendable, Equatable {
        public var label: String
        public var value: String
        /// Where the value points (a commit, a pull request).
        public var link: String?
        /// Shown as code (a command, a git ref, an identifier).
        public var code: Bool

        public init(_ label: String, _ value: String, link: String? = nil, code: Bool = false) {
            self.label = label
            self.value = value
            self.link = link
            self.code = code
        }
    }

    public struct Link: Sendable, Equatable {
        public var label: String
        public var url: String

        public init(_ label: String, _ url: String) {
            self.label = label
            self.url = url
        }
    }

    public var tone: Tone
    /// What happened, short: "Deployment failed", "App scaled".
    public var title: String
    /// What it happened to: the app (or project, or account).
    public var subject: String?
    /// Who did it.
    public var actor: String?
    public var facts: [Fact]
    /// Where to look: the platform's page for the app, the deployment, the pull request.
    public var links: [Link]
    /// The whole message as one line of plain text (notifications, chat fallbacks, subjects).
    public var fallback: String
    /// The story this event belongs to (a deployment's), when later events continue it: a chat
    /// destination that can edit messages updates, or replies under, the first one.
    public var thread: String?

    public init(
        tone: Tone, title: String, subject: String? = nil, actor: String? = nil, facts: [Fact] = [], links: [Link] = [],
        fallback: String, thread: String? = nil
    ) {
        self.thread = thread
        self.tone = tone
        self.title = title
        self.subject = subject
        self.actor = actor
        self.facts = facts
        self.links = links
        self.fallback = fallback
    }

    /// What ends every text cut short, wherever it is cut (a presenter's fact, a summary, a
    /// destination's limit): a reader always knows there was more.
    public static let truncationMarker = "… (truncated)"

    /// At most `limit` characters, the cut ones replaced by `truncationMarker`.
    public static func clip(_ text: String, _ limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(max(0, limit - truncationMarker.count))) + truncationMarker
    }

    /// Only http(s) links with nothing that could break out of a chat's link markup.
    public static func safeLink(_ text: String?) -> String? {
        guard let text, text.hasPrefix("https://") || text.hasPrefix("http://"), text.count <= 2000,
              !text.contains(where: { $0 == "|" || $0 == "<" || $0 == ">" || $0 == " " || $0 == "\"" || $0.isNewline })
        else { return nil }
        return text
    }
}

/// Presents events and removes the secret values their raw documents carry. The relay's is
/// the feed registry's (each platform presents its own types); `GenericPresenter` stands in
/// where none is given.
public protocol EventPresenter: Sendable {
    func present(_ event: Event) -> EventPresentation
    /// Whether events of this source and type may carry values that must not travel (variable
    /// values, configured paths): cheap, so a sender skips decoding the others. With
    /// `keepingPlatformValues`, only the configured paths count (a webhook that asked for raw values).
    func mayCarrySecretValues(source: String, type: String, keepingPlatformValues: Bool) -> Bool
    /// The event with those values (in `raw` and `details`) replaced by `[redacted]`.
    func redacted(_ event: Event, keepingPlatformValues: Bool) -> Event
}

extension EventPresenter {
    public func mayCarrySecretValues(source: String, type: String) -> Bool {
        mayCarrySecretValues(source: source, type: type, keepingPlatformValues: false)
    }

    public func redacted(_ event: Event) -> Event { redacted(event, keepingPlatformValues: false) }
}

extension Event {
    /// A copy with the values at `paths` replaced, each path rooted at the event: its first key
    /// is `raw` or `details`.
    public func redacting(_ paths: [[String]]) -> Event {
        var copy = self
        let raw = paths.filter { $0.first == "raw" }.map { Array($0.dropFirst()) }
        let details = paths.filter { $0.first == "details" }.map { Array($0.dropFirst()) }
        if !raw.isEmpty { copy.raw = self.raw.redacting(raw) }
        if !details.isEmpty, let value = self.details { copy.details = value.redacting(details) }
        return copy
    }
}

/// Any event, from its normalized fields only: its summary, category and scope.
public struct GenericPresenter: EventPresenter {
    public init() {}

    public func present(_ event: Event) -> EventPresentation {
        Self.presentation(of: event)
    }

    public func mayCarrySecretValues(source: String, type: String, keepingPlatformValues: Bool) -> Bool { false }

    public func redacted(_ event: Event, keepingPlatformValues: Bool) -> Event { event }

    public static func presentation(of event: Event) -> EventPresentation {
        if event.source == Event.relaySource, event.type == "relay.digest", let digest = digestPresentation(of: event) { return digest }
        var facts: [EventPresentation.Fact] = []
        if let app = event.app { facts.append(.init("App", app)) }
        if let project = event.project { facts.append(.init("Project", project)) }
        if let environment = event.environment { facts.append(.init("Environment", environment)) }
        if let actor = event.actor?.displayName { facts.append(.init("By", actor)) }
        let title = event.summary.prefix(1).uppercased() + event.summary.dropFirst()
        return EventPresentation(
            tone: tone(of: event.category), title: title, subject: nil, actor: event.actor?.displayName, facts: facts,
            fallback: title)
    }

    /// A digest (`relay.digest`): how many events, by type and by app, the first few by name, and how many more.
    static func digestPresentation(of event: Event) -> EventPresentation? {
        guard let details = event.details?.objectValue, let count = details["count"]?.intValue else { return nil }
        func tally(_ key: String) -> String {
            let counts = (details[key]?.objectValue ?? [:]).compactMap { name, value in value.intValue.map { (name, $0) } }
            return counts.sorted { ($0.1, $1.0) > ($1.1, $0.0) }.prefix(10).map { "\($0.0) ×\($0.1)" }.joined(separator: ", ")
                + (counts.count > 10 ? ", …" : "")
        }
        var facts: [EventPresentation.Fact] = []
        let group = (details["group"]?.objectValue ?? [:]).sorted { $0.key < $1.key }
        for (path, value) in group { facts.append(.init(path.prefix(1).uppercased() + path.dropFirst(), value.scalarText ?? "(none)")) }
        let byType = tally("by_type")
        if !byType.isEmpty { facts.append(.init("By type", byType)) }
        let byApp = tally("by_app")
        if !byApp.isEmpty { facts.append(.init("By app", byApp)) }
        let first = (details["first"]?.arrayValue ?? []).compactMap { item -> String? in
            guard let summary = item["summary"]?.stringValue else { return nil }
            let time = item["time"]?.intValue.map { Date(timeIntervalSince1970: Double($0) / 1000).formatted(.iso8601.time(includingFractionalSeconds: false)) }
            return [time, item["app"]?.stringValue, summary].compactMap { $0 }.joined(separator: " · ")
        }
        if !first.isEmpty { facts.append(.init(first.count < Int(count) ? "First \(first.count)" : "Events", first.joined(separator: "\n"))) }
        if Int(count) > first.count { facts.append(.init("And", "\(Int(count) - first.count) more")) }
        let subject = group.compactMap { $0.value.scalarText }.joined(separator: " · ")
        let title = "Digest: \(count) event\(count == 1 ? "" : "s")"
        let tone: EventPresentation.Tone = details["tone"]?.stringValue == "failure" ? .failure : .info
        return EventPresentation(
            tone: tone, title: title, subject: subject.isEmpty ? nil : subject, facts: facts,
            fallback: subject.isEmpty ? "\(title): \(byType)" : "\(title) for \(subject): \(byType)")
    }

    /// Good or bad news, by category (unknown: information).
    public static func tone(of category: EventCategory?) -> EventPresentation.Tone {
        switch category {
        case .deployFailed?, .appCrashed?, .databaseBackupFailed?, .relayDeadLetter?, .relaySubscriptionDisabled?: return .failure
        case .deploySucceeded?, .relayDeliveryRecovered?: return .success
        case .deployStarted?: return .progress
        case .authLocked?, .authLoginFailed?, .relayDeliveryFailing?, .appDeleted?, .consoleOpened?, .accessChanged?: return .warning
        default: return .info
        }
    }
}

extension JSONValue {
    /// A copy with the value at each path replaced by `replacement`. A path is a list of keys;
    /// `*` stands for every element of an array (or every value of an object) at that point.
    /// Paths that lead nowhere change nothing.
    public func redacting(_ paths: [[String]], replacement: JSONValue = .string("[redacted]")) -> JSONValue {
        var result = self
        for path in paths where !path.isEmpty { result = result.redacting(path[...], replacement: replacement) }
        return result
    }

    private func redacting(_ path: ArraySlice<String>, replacement: JSONValue) -> JSONValue {
        guard let key = path.first else { return isNull ? self : replacement }
        let rest = path.dropFirst()
        switch self {
        case .object(var fields):
            if key == "*" {
                for (name, value) in fields { fields[name] = value.redacting(rest, replacement: replacement) }
            } else if let value = fields[key] {
                fields[key] = value.redacting(rest, replacement: replacement)
            }
            return .object(fields)
        case .array(let items) where key == "*":
            return .array(items.map { $0.redacting(rest, replacement: replacement) })
        default:
            return self
        }
    }
}

/// Where a chat message about a story (a deployment, from started to finished) was posted, so
/// its later events update that message or reply in its thread.
public struct MessageThread: Sendable, Equatable {
    public var channel: String
    /// The message's timestamp, Slack's id for it.
    public var ts: String

    public init(channel: String, ts: String) {
        self.channel = channel
        self.ts = ts
    }
}

/// Durable memory of those messages, by subscription and story key (the store keeps it).
public protocol MessageThreads: Sendable {
    func thread(subscriptionID: String, key: String) async throws -> MessageThread?
    func saveThread(subscriptionID: String, key: String, _ thread: MessageThread, now: Date) async throws
    /// Forgets stories begun before `before` (their later events, if any, start a new message).
    func pruneThreads(before: Date) async throws -> Int
}
