import EventModel
import Foundation

/// The Slack-style attachment message Mattermost and Rocket.Chat take: Markdown text, one
/// attachment with colour, title, link, fields and footer.
public enum AttachmentMessage {
    public static func render(
        _ event: Event, presentation: EventPresentation, zone: TimeZone, username: String?, icon: String?, maxText: Int, maxField: Int,
        senderKeys: (name: String, emoji: String, url: String) = ("username", "icon_emoji", "icon_url"), showText: Bool = false,
        markdown: MarkdownSyntax = .commonMark
    ) -> JSONValue {
        let color = String(format: "#%06X", ChatText.color(presentation.tone))
        // All the fields' text together stays within what the service shows of a message.
        var budget = maxText
        var fields: [JSONValue] = []
        for fact in presentation.facts.prefix(50) {
            let title = ChatText.clip(fact.label, 200)
            let value = ChatText.markdownValue(fact, limit: maxField, syntax: markdown)
            guard budget - title.count - value.count > 100 else { break }
            budget -= title.count + value.count
            fields.append(.object([
                "title": .string(title), "value": .string(value), "short": .bool(fact.value.count <= 40 && !fact.value.contains("\n")),
            ]))
        }
        if fields.count < presentation.facts.count {
            fields.append(.object([
                "title": .string("…"), "value": .string("\(presentation.facts.count - fields.count) more not shown"), "short": .bool(false),
            ]))
        }
        var attachment: [String: JSONValue] = [
            "fallback": .string(ChatText.clip(presentation.fallback, 1000)),
            "color": .string(color),
            "title": .string(ChatText.clip(ChatText.headline(presentation), 250)),
            "fields": .array(fields),
            "footer": .string(ChatText.clip(ChatText.footer(event, subject: presentation.subject, zone: zone).joined(separator: " · "), 300)),
        ]
        if let link = presentation.links.first { attachment["title_link"] = .string(link.url) }
        var message: [String: JSONValue] = ["attachments": .array([.object(attachment)])]
        // The title is the attachment's; the text carries only what it cannot: more links.
        if showText {
            // A subscription's own text (its text_template): shown above the attachment.
            message["text"] = .string(ChatText.clip(presentation.fallback, maxText))
        } else if presentation.links.count > 1 {
            let links = presentation.links.map { "[\(markdown.escape($0.label))](\($0.url))" }.joined(separator: " · ")
            message["text"] = .string(ChatText.clip(links, 2000))
        }
        if let username { message[senderKeys.name] = .string(username) }
        if let icon { message[ChatIcon.isEmoji(icon) ? senderKeys.emoji : senderKeys.url] = .string(icon) }
        return .object(message)
    }
}
