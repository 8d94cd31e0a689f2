import EventModel
import Foundation

/// EscapeKit's events as a person reads them: what happened (its summary's words), where
/// (inventory project, application and release, or state project, environment and deployment),
/// a finished build's outcome, and who.
enum EscapeKitPresenter {
    static let titles = [
        "CREATE_INVENTORY_PROJECT": "Inventory project created", "NEW_INVENTORY_APPLICATION": "Application added to the inventory",
        "CREATE_STATE_PROJECT": "State project created", "CREATE_STATE_ENVIRONMENT": "Environment created",
        "CREATE_STATE_DEPLOYMENT": "Deployment created", "UPDATE_STATE_DEPLOYMENT": "Deployment updated",
        "TRIGGER_BUILD_WEBHOOK": "Build webhook triggered", "USER_SIGNUP": "User signed up", "USER_CONFIRMED": "User confirmed",
        "TEAM_CREATED": "Team created", "TEAM_DELETED": "Team deleted", "TEAM_MEMBER_UPDATED": "Team member updated",
        "TEAM_MEMBER_DELETED": "Team member removed", "TEAM_SERVICE_ACCOUNT_CREATED": "Service account created",
    ]

    static func presentation(of event: Event) -> EventPresentation {
        var p = PresentationBuilder(event, data: event.raw["data"] ?? .object([:]))
        let raw = event.raw
        let tone: EventPresentation.Tone
        let title: String
        switch event.type {
        case "BUILD_FINISHED_EVENT":
            switch EscapeKitCatalog.buildSucceeded(p.data) {
            case true?: (tone, title) = (.success, "Build succeeded")
            case false?: (tone, title) = (.failure, "Build failed")
            case nil: (tone, title) = (.info, "Build finished")
            }
        case "ADD_BUILD": (tone, title) = (.progress, "Build started")
        case "REDEPLOY_STATE_DEPLOYMENT": (tone, title) = (.progress, "Redeploy requested")
        case "DESTROY_REQUESTED": (tone, title) = (.warning, "Destroy requested")
        case "RERUN_SMOKE_TESTS": (tone, title) = (.progress, "Smoke tests re-run")
        case "UPLOAD_INVENTORY_APPLICATION": (tone, title) = (.info, "Release uploaded")
        default:
            tone = GenericPresenter.tone(of: event.category)
            if let known = titles[event.type] {
                title = known
            } else if event.type.hasSuffix("_ACL") {
                let who = event.type.contains("TEAM") ? "Team" : "User"
                title = "\(who) access \(event.type.hasPrefix("DELETE") ? "removed" : "changed")"
            } else {
                let words = event.type.lowercased().replacingOccurrences(of: "_", with: " ")
                title = words.prefix(1).uppercased() + words.dropFirst()
            }
        }
        p.set(tone, title)
        if event.type == "BUILD_FINISHED_EVENT" { p.fact("Outcome", EscapeKitCatalog.outcome(p.data), code: true) }
        p.fact("Inventory project", raw.text("inventory_project"))
        p.fact("Application", raw.text("inventory_application"))
        p.fact("Release", raw.text("inventory_version"), code: true)
        p.fact("State project", raw.text("state_project"))
        p.fact("Environment", raw.text("state_environment"))
        p.fact("Deployment", raw.text("state_deployment"))
        for key in ["team", "team_name", "member", "username"] where !PresentationBuilder.secretLooking(key) {
            p.fact(key.replacingOccurrences(of: "_", with: " ").capitalized, p.data.text(key))
        }
        p.fact("By", event.actor?.displayName)
        p.subject = raw.text("inventory_application") ?? raw.text("state_deployment") ?? event.project
        return p.presentation
    }
}
