import Crypto
import EventModel
import Foundation
import HTTPClient

/// `type: webhook`: a signed HTTP POST of the normalized event and the source's raw event
/// (Standard Webhooks).
public enum WebhookSink: SinkPlugin {
    public static let kind = "webhook"

    public static let fields: [SinkField] = [
        DestinationURLField.field,
        SinkField("secret", .secret, placeholder: "whsec_" + Data(repeating: 0, count: 32).base64EncodedString()),
        CustomHeaders.field,
        // Variable values (and configured paths) travel redacted unless this is true.
        SinkField("raw_values", .bool),
        // A Mustache template for the whole body (JSON), instead of the event document.
        SinkField("body_template", .string),
        // A rule file's rotation: the rotated-out secret and when it stops signing.
        SinkField("previous_secret", .secret, origins: [.rules], placeholder: "whsec_" + Data(repeating: 1, count: 32).base64EncodedString(),
            reports: ["previous_secrets"]),
        SinkField("previous_secret_expires", .string, origins: [.rules]),
        // The API's rotations, kept by the store.
        SinkField("previous_secrets", .stored),
    ]

    public static func settings(from source: any SettingsSource) throws(FieldError) -> WebhookSettings {
        var settings = WebhookSettings(
            url: try DestinationURLField.read(source), secret: try source.secret("secret"), headers: try CustomHeaders.read(source),
            rawValues: try source.bool("raw_values") ?? false, bodyTemplate: try source.string("body_template"))
        switch source.origin {
        case .rules:
            settings.previousSecrets = try rulePreviousSecret(source)
        case .store:
            settings.previousSecrets = try storedPreviousSecrets(source.stored("previous_secrets"))
        case .api:
            // An update that sets the secret replaces it outright (rotate to overlap them);
            // one that leaves it out keeps the rotation in progress.
            if !source.isGiven("secret") { settings.previousSecrets = try storedPreviousSecrets(source.stored("previous_secrets")) }
        }
        return settings
    }

    public static func notifier(for subscription: Subscription, settings: WebhookSettings, context: SinkContext) -> any Notifier {
        WebhookNotifier(subscriptionID: subscription.id, settings: settings, transport: context.transport, presenter: context.presenter)
    }

    /// `previous_secret_env` and `previous_secret_expires` (an RFC 3339 time), both or neither.
    static func rulePreviousSecret(_ source: any SettingsSource) throws(FieldError) -> [PreviousSecret] {
        let secret = try source.secret("previous_secret")
        let expires = try source.string("previous_secret_expires")
        switch (secret, expires) {
        case (nil, nil):
            return []
        case (_?, nil):
            throw FieldError(
                field: "previous_secret",
                message: "previous_secret_env needs previous_secret_expires, the time it stops signing (RFC 3339, e.g. 2025-07-01T12:00:00Z)")
        case (nil, _?):
            throw FieldError(field: "previous_secret_expires", message: "previous_secret_expires needs previous_secret_env, the rotated-out secret's variable")
        case (let secret?, let text?):
            guard let expiry = Timestamp.parse(text) else {
                throw FieldError(field: "previous_secret_expires", message: "must be an RFC 3339 time such as 2025-07-01T12:00:00Z, not \"\(text)\"")
            }
            return [PreviousSecret(secret: secret, expiresAt: expiry)]
        }
    }

    /// `[{"secret", "expires_at" (Unix ms)}]`.
    static func storedPreviousSecrets(_ value: JSONValue?) throws(FieldError) -> [PreviousSecret] {
        guard let value, !value.isNull else { return [] }
        guard let items = value.arrayValue else { throw FieldError(field: "previous_secrets", message: "cannot be read") }
        var result: [PreviousSecret] = []
        for item in items {
            guard let secret = item["secret"]?.stringValue, let expires = item["expires_at"]?.intValue else {
                throw FieldError(field: "previous_secrets", message: "cannot be read")
            }
            result.append(PreviousSecret(secret: SecretString(secret), expiresAt: Date(timeIntervalSince1970: Double(expires) / 1000)))
        }
        return result
    }
}

