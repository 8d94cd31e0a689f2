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
        let presentation = presenter.present(event)
        var message = SlackMessage.render(
            event, presentation: presentation, username: settings.username, icon: settings.icon, timeZone: settings.zone)
        if settings.textTemplate != nil || settings.blocksTemplate != nil, case .object(var object) = message {
            let context = TemplateContext(
                event: presenter.redacted(event), presentation: presentation, zone: settings.zone,
                emoji: SlackMessage.emoji(presentation.tone, category: event.category))
            if let template = TemplateField.compiled(settings.textTemplate, output: .slack) {
                object["text"] = .string(SlackMessage.clip(template.render(context), SlackMessage.maxText))
            }
            if let template = TemplateField.compiled(settings.blocksTemplate, output: .json),
               let blocks = try? JSONValue.parse(Array(template.render(context).utf8)), blocks.arrayValue != nil {
                object["blocks"] = blocks
            }
            message = .object(object)
        }
        // Custom headers go to Slack-compatible receivers too (a Mattermost behind an
        // authenticating proxy, say); Slack itself ignores them.
        let request = HTTPRequest(
            method: .POST, url: settings.url.value,
            headers: [("Content-Type", "application/json; charset=utf-8")] + CustomHeaders.pairs(settings.headers),
            body: message.encoded())
        return await send(request, over: transport, now: context.now, scrubber: Scrubber(settings: settings))
    }
}
