import EventModel
import Foundation

/// EscapeKit's event types: each one's category (docs/categories.md has this table) and a
/// one-line summary. Types EscapeKit adds later pass through with no category.
public enum EscapeKitCatalog {
    /// Every type the EscapeKit events documentation lists, to its category (nil: none).
    /// The documentation lists `UPDATE_INVENTORY_PROJECT_USER_ACL` twice and no
    /// `UPDATE_INVENTORY_PROJECT_TEAM_ACL`; the latter is assumed (the state ACLs have both).
    public static let categories: [String: EventCategory?] = [
        "CREATE_INVENTORY_PROJECT": nil,
        "NEW_INVENTORY_APPLICATION": .appCreated,
        "UPLOAD_INVENTORY_APPLICATION": nil,  // a release uploaded to the inventory, not deployed anywhere yet
        "UPDATE_INVENTORY_PROJECT_USER_ACL": .accessChanged, "DELETE_INVENTORY_PROJECT_USER_ACL": .accessChanged,
        "UPDATE_INVENTORY_PROJECT_TEAM_ACL": .accessChanged, "DELETE_INVENTORY_PROJECT_TEAM_ACL": .accessChanged,
        "CREATE_STATE_PROJECT": nil,
        "CREATE_STATE_ENVIRONMENT": nil,
        "CREATE_STATE_DEPLOYMENT": .appCreated,
        "UPDATE_STATE_DEPLOYMENT": .configChanged,
        "REDEPLOY_STATE_DEPLOYMENT": .deployStarted,
        "RERUN_SMOKE_TESTS": nil,
        "DESTROY_REQUESTED": .appDeleted,
        "ADD_BUILD": .deployStarted,
        "TRIGGER_BUILD_WEBHOOK": nil,  // the build it triggers arrives as ADD_BUILD
        "BUILD_FINISHED_EVENT": nil,  // by its outcome: see `category(type:data:)`
        "UPDATE_STATE_PROJECT_USER_ACL": .accessChanged, "DELETE_STATE_PROJECT_USER_ACL": .accessChanged,
        "UPDATE_STATE_PROJECT_TEAM_ACL": .accessChanged, "DELETE_STATE_PROJECT_TEAM_ACL": .accessChanged,
        "USER_SIGNUP": nil,
        "USER_CONFIRMED": nil,
        "TEAM_CREATED": nil,
        "TEAM_DELETED": .accessChanged,
        "TEAM_MEMBER_UPDATED": .accessChanged, "TEAM_MEMBER_DELETED": .accessChanged,
        "TEAM_SERVICE_ACCOUNT_CREATED": .accessChanged,
    ]

    /// Where an event happened, as its fields say.
    struct Scope {
        var inventoryProject: String?
        var application: String?
        var version: String?
        var stateProject: String?
        var environment: String?
        var deployment: String?

        /// `project/app@version` or `project/environment/deployment`, as far as known.
        var path: String? {
            if inventoryProject != nil || application != nil {
                let app = [inventoryProject, application].compactMap { $0 }.joined(separator: "/")
                return app + (version.map { "@\($0)" } ?? "")
            }
            let parts = [stateProject, environment, deployment].compactMap { $0 }
            return parts.isEmpty ? nil : parts.joined(separator: "/")
        }
    }

    /// A finished build's outcome, from its `data` (the documentation gives `data` no fields, so
    /// the usual names are tried): true succeeded, false failed, nil unknown.
    static func buildSucceeded(_ data: JSONValue?) -> Bool? {
        for key in ["success", "succeeded", "ok"] {
            if case .bool(let value) = data?[key] { return value }
        }
        for key in ["status", "outcome", "result", "state"] {
            guard let word = data?[key]?.scalarText?.lowercased() else { continue }
            if ["success", "succeeded", "successful", "ok", "passed", "completed", "complete", "done"].contains(word) { return true }
            if ["fail", "failed", "failure", "error", "errored", "aborted", "cancelled", "canceled", "timeout", "timed_out"].contains(word)
                || word.hasSuffix("error") || word.hasSuffix("failed") {
                return false
            }
        }
        return nil
    }

    static func outcome(_ data: JSONValue?) -> String? {
        ["status", "outcome", "result", "state"].lazy.compactMap { data?[$0]?.scalarText }.first
    }

    static func category(type: String, data: JSONValue?) -> EventCategory? {
        guard type == "BUILD_FINISHED_EVENT" else { return categories[type] ?? nil }
        return buildSucceeded(data).map { $0 ? .deploySucceeded : .deployFailed }
    }

