import Foundation

/// A signing secret being retired by a rotation: it keeps signing, beside the current secret,
/// until `expiresAt`, so receivers can switch to the new secret at their own pace.
public struct PreviousSecret: Sendable, Hashable {
    public var secret: String
    public var expiresAt: Date

    public init(secret: String, expiresAt: Date) {
        self.secret = secret
        self.expiresAt = expiresAt
    }
}

/// A header sent with every delivery of a subscription. The value is treated as a secret (it is
/// usually a credential): stored, sent, and scrubbed from what receivers echo, never shown.
public struct CustomHeader: Sendable, Hashable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

extension Subscription {
    /// How many retired secrets may sign at once beside the current one.
    public static let maxPreviousSecrets = 3
    /// How long a rotated-out secret keeps signing when the rotation does not say.
    public static let defaultRotationOverlap: Duration = .seconds(24 * 3600)
    /// The longest a rotated-out secret may keep signing.
    public static let maxRotationOverlap: Duration = .seconds(30 * 24 * 3600)

    public static let maxHeaders = 20
    public static let maxHeaderNameLength = 64
    public static let maxHeaderValueLength = 4096
    /// Names and values together.
    public static let maxHeadersSize = 8192
    /// Headers the relay or HTTP itself sets: a subscription may not override them
    /// (compared in lower case; every `webhook-*` name is reserved for Standard Webhooks too).
    public static let reservedHeaderNames: Set<String> = [
        "host", "content-length", "content-type", "content-encoding", "transfer-encoding", "connection", "keep-alive",
        "proxy-connection", "proxy-authorization", "te", "trailer", "upgrade", "expect",
    ]
    public static let reservedHeaderPrefix = "webhook-"

    /// The secrets that sign a delivery made at `now`: the current one first, then each retired
    /// one that has not expired (latest expiry first). Expired secrets sign nothing.
    public func signingSecrets(at now: Date) -> [String] {
        guard let current = signingSecret else { return [] }
        return [current] + previousSecrets(inForceAt: now).map(\.secret)
    }

    /// The retired secrets that still sign at `now`, latest expiry first.
    public func previousSecrets(inForceAt now: Date) -> [PreviousSecret] {
        previousSecrets.filter { $0.expiresAt > now }.sorted { $0.expiresAt > $1.expiresAt }
    }

    /// A rotation made at `now`: `newSecret` signs from then on; the current secret keeps signing
    /// beside it until `previousExpiresAt` (not at all when that is not after `now`, which revokes
    /// it at once); retired secrets that have expired are dropped. Throws a `FieldError` on
    /// `type` (not a signed subscription), `secret` (malformed, or a secret already in use) or
    /// `previous_secrets` (too many still signing).
    public func rotatingSecret(to newSecret: String, previousExpiresAt: Date, now: Date) throws(FieldError) -> Subscription {
        guard kind == .webhook, let current = signingSecret else {
            throw FieldError(field: "type", message: "only webhook subscriptions are signed")
        }
        if let problem = Subscription.validateSigningSecret(newSecret) { throw problem }
        var kept = previousSecrets(inForceAt: now)
        if newSecret == current || kept.contains(where: { $0.secret == newSecret }) {
            throw FieldError(field: "secret", message: "is already one of this subscription's signing secrets; a rotation needs a new one")
        }
        if previousExpiresAt > now {
            guard kept.count < Subscription.maxPreviousSecrets else {
                let soonest = kept.map(\.expiresAt).min() ?? now
                throw FieldError(
                    field: "previous_secrets",
                    message: "\(kept.count) previous secrets still sign (the first expires at \(Timestamp.format(soonest))); "
                        + "rotate with previous_expires_in \"0s\" or end their overlap first")
            }
            kept.insert(PreviousSecret(secret: current, expiresAt: previousExpiresAt), at: 0)
        }
        var rotated = self
        rotated.signingSecret = newSecret
        rotated.previousSecrets = kept
        return rotated
    }

    /// A new Standard Webhooks secret: `whsec_` + base64 of 32 bytes from the system's
    /// cryptographically secure generator (getrandom on Linux).
    public static func generateSigningSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return "whsec_" + Data(bytes).base64EncodedString()
    }

    func validatePreviousSecrets() -> FieldError? {
        if previousSecrets.count > Subscription.maxPreviousSecrets {
            return FieldError(field: "previous_secrets", message: "at most \(Subscription.maxPreviousSecrets) previous secrets may sign")
        }
        var seen: Set<String> = signingSecret.map { [$0] } ?? []
        for previous in previousSecrets {
            if Subscription.validateSigningSecret(previous.secret) != nil {
                return FieldError(
                    field: "previous_secrets", message: "must be \"whsec_\" followed by base64 of 24 to 64 random bytes")
            }
            guard seen.insert(previous.secret).inserted else {
                return FieldError(field: "previous_secrets", message: "must differ from the current secret and from each other")
            }
        }
        return nil
    }

    /// RFC 9110 field names (tokens), values of printable ASCII without CR, LF, NUL or other
    /// controls (they would split or end the request's header block), bounded in count and size,
    /// none the relay or HTTP sets itself, no name twice. Messages name headers, never values.
    public static func validateHeaders(_ headers: [CustomHeader], field: String) -> FieldError? {
        if headers.count > maxHeaders {
            return FieldError(field: field, message: "at most \(maxHeaders) headers")
        }
        let tokenCharacters = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".unicodeScalars)
        var seen: Set<String> = []
        var size = 0
        for header in headers {
            let name = header.name
            guard !name.isEmpty, name.unicodeScalars.count <= maxHeaderNameLength,
                  name.unicodeScalars.allSatisfy({ tokenCharacters.contains($0) })
            else {
                return FieldError(
                    field: field,
                    message: "header names must be 1 to \(maxHeaderNameLength) letters, digits or !#$%&'*+-.^_`|~ (got \(String(reflecting: name)))")
            }
            let lower = name.lowercased()
            if reservedHeaderNames.contains(lower) || lower.hasPrefix(reservedHeaderPrefix) {
                return FieldError(field: "\(field).\(name)", message: "is set by the relay or by HTTP itself and cannot be overridden")
            }
            guard seen.insert(lower).inserted else {
                return FieldError(field: "\(field).\(name)", message: "is given more than once (names are case-insensitive)")
            }
            let value = header.value.unicodeScalars
            if value.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) {
                return FieldError(field: "\(field).\(name)", message: "the value must not contain CR, LF or NUL")
            }
            guard !value.isEmpty, value.allSatisfy({ $0 == "\t" || (0x20..<0x7F).contains($0.value) }) else {
                return FieldError(field: "\(field).\(name)", message: "the value must be non-empty printable ASCII (tabs allowed)")
            }
            if value.first == " " || value.first == "\t" || value.last == " " || value.last == "\t" {
                return FieldError(field: "\(field).\(name)", message: "the value must not start or end with whitespace")
            }
            if value.count > maxHeaderValueLength {
                return FieldError(field: "\(field).\(name)", message: "the value is longer than \(maxHeaderValueLength) characters")
            }
            size += name.utf8.count + header.value.utf8.count
        }
        if size > maxHeadersSize {
            return FieldError(field: field, message: "names and values together exceed \(maxHeadersSize) bytes")
        }
        return nil
    }
}