public struct WebhookSettings: SecretRotating, Hashable {
    public var url: SecretString
    /// Standard Webhooks signing secret (`whsec_…`). Nil only while being created: the API
    /// generates one.
    public var secret: SecretString?
    /// Secrets being retired by a rotation: each still signs, beside `secret`, until it expires.
    public var previousSecrets: [PreviousSecret]
    public var headers: [CustomHeader]
    /// Send the values platforms put in clear in some events (a variable's value) as they are.
    /// Off: they arrive as `[redacted]`, like the configuration's `delivery.redact_paths`.
    public var rawValues: Bool
    /// Replaces the event document as the body (`MessageTemplate`, JSON output).
    public var bodyTemplate: String?

    public init(
        url: SecretString, secret: SecretString?, previousSecrets: [PreviousSecret] = [], headers: [CustomHeader] = [], rawValues: Bool = false,
        bodyTemplate: String? = nil
    ) {
        self.bodyTemplate = bodyTemplate
        self.url = url
        self.secret = secret
        self.previousSecrets = previousSecrets
        self.headers = headers
        self.rawValues = rawValues
    }

    public var kind: String { WebhookSink.kind }

    /// How many retired secrets may sign at once beside the current one.
    public static let maxPreviousSecrets = 3

    public func document() -> [String: JSONValue] {
        var document: [String: JSONValue] = ["url": .string(url.value), "headers": CustomHeaders.document(headers)]
        if let secret { document["secret"] = .string(secret.value) }
        if rawValues { document["raw_values"] = .bool(true) }
        if let bodyTemplate { document["body_template"] = .string(bodyTemplate) }
        if !previousSecrets.isEmpty {
            document["previous_secrets"] = .array(previousSecrets.map {
                .object(["secret": .string($0.secret.value), "expires_at": .integer(Int64(($0.expiresAt.timeIntervalSince1970 * 1000).rounded()))])
            })
        }
        return document
    }

    /// The secret masked with a fingerprint, when a rotated-out secret stops signing, and the
    /// names (never the values) of custom headers.
    public func view(now: Date) -> [String: JSONValue] {
        var object: [String: JSONValue] = [
            "url": .string(Redact.url(url.value)), "headers": CustomHeaders.view(headers), "raw_values": .bool(rawValues),
            "body_template": bodyTemplate.map(JSONValue.string) ?? .null,
        ]
        if let secret {
            object["secret"] = .string(Redact.secret(secret.value))
            object["secret_fingerprint"] = .string(SecretHint.fingerprint(secret))
            object["previous_secrets"] = .array(previousSecrets(inForceAt: now).map { previous in
                .object([
                    "secret": .string(Redact.secret(previous.secret.value)),
                    "fingerprint": .string(SecretHint.fingerprint(previous.secret)),
                    "expires_at": .string(Timestamp.format(previous.expiresAt)),
                ])
            })
        }
        return object
    }

    public var secrets: [SecretString] {
        [url] + [secret].compactMap { $0 } + previousSecrets.map(\.secret) + headers.map(\.value)
    }

    public func validate() -> FieldError? {
        if let problem = DestinationURLField.validate(url) { return problem }
        guard let secret else {
            return FieldError(
                field: "secret",
                message: "webhook subscriptions are signed (Standard Webhooks): give a secret such as "
                    + "\"whsec_\" followed by base64 of 24 to 64 random bytes (echo whsec_$(openssl rand -base64 32))")
        }
        if let problem = Self.validateSecret(secret) { return problem }
        if previousSecrets.count > Self.maxPreviousSecrets {
            return FieldError(field: "previous_secrets", message: "at most \(Self.maxPreviousSecrets) previous secrets may sign")
        }
        var seen: Set<String> = [secret.value]
        for previous in previousSecrets {
            if Self.validateSecret(previous.secret) != nil {
                return FieldError(field: "previous_secrets", message: "must be \"whsec_\" followed by base64 of 24 to 64 random bytes")
            }
            guard seen.insert(previous.secret.value).inserted else {
                return FieldError(field: "previous_secrets", message: "must differ from the current secret and from each other")
            }
        }
        if let problem = TemplateField.validate(bodyTemplate, output: .json, field: "body_template") { return problem }
        return CustomHeaders.validate(headers)
    }

