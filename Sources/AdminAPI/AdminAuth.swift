import Crypto
import EventModel
import Foundation

/// Compares a presented secret with the expected one without leaking, through timing, how much
/// of a guess was right: both sides are hashed to the same length and compared in full.
struct SecretMatcher: Sendable {
    private let expectedDigest: [UInt8]

    init(_ secret: SecretString) {
        expectedDigest = Array(SHA256.hash(data: Data(secret.value.utf8)))
    }

    func matches(_ presented: String) -> Bool {
        let given = Array(SHA256.hash(data: Data(presented.utf8)))
        var difference: UInt8 = 0
        for index in 0..<expectedDigest.count { difference |= expectedDigest[index] ^ given[index] }
        return difference == 0
    }

    /// `Authorization: Bearer <secret>`.
    func matches(authorization header: String?) -> Bool {
        guard let header else { return false }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return false }
        return matches(parts[1].trimmingCharacters(in: .whitespaces))
    }
}

/// The admin token: `Authorization: Bearer <token>` on every `/v1` route and `/metrics`.
struct AdminAuth: Sendable {
    private let matcher: SecretMatcher

    init(token: SecretString) { matcher = SecretMatcher(token) }

    func accepts(authorization header: String?) -> Bool { matcher.matches(authorization: header) }
}
