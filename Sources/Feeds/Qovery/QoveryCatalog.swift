import EventModel
import Foundation

/// Qovery's organization events: the enum values documented so far, each `event_type`'s category
/// (docs/categories.md has this table) and a one-line summary. Qovery adds values often: an
/// unknown event, target or sub-target type passes through with its own `type` and no category.
public enum QoveryCatalog {
    /// `OrganizationEventType` (the OpenAPI spec at 651aed53ce27; the seed lists all but `MCP` and `POLICY_FAILED`).
    public static let eventTypes = [
        "CREATE", "UPDATE", "DELETE", "ACCEPT", "EXPORT", "CLONE", "DEPLOY_QUEUED", "STOP_QUEUED", "RESTART_QUEUED", "DELETE_QUEUED",
        "UNINSTALL_QUEUED", "MAINTENANCE", "DRY_RUN", "TRIGGER_REDEPLOY", "TRIGGER_CANCEL", "FORCE_RUN_QUEUED", "FORCE_RUN_QUEUED_DEPLOY",
        "FORCE_RUN_QUEUED_STOP", "FORCE_RUN_QUEUED_DELETE", "TRIGGER_DEPLOY", "TRIGGER_STOP", "TRIGGER_RESTART", "TRIGGER_DELETE",
        "TRIGGER_UNINSTALL", "TRIGGER_DEPLOY_DRY_RUN", "TRIGGER_TERRAFORM_FORCE_UNLOCK", "TRIGGER_TERRAFORM_MIGRATE_STATE",
        "TRIGGER_FORCE_RUN", "TRIGGER_FORCE_RUN_DEPLOY", "TRIGGER_FORCE_RUN_STOP", "TRIGGER_FORCE_RUN_DELETE", "DEPLOYED", "STOPPED",
        "DELETED", "UNINSTALLED", "RESTARTED", "DEPLOYED_DRY_RUN", "FORCE_RUN_SUCCEEDED", "TERRAFORM_FORCE_UNLOCK_SUCCEEDED",
        "TERRAFORM_MIGRATE_STATE_SUCCEEDED", "DEPLOY_FAILED", "STOP_FAILED", "DELETE_FAILED", "UNINSTALL_FAILED", "RESTART_FAILED",
        "DEPLOYED_DRY_RUN_FAILED", "FORCE_RUN_FAILED", "TERRAFORM_FORCE_UNLOCK_FAILED", "TERRAFORM_MIGRATE_STATE_FAILED", "SHELL",
        "PORT_FORWARD", "REMOTE_DEBUG", "MCP", "IMPORT", "LOCK", "UNLOCK", "POLICY_FAILED",
    ]

    /// `OrganizationEventTargetType`.
    public static let targetTypes = [
        "AGENTIC_WORKFLOW", "APPLICATION", "CLUSTER", "CONTAINER", "CONTAINER_REGISTRY", "DATABASE", "ENTERPRISE_CONNECTION", "ENVIRONMENT",
        "JOB", "HELM", "HELM_REPOSITORY", "MEMBERS_AND_ROLES", "ORGANIZATION", "PROJECT", "WEBHOOK", "TERRAFORM",
    ]

    /// `OrganizationEventSubTargetType`.
    public static let subTargetTypes = Array(subTargetCategories.keys).sorted()

    /// `OrganizationEventOrigin`.
    public static let origins = ["API", "CLI", "CONSOLE", "GIT", "QOVERY_INTERNAL", "SKILL", "TERRAFORM_PROVIDER"]

    /// Targets that run: what `app.*` and `deploy.*` speak of. An environment counts (a preview
    /// environment is Qovery's review app).
    public static let serviceTargets: Set<String> = ["APPLICATION", "CONTAINER", "JOB", "DATABASE", "HELM", "TERRAFORM", "ENVIRONMENT"]

