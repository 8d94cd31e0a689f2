import EventModel
import Foundation
import HTTPClient

/// `type: discord`: a Discord channel webhook, as a native embed: the outcome's colour, what
/// happened as the title (linked where there is a page to see), the facts as fields, a footer and
/// the event's time. Mentions in event text never ping anyone (`allowed_mentions` is empty).
public enum DiscordFormat: ChatFormat {
    public static let kind = "discord"
    static let maxTitle = 256
    static let maxFields = 25
    static let maxFieldName = 256
    static let maxFieldValue = 1024
    static let maxFooter = 2048
    static let maxDescription = 4096
    static let maxContent = 2000
    /// All of an embed's text together.
    static let maxEmbedText = 6000
    /// Discord's Markdown: `*` and `_` emphasis, `__` underline, `~~` strikethrough, `||` spoilers,
    /// code, masked links, `<…>` mentions, channels, timestamps and emoji, and at a line's start
    /// `#` headings, `-#` subtext, `>` quotes and `-`/`+` list items. An underscore inside a word is
    /// no markup (its emphasis needs a word boundary, its underline two underscores).
    static let markdown = MarkdownSyntax(anywhere: "\\`*[]<>~|", lineStart: "#>-+")
    /// Discord answers a burst per webhook with 429 and `retry_after`: 5 per 2 s is safe.
    public static let defaultRateLimit: RateLimit? = RateLimit(count: 5, per: .seconds(2), burst: 5)

    public static func message(_ event: Event, presentation: EventPresentation, settings: ChatSettings<DiscordFormat>) -> JSONValue {
        let title = ChatText.clip(ChatText.headline(presentation), maxTitle)
        let footer = ChatText.clip(ChatText.footer(event, subject: presentation.subject, zone: settings.zone).joined(separator: " · "), maxFooter)
        var budget = maxEmbedText - title.count - footer.count
        var fields: [JSONValue] = []
        var left = presentation.facts.count
        for fact in presentation.facts {
            let name = ChatText.clip(fact.label, maxFieldName)
            let value = ChatText.markdownValue(fact, limit: maxFieldValue, syntax: markdown)
            // Room kept for the "more not shown" field.
            guard fields.count < maxFields - 1, name.count + value.count <= budget - 40 else { break }
            budget -= name.count + value.count
            fields.append(.object(["name": .string(name), "value": .string(value), "inline": .bool(fact.value.count <= 40)]))
            left -= 1
        }
        if left > 0 {
            let more = "\(left) more not shown"
            budget -= 1 + more.count
            fields.append(.object(["name": .string("…"), "value": .string(more), "inline": .bool(false)]))
        }
        var embed: [String: JSONValue] = [
            "title": .string(title), "color": .integer(Int64(ChatText.color(presentation.tone))), "fields": .array(fields),
            "footer": .object(["text": .string(footer)]), "timestamp": .string(Timestamp.format(event.time)),
        ]
        if let link = presentation.links.first { embed["url"] = .string(link.url) }
        if presentation.links.count > 1 {
            let links = presentation.links.map { "[\(markdown.escape($0.label))](\($0.url))" }.joined(separator: " · ")
            if links.count <= min(maxDescription, budget) { embed["description"] = .string(links) }
        }
        var message: [String: JSONValue] = [
            "content": .string(ChatText.clip(presentation.fallback, maxContent)),
            "embeds": .array([.object(embed)]),
            "allowed_mentions": .object(["parse": .array([])]),
        ]
        if let username = settings.username { message["username"] = .string(username) }
        if let icon = settings.icon, !ChatIcon.isEmoji(icon) { message["avatar_url"] = .string(icon) }
        return .object(message)
    }

    /// Discord refuses sender names containing "discord" or "clyde", and shows image URLs only.
    public static func validate(_ settings: ChatSettings<DiscordFormat>) -> FieldError? {
        if let username = settings.username?.lowercased(), username.contains("discord") || username.contains("clyde") {
            return FieldError(field: "username", message: "Discord refuses names containing \"discord\" or \"clyde\"")
        }
        if let icon = settings.icon, ChatIcon.isEmoji(icon) || ChatIcon.validate(icon, field: "icon") != nil {
            return FieldError(field: "icon", message: "must be an http(s) image URL (Discord shows no emoji as the sender's avatar)")
        }
        return nil
    }

    /// 204 (200 with `?wait=true`). A 429's wait is in `Retry-After` and in the body's
    /// `retry_after` (seconds, fractional). A deleted webhook answers 404 (code 10015, "Unknown
    /// Webhook"); a revoked token 401 (code 50027).
    public static func classify(_ response: HTTPResponse, now: Date, scrubber: @autoclosure () -> Scrubber) -> SendResult {
        if response.status == 429, response.header("Retry-After") == nil,
           let seconds = ResponseClassifier.json(response)?["retry_after"].flatMap({ $0.scalarText.flatMap(Double.init) }), seconds >= 0 {
            return .retry(
                status: 429, reason: ResponseClassifier.reason(response, scrubber: scrubber()),
                retryAfter: .milliseconds(Int64((min(seconds, 86_400) * 1000).rounded(.up))), cause: .http(429))
        }
        // Only Discord's own words for a deleted webhook (not a bare 404, which a proxy may give).
        return ResponseClassifier.classify(response, now: now, scrubber: scrubber()) { response in
            let code = ResponseClassifier.json(response)?["code"]?.intValue
            return (response.status == 404 && code == 10015) || (response.status == 401 && code == 50027)
        }
    }
}
