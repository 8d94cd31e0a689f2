import EventModel
import Foundation
import HTTPClient

/// `type: slack`: a Slack incoming webhook (or anything that takes Slack's payloads).
public enum SlackSink: SinkPlugin {
    public static let kind = "slack"

    public static let fields: [SinkField] = [
        DestinationURLField.field,
        SinkField("slack_username", .string),
        SinkField("slack_icon", .string),
        // The zone of the times in messages (IANA name, `Europe/Paris`); UTC when unset.
        SinkField("time_zone", .string),
        // Mustache templates replacing the message's text (mrkdwn) or its blocks (a JSON array).
        SinkField("text_template", .string), SinkField("blocks_template", .string),
        CustomHeaders.field,
    ]

    public static func settings(from source: any SettingsSource) throws(FieldError) -> SlackSettings {
        SlackSettings(
            url: try DestinationURLField.read(source), username: try source.string("slack_username"), icon: try source.string("slack_icon"),
            timeZone: try source.string("time_zone"), headers: try CustomHeaders.read(source), textTemplate: try source.string("text_template"),
            blocksTemplate: try source.string("blocks_template"))
    }

    /// Slack accepts about one message a second per incoming webhook, with short bursts, then
    /// answers 429 with Retry-After.
    public static let defaultRateLimit: RateLimit? = RateLimit(count: 1, per: .seconds(1), burst: 3)

    public static func notifier(for subscription: Subscription, settings: SlackSettings, context: SinkContext) -> any Notifier {
        SlackNotifier(settings: settings, transport: context.transport, presenter: context.presenter)
    }

    /// Slack-app webhooks (`hooks.slack.com/services/…`) post as the app, whatever the message
    /// says: a username or icon set for one would silently do nothing.
    public static func warnings(_ settings: SlackSettings) -> [String] {
        guard settings.username != nil || settings.icon != nil,
              let url = try? DestinationURL(settings.url.value), url.host.lowercased() == "hooks.slack.com"
        else { return [] }
        let set = [settings.username.map { _ in "slack_username" }, settings.icon.map { _ in "slack_icon" }].compactMap { $0 }
        return [
            "\(set.joined(separator: " and ")) will be ignored: webhooks of Slack apps (hooks.slack.com) post with the app's name and icon; "
                + "they apply to legacy Slack webhooks, Mattermost and Rocket.Chat",
        ]
    }
}

public struct SlackSettings: SinkSettings, Hashable {
    public var url: SecretString
    public var username: String?
    /// An emoji name (`:rotating_light:`) or an image URL.
    public var icon: String?
    /// An IANA time zone name; nil: UTC.
    public var timeZone: String?
    public var headers: [CustomHeader]
    public var textTemplate: String?
    public var blocksTemplate: String?

    public init(
        url: SecretString, username: String? = nil, icon: String? = nil, timeZone: String? = nil, headers: [CustomHeader] = [],
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
        var document: [String: JSONValue] = ["url": .string(url.value), "headers": CustomHeaders.document(headers)]
        if let username { document["slack_username"] = .string(username) }
        if let icon { document["slack_icon"] = .string(icon) }
        if let timeZone { document["time_zone"] = .string(timeZone) }
        if let textTemplate { document["text_template"] = .string(textTemplate) }
        if let blocksTemplate { document["blocks_template"] = .string(blocksTemplate) }
        return document
    }

    public func view(now: Date) -> [String: JSONValue] {
        [
            "url": .string(Redact.url(url.value)),
            "headers": CustomHeaders.view(headers),
            "slack_username": username.map(JSONValue.string) ?? .null,
            "slack_icon": icon.map(JSONValue.string) ?? .null,
            "time_zone": .string(timeZone ?? "UTC"),
            "text_template": textTemplate.map(JSONValue.string) ?? .null,
            "blocks_template": blocksTemplate.map(JSONValue.string) ?? .null,
        ]
    }

    public var secrets: [SecretString] { [url] + headers.map(\.value) }

    public func validate() -> FieldError? {
        if let problem = DestinationURLField.validate(url) { return problem }
        if let icon, let problem = Self.validateIcon(icon) { return problem }
        if let username, username.isEmpty || username.count > 80 {
            return FieldError(field: "slack_username", message: "must be 1 to 80 characters")
        }
        if let timeZone, TimeZone(identifier: timeZone) == nil {
            return FieldError(field: "time_zone", message: "must be an IANA time zone name such as Europe/Paris or UTC")
        }
        if let problem = TemplateField.validate(textTemplate, output: .slack, field: "text_template") { return problem }
        if let problem = TemplateField.validate(blocksTemplate, output: .json, field: "blocks_template", array: true) { return problem }
        return CustomHeaders.validate(headers)
    }

    public static func validateIcon(_ icon: String) -> FieldError? { ChatIcon.validate(icon, field: "slack_icon") }
}
