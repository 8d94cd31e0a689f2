import Crypto
import EventModel
import Foundation

/// Checks `Authorization: Bearer <token>` without leaking, through timing, how much of a guess
/// was right: both sides are hashed to the same length and compared in full.
struct AdminAuth: Sendable {
    private let expectedDigest: [UInt8]

    init(token: SecretString) {
        expectedDigest = Array(SHA256.hash(data: Data(token.value.utf8)))
    }

    func accepts(authorization header: String?) -> Bool {
        guard let header else { return false }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return false }
        let given = Array(SHA256.hash(data: Data(parts[1].trimmingCharacters(in: .whitespaces).utf8)))
        var difference: UInt8 = 0
        for index in 0..<expectedDigest.count { difference |= expectedDigest[index] ^ given[index] }
        return difference == 0
    }
}