    /// Event types whose category does not depend on the target.
    public static let fixedCategories: [String: EventCategory?] = [
        "TRIGGER_DEPLOY": .deployStarted, "TRIGGER_REDEPLOY": .deployStarted, "DEPLOY_QUEUED": .deployStarted,
        "DEPLOYED": .deploySucceeded, "DEPLOY_FAILED": .deployFailed,
        "RESTARTED": .appRestarted, "STOPPED": .appStopped, "DELETED": .appDeleted,
        "SHELL": .consoleOpened, "PORT_FORWARD": .consoleOpened, "REMOTE_DEBUG": .consoleOpened,
        "ACCEPT": .accessChanged, "LOCK": .configChanged, "UNLOCK": .configChanged, "IMPORT": .configChanged,
        // Requested, queued or failed steps other than a deployment's, dry runs, force runs of
        // jobs, Terraform state operations, exports, MCP calls and policy checks: no counterpart.
        "STOP_QUEUED": nil, "RESTART_QUEUED": nil, "DELETE_QUEUED": nil, "UNINSTALL_QUEUED": nil, "TRIGGER_CANCEL": nil,
        "TRIGGER_STOP": nil, "TRIGGER_RESTART": nil, "TRIGGER_DELETE": nil, "TRIGGER_UNINSTALL": nil,
        "STOP_FAILED": nil, "DELETE_FAILED": nil, "UNINSTALL_FAILED": nil, "RESTART_FAILED": nil, "UNINSTALLED": nil,
        "DRY_RUN": nil, "TRIGGER_DEPLOY_DRY_RUN": nil, "DEPLOYED_DRY_RUN": nil, "DEPLOYED_DRY_RUN_FAILED": nil,
        "FORCE_RUN_QUEUED": nil, "FORCE_RUN_QUEUED_DEPLOY": nil, "FORCE_RUN_QUEUED_STOP": nil, "FORCE_RUN_QUEUED_DELETE": nil,
        "TRIGGER_FORCE_RUN": nil, "TRIGGER_FORCE_RUN_DEPLOY": nil, "TRIGGER_FORCE_RUN_STOP": nil, "TRIGGER_FORCE_RUN_DELETE": nil,
        "FORCE_RUN_SUCCEEDED": nil, "FORCE_RUN_FAILED": nil,
        "TRIGGER_TERRAFORM_FORCE_UNLOCK": nil, "TRIGGER_TERRAFORM_MIGRATE_STATE": nil, "TERRAFORM_FORCE_UNLOCK_SUCCEEDED": nil,
        "TERRAFORM_MIGRATE_STATE_SUCCEEDED": nil, "TERRAFORM_FORCE_UNLOCK_FAILED": nil, "TERRAFORM_MIGRATE_STATE_FAILED": nil,
        "EXPORT": nil, "MCP": nil, "POLICY_FAILED": nil,
    ]

    /// `CREATE`, `UPDATE`, `DELETE` and `CLONE` of a sub-target (a variable of an application, a
    /// member's role): its category whatever the verb.
    public static let subTargetCategories: [String: EventCategory?] = [
        "ADVANCED_SETTINGS": .configChanged, "ALERT_RECEIVER": .configChanged, "ALERT_RULE": .configChanged,
        "ANNOTATIONS_GROUP": .configChanged, "ARGOCD_CLUSTER_MAPPING": .configChanged, "ARGOCD_CONFIGURATION": .configChanged,
        "BLUEPRINT_MIGRATION": .configChanged, "CLUSTER_ROUTING_TABLE": .configChanged, "CONFIG": .configChanged,
        "CUSTOM_DOMAIN": .configChanged, "DEPLOYMENT_RULE": .configChanged, "DEPLOYMENT_STAGE": .configChanged,
        "DNS_PROVIDER": .configChanged, "GITHUB_APP": .configChanged, "GIT_REPOSITORY": .configChanged,
        "KUBERNETES_CONFIGURATION": .configChanged, "LABELS_GROUP": .configChanged, "MCP_SERVER": .configChanged,
        "SECRET": .configChanged, "TERRAFORM": .configChanged, "VARIABLE": .configChanged,
        // Who or what may act: people, roles, tokens, credentials, remote access.
        "API_TOKEN": .accessChanged, "POLICY_API_TOKEN": .accessChanged, "GIT_TOKEN": .accessChanged, "JWT_TOKEN_FORGED": .accessChanged,
        "CUSTOM_ROLE": .accessChanged, "MEMBER_ROLE": .accessChanged, "INVITATION": .accessChanged, "SSO": .accessChanged,
        "TRANSFER_OWNERSHIP": .accessChanged, "REMOTE_ACCESS": .accessChanged, "CLOUD_PROVIDER_CREDENTIALS": .accessChanged,
        "CLUSTER_CREDENTIALS": .accessChanged, "KUBERNETES_CREDENTIALS": .accessChanged,
        "BILLING_INFO": .billing, "BILLING_USAGE_REPORT": .billing, "CREDIT_CARD": .billing, "CREDIT_CODE": .billing, "PLAN": .billing,
        "TOOL_CALL": nil,
    ]

