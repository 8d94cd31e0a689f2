import EventModel
import Foundation
import HTTPClient

/// One chat service's webhook format: what its folder under `Sinks/` defines (its message, from
/// an event's presentation, and how its documented answers read). `ChatSink` turns it into a
/// destination kind; `ChatSettings` holds what every chat webhook is set up with.
public protocol ChatFormat: Sendable {
    /// The subscription's `type`.
    static var kind: String { get }
    /// Whether the service shows a sender name and icon given in the message.
    static var takesSender: Bool { get }
    /// Longest sender name it accepts.
    static var maxUsername: Int { get }
    static var defaultRateLimit: RateLimit? { get }
    /// How `text_template` output is escaped (Markdown for the services that read it).
    static var textOutput: MessageTemplate.Output { get }
    /// The request body. A subscription's `text_template`, when set, has been rendered into
    /// `presentation.fallback` and must be shown.
    static func message(_ event: Event, presentation: EventPresentation, settings: ChatSettings<Self>) -> JSONValue
    /// Rules of the service beyond the shared ones (Discord refuses some sender names).
    static func validate(_ settings: ChatSettings<Self>) -> FieldError?
    /// The service's answer: delivered, retried, refused, or "gone" (the webhook was deleted:
    /// the subscription is disabled). Scrub what is kept with `scrubber`.
    static func classify(_ response: HTTPResponse, now: Date, scrubber: @autoclosure () -> Scrubber) -> SendResult
}

extension ChatFormat {
    public static var takesSender: Bool { true }
    public static var maxUsername: Int { 80 }
    public static var defaultRateLimit: RateLimit? { nil }
    public static var textOutput: MessageTemplate.Output { .markdown }
    public static func validate(_ settings: ChatSettings<Self>) -> FieldError? { nil }
    public static func classify(_ response: HTTPResponse, now: Date, scrubber: @autoclosure () -> Scrubber) -> SendResult {
        ResponseClassifier.classify(response, now: now, scrubber: scrubber())
    }
}

/// A chat webhook: its URL (a secret: anyone holding it can post), a sender name and icon where
/// the service shows them, the time zone of the times in messages, headers for a proxy in front.
public struct ChatSettings<Format: ChatFormat>: SinkSettings, Hashable {
    public var url: SecretString
    public var username: String?
    /// An emoji name (`:rotating_light:`) or an image URL.
    public var icon: String?
    public var timeZone: String?
    public var headers: [CustomHeader]
    /// A Mustache template replacing the message's text line.
    public var textTemplate: String?

    public init(
        url: SecretString, username: String? = nil, icon: String? = nil, timeZone: String? = nil, headers: [CustomHeader] = [],
        textTemplate: String? = nil
    ) {
        self.textTemplate = textTemplate
        self.url = url
        self.username = username
        self.icon = icon
        self.timeZone = timeZone
        self.headers = headers
    }

    public var kind: String { Format.kind }

    public var zone: TimeZone { timeZone.flatMap(TimeZone.init(identifier:)) ?? .gmt }

    static var fields: [SinkField] {
        var fields = [DestinationURLField.field]
        if Format.takesSender { fields += [SinkField("username", .string), SinkField("icon", .string)] }
        return fields + [SinkField("time_zone", .string), SinkField("text_template", .string), CustomHeaders.field]
    }

    static func read(_ source: any SettingsSource) throws(FieldError) -> ChatSettings {
        ChatSettings(
            url: try DestinationURLField.read(source), username: Format.takesSender ? try source.string("username") : nil,
            icon: Format.takesSender ? try source.string("icon") : nil, timeZone: try source.string("time_zone"),
            headers: try CustomHeaders.read(source), textTemplate: try source.string("text_template"))
    }

    public func document() -> [String: JSONValue] {
        var document: [String: JSONValue] = ["url": .string(url.value), "headers": CustomHeaders.document(headers)]
        if let username { document["username"] = .string(username) }
        if let icon { document["icon"] = .string(icon) }
        if let timeZone { document["time_zone"] = .string(timeZone) }
        if let textTemplate { document["text_template"] = .string(textTemplate) }
        return document
    }

    public func view(now: Date) -> [String: JSONValue] {
        var view: [String: JSONValue] = [
            "url": .string(Redact.url(url.value)), "headers": CustomHeaders.view(headers), "time_zone": .string(timeZone ?? "UTC"),
            "text_template": textTemplate.map(JSONValue.string) ?? .null,
        ]
        if Format.takesSender {
            view["username"] = username.map(JSONValue.string) ?? .null
            view["icon"] = icon.map(JSONValue.string) ?? .null
        }
        return view
    }

    public var secrets: [SecretString] { [url] + headers.map(\.value) }

