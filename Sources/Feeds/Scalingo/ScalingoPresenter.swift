import EventModel
import Foundation

/// Scalingo's events as a person on call reads them: for every documented type, what happened
/// and the facts that matter (a deployment's status, ref, pusher, duration and stack; a scale's
/// formation before → after; a console's command; a login's user and remote IP…). Variable
/// values, voucher codes, card details, contact details and log-drain URLs (they often hold a
/// token) are never shown: names, hosts and "changed" only.
enum ScalingoPresenter {
    /// Paths in the raw event whose values are secrets (webhooks redact them unless told not to).
    static func secretValuePaths(type: String) -> [[String]] {
        if variableTypes.contains(type) {
            // Every shape any variable event may have: the documentation's own example of
            // edit_variables is labelled edit_variable.
            var paths = [["type_data", "value"], ["type_data", "old_value"]]
            for list in ["new_vars", "updated_vars", "deleted_vars"] {
                paths += [["type_data", list, "*", "value"], ["type_data", list, "*", "old_value"]]
            }
            return paths
        }
        return (otherSecretValues[type] ?? []).map { ["type_data", $0] }
    }

    static let variableTypes: Set<String> = ["new_variable", "edit_variable", "edit_variables", "delete_variable"]

    /// Other values that must not travel: a log drain's URL (it usually holds the token), a
    /// voucher's code, card and billing details, a health-data contact's personal details, a
    /// git source (it may hold credentials).
    static let otherSecretValues: [String: [String]] = [
        "new_log_drain": ["url"], "delete_log_drain": ["url"], "new_addon_log_drain": ["url"], "delete_addon_log_drain": ["url"],
        "add_voucher": ["code"], "add_payment_method": ["stripe", "billing_profile", "vat_number"],
        "edit_hds_contact": ["email", "phone_number", "address_city", "address_zip", "address_country", "notes"],
        "new_app": ["git_source"],
    ]

    /// A formation entry as Scalingo writes it: a count, `"3:S"`, or `{amount, size}`.
    static func formation(_ value: JSONValue?) -> String {
        guard let value, !value.isNull else { return "0" }
        if let amount = value["amount"]?.scalarText {
            return value["size"]?.scalarText.map { "\(amount) × \($0)" } ?? amount
        }
        guard let text = value.scalarText else { return "?" }
        let parts = text.split(separator: ":", maxSplits: 1)
        return parts.count == 2 ? "\(parts[0]) × \(parts[1])" : text
    }

