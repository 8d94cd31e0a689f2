import EventModel
import Foundation

/// Turns an event into a Slack incoming-webhook message a person can read at a glance:
/// a headline, the facts that matter for its type as fields, and a context line. Pure: no I/O.
public enum SlackMessage {
    /// Slack truncates `text` beyond 40,000 characters and rejects section text of 3,001 or more.
    static let maxSectionText = 3000
    static let maxText = 40000

    public static func render(_ event: Event, username: String?, icon: String?) -> JSONValue {
        let summary = summarize(event)
        var blocks: [JSONValue] = [
            section(summary.headline)
        ]
        if !summary.fields.isEmpty {
            // A section holds at most 10 fields.
            let fields = summary.fields.prefix(10).map { name, value in
                JSONValue.object(["type": .string("mrkdwn"), "text": .string(clip("*\(escape(name))*\n\(value)", 2000))])
            }
            blocks.append(.object(["type": .string("section"), "fields": .array(Array(fields))]))
        }
        var context = ["\(escape(event.source))", "`\(escape(event.type))`", Timestamp.format(event.time)]
        if let environment = event.environment { context.insert(escape(environment), at: 1) }
        blocks.append(.object([
            "type": .string("context"),
            "elements": .array([.object(["type": .string("mrkdwn"), "text": .string(clip(context.joined(separator: " · "), maxSectionText))])]),
        ]))

        var message: [String: JSONValue] = [
            "text": .string(clip(escape(summary.fallback), maxText)),
            "blocks": .array(blocks),
        ]
        if let username { message["username"] = .string(username) }
        if let icon {
            if icon.hasPrefix(":") { message["icon_emoji"] = .string(icon) } else { message["icon_url"] = .string(icon) }
        }
        return .object(message)
    }

    struct Summary {
        var headline: String
        var fallback: String
        var fields: [(String, String)]
    }

    static func summarize(_ event: Event) -> Summary {
        let data = event.raw["type_data"]
        let app = event.app.map(escape)
        let actor = event.actor?.displayName.map(escape)
        switch event.type {
        case "deployment":
            return deployment(event, data: data, app: app)
        case "login_lock":
            let who = actor ?? "a user"
            let ip = data?["remote_ip"]?.scalarText
            var fields: [(String, String)] = [("User", who)]
            if let email = event.actor?.email { fields.append(("Email", escape(email))) }
            if let ip { fields.append(("Remote IP", escape(ip))) }
            return Summary(
                headline: ":lock: *Account locked*: \(who) after repeated failed logins" + (ip.map { " from \(escape($0))" } ?? ""),
                fallback: "Account locked: \(event.actor?.displayName ?? "a user")" + (ip.map { " (remote IP \($0))" } ?? ""),
                fields: fields)
        case "login_failure", "login_success", "login_unlock_success", "password_reset_query", "password_reset_success":
            let who = actor ?? "a user"
            let ip = data?["remote_ip"]?.scalarText
            let label = event.type.replacingOccurrences(of: "_", with: " ")
            return Summary(
                headline: "*\(escape(label.capitalizedFirst))*: \(who)" + (ip.map { " from \(escape($0))" } ?? ""),
                fallback: "\(label.capitalizedFirst): \(event.actor?.displayName ?? "a user")",
                fields: ip.map { [("Remote IP", escape($0))] } ?? [])
        default:
            // Any platform: the summary its folder wrote, marked by the category's emoji.
            var fields: [(String, String)] = []
            if let app { fields.append(("App", app)) }
            if let project = event.project { fields.append(("Project", escape(project))) }
            if let environment = event.environment { fields.append(("Environment", escape(environment))) }
            if let actor { fields.append(("By", actor)) }
            let mark = event.category.map(emoji).map { "\($0) " } ?? ""
            return Summary(headline: mark + "*\(escape(event.summary.capitalizedFirst))*", fallback: event.summary.capitalizedFirst, fields: fields)
        }
    }

