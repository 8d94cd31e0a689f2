import EventModel
import Foundation

/// Scalingo's event types: each one's category (docs/categories.md has this table) and a
/// one-line summary from its type data. Types Scalingo adds later pass through with no category.
public enum ScalingoCatalog {
    /// Every type `scalingo-events-api` documents, to its category (nil: none).
    public static let categories: [String: EventCategory?] = [
        "new_app": .appCreated, "create_review_app": .appCreated,
        "destroy_review_app": .appDeleted,
        "rename_app": .configChanged, "transfer_app": .accessChanged,
        "restart": .appRestarted, "scale": .appScaled,
        "deployment": nil,  // by its status: see `category(type:typeData:)`
        "run": .consoleOpened,
        "new_domain": .configChanged, "edit_domain": .configChanged, "delete_domain": .configChanged,
        "new_addon": .configChanged, "upgrade_addon": .configChanged, "delete_addon": .configChanged,
        "database/add_feature": .configChanged, "database/remove_feature": .configChanged,
        "new_collaborator": .accessChanged, "accept_collaborator": .accessChanged, "delete_collaborator": .accessChanged,
        "change_collaborator_role": .accessChanged,
        "new_variable": .configChanged, "edit_variable": .configChanged, "edit_variables": .configChanged, "delete_variable": .configChanged,
        "add_credit": .billing, "add_payment_method": .billing, "add_voucher": .billing,
        "new_log_drain": .configChanged, "delete_log_drain": .configChanged, "new_addon_log_drain": .configChanged,
        "delete_addon_log_drain": .configChanged,
        "link_scm": .configChanged, "update_scm": .configChanged, "unlink_scm": .configChanged,
        "login_success": nil, "login_failure": .authLoginFailed, "login_lock": .authLocked, "login_unlock_success": nil,
        "password_reset_query": .accessChanged, "password_reset_success": .accessChanged,
        "create_data_access_consent": .accessChanged, "edit_hds_contact": .configChanged,
        "stack_changed": .configChanged,
        "plan_database_maintenance": .databaseMaintenance, "start_database_maintenance": .databaseMaintenance,
        "complete_database_maintenance": .databaseMaintenance,
        "database_backup_succeeded": nil, "database_backup_failed": .databaseBackupFailed,
        "new_project": nil, "edit_project": .configChanged, "delete_project": nil, "update_app_project": .configChanged,
        "accept_project_transfer_invitation": .accessChanged, "accept_project_transfer_invitation_error": .accessChanged,
        "cancel_project_transfer_invitation": .accessChanged, "decline_project_transfer_invitation": .accessChanged,
    ]

    /// Types the events documentation does not list but Scalingo's own type list
    /// (`/v1/event_types`) does, and that have a counterpart.
    public static let undocumentedCategories: [String: EventCategory] = [
        "app_crashed": .appCrashed, "app_crashed_repeated": .appCrashed,
    ]

    /// Deployment statuses that mean it failed (`*-error` covers build, crashed, timeout, hook).
    static func deploymentFailed(_ status: String) -> Bool { status.hasSuffix("-error") || status == "aborted" }

    static func category(type: String, typeData: JSONValue?) -> EventCategory? {
        guard type == "deployment" else {
            if let known = categories[type] { return known }
            return undocumentedCategories[type]
        }
        guard let status = typeData?["status"]?.scalarText else { return .deployStarted }
        if status == "success" { return .deploySucceeded }
        return deploymentFailed(status) ? .deployFailed : .deployStarted
    }

    static func summary(type: String, typeData data: JSONValue?, app: String?, actor: Actor?) -> String {
        let who = actor?.displayName
        let on = app.map { " on \($0)" } ?? ""
        let by = who.map { " by \($0)" } ?? ""
        func text(_ key: String) -> String? { data?[key]?.scalarText }
        switch type {
        case "deployment":
            let target = app ?? "the app"
            let ref = text("git_ref").map { " (\($0.prefix(7)))" } ?? ""
            let pusher = text("pusher").map { " by \($0)" } ?? by
            let status = text("status") ?? "unknown"
            if status == "success" { return "Deployment of \(target) succeeded\(ref)\(pusher)" }
            if deploymentFailed(status) { return "Deployment of \(target) failed: \(status)\(ref)\(pusher)" }
            return "Deployment of \(target) \(status)\(ref)\(pusher)"
        case "restart":
            let scope = data?["scope"]?.arrayValue?.compactMap(\.scalarText) ?? []
            return "\(app ?? "App") restarted" + (scope.isEmpty ? "" : " (\(scope.joined(separator: ", ")))") + by
        case "scale":
            let before = data?["previous_containers"]
            let after = data?["containers"]
            let changes = (after?.objectValue ?? [:]).keys.sorted().map { name in
                "\(name) \(before?[name]?.scalarText ?? "0")→\(after?[name]?.scalarText ?? "?")"
            }
            return "\(app ?? "App") scaled" + (changes.isEmpty ? "" : ": \(changes.joined(separator: ", "))") + by
        case "run":
            let command = text("command").map { " `\(EventPresentation.clip($0, 120))`" } ?? " a one-off"
            return "\(who ?? "Someone") ran\(command)\(on)"
        case "login_lock":
            return "Account \(who ?? "?") locked after repeated failed logins" + (text("remote_ip").map { " (from \($0))" } ?? "")
        case "login_failure":
            return "Failed login for \(who ?? "?")" + (text("remote_ip").map { " from \($0)" } ?? "")
        case "new_variable", "edit_variable", "delete_variable":
            // Never the value: variables hold secrets.
            let verb = ["new_variable": "added", "edit_variable": "changed", "delete_variable": "deleted"][type] ?? "changed"
            return "Variable \(text("name") ?? "?") \(verb)\(on)\(by)"
        case "new_app": return "App \(app ?? "?") created\(by)"
        case "rename_app": return "App \(text("old_name") ?? "?") renamed to \(text("new_name") ?? app ?? "?")\(by)"
        case "database_backup_failed": return "Database backup failed\(on)"
        case "app_crashed": return "\(app ?? "App") crashed"
        case "app_crashed_repeated": return "\(app ?? "App") crashed again"
        case "plan_database_maintenance", "start_database_maintenance", "complete_database_maintenance":
            let phase = ["plan_database_maintenance": "planned", "start_database_maintenance": "started"][type] ?? "completed"
            return "Database maintenance \(phase)\(on)"
        case "new_collaborator", "accept_collaborator", "delete_collaborator", "change_collaborator_role":
            let person = text("email") ?? text("username") ?? data?["collaborator"]?["email"]?.scalarText ?? "a collaborator"
            let what = [
                "new_collaborator": "invited", "accept_collaborator": "joined", "delete_collaborator": "removed",
            ][type] ?? "changed role"
            return "Collaborator \(person) \(what)\(on)\(by)"
        default:
            return Event.defaultSummary(type: type, app: app, actor: actor)
        }
    }
}
