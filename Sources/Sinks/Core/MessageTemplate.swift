import EventModel
import Foundation
import Mustache

/// A subscription's Mustache template (hummingbird-project/swift-mustache), replacing a
/// destination's default text, Slack blocks or webhook body. Checked when saved or loaded
/// (`compile` answers a `FieldError` with the template's line and column); rendered with the
/// normalized event, the raw payload (redacted as the destination's payload is) and the
/// presentation as context:
///
/// - `event.source`, `.id`, `.type`, `.category`, `.summary`, `.app`, `.project`,
///   `.environment`, `.feed`, `.actor.name`, `.actor.email`, `.time` (with `iso(…)`,
///   `local(…)` in the subscription's time zone, `unix(…)`, `date(…)`, `clock(…)`);
/// - `raw.…`: the platform's own event;
/// - `presentation.title`, `.subject`, `.tone`, `.emoji`, `.fallback`, `.facts` (each `label`,
///   `value`), `.links` (each `label`, `url`).
///
/// Helpers on any text: `json(…)` (escaped for inside a JSON string, for outputs that are not
/// JSON already: in a JSON template `{{value}}` is escaped so), `truncated(…)` (200
/// characters), `short(…)` (the first line, 80 characters), `uppercased`, `lowercased`,
/// `capitalized`. `{{value}}` escapes for the template's output (JSON string, Slack mrkdwn,
/// Markdown, HTML or nothing); `{{{value}}}` inserts as is.
public struct MessageTemplate: Sendable, Hashable {
    /// What the rendered text is, and so how `{{value}}` escapes.
    public enum Output: String, Sendable {
        case json = "EVENTRELAY_JSON"
        /// JSON whose strings Slack reads as mrkdwn (Slack blocks): escaped for both.
        case slackJSON = "EVENTRELAY_SLACK_JSON"
        case slack = "EVENTRELAY_SLACK"
        case markdown = "EVENTRELAY_MARKDOWN"
        case text = "TEXT"
    }

    public static let maxLength = 20_000

    public let source: String
    public let output: Output
    private let template: MustacheTemplate

    public static func == (lhs: MessageTemplate, rhs: MessageTemplate) -> Bool { lhs.source == rhs.source && lhs.output == rhs.output }
    public func hash(into hasher: inout Hasher) { hasher.combine(source) }

    /// Parses a template; errors name `field`, the line and the column.
    public static func compile(_ source: String, output: Output, field: String) throws(FieldError) -> MessageTemplate {
        guard source.count <= maxLength else { throw FieldError(field: field, message: "is longer than \(maxLength) characters") }
        registerContentTypes
        do {
            // The pragma sits on the first line, before the author's text, so line numbers hold.
            let template = try MustacheTemplate(string: "{{% CONTENT_TYPE: \(output.rawValue)}}" + source)
            return MessageTemplate(source: source, output: output, template: template)
        } catch let error as MustacheTemplate.ParserError {
            let column = error.context.lineNumber == 1 ? error.context.columnNumber - output.pragmaLength : error.context.columnNumber
            throw FieldError(
                field: field, message: "line \(error.context.lineNumber), column \(max(1, column)): \(describe(error.error))")
        } catch {
            throw FieldError(field: field, message: "is not a valid Mustache template: \(describe(error))")
        }
    }

    public func render(_ context: TemplateContext) -> String {
        template.render(context.values)
    }

    /// Renders `sample` and checks the output is JSON (of `shape`, when given).
    public func checkJSON(with sample: TemplateContext, field: String, array: Bool = false) -> FieldError? {
        let text = render(sample)
        let value: JSONValue
        do {
            value = try JSONValue.parse(Array(text.utf8))
        } catch {
            return FieldError(field: field, message: "does not render JSON for a sample event (\(error)): \(String(text.prefix(120)))")
        }
        if array, value.arrayValue == nil { return FieldError(field: field, message: "must render a JSON array (Slack blocks)") }
        return nil
    }

    private init(source: String, output: Output, template: MustacheTemplate) {
        self.source = source
        self.output = output
        self.template = template
    }