    /// `CREATE`, `UPDATE` and `DELETE` of a whole target (no sub-target), for targets that are not services.
    public static let targetChangeCategories: [String: EventCategory?] = [
        "MEMBERS_AND_ROLES": .accessChanged, "ENTERPRISE_CONNECTION": .accessChanged,
        "CLUSTER": .configChanged, "CONTAINER_REGISTRY": .configChanged, "HELM_REPOSITORY": .configChanged, "WEBHOOK": .configChanged,
        "ORGANIZATION": .configChanged, "AGENTIC_WORKFLOW": .configChanged,
        "PROJECT": .configChanged,  // UPDATE only: creating or deleting a project has no counterpart (see `category`)
    ]

    /// Whether the table has a row for `eventType` (every documented one does).
    public static func isKnown(eventType: String) -> Bool {
        fixedCategories[eventType] != nil || ["MAINTENANCE", "CREATE", "UPDATE", "DELETE", "CLONE"].contains(eventType)
    }

    /// The category of one event (nil: none, or a value this table does not know).
    public static func category(eventType: String, targetType: String?, subTargetType: String?) -> EventCategory? {
        if let fixed = fixedCategories[eventType] { return fixed }
        switch eventType {
        case "MAINTENANCE":
            return targetType == "DATABASE" ? .databaseMaintenance : nil
        case "CREATE", "UPDATE", "DELETE", "CLONE":
            if let sub = subTargetType { return subTargetCategories[sub] ?? nil }
            guard let target = targetType else { return nil }
            if serviceTargets.contains(target) {
                switch eventType {
                case "CREATE", "CLONE": return .appCreated
                case "DELETE": return .appDeleted
                default: return .configChanged
                }
            }
            if target == "PROJECT" && eventType != "UPDATE" { return nil }
            if eventType == "CLONE" { return nil }
            return targetChangeCategories[target] ?? nil
        default:
            return nil
        }
    }

    /// "DEPLOY_FAILED" → (Deployment, failed): the lifecycle steps, read as "<step> of <target> <outcome>".
    static let lifecycle: [String: (step: String, outcome: String)] = {
        var table: [String: (String, String)] = [:]
        let steps: [(suffix: String, step: String)] = [
            ("DEPLOY", "Deployment"), ("REDEPLOY", "Redeployment"), ("STOP", "Stop"), ("RESTART", "Restart"), ("DELETE", "Deletion"),
            ("UNINSTALL", "Uninstall"), ("DEPLOY_DRY_RUN", "Dry-run deployment"), ("FORCE_RUN", "Force run"),
            ("FORCE_RUN_DEPLOY", "Force run (deploy)"), ("FORCE_RUN_STOP", "Force run (stop)"), ("FORCE_RUN_DELETE", "Force run (delete)"),
            ("TERRAFORM_FORCE_UNLOCK", "Terraform force-unlock"), ("TERRAFORM_MIGRATE_STATE", "Terraform state migration"),
        ]
        for (suffix, step) in steps { table["TRIGGER_\(suffix)"] = (step, "requested") }
        for (type, step) in [
            ("DEPLOY_QUEUED", "Deployment"), ("STOP_QUEUED", "Stop"), ("RESTART_QUEUED", "Restart"), ("DELETE_QUEUED", "Deletion"),
            ("UNINSTALL_QUEUED", "Uninstall"), ("FORCE_RUN_QUEUED", "Force run"), ("FORCE_RUN_QUEUED_DEPLOY", "Force run (deploy)"),
            ("FORCE_RUN_QUEUED_STOP", "Force run (stop)"), ("FORCE_RUN_QUEUED_DELETE", "Force run (delete)"),
        ] { table[type] = (step, "queued") }
        for (type, step) in [
            ("DEPLOYED", "Deployment"), ("STOPPED", "Stop"), ("DELETED", "Deletion"), ("UNINSTALLED", "Uninstall"), ("RESTARTED", "Restart"),
            ("DEPLOYED_DRY_RUN", "Dry-run deployment"), ("FORCE_RUN_SUCCEEDED", "Force run"),
            ("TERRAFORM_FORCE_UNLOCK_SUCCEEDED", "Terraform force-unlock"), ("TERRAFORM_MIGRATE_STATE_SUCCEEDED", "Terraform state migration"),
        ] { table[type] = (step, "succeeded") }
        for (type, step) in [
            ("DEPLOY_FAILED", "Deployment"), ("STOP_FAILED", "Stop"), ("DELETE_FAILED", "Deletion"), ("UNINSTALL_FAILED", "Uninstall"),
            ("RESTART_FAILED", "Restart"), ("DEPLOYED_DRY_RUN_FAILED", "Dry-run deployment"), ("FORCE_RUN_FAILED", "Force run"),
            ("TERRAFORM_FORCE_UNLOCK_FAILED", "Terraform force-unlock"), ("TERRAFORM_MIGRATE_STATE_FAILED", "Terraform state migration"),
            ("POLICY_FAILED", "Policy check"),
        ] { table[type] = (step, "failed") }
        table["TRIGGER_CANCEL"] = ("Cancellation", "requested")
        table["DRY_RUN"] = ("Dry run", "ran")
        table["MAINTENANCE"] = ("Maintenance", "ran")
        return table
    }()

