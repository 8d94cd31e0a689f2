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
        } else if let session = QoveryCatalog.sessions[event.type] {
            p.set(.warning, "\(session) opened")
        } else if let verb = QoveryCatalog.verbs[event.type] {
            let what = subTarget ?? targetType ?? "resource"
            p.set(GenericPresenter.tone(of: event.category) == .warning ? .warning : .info, "\(what.prefix(1).uppercased() + what.dropFirst()) \(verb)")
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
