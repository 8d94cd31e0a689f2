import EventModel
import Foundation

/// An event as a Slack Block Kit message a person reads at a glance (pure, no I/O):
///
/// - a header: an emoji for the outcome, what happened, to which app;
/// - the facts that matter for its type, as fields (ten per section);
/// - links to where to look;
/// - a context line: source, project, environment, the time in the subscription's time zone,
///   the event type;
/// - `text`, the same in one line, for notifications and clients without blocks.
///
/// Slack's limits are kept by cutting, never by failing: a header of 150 characters, field
/// text of 2,000, section text under 3,000, 50 blocks, 40,000 characters of `text`. Whatever is
/// cut ends with a visible "… (truncated)".
public enum SlackMessage {
    static let maxHeader = 150
    static let maxField = 2000
    static let maxSectionText = 3000
    static let maxBlocks = 50
    static let maxText = 40000
    static let maxFieldsPerSection = 10

    public static func render(
        _ event: Event, presentation: EventPresentation, username: String? = nil, icon: String? = nil, timeZone: TimeZone = .gmt
    ) -> JSONValue {
        let mark = emoji(presentation.tone, category: event.category)
        var header = "\(mark) \(presentation.title)"
        if let subject = presentation.subject { header += " · \(subject)" }
        var blocks: [JSONValue] = [
            .object([
                "type": .string("header"),
                "text": .object(["type": .string("plain_text"), "text": .string(clip(header, maxHeader)), "emoji": .bool(true)]),
            ])
        ]
        // Room for the links and the context line after the facts.
        let factRoom = maxBlocks - blocks.count - 2
        var sections: [[JSONValue]] = []
        for fact in presentation.facts {
            if sections.last.map({ $0.count >= maxFieldsPerSection }) ?? true { sections.append([]) }
            sections[sections.count - 1].append(.object(["type": .string("mrkdwn"), "text": .string(field(fact))]))
        }
        if sections.count > factRoom {
            sections = Array(sections.prefix(factRoom))
            sections[sections.count - 1][sections[sections.count - 1].count - 1] = .object([
                "type": .string("mrkdwn"), "text": .string("_\(presentation.facts.count - (factRoom * maxFieldsPerSection - 1)) more facts not shown_"),
            ])
        }
        for fields in sections { blocks.append(.object(["type": .string("section"), "fields": .array(fields)])) }
        if !presentation.links.isEmpty {
            let links = presentation.links.map { "<\($0.url)|\(escape($0.label))>" }.joined(separator: "  ·  ")
            blocks.append(section(links))
        }
        var context = [escape(event.source)]
        if let project = event.project, project != presentation.subject { context.append(escape(project)) }
        if let environment = event.environment { context.append(escape(environment)) }
        context.append(ChatText.time(event.time, in: timeZone))
        context.append("`\(code(event.type))`")
        blocks.append(.object([
            "type": .string("context"),
            "elements": .array([.object(["type": .string("mrkdwn"), "text": .string(clip(context.joined(separator: " · "), maxSectionText - 1))])]),
        ]))

        var message: [String: JSONValue] = [
            "text": .string(clip("\(mark) \(escape(presentation.fallback))", maxText)),
            "blocks": .array(blocks),
        ]
        if let username { message["username"] = .string(username) }
        if let icon {
            if icon.hasPrefix(":") { message["icon_emoji"] = .string(icon) } else { message["icon_url"] = .string(icon) }
        }
        return .object(message)
    }

    /// `*Label*` and the value: as code, as a link, or as text; the text is cut before the
    /// markup is added, so no link or code span is cut open.
    static func field(_ fact: EventPresentation.Fact) -> String {
        let label = "*\(escape(clip(fact.label, 200)))*\n"
        let overhead = label.count + (fact.link.map { $0.count + 3 } ?? 0) + (fact.code ? 2 : 0)
        var room = max(16, maxField - overhead)
        while true {
            let cut = clip(fact.value, room)
            var value = fact.code ? "`\(code(cut))`" : escape(cut)
            if let link = fact.link { value = "<\(link)|\(value)>" }
            if label.count + value.count <= maxField || room <= 16 { return clip(label + value, maxField) }
            room -= label.count + value.count - maxField
        }
    }

    /// By tone, made finer by category (a lock, a console).
    public static func emoji(_ tone: EventPresentation.Tone, category: EventCategory?) -> String {
        switch category {
        case .authLocked?, .authLoginFailed?: return ":lock:"
        case .consoleOpened?: return ":computer:"
        case .relaySubscriptionDisabled?: return ":no_entry:"
        case .accessChanged? where tone != .failure: return ":key:"
        default: break
        }
        switch tone {
        case .success: return ":white_check_mark:"
        case .failure: return ":x:"
        case .warning: return ":warning:"
        case .progress: return ":hourglass_flowing_sand:"
        case .info: return ":information_source:"
        }
    }

    static func section(_ text: String) -> JSONValue {
        .object(["type": .string("section"), "text": .object(["type": .string("mrkdwn"), "text": .string(clip(text, maxSectionText - 1))])])
    }

    /// Slack's mrkdwn control characters.
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    /// Text inside a code span: no backtick can close it early.
    static func code(_ text: String) -> String {
        escape(text).replacingOccurrences(of: "`", with: "'")
    }

    static func clip(_ text: String, _ limit: Int) -> String { ChatText.clip(text, limit) }
}
