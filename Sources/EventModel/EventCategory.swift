import Foundation

/// The relay's own vocabulary, the same for every platform, so one rule covers them all
/// (`categories: [deploy.failed]`). Each platform's folder maps its event types to these in one
/// documented table (docs/categories.md); a type with no counterpart has no category.
public enum EventCategory: String, Sendable, Codable, CaseIterable, Hashable {
    case deployStarted = "deploy.started"
    case deploySucceeded = "deploy.succeeded"
    case deployFailed = "deploy.failed"
    case appRestarted = "app.restarted"
    case appStopped = "app.stopped"
    case appScaled = "app.scaled"
    case appCrashed = "app.crashed"
    case appCreated = "app.created"
    case appDeleted = "app.deleted"
    case configChanged = "config.changed"
    /// Collaborators, ACLs, tokens, members.
    case accessChanged = "access.changed"
    case authLoginFailed = "auth.login_failed"
    case authLocked = "auth.locked"
    /// A one-off console or command in production (Scalingo `run`, Qovery shell or port-forward).
    case consoleOpened = "console.opened"
    case databaseMaintenance = "database.maintenance"
    case databaseBackupFailed = "database.backup_failed"
    case billing
    /// The relay's own deliveries (events of source `event-relay`).
    case relayDeliveryFailing = "relay.delivery_failing"
    case relayDeliveryRecovered = "relay.delivery_recovered"
    case relaySubscriptionDisabled = "relay.subscription_disabled"
    case relayDeadLetter = "relay.dead_letter"
    /// A digest: the events a rule or subscription gathered over a window, as one message.
    case relayDigest = "relay.digest"
}
