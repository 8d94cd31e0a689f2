import EventModel
import Foundation
import HTTPClient

/// `type: slack`: a Slack incoming webhook (or anything that takes Slack's payloads), or a bot
/// token and a channel (Slack's Web API: `chat.postMessage`, `chat.update`), with which a
/// story's later events (a deployment finishing) update its first message or reply in its thread.
public enum SlackSink: SinkPlugin {
    public static let kind = "slack"

    public static let fields: [SinkField] = [
        DestinationURLField.field,
        // Instead of `url`: a bot token (`xoxb-…`) and the channel it posts in.
        SinkField("bot_token", .secret, placeholder: "xoxb-unresolved"), SinkField("channel", .string),
        // `update` (default): later events of a story edit its message; `reply`: they answer in its thread.
        SinkField("thread_mode", .string),
        // A Mustache template for the story key (default: what the platform says, e.g. app + deployment id).
        SinkField("thread_by", .string),
        // Slack's Web API base (an Enterprise Grid or a proxy), default https://slack.com/api.
        SinkField("api_url", .string),
        SinkField("slack_username", .string),
        SinkField("slack_icon", .string),
        // The zone of the times in messages (IANA name, `Europe/Paris`); UTC when unset.
        SinkField("time_zone", .string),
        // Mustache templates replacing the message's text (mrkdwn) or its blocks (a JSON array).
        SinkField("text_template", .string), SinkField("blocks_template", .string),
        CustomHeaders.field,
    ]

    public static func settings(from source: any SettingsSource) throws(FieldError) -> SlackSettings {
        let url = try source.secret("url")
        let botToken = try source.secret("bot_token")
        if url == nil, botToken == nil { throw FieldError(field: "url", message: "is required (or a bot_token and a channel)") }
        var settings = SlackSettings(
            url: url, username: try source.string("slack_username"), icon: try source.string("slack_icon"),
            timeZone: try source.string("time_zone"), headers: try CustomHeaders.read(source), textTemplate: try source.string("text_template"),
            blocksTemplate: try source.string("blocks_template"))
        settings.botToken = botToken
        settings.channel = try source.string("channel")
        settings.threadMode = try source.string("thread_mode")
        settings.threadBy = try source.string("thread_by")
        settings.apiURL = try source.string("api_url")
        return settings
    }

    /// Slack accepts about one message a second per incoming webhook, with short bursts, then
    /// answers 429 with Retry-After.
    public static let defaultRateLimit: RateLimit? = RateLimit(count: 1, per: .seconds(1), burst: 3)

    public static func notifier(for subscription: Subscription, settings: SlackSettings, context: SinkContext) -> any Notifier {
        if settings.botToken != nil {
            return SlackBotNotifier(
                subscriptionID: subscription.id, settings: settings, transport: context.transport, presenter: context.presenter,
                threads: context.threads)
        }
        return SlackNotifier(settings: settings, transport: context.transport, presenter: context.presenter)
    }

    /// Slack-app webhooks (`hooks.slack.com/services/…`) post as the app, whatever the message
    /// says: a username or icon set for one would silently do nothing.
    public static func warnings(_ settings: SlackSettings) -> [String] {
        guard settings.username != nil || settings.icon != nil,
              let url = try? DestinationURL(settings.url?.value ?? ""), url.host.lowercased() == "hooks.slack.com"
        else { return [] }
        let set = [settings.username.map { _ in "slack_username" }, settings.icon.map { _ in "slack_icon" }].compactMap { $0 }
        return [
            "\(set.joined(separator: " and ")) will be ignored: webhooks of Slack apps (hooks.slack.com) post with the app's name and icon; "
                + "they apply to legacy Slack webhooks, Mattermost and Rocket.Chat",
        ]
    }
}

public struct SlackSettings: SinkSettings, Hashable {
    /// The incoming webhook; nil with a bot token.
    public var url: SecretString?
    public var botToken: SecretString?
    public var channel: String?
    /// `update` (nil) or `reply`.
    public var threadMode: String?
    public var threadBy: String?
    public var apiURL: String?

    public static let defaultAPIURL = "https://slack.com/api"
    public var username: String?
    /// An emoji name (`:rotating_light:`) or an image URL.
    public var icon: String?
    /// An IANA time zone name; nil: UTC.
    public var timeZone: String?
    public var headers: [CustomHeader]
    public var textTemplate: String?
    public var blocksTemplate: String?

