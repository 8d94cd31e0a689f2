import EventModel
import Foundation
import HTTPClient

/// `type: rocketchat`: a Rocket.Chat incoming webhook integration. Slack-compatible text and
/// attachment; the sender as Rocket.Chat names it (`alias`, `emoji` or `avatar`) and as Slack
/// does (`username`, `icon_emoji`/`icon_url`), which its webhook script maps the same way.
public enum RocketChatFormat: ChatFormat {
    public static let kind = "rocketchat"
    /// Rocket.Chat's default maximum message size.
    static let maxText = 5000
    static let maxField = 1000

    public static func message(_ event: Event, presentation: EventPresentation, settings: ChatSettings<RocketChatFormat>) -> JSONValue {
        let message = AttachmentMessage.render(
            event, presentation: presentation, zone: settings.zone, username: settings.username, icon: settings.icon, maxText: maxText,
            maxField: maxField, showText: settings.textTemplate != nil)
        guard case .object(var object) = message else { return message }
        if let username = settings.username { object["alias"] = .string(username) }
        if let icon = settings.icon { object[ChatIcon.isEmoji(icon) ? "emoji" : "avatar"] = .string(icon) }
        return .object(object)
    }

    /// 200 `{"success": true}`; a refusal is `{"success": false, "error": …}` (400). A removed
    /// integration answers differently by version (404, 400, 401), none of them proof enough to
    /// disable the subscription.
    public static func classify(_ response: HTTPResponse, now: Date, scrubber: @autoclosure () -> Scrubber) -> SendResult {
        if (200..<300).contains(response.status), ResponseClassifier.json(response)?["success"] == .bool(false) {
            return .failed(status: response.status, reason: ResponseClassifier.reason(response, scrubber: scrubber()), cause: .http(400))
        }
        return ResponseClassifier.classify(response, now: now, scrubber: scrubber())
    }
}
