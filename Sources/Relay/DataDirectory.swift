import EventModel
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The relay's data directory: the SQLite store, the generated admin token, and a lock that
/// keeps a second relay off the same store. Private to the relay's user (0700).
public final class DataDirectory: @unchecked Sendable {
    public let path: String
    private var lockDescriptor: Int32 = -1

    public init(path: String) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        guard chmod(path, 0o700) == 0 else {
            throw ConfigurationError("cannot restrict the data directory \(path) to its owner: \(String(cString: strerror(errno)))")
        }
        let lockPath = path + "/event-relay.lock"
        let descriptor = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw ConfigurationError("cannot open \(lockPath): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw ConfigurationError("another event-relay is already using the data directory \(path)")
        }
        lockDescriptor = descriptor
    }

    deinit { unlock() }

    /// Releases the directory lock (at shutdown; also done on deinit).
    public func unlock() {
        guard lockDescriptor >= 0 else { return }
        // Closing the descriptor releases the lock even if the explicit unlock failed.
        let unlocked = flock(lockDescriptor, LOCK_UN)
        let closed = close(lockDescriptor)
        lockDescriptor = -1
        if unlocked != 0 || closed != 0 {
            FileHandle.standardError.write(Data("event-relay: releasing \(path)/event-relay.lock: \(String(cString: strerror(errno)))\n".utf8))
        }
    }

    public var storePath: String { path + "/event-relay.sqlite" }
    public var tokenPath: String { path + "/admin-token" }

    /// The admin token: from the environment when set; otherwise the one generated on first
    /// start, stored readable only by this user. The token itself is never logged.
    public func adminToken(environmentName: String, environment: [String: String]) throws -> (token: SecretString, generatedAt: String?) {
        if let value = environment[environmentName], !value.isEmpty {
            guard value.count >= 16 else {
                throw ConfigurationError("the admin token in \(environmentName) is shorter than 16 characters")
            }
            return (SecretString(value), nil)
        }
        if let existing = try? String(contentsOfFile: tokenPath, encoding: .utf8) {
            let token = existing.trimmingCharacters(in: .whitespacesAndNewlines)
            if token.count >= 16 { return (SecretString(token), nil) }
        }
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let token = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        let descriptor = open(tokenPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw ConfigurationError("cannot write \(tokenPath): \(String(cString: strerror(errno)))") }
        guard fchmod(descriptor, 0o600) == 0 else {
            close(descriptor)
            throw ConfigurationError("cannot restrict \(tokenPath): \(String(cString: strerror(errno)))")
        }
        let line = Array((token + "\n").utf8)
        let written = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == line.count, fsync(descriptor) == 0 else {
            close(descriptor)
            throw ConfigurationError("cannot write \(tokenPath): \(String(cString: strerror(errno)))")
        }
        guard close(descriptor) == 0 else {
            throw ConfigurationError("cannot write \(tokenPath): \(String(cString: strerror(errno)))")
        }
        return (SecretString(token), tokenPath)
    }
}