    public init(
        url: SecretString?, username: String? = nil, icon: String? = nil, timeZone: String? = nil, headers: [CustomHeader] = [],
        textTemplate: String? = nil, blocksTemplate: String? = nil
    ) {
        self.textTemplate = textTemplate
        self.blocksTemplate = blocksTemplate
        self.url = url
        self.username = username
        self.icon = icon
        self.timeZone = timeZone
        self.headers = headers
    }

    /// The zone messages show times in.
    public var zone: TimeZone { timeZone.flatMap(TimeZone.init(identifier:)) ?? .gmt }

    public var kind: String { SlackSink.kind }

    public func document() -> [String: JSONValue] {
        var document: [String: JSONValue] = ["headers": CustomHeaders.document(headers)]
        if let url { document["url"] = .string(url.value) }
        if let botToken { document["bot_token"] = .string(botToken.value) }
        if let channel { document["channel"] = .string(channel) }
        if let threadMode { document["thread_mode"] = .string(threadMode) }
        if let threadBy { document["thread_by"] = .string(threadBy) }
        if let apiURL { document["api_url"] = .string(apiURL) }
        if let username { document["slack_username"] = .string(username) }
        if let icon { document["slack_icon"] = .string(icon) }
        if let timeZone { document["time_zone"] = .string(timeZone) }
        if let textTemplate { document["text_template"] = .string(textTemplate) }
        if let blocksTemplate { document["blocks_template"] = .string(blocksTemplate) }
        return document
    }

    public func view(now: Date) -> [String: JSONValue] {
        var view: [String: JSONValue] = [
            "url": url.map { .string(Redact.url($0.value)) } ?? .null,
            "headers": CustomHeaders.view(headers),
            "slack_username": username.map(JSONValue.string) ?? .null,
            "slack_icon": icon.map(JSONValue.string) ?? .null,
            "time_zone": .string(timeZone ?? "UTC"),
            "text_template": textTemplate.map(JSONValue.string) ?? .null,
            "blocks_template": blocksTemplate.map(JSONValue.string) ?? .null,
        ]
        if let botToken {
            view["bot_token"] = .string(Redact.secret(botToken.value))
            view["channel"] = channel.map(JSONValue.string) ?? .null
            view["thread_mode"] = .string(threadMode ?? "update")
            view["thread_by"] = threadBy.map(JSONValue.string) ?? .null
            view["api_url"] = .string(apiURL ?? Self.defaultAPIURL)
        }
        return view
    }

    public var secrets: [SecretString] { [url, botToken].compactMap { $0 } + headers.map(\.value) }

    public func validate() -> FieldError? {
        switch (url, botToken) {
        case (let url?, nil):
            if let problem = DestinationURLField.validate(url) { return problem }
            for (field, value) in [("channel", channel), ("thread_mode", threadMode), ("thread_by", threadBy), ("api_url", apiURL)] where value != nil {
                return FieldError(field: field, message: "goes with a bot_token (an incoming webhook posts where it was made for)")
            }
        case (nil, let token?):
            guard token.value.hasPrefix("xox"), token.value.count <= 255, !token.value.contains(where: { $0.isWhitespace }) else {
                return FieldError(field: "bot_token", message: "must be a Slack token (a bot's xoxb-…, or a user's xoxp-…)")
            }
            guard let channel, !channel.isEmpty, channel.count <= 80, !channel.contains(where: { $0.isWhitespace }) else {
                return FieldError(field: "channel", message: "is required with a bot_token: a channel id (C0123…) or #name")
            }
            if let threadMode, !["update", "reply"].contains(threadMode) {
                return FieldError(field: "thread_mode", message: "must be update or reply")
            }
            if let apiURL, let problem = Subscription.validateURL(apiURL, field: "api_url") { return problem }
            if let problem = TemplateField.validate(threadBy, output: .text, field: "thread_by") { return problem }
        case (_?, _?):
            return FieldError(field: "bot_token", message: "give either url (an incoming webhook) or bot_token and channel, not both")
        case (nil, nil):
            return FieldError(field: "url", message: "is required (or a bot_token and a channel)")
        }
        if let icon, let problem = ChatIcon.validate(icon, field: "slack_icon") { return problem }
        if let username, username.isEmpty || username.count > 80 {
            return FieldError(field: "slack_username", message: "must be 1 to 80 characters")
        }
        if let timeZone, TimeZone(identifier: timeZone) == nil {
            return FieldError(field: "time_zone", message: "must be an IANA time zone name such as Europe/Paris or UTC")
        }
        if let problem = TemplateField.validate(textTemplate, output: .slack, field: "text_template") { return problem }
        if let problem = TemplateField.validate(blocksTemplate, output: .slackJSON, field: "blocks_template", array: true) { return problem }
        return CustomHeaders.validate(headers)
    }
}
