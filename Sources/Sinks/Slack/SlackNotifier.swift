import EventModel
import Foundation
import HTTPClient

/// Posts to a Slack incoming webhook (also Mattermost, Rocket.Chat, and Discord's `/slack`
/// endpoint). Slack answers `ok` on success and plain-text error codes otherwise; a 429 carries
/// Retry-After, which the dispatcher honours for the whole subscription. Custom headers are sent too.
struct SlackNotifier: Notifier {
    let subscription: Subscription
    let transport: any HTTPTransport

    /// Slack accepts about one message a second per incoming webhook, with short bursts, then
    /// answers 429 with Retry-After.
    static let defaultRateLimit = RateLimit(count: 1, per: .seconds(1), burst: 3)

    func notify(_ event: Event, context: DeliveryContext) async -> SendResult {
        let message = SlackMessage.render(event, username: subscription.slackUsername, icon: subscription.slackIcon)
        // Custom headers go to Slack-compatible receivers too (a Mattermost behind an
        // authenticating proxy, say); Slack itself ignores them.
        let request = HTTPRequest(
            method: .POST, url: subscription.url,
            headers: [("Content-Type", "application/json; charset=utf-8")] + subscription.headers.map { ($0.name, $0.value) },
            body: message.encoded())
        return await send(request, over: transport, now: context.now, for: subscription)
    }
}
