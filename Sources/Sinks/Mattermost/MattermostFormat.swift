import EventModel
import Foundation
import HTTPClient

/// `type: mattermost`: a Mattermost incoming webhook. Slack-compatible: `text` plus a
/// Slack-style attachment (colour by outcome, the facts as fields, a footer) in Mattermost's
/// Markdown; `username` and `icon` are honoured (when the server allows overriding them).
public enum MattermostFormat: ChatFormat {
    public static let kind = "mattermost"
    public static let maxUsername = 64
    /// A post holds at most 16,383 characters.
    static let maxText = 16_000
    static let maxField = 2000

    public static func message(_ event: Event, presentation: EventPresentation, settings: ChatSettings<MattermostFormat>) -> JSONValue {
        AttachmentMessage.render(event, presentation: presentation, zone: settings.zone, username: settings.username, icon: settings.icon,
            maxText: maxText, maxField: maxField)
    }

    /// 200 `ok`. A deleted hook answers 404, or 400 naming `web.incoming_webhook.invalid`.
    public static func classify(_ response: HTTPResponse, now: Date, scrubber: @autoclosure () -> Scrubber) -> SendResult {
        ResponseClassifier.classify(response, now: now, scrubber: scrubber()) { response in
            response.status == 404
                || (response.status == 400 && (ResponseClassifier.json(response)?["id"]?.stringValue ?? "").hasPrefix("web.incoming_webhook.invalid"))
        }
    }
}

/// The Slack-style attachment message Mattermost and Rocket.Chat take: Markdown text, one
/// attachment with colour, title, link, fields and footer.
enum AttachmentMessage {
    static func render(
        _ event: Event, presentation: EventPresentation, zone: TimeZone, username: String?, icon: String?, maxText: Int, maxField: Int,
        senderKeys: (name: String, emoji: String, url: String) = ("username", "icon_emoji", "icon_url")
    ) -> JSONValue {
        let color = String(format: "#%06X", ChatText.color(presentation.tone))
        // All the fields' text together stays within what the service shows of a message.
        var budget = maxText
        var fields: [JSONValue] = []
        for fact in presentation.facts.prefix(50) {
            var value = fact.code ? "`\(fact.value.replacingOccurrences(of: "`", with: "'"))`" : fact.value
            if let link = fact.link { value = "[\(fact.code ? value : fact.value)](\(link))" }
            let title = ChatText.clip(fact.label, 200)
            value = ChatText.clip(value, maxField)
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
        var text = "**\(ChatText.headline(presentation))**"
        if presentation.links.count > 1 { text += "\n" + presentation.links.map { "[\($0.label)](\($0.url))" }.joined(separator: " · ") }
        var message: [String: JSONValue] = ["text": .string(ChatText.clip(text, 2000)), "attachments": .array([.object(attachment)])]
        if let username { message[senderKeys.name] = .string(username) }
        if let icon { message[ChatIcon.isEmoji(icon) ? senderKeys.emoji : senderKeys.url] = .string(icon) }
        return .object(message)
    }
}