    static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        let words = ["unfinishedName": "a tag is not closed", "expectedSectionEnd": "a section is not closed",
                     "sectionCloseNameIncorrect": "a section is closed with another name", "unmatchedSectionEnd": "a section end matches no start",
                     "invalidSetDelimiter": "a set delimiter is invalid", "invalidConfigVariableSyntax": "a pragma is invalid",
                     "unrecognisedConfigVariable": "an unknown pragma"]
        return words.first { text.contains($0.key) }?.value ?? text
    }

    /// The output escapings, registered once with the library.
    private static let registerContentTypes: Void = {
        MustacheContentTypes.register(JSONStringContent(), named: Output.json.rawValue)
        MustacheContentTypes.register(SlackJSONContent(), named: Output.slackJSON.rawValue)
        MustacheContentTypes.register(SlackContent(), named: Output.slack.rawValue)
        MustacheContentTypes.register(MarkdownContent(), named: Output.markdown.rawValue)
    }()
}

extension MessageTemplate.Output {
    var pragmaLength: Int { "{{% CONTENT_TYPE: \(rawValue)}}".count }
}

struct JSONStringContent: MustacheContentType {
    func escapeText(_ text: String) -> String { TemplateText.jsonEscaped(text) }
}

struct SlackJSONContent: MustacheContentType {
    func escapeText(_ text: String) -> String { TemplateText.jsonEscaped(SlackContent().escapeText(text)) }
}

struct SlackContent: MustacheContentType {
    func escapeText(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}

struct MarkdownContent: MustacheContentType {
    func escapeText(_ text: String) -> String { ChatText.markdownEscape(text) }
}

/// What a template sees (see `MessageTemplate`).
public struct TemplateContext: @unchecked Sendable {
    let values: [String: Any]

    public init(event: Event, presentation: EventPresentation, zone: TimeZone, emoji: String? = nil) {
        var normalized: [String: Any] = [
            "source": TemplateText(event.source), "feed": TemplateText(event.feed), "id": TemplateText(event.id),
            "type": TemplateText(event.type), "summary": TemplateText(event.summary),
            "time": TemplateTime(date: event.time, zone: zone),
        ]
        if let category = event.category { normalized["category"] = TemplateText(category.rawValue) }
        if let app = event.app { normalized["app"] = TemplateText(app) }
        if let project = event.project { normalized["project"] = TemplateText(project) }
        if let environment = event.environment { normalized["environment"] = TemplateText(environment) }
        if let actor = event.actor {
            var who: [String: Any] = [:]
            if let name = actor.displayName { who["name"] = TemplateText(name) }
            if let email = actor.email { who["email"] = TemplateText(email) }
            if let id = actor.id { who["id"] = TemplateText(id) }
            normalized["actor"] = who
        }
        var shown: [String: Any] = [
            "title": TemplateText(presentation.title), "tone": TemplateText(presentation.tone.rawValue),
            "emoji": TemplateText(emoji ?? ChatText.symbol(presentation.tone)), "fallback": TemplateText(presentation.fallback),
            "facts": presentation.facts.map { ["label": TemplateText($0.label), "value": TemplateText($0.value)] as [String: Any] },
            "links": presentation.links.map { ["label": TemplateText($0.label), "url": TemplateText($0.url)] as [String: Any] },
        ]
        if let subject = presentation.subject { shown["subject"] = TemplateText(subject) }
        values = ["event": normalized, "raw": Self.convert(event.raw) ?? [String: Any](), "presentation": shown]
    }

    /// JSON as the template library walks it: objects as dictionaries, text with helpers.
    static func convert(_ value: JSONValue) -> Any? {
        switch value {
        case .null: return nil
        case .bool(let flag): return flag
        case .integer(let number): return number
        case .number(let number): return number
        case .string(let text): return TemplateText(text)
        case .array(let items): return items.map { convert($0) ?? NSNull() }
        case .object(let fields): return fields.compactMapValues { convert($0) }
        }
    }

    /// A deployment on an app, for checking templates when they are saved.
    public static let sample: TemplateContext = {
        let event = Event(
            source: "scalingo", feed: "scalingo", id: "sample-1", type: "deployment", category: .deployFailed,
            time: Date(timeIntervalSince1970: 1_764_763_200), actor: Actor(id: "us-1", name: "ann", email: "ann@example.com"),
            app: "shop-prod", project: "shop", environment: "production", summary: "Deployment of shop-prod failed: build-error \"quoted\" <b>",
            raw: .object(["type_data": .object(["status": .string("build-error"), "git_ref": .string("0123456789abcdef")])]))
        let presentation = EventPresentation(
            tone: .failure, title: "Deployment failed", subject: "shop-prod", actor: "ann",
            facts: [.init("Status", "build-error", code: true), .init("Pusher", "ann \"the\" <dev>")],
            links: [.init("Commit", "https://example.com/c/0123456")], fallback: "Deployment failed on shop-prod by ann")
        return TemplateContext(event: event, presentation: presentation, zone: .gmt)
    }()
}

/// Text with the templates' helpers.
struct TemplateText: MustacheTransformable, MustacheCustomRenderable, CustomStringConvertible {
    let text: String

