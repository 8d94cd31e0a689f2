import EventModel
import Foundation
import HTTPClient

/// Posts to a Slack incoming webhook (also Mattermost, Rocket.Chat, and Discord's `/slack`
/// endpoint). Slack answers `ok` on success and plain-text error codes otherwise; a 429 carries
/// Retry-After, which the dispatcher honours for the whole subscription. Custom headers are sent too.
struct SlackNotifier: Notifier {
    let settings: SlackSettings
    let transport: any HTTPTransport
    let presenter: any EventPresenter

    func notify(_ event: Event, context: DeliveryContext) async -> SendResult {
        guard let message = SlackMessage.message(event, presentation: presenter.present(event, context: context), settings: settings, presenter: presenter) else {
            return .failed(status: nil, reason: "blocks_template rendered no JSON array for this event", cause: .render)
        }
        // Custom headers go to Slack-compatible receivers too (a Mattermost behind an
        // authenticating proxy, say); Slack itself ignores them.
        let request = HTTPRequest(
            method: .POST, url: settings.url?.value ?? "",
            headers: [("Content-Type", "application/json; charset=utf-8")] + CustomHeaders.pairs(settings.headers),
            body: message.encoded())
        return await send(request, over: transport, now: context.now, scrubber: Scrubber(settings: settings))
    }
}

extension SlackMessage {
    /// The message a subscription sends: the Block Kit rendering, or its own templates' text
    /// and blocks. Nil when its blocks template renders no JSON array for this event (nothing is
    /// sent then: the delivery fails saying so).
    static func message(_ event: Event, presentation: EventPresentation, settings: SlackSettings, presenter: any EventPresenter) -> JSONValue? {
        let message = render(event, presentation: presentation, username: settings.username, icon: settings.icon, timeZone: settings.zone)
        guard settings.textTemplate != nil || settings.blocksTemplate != nil, case .object(var object) = message else { return message }
        let context = TemplateContext(
            event: presenter.redacted(event), presentation: presentation, zone: settings.zone, emoji: emoji(presentation.tone, category: event.category))
        if let template = TemplateField.compiled(settings.textTemplate, output: .slack) {
            object["text"] = .string(clip(template.render(context), maxText))
        }
        if let template = TemplateField.compiled(settings.blocksTemplate, output: .slackJSON) {
            guard let blocks = try? JSONValue.parse(Array(template.render(context).utf8)), blocks.arrayValue != nil else { return nil }
            object["blocks"] = blocks
        }
        return .object(object)
    }
}