    static func summary(type: String, scope: Scope, data: JSONValue?, actor: Actor?) -> String {
        let by = actor?.displayName.map { " by \($0)" } ?? ""
        let target = scope.path
        let at = target.map { " \($0)" } ?? ""
        func field(_ keys: String...) -> String? { keys.lazy.compactMap { data?[$0]?.scalarText }.first }
        switch type {
        case "CREATE_INVENTORY_PROJECT": return "Inventory project\(scope.inventoryProject.map { " \($0)" } ?? "") created\(by)"
        case "NEW_INVENTORY_APPLICATION": return "Application\(at) added to the inventory\(by)"
        case "UPLOAD_INVENTORY_APPLICATION": return "Release\(at) uploaded\(by)"
        case "UPDATE_INVENTORY_PROJECT_USER_ACL", "DELETE_INVENTORY_PROJECT_USER_ACL", "UPDATE_INVENTORY_PROJECT_TEAM_ACL",
            "DELETE_INVENTORY_PROJECT_TEAM_ACL", "UPDATE_STATE_PROJECT_USER_ACL", "DELETE_STATE_PROJECT_USER_ACL",
            "UPDATE_STATE_PROJECT_TEAM_ACL", "DELETE_STATE_PROJECT_TEAM_ACL":
            let kind = type.hasPrefix("UPDATE_INVENTORY") || type.hasPrefix("DELETE_INVENTORY") ? "Inventory" : "State"
            let project = (kind == "Inventory" ? scope.inventoryProject : scope.stateProject).map { " \($0)" } ?? ""
            let who = type.hasSuffix("TEAM_ACL") ? "team" : "user"
            let verb = type.hasPrefix("DELETE") ? "removed from" : "changed on"
            return "\(kind) project\(project): a \(who) ACL \(verb) it\(by)"
        case "CREATE_STATE_PROJECT": return "State project\(scope.stateProject.map { " \($0)" } ?? "") created\(by)"
        case "CREATE_STATE_ENVIRONMENT": return "Environment\(at) created\(by)"
        case "CREATE_STATE_DEPLOYMENT": return "Deployment\(at) created\(by)"
        case "UPDATE_STATE_DEPLOYMENT": return "Deployment\(at) updated\(by)"
        case "REDEPLOY_STATE_DEPLOYMENT": return "Redeploy of\(at.isEmpty ? " a deployment" : at) requested\(by)"
        case "RERUN_SMOKE_TESTS": return "Smoke tests re-run on\(at.isEmpty ? " a deployment" : at)\(by)"
        case "DESTROY_REQUESTED": return "Destroy of\(at.isEmpty ? " a deployment" : at) requested\(by)"
        case "ADD_BUILD": return "Build started for\(at.isEmpty ? " a deployment" : at)\(by)"
        case "TRIGGER_BUILD_WEBHOOK": return "Build webhook triggered for\(at.isEmpty ? " a deployment" : at)\(by)"
        case "BUILD_FINISHED_EVENT":
            let on = at.isEmpty ? "" : " for\(at)"
            switch buildSucceeded(data) {
            case true?: return "Build\(on) succeeded\(by)"
            case false?: return "Build\(on) failed: \(outcome(data) ?? "failed")\(by)"
            case nil: return "Build\(on) finished" + (outcome(data).map { ": \($0)" } ?? "") + by
            }
        case "USER_SIGNUP": return "User \(actor?.displayName ?? "?") signed up"
        case "USER_CONFIRMED": return "User \(actor?.displayName ?? "?") confirmed their account"
        case "TEAM_CREATED", "TEAM_DELETED":
            return "Team\(field("team", "team_name", "name").map { " \($0)" } ?? "") \(type == "TEAM_CREATED" ? "created" : "deleted")\(by)"
        case "TEAM_MEMBER_UPDATED", "TEAM_MEMBER_DELETED":
            let member = field("member", "username", "user").map { " \($0)" } ?? ""
            let team = field("team", "team_name").map { " of team \($0)" } ?? ""
            return "Member\(member)\(team) \(type == "TEAM_MEMBER_UPDATED" ? "updated" : "removed")\(by)"
        case "TEAM_SERVICE_ACCOUNT_CREATED":
            let team = field("team", "team_name").map { " for team \($0)" } ?? ""
            return "Service account created\(team)\(by)"
        default:
            return Event.defaultSummary(type: type.lowercased(), app: target, actor: actor)
        }
    }
}