    init(_ text: String) { self.text = text }

    var description: String { text }
    var renderText: String { text }
    var isNull: Bool { false }

    func transform(_ name: String) -> Any? {
        switch name {
        case "json": return TemplateText(Self.jsonEscaped(text))
        case "truncated": return TemplateText(ChatText.clip(text, 200))
        case "short": return TemplateText(ChatText.clip(String(text.split(separator: "\n").first ?? ""), 80))
        case "uppercased": return TemplateText(text.uppercased())
        case "lowercased": return TemplateText(text.lowercased())
        case "capitalized": return TemplateText(text.prefix(1).uppercased() + text.dropFirst())
        case "empty": return text.isEmpty
        default: return nil
        }
    }

    /// The text as it goes between the quotes of a JSON string.
    static func jsonEscaped(_ text: String) -> String {
        var out: [UInt8] = []
        CanonicalJSON.appendString(text, to: &out)
        return String(decoding: out.dropFirst().dropLast(), as: UTF8.self)
    }
}

/// A time with the templates' formats.
struct TemplateTime: MustacheTransformable, MustacheCustomRenderable, CustomStringConvertible {
    let date: Date
    let zone: TimeZone

    var description: String { Timestamp.format(date) }
    var renderText: String { description }
    var isNull: Bool { false }

    func transform(_ name: String) -> Any? {
        switch name {
        case "iso": return TemplateText(Timestamp.format(date))
        case "local": return TemplateText(ChatText.time(date, in: zone))
        case "unix": return Int64(date.timeIntervalSince1970)
        case "date": return TemplateText(String(ChatText.time(date, in: zone).prefix(10)))
        case "clock": return TemplateText(String(ChatText.time(date, in: zone).dropFirst(11).prefix(5)))
        default: return nil
        }
    }
}

/// A template key of a kind's settings: read as text, checked when saved, compiled when sent.
/// Compiled templates and check results are remembered (a notifier is made per claimed batch and
/// checks its settings each time: no parsing on the delivery path after the first).
public enum TemplateField {
    /// Parses `source` and, for JSON outputs, renders a sample event and checks the result.
    public static func validate(_ source: String?, output: MessageTemplate.Output, field: String, array: Bool = false) -> FieldError? {
        guard let source else { return nil }
        let key = CacheKey(source: source, output: output, field: field, array: array)
        if let known = checks.withValue({ $0[key] }) { return known.problem }
        let problem: FieldError?
        do {
            let template = try MessageTemplate.compile(source, output: output, field: field)
            problem = output == .json || output == .slackJSON ? template.checkJSON(with: .sample, field: field, array: array) : nil
        } catch {
            problem = error
        }
        remember(key, Check(problem: problem), in: checks)
        return problem
    }

    /// The compiled template (nil when none, or when it does not parse: validation said so).
    public static func compiled(_ source: String?, output: MessageTemplate.Output) -> MessageTemplate? {
        guard let source else { return nil }
        let key = CacheKey(source: source, output: output, field: "", array: false)
        if let known = templates.withValue({ $0[key] }) { return known }
        guard let template = try? MessageTemplate.compile(source, output: output, field: "") else { return nil }
        remember(key, template, in: templates)
        return template
    }

    struct CacheKey: Hashable {
        let source: String
        let output: MessageTemplate.Output
        let field: String
        let array: Bool
    }

    struct Check {
        let problem: FieldError?
    }

    /// As many templates as subscriptions use, bounded: past the bound the memory starts afresh.
    static let bound = 512
    private static let checks = LockedValue<[CacheKey: Check]>([:])
    private static let templates = LockedValue<[CacheKey: MessageTemplate]>([:])

    private static func remember<Value>(_ key: CacheKey, _ value: Value, in cache: LockedValue<[CacheKey: Value]>) {
        cache.withValue { entries in
            if entries.count >= bound { entries.removeAll() }
            entries[key] = value
        }
    }
}