    public func validate() -> FieldError? {
        if let problem = DestinationURLField.validate(url) { return problem }
        if let username, username.isEmpty || username.count > Format.maxUsername {
            return FieldError(field: "username", message: "must be 1 to \(Format.maxUsername) characters")
        }
        if let problem = Format.validate(self) { return problem }
        if let problem = TemplateField.validate(textTemplate, output: Format.textOutput, field: "text_template") { return problem }
        if let icon, let problem = ChatIcon.validate(icon, field: "icon") { return problem }
        if let timeZone, TimeZone(identifier: timeZone) == nil {
            return FieldError(field: "time_zone", message: "must be an IANA time zone name such as Europe/Paris or UTC")
        }
        return CustomHeaders.validate(headers)
    }
}

extension ResponseClassifier {
    /// The usual reading, except that `gone` answers (a deleted webhook) disable the subscription.
    public static func classify(
        _ response: HTTPResponse, now: Date, scrubber: @autoclosure () -> Scrubber, gone: (HTTPResponse) -> Bool
    ) -> SendResult {
        let result = classify(response, now: now, scrubber: scrubber())
        guard case .failed(let status, let reason, _) = result, gone(response) else { return result }
        return .failed(status: status, reason: reason, cause: .gone)
    }

    /// The body as JSON, when it is.
    public static func json(_ response: HTTPResponse) -> JSONValue? { try? JSONValue.parse(response.body) }
}

/// The destination kind of a chat format: its settings, its notifier.
public enum ChatSink<Format: ChatFormat>: SinkPlugin {
    public typealias Settings = ChatSettings<Format>

    public static var kind: String { Format.kind }
    public static var fields: [SinkField] { Settings.fields }
    public static var defaultRateLimit: RateLimit? { Format.defaultRateLimit }

    public static func settings(from source: any SettingsSource) throws(FieldError) -> ChatSettings<Format> {
        try Settings.read(source)
    }

    public static func notifier(for subscription: Subscription, settings: ChatSettings<Format>, context: SinkContext) -> any Notifier {
        ChatNotifier(settings: settings, transport: context.transport, presenter: context.presenter)
    }
}

struct ChatNotifier<Format: ChatFormat>: Notifier {
    let settings: ChatSettings<Format>
    let transport: any HTTPTransport
    let presenter: any EventPresenter

    func notify(_ event: Event, context: DeliveryContext) async -> SendResult {
        var presentation = presenter.present(event, context: context)
        if let template = TemplateField.compiled(settings.textTemplate, output: Format.textOutput) {
            presentation.fallback = template.render(TemplateContext(event: presenter.redacted(event), presentation: presentation, zone: settings.zone))
        }
        let body = Format.message(event, presentation: presentation, settings: settings).encoded()
        let request = HTTPRequest(
            method: .POST, url: settings.url.value,
            headers: [("Content-Type", "application/json; charset=utf-8")] + CustomHeaders.pairs(settings.headers), body: body)
        return await send(request, over: transport, now: context.now, scrubber: Scrubber(settings: settings)) { response in
            Format.classify(response, now: context.now, scrubber: Scrubber(settings: settings))
        }
    }
}

/// What a destination's Markdown reads as markup, so that event text (a commit message's
/// `[Approve](https://…)`, a `**` in a name) is backslash-escaped for exactly that and nothing
/// more: an escape the renderer does not need can show as a literal backslash (`my\_app`).
public struct MarkdownSyntax: Sendable {
    /// Characters that make markup wherever they are.
    public var anywhere: Set<Character>
    /// Characters that make markup at the start of a line only (headings, quotes, list items).
    public var lineStart: Set<Character>
    /// Whether `_` makes emphasis. An underscore between two letters or digits never does
    /// (CommonMark's rule for `_`), so `my_app` is left as it is either way. A backslash is
    /// escaped only where it would escape what follows (punctuation) or break the line.
    public var underscore: Bool

    public init(anywhere: String, lineStart: String = "", underscore: Bool = true) {
        self.anywhere = Set(anywhere)
        self.lineStart = Set(lineStart)
        self.underscore = underscore
    }

    /// CommonMark with GitHub's strikethrough and tables: emphasis, code, links and autolinks,
    /// HTML, `~~`, `|`, and at a line's start headings, quotes and list items.
    public static let commonMark = MarkdownSyntax(anywhere: "\\`*[]<>~|", lineStart: "#>-+")

    public func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        let characters = Array(text)
        var atLineStart = true
        for (index, character) in characters.enumerated() {
            var escaped = anywhere.contains(character) || (atLineStart && lineStart.contains(character))
            if character == "\\" {
                let after = index + 1 < characters.count ? characters[index + 1] : nil
                escaped = after.map { ($0.isASCII && ($0.isPunctuation || $0.isSymbol)) || $0.isNewline } ?? false
            } else if character == "_", underscore {
                let before = index > 0 ? characters[index - 1] : nil
                let after = index + 1 < characters.count ? characters[index + 1] : nil
                escaped = !(Self.isWordCharacter(before) && Self.isWordCharacter(after))
            }
            if escaped { out.append("\\") }
            out.append(character)
            if character.isNewline {
                atLineStart = true
            } else if !(atLineStart && character.isWhitespace) {
                atLineStart = false
            }
        }
        return out
    }

    static func isWordCharacter(_ character: Character?) -> Bool {
        guard let character else { return false }
        return character.isLetter || character.isNumber
    }
}

