import Crypto
import EventModel
import Foundation

/// Standard Webhooks (standardwebhooks.com), shared by the webhook destination (which signs)
/// and push feeds (which verify).
/// Standard Webhooks signatures.
public enum WebhookSignature {
    /// `whsec_` + base64 of 24 to 64 bytes (the HMAC key is the decoded bytes).
    public static func isValidSecret(_ secret: String) -> Bool {
        guard let key = key(secret) else { return false }
        return (24...64).contains(key.count)
    }

    /// `v1,<base64>`; nil when the secret is not `whsec_` + base64.
    public static func sign(secret: String, id: String, timestamp: Int64, body: [UInt8]) -> String? {
        key(secret).map { sign(key: $0, id: id, timestamp: timestamp, body: body) }
    }

    /// The HMAC key a `whsec_` secret stands for; nil when it is not `whsec_` + base64.
    static func key(_ secret: String) -> [UInt8]? {
        guard secret.hasPrefix("whsec_"), let key = Data(base64Encoded: String(secret.dropFirst(6))) else { return nil }
        return Array(key)
    }

    static func sign(key: [UInt8], id: String, timestamp: Int64, body: [UInt8]) -> String {
        var mac = HMAC<SHA256>(key: SymmetricKey(data: key))
        mac.update(data: Array("\(id).\(timestamp).".utf8))
        mac.update(data: body)
        return "v1," + Data(mac.finalize()).base64EncodedString()
    }

    /// The `webhook-signature` value: one `v1,…` per secret, in order, space-separated, so a
    /// receiver holding any of them can verify. Nil when there is no secret or one is unusable.
    public static func header(secrets: [String], id: String, timestamp: Int64, body: [UInt8]) -> String? {
        header(keys: secrets.map(key), id: id, timestamp: timestamp, body: body)
    }

    /// As above, with the keys decoded already (nil: a secret that is not usable).
    static func header(keys: [[UInt8]?], id: String, timestamp: Int64, body: [UInt8]) -> String? {
        guard !keys.isEmpty else { return nil }
        var signatures: [String] = []
        for key in keys {
            guard let key else { return nil }
            signatures.append(sign(key: key, id: id, timestamp: timestamp, body: body))
        }
        return signatures.joined(separator: " ")
    }
}
