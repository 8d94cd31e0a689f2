import EventModel
import Foundation
import HTTPClient

/// Posts with a bot token through Slack's Web API. The first event of a story (a deployment:
/// its `EventPresentation.thread`, or the subscription's `thread_by`) is posted with
/// `chat.postMessage` and its message remembered durably; the story's later events update that
/// message (`chat.update`) or, with `thread_mode: reply`, answer in its thread. So a channel shows
/// one line per deployment, not three.
///
/// Slack answers 200 with `{"ok": false, "error": …}` for refusals: a revoked or invalid token
/// disables the subscription; an unknown or archived channel is a dead letter; `ratelimited`
/// (429, Retry-After) and Slack's own failures are tried again. A message that can no longer be
/// updated is posted anew.
struct SlackBotNotifier: Notifier {
    let subscriptionID: String
    let settings: SlackSettings
    let transport: any HTTPTransport
    let presenter: any EventPresenter
    let threads: (any MessageThreads)?

    static let goneErrors: Set<String> = ["invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "team_access_not_granted"]
    static let retryErrors: Set<String> = ["ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout", "team_added_to_org"]
    static let staleMessageErrors: Set<String> = ["message_not_found", "cant_update_message", "edit_window_closed"]

    func notify(_ event: Event, context: DeliveryContext) async -> SendResult {
        let presentation = presenter.present(event, context: context)
        guard case .object(var message)? = SlackMessage.message(event, presentation: presentation, settings: settings, presenter: presenter) else {
            return .failed(status: nil, reason: "blocks_template rendered no JSON array for this event", cause: .render)
        }
        message["channel"] = .string(settings.channel ?? "")
        let key = threadKey(event, presentation: presentation)
        var known: MessageThread?
        if let key, let threads {
            do {
                known = try await threads.thread(subscriptionID: subscriptionID, key: key)
                // Posted in another channel (the subscription's channel changed since): a new story.
                if let found = known, found.channel != settings.channel, !(settings.channel ?? "").hasPrefix("#") { known = nil }
            } catch {
                return .retry(status: nil, reason: "the story's message could not be read from the store", retryAfter: nil, cause: .other)
            }
        }
        if let known, settings.threadMode != "reply" {
            var update = message
            update["channel"] = .string(known.channel)
            update["ts"] = .string(known.ts)
            // Sender and icon are the first post's.
            update["username"] = nil
            update["icon_emoji"] = nil
            update["icon_url"] = nil
            let (result, answer) = await call("chat.update", update, now: context.now)
            guard case .failed = result, let error = answer?["error"]?.stringValue, Self.staleMessageErrors.contains(error) else { return result }
            // The message is gone or too old to edit: the story starts a new one.
        } else if let known {
            message["thread_ts"] = .string(known.ts)
            message["channel"] = .string(known.channel)
        }
        let replying = known != nil && settings.threadMode == "reply"
        let (result, answer) = await call("chat.postMessage", message, now: context.now)
        if case .delivered = result, let key, let threads, !replying,
           let ts = answer?["ts"]?.stringValue, let channel = answer?["channel"]?.stringValue ?? settings.channel {
            // Not remembered (the store failed): the next event of the story posts a message of its own.
            try? await threads.saveThread(subscriptionID: subscriptionID, key: key, MessageThread(channel: channel, ts: ts), now: context.now)
        }
        return result
    }

    func threadKey(_ event: Event, presentation: EventPresentation) -> String? {
        if let template = TemplateField.compiled(settings.threadBy, output: .text) {
            let key = template.render(TemplateContext(event: presenter.redacted(event), presentation: presentation, zone: settings.zone))
                .trimmingCharacters(in: .whitespacesAndNewlines)
            return key.isEmpty ? nil : String(key.prefix(500))
        }
        return presentation.thread
    }

    /// One Web API call; the result and, when Slack answered JSON, its answer.
    func call(_ method: String, _ body: [String: JSONValue], now: Date) async -> (SendResult, JSONValue?) {
        let base = settings.apiURL ?? SlackSettings.defaultAPIURL
        let request = HTTPRequest(
            method: .POST, url: (base.hasSuffix("/") ? String(base.dropLast()) : base) + "/" + method,
            headers: [("Content-Type", "application/json; charset=utf-8"), ("Authorization", "Bearer \(settings.botToken?.value ?? "")")]
                + CustomHeaders.pairs(settings.headers),
            body: JSONValue.object(body).encoded())
        // Made only when something is not a success (building one costs far more than a send).
        let scrubber = { Scrubber(settings: self.settings) }
        let response: HTTPResponse
        do {
            response = try await transport.execute(request)
        } catch {
            return (.noAnswer(error, scrubber: scrubber()), nil)
        }
        guard response.status == 200, let answer = ResponseClassifier.json(response) else {
            return (ResponseClassifier.classify(response, now: now, scrubber: scrubber()), nil)
        }
        if answer["ok"] == .bool(true) { return (.delivered(status: 200), answer) }
        let error = answer["error"]?.stringValue ?? "unknown_error"
        let reason = scrubber().scrub("Slack \(method): \(error)")
        if Self.retryErrors.contains(error) {
            let wait = response.header("Retry-After").flatMap { RetryAfter.parse($0, now: now) }
            return (.retry(status: error == "ratelimited" ? 429 : 200, reason: reason, retryAfter: wait, cause: error == "ratelimited" ? .http(429) : .other), answer)
        }
        return (.failed(status: 200, reason: reason, cause: Self.goneErrors.contains(error) ? .gone : .configuration), answer)
    }
}
