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
    /// Mattermost's Markdown: CommonMark with GitHub's tables and strikethrough.
    static let markdown = MarkdownSyntax.commonMark

    public static func message(_ event: Event, presentation: EventPresentation, settings: ChatSettings<MattermostFormat>) -> JSONValue {
        AttachmentMessage.render(event, presentation: presentation, zone: settings.zone, username: settings.username, icon: settings.icon,
            maxText: maxText, maxField: maxField, showText: settings.textTemplate != nil, markdown: markdown)
    }

    /// 200 `ok`. Nothing Mattermost answers proves the hook is gone (its "invalid webhook" also
    /// covers a failed lookup, and a 404 may be a proxy's): refusals are dead letters, not a
    /// reason to disable the subscription.
    public static func classify(_ response: HTTPResponse, now: Date, scrubber: @autoclosure () -> Scrubber) -> SendResult {
        ResponseClassifier.classify(response, now: now, scrubber: scrubber())
    }
}

