import EventModel
import Foundation
import HTTPClient

/// One destination kind, as the relay sees it. Everything about a kind lives in its folder under
/// `Sinks/`: its settings type (read by one decoder from the API, rule files and the store),
/// their validation and redacted view, its notifier, its docs. `SinkRegistry` lists the folders,
/// and nothing else names a kind. (Alertmanager's `notify/<receiver>/`.)
public protocol SinkPlugin: Sendable {
    associatedtype Settings: SinkSettings

    /// The subscription's `type`.
    static var kind: String { get }
    /// Every key its settings accept, beside the shared ones (id, type, filter, delivery).
    static var fields: [SinkField] { get }
    /// Reads settings from any source; errors name the key. Shapes only: `Settings.validate()`
    /// checks values.
    static func settings(from source: any SettingsSource) throws(FieldError) -> Settings
    /// How fast its receivers accept messages when a subscription sets no rate limit.
    static var defaultRateLimit: RateLimit? { get }
    static func notifier(for subscription: Subscription, settings: Settings, context: SinkContext) -> any Notifier
    /// Things worth telling whoever saves these settings, that do not stop them working
    /// (a field the receiver will ignore, say).
    static func warnings(_ settings: Settings) -> [String]
}

extension SinkPlugin {
    public static var defaultRateLimit: RateLimit? { nil }
    public static func warnings(_ settings: Settings) -> [String] { [] }

    static var descriptor: SinkKind {
        SinkKind(name: kind, fields: fields) { source throws(FieldError) in try settings(from: source) }
    }

    static func makeNotifier(_ subscription: Subscription, context: SinkContext) -> (any Notifier)? {
        guard let settings = subscription.settings as? Settings else { return nil }
        return notifier(for: subscription, settings: settings, context: context)
    }

    static func warningsFor(_ settings: any SinkSettings) -> [String] {
        (settings as? Settings).map(warnings) ?? []
    }
}

/// What every notifier is made with: the way out, and how events read and are redacted.
public struct SinkContext: Sendable {
    /// Guarded: connects only where the address policy allows.
    public var transport: any HTTPTransport
    /// Presents events for people (chat, mail) and removes secret values from what is sent.
    public var presenter: any EventPresenter
    /// Guarded like `transport`; nil when the relay sends no e-mail.
    public var mail: (any MailTransport)?
    /// Where credentials named by settings (`password_env`) are read.
    public var environment: [String: String]
    /// Where chat messages of a story were posted (to update them); nil: not kept.
    public var threads: (any MessageThreads)?

    public init(
        transport: any HTTPTransport, presenter: any EventPresenter = GenericPresenter(), mail: (any MailTransport)? = nil,
        environment: [String: String] = [:], threads: (any MessageThreads)? = nil
    ) {
        self.threads = threads
        self.transport = transport
        self.presenter = presenter
        self.mail = mail
        self.environment = environment
    }
}

/// The destination kinds the relay knows. Adding one is a folder under `Sinks/` and a line here.
public enum SinkRegistry {
    public static let plugins: [any SinkPlugin.Type] = [
        WebhookSink.self,
        SlackSink.self,
        ChatSink<MattermostFormat>.self,
        ChatSink<RocketChatFormat>.self,
        ChatSink<DiscordFormat>.self,
        ChatSink<TeamsFormat>.self,
        ChatSink<GoogleChatFormat>.self,
        EmailSink.self,
    ]

    /// What the store and the rule loader are handed to read settings.
    public static let kinds = SinkKinds(plugins.map { $0.descriptor })

    public static func plugin(kind: String) -> (any SinkPlugin.Type)? {
        plugins.first { $0.kind == kind }
    }

    public static func defaultRateLimit(kind: String) -> RateLimit? {
        plugin(kind: kind)?.defaultRateLimit
    }

    public static func warnings(for settings: any SinkSettings) -> [String] {
        plugin(kind: settings.kind)?.warningsFor(settings) ?? []
    }
}

/// Settings signed with a secret that can be rotated (Standard Webhooks): the admin API's
/// rotation endpoints work on any kind whose settings conform.
public protocol SecretRotating: SinkSettings {
    /// The key that sets the secret (`secret`): a save that leaves it out gets one generated.
    static var secretField: String { get }
    /// The secret signing now; nil when none was given (the API then generates one).
    var currentSecret: SecretString? { get }
    /// Retired secrets that still sign at `now`, latest expiry first.
    func previousSecrets(inForceAt now: Date) -> [PreviousSecret]
    /// These settings signing with `secret` alone.
    func replacingSecret(with secret: SecretString) -> Self
    /// A rotation made at `now` (see `WebhookSettings.rotatingSecret`).
    func rotatingSecret(to newSecret: SecretString, previousExpiresAt: Date, now: Date) throws(RotationError) -> Self
    /// Rotated-out secrets stop signing.
    func endingPreviousSecrets() -> Self
    /// A fresh secret of the kind's format.
    static func generateSecret() -> SecretString
}

/// Why a rotation was refused: the new secret (a field problem), or the state of the
/// subscription (too many retired secrets still sign: a conflict, resolved by waiting or revoking).
public enum RotationError: Error, Sendable, Equatable {
    case invalid(FieldError)
    case conflict(String)
}

/// A signing secret being retired by a rotation: it keeps signing, beside the current secret,
/// until `expiresAt`, so receivers can switch to the new secret at their own pace.
public struct PreviousSecret: Sendable, Hashable {
    public var secret: SecretString
    public var expiresAt: Date

    public init(secret: SecretString, expiresAt: Date) {
        self.secret = secret
        self.expiresAt = expiresAt
    }
}

/// How long a rotated-out secret keeps signing.
public enum SecretRotation {
    /// When the rotation does not say.
    public static let defaultOverlap: Duration = .seconds(24 * 3600)
    /// The longest it may.
    public static let maxOverlap: Duration = .seconds(30 * 24 * 3600)
}
