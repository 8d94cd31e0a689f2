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
        let message = SlackMessage.render(
            event, presentation: presenter.present(event), username: settings.username, icon: settings.icon, timeZone: settings.zone)
        // Custom headers go to Slack-compatible receivers too (a Mattermost behind an
        // authenticating proxy, say); Slack itself ignores them.
        let request = HTTPRequest(
            method: .POST, url: settings.url.value,
            headers: [("Content-Type", "application/json; charset=utf-8")] + CustomHeaders.pairs(settings.headers),
            body: message.encoded())
        return await send(request, over: transport, now: context.now, scrubber: Scrubber(settings: settings))
    }
}