    static func emoji(_ category: EventCategory) -> String {
        switch category {
        case .deployFailed, .appCrashed, .databaseBackupFailed: ":x:"
        case .deploySucceeded: ":white_check_mark:"
        case .deployStarted: ":hourglass_flowing_sand:"
        case .authLocked, .authLoginFailed: ":lock:"
        case .consoleOpened: ":computer:"
        case .accessChanged: ":key:"
        case .appDeleted, .appStopped: ":wastebasket:"
        case .appCreated: ":new:"
        case .appRestarted, .appScaled, .configChanged, .databaseMaintenance, .billing: ":information_source:"
        case .relayDeliveryFailing, .relayDeadLetter: ":warning:"
        case .relaySubscriptionDisabled: ":no_entry:"
        case .relayDeliveryRecovered: ":white_check_mark:"
        }
    }

    static func deployment(_ event: Event, data: JSONValue?, app: String?) -> Summary {
        let status = data?["status"]?.scalarText ?? "unknown"
        let outcome = DeploymentOutcome(status: status)
        let appName = app ?? "an app"
        let headline: String
        switch outcome {
        case .succeeded: headline = ":white_check_mark: *Deployment succeeded* on *\(appName)*"
        case .failed: headline = ":x: *Deployment failed* on *\(appName)*: \(escape(status))"
        case .inProgress: headline = ":hourglass_flowing_sand: *Deployment \(escape(status))* on *\(appName)*"
        }
        var fields: [(String, String)] = [("App", appName), ("Status", "`\(escape(status))`")]
        if let ref = data?["git_ref"]?.scalarText, !ref.isEmpty {
            let short = escape(String(ref.prefix(7)))
            if let link = data?["git_ref_url"]?.stringValue, link.hasPrefix("https://") || link.hasPrefix("http://"),
               !link.contains(where: { $0 == "|" || $0 == ">" || $0 == "<" }) {
                fields.append(("Git ref", "<\(link)|`\(short)`>"))
            } else {
                fields.append(("Git ref", "`\(short)`"))
            }
        }
        if let pusher = data?["pusher"]?.scalarText ?? event.actor?.displayName {
            fields.append(("Pusher", escape(pusher)))
        }
        if let seconds = data?["duration"]?.intValue {
            fields.append(("Duration", formatDuration(seconds)))
        }
        let fallbackVerb: String
        switch outcome {
        case .succeeded: fallbackVerb = "succeeded"
        case .failed: fallbackVerb = "failed (\(status))"
        case .inProgress: fallbackVerb = status
        }
        return Summary(headline: headline, fallback: "Deployment \(fallbackVerb) on \(event.app ?? "an app")", fields: fields)
    }

    enum DeploymentOutcome {
        case succeeded, failed, inProgress

        /// Scalingo's statuses: success; build-error, crashed-error, timeout-error, hook-error,
        /// aborted (and anything else ending in -error) failed; building, pushing, starting... in progress.
        init(status: String) {
            if status == "success" {
                self = .succeeded
            } else if status.hasSuffix("error") || ["aborted", "crashed", "timeout", "failed"].contains(status) {
                self = .failed
            } else {
                self = .inProgress
            }
        }
    }

    static func formatDuration(_ seconds: Int64) -> String {
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(seconds / 60)m \(seconds % 60)s" }
        return "\(seconds / 3600)h \(seconds % 3600 / 60)m"
    }

    static func section(_ text: String) -> JSONValue {
        .object(["type": .string("section"), "text": .object(["type": .string("mrkdwn"), "text": .string(clip(text, maxSectionText))])])
    }

    /// Slack's mrkdwn control characters.
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    static func clip(_ text: String, _ limit: Int) -> String {
        text.count < limit ? text : String(text.prefix(limit - 2)) + "…"
    }
}

extension String {
    fileprivate var capitalizedFirst: String { prefix(1).uppercased() + dropFirst() }
}
