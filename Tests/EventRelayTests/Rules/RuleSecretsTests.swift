import EventModel
import Foundation
import Sinks
import Rules
import Testing
import YAMLSupport

/// Rotation and custom headers declared in rule files, their values from the environment.
@Suite("Rule files: secret rotation and custom headers")
struct RuleSecretsTests {
    static let current = "whsec_" + Data(repeating: 7, count: 32).base64EncodedString()
    static let previous = "whsec_" + Data(repeating: 8, count: 32).base64EncodedString()
    static let environment = [
        "HOOK_URL": "https://receiver.test/hook", "HOOK_SECRET": current, "HOOK_SECRET_OLD": previous,
        "HOOK_AUTH": "Bearer sk_live_abcdefghijkl", "BAD_VALUE": "a\r\nInjected: yes",
    ]

    static func load(_ subscription: String, environment: [String: String]? = environment) throws -> RuleSet {
        let document = "subscriptions:\n  - id: hook\n    type: webhook\n    url_env: HOOK_URL\n    secret_env: HOOK_SECRET\n" + subscription
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try directory.write("hook.yaml", document)
        return try RuleLoader(environment: environment).load(directory: directory.url)
    }

    @Test func aPreviousSecretAndHeadersComeFromTheEnvironment() throws {
        let set = try Self.load("""
                previous_secret_env: HOOK_SECRET_OLD
                previous_secret_expires: 2030-07-01T12:00:00+02:00
                headers_env:
                  Authorization: HOOK_AUTH
            """)
        let hook = try #require(set.subscriptions.first?.webhook)
        #expect(hook.previousSecrets == [PreviousSecret(secret: SecretString(Self.previous), expiresAt: try #require(Timestamp.parse("2030-07-01T10:00:00Z")))])
        #expect(hook.headers == [CustomHeader(name: "Authorization", value: SecretString("Bearer sk_live_abcdefghijkl"))])
        #expect(hook.signingSecrets(at: try #require(Timestamp.parse("2030-07-01T09:59:59Z"))) .map(\.value) == [Self.current, Self.previous])
        #expect(hook.signingSecrets(at: try #require(Timestamp.parse("2030-07-01T10:00:00Z"))) .map(\.value) == [Self.current])
        // Offline (rules check --skip-env) the names and the time are still checked.
        #expect(try Self.load("    previous_secret_env: HOOK_SECRET_OLD\n    previous_secret_expires: 2030-07-01T12:00:00Z\n", environment: nil)
            .subscriptions.count == 1)
    }

    @Test(arguments: [
        // (extra keys, line, expected message, and what it must not show)
        ("    previous_secret_env: HOOK_SECRET_OLD\n", 6, "previous_secret_env needs previous_secret_expires"),
        ("    previous_secret_expires: 2030-07-01T12:00:00Z\n", 6, "previous_secret_expires needs previous_secret_env"),
        ("    previous_secret_env: HOOK_SECRET_OLD\n    previous_secret_expires: next week\n", 7, "must be an RFC 3339 time"),
        ("    previous_secret_env: HOOK_SECRET_OLD\n    previous_secret_expires: 2030-07-01\n", 7, "must be an RFC 3339 time"),
        ("    previous_secret_env: HOOK_SECRET\n    previous_secret_expires: 2030-07-01T12:00:00Z\n", 6, "must differ from the current secret"),
        ("    previous_secret_env: HOOK_URL\n    previous_secret_expires: 2030-07-01T12:00:00Z\n", 6, "(the value of HOOK_URL)"),
        ("    headers_env:\n      Host: HOOK_AUTH\n", 7, "header Host: is set by the relay"),
        ("    headers_env:\n      X-Bad: BAD_VALUE\n", 7, "header X-Bad: the value must not contain CR, LF or NUL"),
        ("    headers_env:\n      Bad Name: HOOK_AUTH\n", 7, "header names must be"),
        ("    headers_env:\n      X-Missing: NOT_SET_ANYWHERE\n", 7, "NOT_SET_ANYWHERE is not set"),
        ("    headers:\n      Authorization: Bearer x\n", 7, "rule files must not hold secrets"),
    ])
    func badRotationOrHeadersAreRefusedWithTheirLine(extra: String, line: Int, message: String) throws {
        let error = try #require(throws: RuleLoadError.self) { try Self.load(extra) }
        let problem = try #require(error.problems.first)
        #expect(problem.line == line, "\(error)")
        #expect(problem.description.contains(message), "\(error)")
        for secret in [Self.current, Self.previous, "sk_live", "Injected", "https://receiver.test"] {
            #expect(!error.description.contains(secret), "\(error)")
        }
    }
}

extension RuleSecretsTests {
    @Test func theRuleFileKeysAreDocumented() throws {
        let reference = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        for key in ["url_env", "secret_env", "previous_secret_env", "previous_secret_expires", "headers_env"] {
            #expect(reference.contains("`\(key)`"), "docs/configuration.md does not document \(key)")
        }
    }
}
