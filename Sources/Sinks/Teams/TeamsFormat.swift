import EventModel
import Foundation
import HTTPClient

/// `type: teams`: a Microsoft Teams channel through a Workflows ("When a Teams webhook request is
/// received") webhook, which takes Adaptive Cards only: a title coloured by outcome, the facts as
/// a FactSet, a subtle footer, buttons to the links. Workflows post as the flow: no sender name.
public enum TeamsFormat: ChatFormat {
    public static let kind = "teams"
    public static let takesSender = false
    /// A TextBlock reads Markdown: event text in it is escaped.
    public static let textOutput = MessageTemplate.Output.markdown
    /// What an Adaptive Card's TextBlock and Fact value read: a CommonMark subset of `**bold**`,
    /// `_italic_`, `[links](…)` and `-`/`+` list items (no code, headings, quotes, tables or
    /// strikethrough: backticks, `#`, `~` and `|` show as they are). `<` keeps an autolink or a tag
    /// from reading as one on clients that parse more.
    static let markdown = MarkdownSyntax(anywhere: "\\*[]<>", lineStart: "-+")
    /// Teams refuses messages over about 28 KB; facts are cut well before (counted in bytes).
    static let maxCardText = 18_000
    static let maxFacts = 40

    public static func message(_ event: Event, presentation: EventPresentation, settings: ChatSettings<TeamsFormat>) -> JSONValue {
        let color: String
        switch presentation.tone {
        case .success: color = "Good"
        case .failure: color = "Attention"
        case .warning: color = "Warning"
        case .progress: color = "Accent"
        case .info: color = "Default"
        }
        var budget = maxCardText
        var facts: [JSONValue] = []
        for fact in presentation.facts.prefix(maxFacts) {
            // Adaptive Cards show backticks as they are: no code spans.
            let value = ChatText.markdownValue(fact, limit: 2000, codeSpans: false, syntax: markdown)
            guard budget - fact.label.utf8.count - value.utf8.count > 0 else { break }
            budget -= fact.label.utf8.count + value.utf8.count
            facts.append(.object(["title": .string(ChatText.clip(fact.label, 200)), "value": .string(value)]))
        }
        if facts.count < presentation.facts.count {
            facts.append(.object(["title": .string("…"), "value": .string("\(presentation.facts.count - facts.count) more not shown")]))
        }
        var body: [JSONValue] = [
            .object([
                "type": .string("TextBlock"), "text": .string(ChatText.clip(ChatText.headline(presentation), 500)), "weight": .string("Bolder"),
                "size": .string("Medium"), "color": .string(color), "wrap": .bool(true),
            ])
        ]
        if settings.textTemplate != nil {
            // A subscription's own text (its text_template), under the title.
            body.append(.object(["type": .string("TextBlock"), "text": .string(ChatText.clip(presentation.fallback, 4000)), "wrap": .bool(true)]))
        }
        if !facts.isEmpty { body.append(.object(["type": .string("FactSet"), "facts": .array(facts)])) }
        body.append(.object([
            "type": .string("TextBlock"),
            "text": .string(ChatText.clip(ChatText.footer(event, subject: presentation.subject, zone: settings.zone).joined(separator: " · "), 500)),
            "isSubtle": .bool(true), "size": .string("Small"), "wrap": .bool(true),
        ]))
        var card: [String: JSONValue] = [
            "$schema": .string("http://adaptivecards.io/schemas/adaptive-card.json"), "type": .string("AdaptiveCard"),
            "version": .string("1.4"), "body": .array(body), "msteams": .object(["width": .string("Full")]),
            "fallbackText": .string(ChatText.clip(presentation.fallback, 1000)),
        ]
        if !presentation.links.isEmpty {
            card["actions"] = .array(presentation.links.prefix(5).map {
                .object(["type": .string("Action.OpenUrl"), "title": .string(ChatText.clip($0.label, 100)), "url": .string($0.url)])
            })
        }
        return .object([
            "type": .string("message"),
            "attachments": .array([
                .object(["contentType": .string("application/vnd.microsoft.card.adaptive"), "contentUrl": .null, "content": .object(card)])
            ]),
        ])
    }

    /// 202 Accepted (200 too). A 404 may be a deleted flow or a proxy: a dead letter, not a disable.
    public static func classify(_ response: HTTPResponse, now: Date, scrubber: @autoclosure () -> Scrubber) -> SendResult {
        ResponseClassifier.classify(response, now: now, scrubber: scrubber())
    }
}