    static let verbs = [
        "CREATE": "created", "UPDATE": "updated", "DELETE": "deleted", "ACCEPT": "accepted", "EXPORT": "exported", "CLONE": "cloned",
        "IMPORT": "imported", "LOCK": "locked", "UNLOCK": "unlocked",
    ]

    static let sessions = ["SHELL": "Shell", "PORT_FORWARD": "Port forward", "REMOTE_DEBUG": "Remote debug session"]

    /// `APPLICATION` → `application`, `MEMBERS_AND_ROLES` → `members and roles`.
    static func words(_ value: String) -> String {
        value.lowercased().split(separator: "_").map { acronyms[String($0)] ?? String($0) }.joined(separator: " ")
    }

    static let acronyms = ["api": "API", "sso": "SSO", "jwt": "JWT", "dns": "DNS", "mcp": "MCP", "argocd": "Argo CD", "github": "GitHub"]

    static func capitalized(_ text: String) -> String { text.prefix(1).uppercased() + text.dropFirst() }

    /// One line: "Deployment of api (production, project acme) failed", "Shell opened on api by ann@example.com",
    /// "Variable created on application api (production, project acme) by ann". Never a value from `change`.
    static func summary(
        eventType: String, targetType: String?, subTargetType: String?, targetName: String?, environment: String?, project: String?,
        actor: Actor?
    ) -> String {
        let context = [environment, project.map { "project \($0)" }].compactMap { $0 }
        let within = context.isEmpty ? "" : " (\(context.joined(separator: ", ")))"
        let by = actor?.displayName.map { " by \($0)" } ?? ""
        let kind = targetType.map(words)
        // "api" when the target has a name, else "application", else "a target".
        let target = targetName ?? kind.map { "the \($0)" } ?? "a target"
        // "application api", for changes to things that are not obviously services.
        let namedTarget = [kind, targetName].compactMap { $0 }.joined(separator: " ")
        if let entry = lifecycle[eventType] {
            return "\(entry.step) of \(target)\(within) \(entry.outcome)\(by)"
        }
        if let session = sessions[eventType] {
            return "\(session) opened on \(target)\(within)\(by)"
        }
        if let verb = verbs[eventType] {
            if let sub = subTargetType {
                let on = namedTarget.isEmpty ? "" : " on \(namedTarget)"
                return "\(capitalized(words(sub))) \(verb)\(on)\(within)\(by)"
            }
            let subject = namedTarget.isEmpty ? "Something" : capitalized(namedTarget)
            return "\(subject) \(verb)\(within)\(by)"
        }
        if eventType == "MCP" {
            return "MCP action on \(target)\(within)\(by)"
        }
        // A type Qovery added after this table: its words, what it touched, who.
        let on = namedTarget.isEmpty ? "" : " on \(namedTarget)"
        return "\(capitalized(words(eventType)))\(on)\(within)\(by)"
    }
}