/// A sender icon: an emoji name like `:rotating_light:` or an http(s) image URL.
public enum ChatIcon {
    public static func validate(_ icon: String, field: String) -> FieldError? {
        if icon.hasPrefix(":") {
            let name = icon.dropFirst().dropLast()
            let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789_+-'")
            if icon.count >= 3, icon.hasSuffix(":"), name.allSatisfy({ allowed.contains($0) }) { return nil }
            return FieldError(field: field, message: "must be an emoji name like :rotating_light: or an http(s) image URL")
        }
        if Subscription.validateURL(icon, field: field) == nil { return nil }
        return FieldError(field: field, message: "must be an emoji name like :rotating_light: or an http(s) image URL")
    }

    public static func isEmoji(_ icon: String) -> Bool { icon.hasPrefix(":") }
}

/// How every chat message words and cuts things.
public enum ChatText {
    public static let marker = EventPresentation.truncationMarker

    /// At most `limit` characters, the cut ones replaced by a visible marker.
    public static func clip(_ text: String, _ limit: Int) -> String { EventPresentation.clip(text, limit) }

    /// `2026-12-03 17:20:05 Europe/Paris` (`UTC` for UTC).
    public static func time(_ date: Date, in zone: TimeZone) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let name = zone.secondsFromGMT() == 0 && ["GMT", "UTC"].contains(zone.identifier) ? "UTC" : zone.identifier
        return String(
            format: "%04d-%02d-%02d %02d:%02d:%02d %@", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0, parts.hour ?? 0, parts.minute ?? 0,
            parts.second ?? 0, name)
    }

    /// The footer's parts: source, project, environment, time, type.
    public static func footer(_ event: Event, subject: String?, zone: TimeZone) -> [String] {
        var parts = [event.source]
        if let project = event.project, project != subject { parts.append(project) }
        if let environment = event.environment { parts.append(environment) }
        parts.append(time(event.time, in: zone))
        parts.append(event.type)
        return parts
    }

    /// A colour by tone (RGB).
    public static func color(_ tone: EventPresentation.Tone) -> Int {
        switch tone {
        case .success: return 0x2EB67D
        case .failure: return 0xE01E5A
        case .warning: return 0xECB22E
        case .progress: return 0x36C5F0
        case .info: return 0x868686
        }
    }

    /// An emoji by tone, as a Unicode character (for services without `:name:` shortcodes).
    public static func symbol(_ tone: EventPresentation.Tone) -> String {
        switch tone {
        case .success: return "✅"
        case .failure: return "❌"
        case .warning: return "⚠️"
        case .progress: return "⏳"
        case .info: return "ℹ️"
        }
    }

    /// Event text in CommonMark (what `MarkdownSyntax.commonMark` escapes).
    public static func markdownEscape(_ text: String) -> String { MarkdownSyntax.commonMark.escape(text) }

    /// A fact's value in Markdown (code span, link, or escaped text), at most `limit`
    /// characters in all: the text is cut before the markup is added, so no link or code
    /// span is ever cut open. `syntax`: what the destination's renderer reads as markup.
    public static func markdownValue(
        _ fact: EventPresentation.Fact, limit: Int, codeSpans: Bool = true, syntax: MarkdownSyntax = .commonMark
    ) -> String {
        let markdownEscape = syntax.escape
        // A link target with nothing that ends it early.
        let url = fact.link.map { $0.replacingOccurrences(of: "(", with: "%28").replacingOccurrences(of: ")", with: "%29") }
        let overhead = (url.map { $0.count + 4 } ?? 0) + (fact.code && codeSpans ? 2 : 0)
        var room = max(16, limit - overhead)
        while true {
            let cut = clip(fact.value, room)
            let inner = fact.code && codeSpans ? "`\(cut.replacingOccurrences(of: "`", with: "'"))`" : markdownEscape(cut)
            let value = url.map { "[\(inner)](\($0))" } ?? inner
            if value.count <= limit || room <= 16 { return value.count <= limit ? value : clip(markdownEscape(fact.value), limit) }
            room -= value.count - limit
        }
    }

    /// The header line: the outcome's symbol, what happened, to what.
    public static func headline(_ presentation: EventPresentation) -> String {
        "\(symbol(presentation.tone)) \(presentation.title)" + (presentation.subject.map { " · \($0)" } ?? "")
    }
}