    /// Standard Webhooks secrets: `whsec_` + base64 of 24 to 64 bytes (the HMAC key is the decoded bytes).
    public static func validateSecret(_ secret: SecretString) -> FieldError? {
        guard WebhookSignature.isValidSecret(secret.value) else {
            return FieldError(field: "secret", message: "must be \"whsec_\" followed by base64 of 24 to 64 random bytes")
        }
        return nil
    }

    // MARK: Rotation

    public static let secretField = "secret"

    public var currentSecret: SecretString? { secret }

    /// The secrets that sign a delivery made at `now`: the current one first, then each retired
    /// one that has not expired (latest expiry first). Expired secrets sign nothing.
    public func signingSecrets(at now: Date) -> [SecretString] {
        guard let secret else { return [] }
        return [secret] + previousSecrets(inForceAt: now).map(\.secret)
    }

    public func previousSecrets(inForceAt now: Date) -> [PreviousSecret] {
        previousSecrets.filter { $0.expiresAt > now }.sorted { $0.expiresAt > $1.expiresAt }
    }

    public func replacingSecret(with secret: SecretString) -> WebhookSettings {
        var changed = self
        changed.secret = secret
        changed.previousSecrets = []
        return changed
    }

    public func endingPreviousSecrets() -> WebhookSettings {
        var changed = self
        changed.previousSecrets = []
        return changed
    }

    /// A rotation made at `now`: `newSecret` signs from then on; the current secret keeps signing
    /// beside it until `previousExpiresAt` (not at all when that is not after `now`, which revokes
    /// it at once); retired secrets that have expired are dropped. Refuses a malformed secret or
    /// one already in use (`invalid`), and a rotation while too many retired secrets still sign (`conflict`).
    public func rotatingSecret(to newSecret: SecretString, previousExpiresAt: Date, now: Date) throws(RotationError) -> WebhookSettings {
        guard let current = secret else { throw .invalid(FieldError(field: "secret", message: "there is no current secret to rotate")) }
        if let problem = Self.validateSecret(newSecret) { throw .invalid(problem) }
        var kept = previousSecrets(inForceAt: now)
        if newSecret == current || kept.contains(where: { $0.secret == newSecret }) {
            throw .invalid(FieldError(field: "secret", message: "is already one of this subscription's signing secrets; a rotation needs a new one"))
        }
        if previousExpiresAt > now {
            guard kept.count < Self.maxPreviousSecrets else {
                let soonest = kept.map(\.expiresAt).min() ?? now
                throw .conflict(
                    "\(kept.count) previous secrets still sign (the first expires at \(Timestamp.format(soonest))); "
                        + "rotate with previous_expires_in \"0s\" or end their overlap first")
            }
            kept.insert(PreviousSecret(secret: current, expiresAt: previousExpiresAt), at: 0)
        }
        var rotated = self
        rotated.secret = newSecret
        rotated.previousSecrets = kept
        return rotated
    }

    /// A new Standard Webhooks secret: `whsec_` + base64 of 32 bytes from the system's
    /// cryptographically secure generator (getrandom on Linux).
    public static func generateSecret() -> SecretString {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return SecretString("whsec_" + Data(bytes).base64EncodedString())
    }
}

/// Hints that tell secrets apart without revealing anything usable.
public enum SecretHint {
    /// The first 8 hex digits of the secret's SHA-256 (`printf %s "$SECRET" | sha256sum | cut -c1-8`).
    public static func fingerprint(_ secret: SecretString) -> String {
        // Hex by table: `String(format:)` per byte was a tenth of the time of GET /v1/subscriptions.
        let digits = Array("0123456789abcdef".utf8)
        var hex: [UInt8] = []
        for byte in SHA256.hash(data: Data(secret.value.utf8)).prefix(4) {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: hex, as: UTF8.self)
    }
}
