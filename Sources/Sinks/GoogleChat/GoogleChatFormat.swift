import EventModel
import Foundation
import HTTPClient

/// `type: googlechat`: a Google Chat space's incoming webhook, as a card (`cardsV2`): a header
/// with what happened and who, the facts as decorated texts, buttons to the links, a footer; the
/// one-line `text` beside it for notifications. Webhooks post as the app: no sender name.
public enum GoogleChatFormat: ChatFormat {
    public static let kind = "googlechat"
    public static let takesSender = false
    /// Google Chat's text reads `<url|label>` links and `*bold*`: `&`, `<` and `>` are escaped as for Slack.
    public static let textOutput = MessageTemplate.Output.slack
    static let maxText = 4000
    /// A message (cards included) must stay under 32 KB (counted in bytes).
    static let maxCardText = 18_000
    static let maxWidgets = 50
    /// Google Chat allows 1 message a second per space for webhooks.
    public static let defaultRateLimit: RateLimit? = RateLimit(count: 1, per: .seconds(1), burst: 3)

    public static func message(_ event: Event, presentation: EventPresentation, settings: ChatSettings<GoogleChatFormat>) -> JSONValue {
        var budget = maxCardText
        var widgets: [JSONValue] = []
        for fact in presentation.facts.prefix(maxWidgets) {
            // Cut before escaping and markup, so no entity or tag is cut open.
            var value = escape(ChatText.clip(fact.value, 1500))
            if fact.code { value = "<font color=\"#555555\">\(value)</font>" }
            if let link = fact.link { value = "<a href=\"\(escape(link))\">\(value)</a>" }
            guard budget - fact.label.utf8.count - value.utf8.count > 0 else { break }
            budget -= fact.label.utf8.count + value.utf8.count
            widgets.append(.object(["decoratedText": .object([
                "topLabel": .string(ChatText.clip(fact.label, 200)), "text": .string(value), "wrapText": .bool(true),
            ])]))
        }
        if widgets.count < presentation.facts.count {
            widgets.append(.object(["textParagraph": .object(["text": .string("\(presentation.facts.count - widgets.count) more not shown")])]))
        }
        var sections: [JSONValue] = []
        if !widgets.isEmpty { sections.append(.object(["widgets": .array(widgets)])) }
        if !presentation.links.isEmpty {
            let buttons: [JSONValue] = presentation.links.prefix(5).map {
                .object(["text": .string(ChatText.clip($0.label, 100)), "onClick": .object(["openLink": .object(["url": .string($0.url)])])])
            }
            sections.append(.object(["widgets": .array([.object(["buttonList": .object(["buttons": .array(buttons)])])])]))
        }
        let footer = ChatText.footer(event, subject: presentation.subject, zone: settings.zone).joined(separator: " · ")
        sections.append(.object(["widgets": .array([.object(["textParagraph": .object(["text": .string(escape(ChatText.clip(footer, 500)))])])])]))
        var header: [String: JSONValue] = ["title": .string(ChatText.clip(ChatText.headline(presentation), 200))]
        if let actor = presentation.actor { header["subtitle"] = .string(ChatText.clip("by \(actor)", 200)) }
        return .object([
            "text": .string(ChatText.clip(presentation.fallback, maxText)),
            "cardsV2": .array([.object(["cardId": .string("event"), "card": .object(["header": .object(header), "sections": .array(sections)])])]),
        ])
    }

    /// Google Chat's card text is a small HTML subset.
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// 200 with the message. A removed webhook or space answers Google's own 404
    /// (`{"error": {"status": "NOT_FOUND"}}`): gone. A bare 404 (a proxy) or a 403 is a refusal.
    public static func classify(_ response: HTTPResponse, now: Date, scrubber: @autoclosure () -> Scrubber) -> SendResult {
        ResponseClassifier.classify(response, now: now, scrubber: scrubber()) { response in
            response.status == 404 && ResponseClassifier.json(response)?["error"]?["status"] == .string("NOT_FOUND")
        }
    }
}