    static func presentation(of event: Event) -> EventPresentation {
        var p = PresentationBuilder(event, data: event.raw["type_data"] ?? .object([:]))
        let d = p.data
        switch event.type {
        case "deployment":
            let status = d.text("status") ?? "unknown"
            if status == "success" {
                p.set(.success, "Deployment succeeded")
            } else if ScalingoCatalog.deploymentFailed(status) {
                p.set(.failure, "Deployment failed")
            } else {
                p.set(.progress, "Deployment \(status)")
            }
            p.fact("Status", status, code: true)
            if let ref = d.text("git_ref"), !ref.isEmpty {
                p.fact("Git ref", String(ref.prefix(7)), link: d.text("git_ref_url"), code: true)
            }
            p.fact("Pusher", d.text("pusher") ?? event.actor?.displayName)
            if let seconds = d["duration"]?.intValue { p.fact("Duration", PresentationBuilder.duration(seconds)) }
            p.fact("Stack", d.text("stack"))
            if let type = d.text("deployment_type"), type != "deployment" { p.fact("Type", type) }
            if let commits = d["last_commits"]?["commits"]?.arrayValue ?? d["commits"]?.arrayValue, !commits.isEmpty {
                let lines = commits.prefix(3).compactMap { commit -> String? in
                    guard let message = commit["message"]?.scalarText ?? commit["title"]?.scalarText else { return nil }
                    return String(message.split(separator: "\n").first ?? "")
                }
                if !lines.isEmpty { p.fact("Last commits", lines.joined(separator: "\n")) }
            }
            p.link("Commit", d.text("git_ref_url"))
            // Building, then success or failure: one story, one chat message that can be updated.
            if let id = d.text("deployment_id") { p.thread = "\(event.appID ?? event.app ?? "app")/deployment/\(id)" }
        case "scale":
            p.set(.info, "App scaled")
            let before = d["previous_containers"]
            let after = d["containers"]
            let names = Set((before?.objectValue ?? [:]).keys).union((after?.objectValue ?? [:]).keys).sorted()
            for name in names {
                p.fact(name, "\(formation(before?[name])) → \(formation(after?[name]))")
            }
            if names.isEmpty { p.fact("Formation", "unchanged") }
        case "restart":
            p.set(.info, "App restarted")
            let scope = d["scope"]?.arrayValue?.compactMap(\.scalarText) ?? []
            p.fact("Scope", scope.isEmpty ? "all containers" : scope.joined(separator: ", "))
            p.fact("Requested by add-on", d.text("addon_provider"))
        case "run":
            p.set(.warning, "Console opened")
            p.fact("Command", d.text("command").map { EventPresentation.clip($0, 500) }, code: true)
            if case .bool(let detached)? = d["detached"] { p.fact("Detached", PresentationBuilder.yesNo(detached)) }
            if let size = d["audit_log_size"]?.intValue { p.fact("Audit log", "\(size) bytes") }
        case "new_app":
            p.set(.info, "App created")
            // Without credentials or query: a git URL may hold a token.
            p.fact("Git source", PresentationBuilder.withoutCredentials(d.text("git_source")))
        case "rename_app":
            p.set(.info, "App renamed")
            p.fact("Old name", d.text("old_name"))
            p.fact("New name", d.text("new_name"))
        case "transfer_app":
            p.set(.warning, "App transferred")
            p.fact("From", PresentationBuilder.person(d["old_owner"]))
            p.fact("To", PresentationBuilder.person(d["new_owner"]))
        case "new_domain", "edit_domain", "delete_domain":
            p.set(.info, ["new_domain": "Domain added", "edit_domain": "Domain updated"][event.type] ?? "Domain removed")
            p.fact("Domain", d.text("hostname") ?? d.text("name"), code: true)
            if event.type == "edit_domain", case .bool(let old)? = d["old_ssl"], case .bool(let new)? = d["ssl"] {
                p.fact("Custom certificate", "\(PresentationBuilder.yesNo(old)) → \(PresentationBuilder.yesNo(new))")
            } else if case .bool(let ssl)? = d["ssl"] {
                p.fact("Custom certificate", PresentationBuilder.yesNo(ssl))
            }
        case "new_addon", "upgrade_addon", "delete_addon":
            p.set(event.type == "delete_addon" ? .warning : .info,
                ["new_addon": "Add-on added", "upgrade_addon": "Add-on plan changed"][event.type] ?? "Add-on removed")
            p.fact("Add-on", d.text("addon_provider_name"))
            if event.type == "upgrade_addon" {
                p.fact("Plan", "\(d.text("old_plan_name") ?? "?") → \(d.text("new_plan_name") ?? "?")")
            } else {
                p.fact("Plan", d.text("plan_name"))
            }
            p.fact("Resource", d.text("resource_id"), code: true)
        case "database/add_feature", "database/remove_feature":
            p.set(.info, event.type == "database/add_feature" ? "Database feature enabled" : "Database feature disabled")
            p.fact("Feature", d.text("feature"), code: true)
            p.fact("Add-on", d.text("addon_provider_name"))
            p.fact("Remote IP", d.text("remote_ip"))
        case "new_collaborator":
            p.set(.warning, "Collaborator invited")
            p.fact("Invited", d["collaborator"]?["email"]?.scalarText)
            p.fact("Limited", d["collaborator"]?["is_limited"].flatMap(PresentationBuilder.flag))
        case "accept_collaborator":
            p.set(.warning, "Collaborator joined")
            p.fact("Collaborator", PresentationBuilder.person(d["collaborator"]))
            p.fact("Invited by", PresentationBuilder.person(d["collaborator"]?["inviter"]))
            p.fact("Limited", d["collaborator"]?["is_limited"].flatMap(PresentationBuilder.flag))
        case "delete_collaborator":
            p.set(.warning, "Collaborator removed")
            p.fact("Collaborator", PresentationBuilder.person(d["collaborator"]))
        case "change_collaborator_role":
            p.set(.warning, "Collaborator role changed")
            p.fact("Collaborator", PresentationBuilder.person(d["collaborator"]))
            p.fact("Limited", d["collaborator"]?["is_limited"].flatMap(PresentationBuilder.flag))
        case "new_variable", "edit_variable", "delete_variable", "edit_variables":
            if event.type != "edit_variables", d.text("name") != nil {
                let verb = ["new_variable": "added", "edit_variable": "changed"][event.type] ?? "deleted"
                p.set(.info, "Variable \(verb)")
                p.fact("Variable", d.text("name"), code: true)
                p.fact("Value", event.type == "delete_variable" ? "removed" : event.type == "new_variable" ? "set (not shown)" : "changed (not shown)")
            } else {
                // The bulk shape (which the documentation's own example labels edit_variable).
                p.set(.info, "Variables changed")
                for (key, label) in [("new_vars", "Added"), ("updated_vars", "Changed"), ("deleted_vars", "Deleted")] {
                    let names = d[key]?.arrayValue?.compactMap { $0["name"]?.scalarText } ?? []
                    if !names.isEmpty { p.fact(label, names.joined(separator: ", "), code: true) }
                }
                p.fact("Values", "not shown")
            }
        case "add_credit":
            p.set(.info, "Credit added")
            // Documented as `amount`; the example (and the API) write `value`.
            p.fact("Amount", d["amount"]?.scalarText ?? d["value"]?.scalarText)
            p.fact("Payment method", d.text("payment_method"))
        case "add_payment_method":
            p.set(.info, "Payment method added")
            p.fact("Type", d.text("payment_method_type") ?? d["billing_profile"]?["payment_method_type"]?.scalarText)
            p.fact("Card", d["stripe"]?["brand"]?.scalarText ?? d.text("brand"))
            p.fact("Company", d.text("company") ?? d["billing_profile"]?["company"]?.scalarText)
        case "add_voucher":
            p.set(.info, "Voucher added")
        case "new_log_drain", "delete_log_drain", "new_addon_log_drain", "delete_addon_log_drain":
            p.set(.info, event.type.hasPrefix("new") ? "Log drain added" : "Log drain removed")
            p.fact("Destination", PresentationBuilder.host(d.text("url")))
            p.fact("Add-on", d.text("addon_name"))
        case "link_scm", "update_scm", "unlink_scm":
            p.set(.info, ["link_scm": "Repository linked", "update_scm": "Repository link updated"][event.type] ?? "Repository unlinked")
            p.fact("Repository", d.text("repo_name"), link: d.text("source"))
            p.fact("Branch", d.text("branch"), code: true)
            if case .bool(let auto)? = d["auto_deploy"] { p.fact("Auto-deploy", PresentationBuilder.yesNo(auto)) }
            if case .bool(let review)? = d["auto_deploy_review_apps"] { p.fact("Review apps", PresentationBuilder.yesNo(review)) }
            p.fact("By", d.text("linker_username") ?? d.text("unlinker_username"))
        case "create_review_app", "destroy_review_app":
            p.set(.info, event.type == "create_review_app" ? "Review app created" : "Review app destroyed")
            p.fact("Review app", d.text("review_app_name"), link: d.text("review_app_url"))
            let number = d["pr_number"]?.scalarText.map { "#\($0) " } ?? ""
            if let name = d.text("pr_name") { p.fact("Pull request", number + name, link: d.text("pr_url")) }
            p.fact("Repository", d.text("source_repo_name"), link: d.text("source_repo_url"))
            if case .bool(true)? = d["pr_comes_from_a_fork"] { p.fact("From a fork", "yes") }
            p.link("Pull request", d.text("pr_url"))
        case "login_success", "login_failure", "login_lock", "login_unlock_success", "password_reset_query", "password_reset_success":
            let titles = [
                "login_success": ("Login", EventPresentation.Tone.info), "login_failure": ("Failed login", .warning),
                "login_lock": ("Account locked after repeated failed logins", .failure), "login_unlock_success": ("Account unlocked", .info),
                "password_reset_query": ("Password reset requested", .warning), "password_reset_success": ("Password reset", .warning),
            ]
            let (title, tone) = titles[event.type] ?? ("Account event", .info)
            p.set(tone, title)
            p.subject = nil
            p.fact("User", event.actor?.name ?? event.actor?.displayName)
            if let email = event.actor?.email, email != event.actor?.name { p.fact("Email", email) }
            p.fact("Remote IP", d.text("remote_ip"), code: true)
            p.fallback = "\(title): \(event.actor?.displayName ?? "unknown user")" + (d.text("remote_ip").map { " from \($0)" } ?? "")
        case "create_data_access_consent":
            p.set(.warning, "Data access granted to support")
            p.fact("Until", d.text("end_at"))
            if case .bool(let databases)? = d["databases"] { p.fact("Databases", PresentationBuilder.yesNo(databases)) }
            if case .bool(let containers)? = d["containers"] { p.fact("Containers", PresentationBuilder.yesNo(containers)) }
            p.fact("Remote IP", d.text("remote_ip"), code: true)
        case "edit_hds_contact":
            p.set(.info, "Health-data hosting contact updated")
            p.fact("Contact", d.text("name"))
            p.fact("Company", d.text("company"))
            p.fact("Remote IP", d.text("remote_ip"), code: true)
        case "stack_changed":
            p.set(.info, "Stack changed")
            p.fact("Stack", "\(d.text("previous_stack_name") ?? "?") → \(d.text("current_stack_name") ?? "?")")
        case "plan_database_maintenance", "start_database_maintenance", "complete_database_maintenance":
            let phase = ["plan_database_maintenance": "planned", "start_database_maintenance": "started"][event.type] ?? "completed"
            p.set(event.type == "start_database_maintenance" ? .progress : .info, "Database maintenance \(phase)")
            p.fact("Add-on", d.text("addon_name"))
            p.fact("Maintenance", d.text("maintenance_type"))
            if let hours = d["maintenance_window_in_hours"]?.intValue { p.fact("Window", "\(hours) h") }
            if event.type == "plan_database_maintenance" { p.fact("Next window", d.text("next_maintenance_window")) }
        case "database_backup_succeeded", "database_backup_failed":
            let failed = event.type == "database_backup_failed"
            p.set(failed ? .failure : .success, failed ? "Database backup failed" : "Database backup succeeded")
            p.fact("Add-on", d.text("addon_name"))
            p.fact("Status", d.text("backup_status"), code: true)
            p.fact("Started", d.text("started_at"))
            p.fact("Ended", d.text("ended_at"))
            p.fact("Backup", d.text("backup_id"), code: true)
        case "new_project", "edit_project", "delete_project", "update_app_project":
            let titles = ["new_project": "Project created", "edit_project": "Project updated", "delete_project": "Project deleted"]
            p.set(event.type == "delete_project" ? .warning : .info, titles[event.type] ?? "App moved to another project")
            p.fact("Project", d.text("name") ?? d.text("project_name") ?? d.text("new_project_name"))
            if event.type == "update_app_project" { p.fact("Previous project", d.text("old_project_name") ?? d.text("previous_project_name")) }
            if case .bool(let flag)? = d["default"] { p.fact("Default project", PresentationBuilder.yesNo(flag)) }
            for change in d["updated_values"]?.arrayValue ?? [] {
                guard let name = change["name"]?.scalarText else { continue }
                p.fact(name.replacingOccurrences(of: "_", with: " ").capitalizedFirst,
                    "\(change["old_value"]?.scalarText ?? "?") → \(change["value"]?.scalarText ?? "?")")
            }
        case "accept_project_transfer_invitation", "accept_project_transfer_invitation_error", "cancel_project_transfer_invitation",
            "decline_project_transfer_invitation":
            let titles = [
                "accept_project_transfer_invitation": "Project transfer accepted",
                "accept_project_transfer_invitation_error": "Project transfer failed",
                "cancel_project_transfer_invitation": "Project transfer cancelled",
            ]
            p.set(event.type.hasSuffix("_error") ? .failure : .warning, titles[event.type] ?? "Project transfer declined")
            p.fact("Project", d.text("project_name") ?? d.text("name"))
            p.fact("To", PresentationBuilder.person(d["invited_user"]))
            p.fact("From", PresentationBuilder.person(d["inviter"]))
            p.fact("Reason", d.text("status_reason"))
        case "app_crashed", "app_crashed_repeated":
            // Bad news, like a failed deployment; the app is the subject, named once.
            p.set(.failure, event.type == "app_crashed" ? "App crashed" : "App crashed again")
            plainFacts(d, into: &p)
        default:
            // A type Scalingo added later: its summary, and its plain fields (never a value-like one).
            p.set(GenericPresenter.tone(of: event.category), event.summary.prefix(1).uppercased() + event.summary.dropFirst())
            plainFacts(d, into: &p)
        }
        p.link("Open in Scalingo", event.details?["dashboard_url"]?.stringValue)
        return p.presentation
    }
}

extension ScalingoPresenter {
    /// A type's plain fields (never a value-like one), for types whose fields are not documented.
    static func plainFacts(_ data: JSONValue, into p: inout PresentationBuilder) {
        for (key, value) in (data.objectValue ?? [:]).sorted(by: { $0.key < $1.key }).prefix(8) where !PresentationBuilder.secretLooking(key) {
            p.fact(key.replacingOccurrences(of: "_", with: " ").capitalizedFirst, value.scalarText.map { EventPresentation.clip($0, 200) })
        }
    }
}

extension String {
    fileprivate var capitalizedFirst: String { prefix(1).uppercased() + dropFirst() }
}
