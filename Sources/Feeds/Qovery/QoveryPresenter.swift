import EventModel
import Foundation

/// Qovery's organization events as a person reads them: the lifecycle step and its outcome
/// (deployment failed, restart queued…) or the change (a variable updated, a member invited),
/// on which service of which project and environment, by whom, from where. A variable's or
/// secret's `change` is never shown (nor sent in webhooks, unless a subscription asks).
enum QoveryPresenter {
    static let changeVerbs: Set<String> = ["CREATE", "UPDATE", "DELETE", "CLONE", "IMPORT", "EXPORT"]
    /// Parts whose changes may hold secret values: variables and secrets, and every kind of
    /// credential, token and payment detail (the documentation does not say what their
    /// `change` holds, so none of it travels).
    static let secretSubTargets: Set<String> = [
        "VARIABLE", "SECRET", "API_TOKEN", "POLICY_API_TOKEN", "GIT_TOKEN", "JWT_TOKEN_FORGED", "CLOUD_PROVIDER_CREDENTIALS",
        "CLUSTER_CREDENTIALS", "KUBERNETES_CREDENTIALS", "SSO", "CREDIT_CARD", "CREDIT_CODE", "BILLING_INFO", "REMOTE_ACCESS",
    ]
    /// Whole targets whose changes may hold credentials (a registry's or repository's login, a webhook's secret).
    static let secretTargets: Set<String> = ["CONTAINER_REGISTRY", "HELM_REPOSITORY", "WEBHOOK", "ENTERPRISE_CONNECTION"]

    static func holdsSecrets(_ raw: JSONValue) -> Bool {
        let trimmed = { (key: String) in raw[key]?.stringValue?.trimmingCharacters(in: .whitespacesAndNewlines) }
        if let sub = trimmed("sub_target_type"), secretSubTargets.contains(sub) { return true }
        return trimmed("sub_target_type") == nil && trimmed("target_type").map(secretTargets.contains) == true
    }

    static func mayCarrySecretValues(type: String) -> Bool { changeVerbs.contains(type) }

    static func secretValuePaths(of event: Event) -> [[String]] {
        guard changeVerbs.contains(event.type), holdsSecrets(event.raw) else { return [] }
        return [["raw", "change"], ["raw", "original_change"], ["details", "change"], ["details", "original_change"]]
    }

    /// Sub-targets whose `change` names what changed (`key`) beside its value: the name is shown, never the value.
    static let namedSubTargets: Set<String> = ["VARIABLE", "SECRET"]

    /// The names of the variables a change touched: `key` (or `name`) of the change, or of each
    /// entry of a list, from `change` (what it is now) or else `original_change` (a deletion's).
    static func variableNames(of event: Event) -> [String] {
        for key in ["change", "original_change"] {
            guard let change = event.details?[key] else { continue }
            let names = (change.arrayValue ?? [change]).compactMap { entry in
                ["key", "name"].lazy.compactMap { entry[$0]?.stringValue?.trimmingCharacters(in: .whitespacesAndNewlines) }.first { !$0.isEmpty }
            }
            if !names.isEmpty { return names }
        }
        return []
    }

    /// Fields that say why something failed, most specific first.
    static let reasonKeys = ["reason", "failure_reason", "status_reason", "error_message", "error", "message"]

    /// Why a failed step failed, where the event says: a reason-like field of the event itself or
    /// of its `change` (JSON text; `{"error": {"message": …}}` too), or a `change` that is plain text.
    /// The documented schema has no such field: Qovery's `change` is free text, so it is read leniently.
    static func failureReason(of event: Event) -> String? {
        func reason(in value: JSONValue?) -> String? {
            guard let value, value.objectValue != nil else { return nil }
            for key in reasonKeys {
                let field = value[key]
                if let text = (field?.stringValue ?? field?["message"]?.stringValue)?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty {
                    return text
                }
            }
            return nil
        }
        if let found = reason(in: event.raw) { return found }
        switch event.details?["change"] {
        case .string(let text)?:
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            return trimmed.isEmpty ? nil : trimmed
        case let change?:
            return reason(in: change)
        case nil:
            return nil
        }
    }

    static func presentation(of event: Event) -> EventPresentation {
        var p = PresentationBuilder(event, data: event.raw)
        let d = p.data
        let targetType = d.text("target_type").map(QoveryCatalog.words)
        let subTarget = d.text("sub_target_type").map(QoveryCatalog.words)
        if let step = QoveryCatalog.lifecycle[event.type] {
            let tone: EventPresentation.Tone
            switch step.outcome {
            case "failed": tone = .failure
            case "succeeded": tone = .success
            case "requested", "queued": tone = .progress
            default: tone = .info
            }
            p.set(tone, "\(step.step) \(step.outcome)")
            // First, so the one-line text says it too.
            if tone == .failure { p.fact("Reason", failureReason(of: event).map { EventPresentation.clip($0, 1000) }) }
        } else if let session = QoveryCatalog.sessions[event.type] {
            p.set(.warning, "\(session) opened")
        } else if let verb = QoveryCatalog.verbs[event.type] {
            let what = subTarget ?? targetType ?? "resource"
            p.set(GenericPresenter.tone(of: event.category) == .warning ? .warning : .info, "\(what.prefix(1).uppercased() + what.dropFirst()) \(verb)")
            if let sub = d.text("sub_target_type"), namedSubTargets.contains(sub) {
                p.fact(QoveryCatalog.capitalized(QoveryCatalog.words(sub)), variableNames(of: event).joined(separator: ", "), code: true)
            }
        } else {
            p.set(GenericPresenter.tone(of: event.category), event.summary.prefix(1).uppercased() + String(event.summary.dropFirst()))
        }
        if let targetType { p.fact(targetType.prefix(1).uppercased() + targetType.dropFirst(), d.text("target_name")) }
        if let subTarget, QoveryCatalog.verbs[event.type] == nil { p.fact("Part", subTarget) }
        p.fact("Project", d.text("project_name"))
        p.fact("Environment", d.text("environment_name"))
        p.fact("By", event.actor?.displayName)
        p.fact("From", d.text("origin").map(QoveryCatalog.words))
        if holdsSecrets(d), changeVerbs.contains(event.type) {
            p.fact("Value", "not shown")
        }
        return p.presentation
    }
}
