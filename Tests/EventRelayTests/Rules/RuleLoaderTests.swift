import EventModel
import Foundation
import Sinks
import Rules
import Testing
import YAMLSupport

@Suite("Rule files: validated completely at load")
struct RuleLoaderTests {
    static let environment = [
        "OPS_URL": "https://hooks.slack.com/services/T0/B0/abcdefabcdef", "AUDIT_URL": "https://audit.example.com/hook",
        "OPS_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/opsopsops",
        "SECURITY_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/secsecsec",
        "AUDIT_WEBHOOK_URL": "https://audit.example.com/hook",
        "AUDIT_WEBHOOK_SECRET": "whsec_" + Data(repeating: 7, count: 32).base64EncodedString(),
    ]

    @Test func shippedExamplesLoadAndRouteAsDocumented() throws {
        let set = try RuleLoader(environment: Self.environment).load(directory: Fixtures.url("rules/good"))
        #expect(set.rules.map(\.name) == ["deployment-failures", "account-locked", "production-console"])
        #expect(Set(set.subscriptions.map(\.id)) == ["ops-slack", "security-slack", "audit-webhook"])
        #expect(set.subscriptions.first { $0.id == "ops-slack" }?.slack?.url?.value == Self.environment["OPS_SLACK_WEBHOOK_URL"])
        #expect(set.subscriptions.allSatisfy { $0.origin == .rules })

        let router = Router(rules: set.rules, subscriptions: [])
        let failed = Fixtures.event(type: "deployment", app: "web", raw: .object(["type_data": .object(["status": .string("build-error")])]))
        let succeeded = Fixtures.event(type: "deployment", app: "web", raw: .object(["type_data": .object(["status": .string("success")])]))
        #expect(router.route(failed).map(\.subscriptionID) == ["ops-slack"])
        #expect(router.route(succeeded).isEmpty)
        #expect(router.route(Fixtures.event(type: "login_lock")).map(\.subscriptionID) == ["security-slack", "audit-webhook"])
        #expect(router.route(Fixtures.event(type: "run", app: "api-prod")).map(\.subscriptionID) == ["security-slack"])
        #expect(router.route(Fixtures.event(type: "run", app: "api-staging")).isEmpty)
    }

    @Test func theRepositoryExamplesAreTheFixtures() throws {
        // The good fixtures are copies of rules/examples; keep them in step.
        let repositoryExamples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("rules/examples")
        for name in ["deployment-failures.yaml", "login-lock.yaml"] {
            let shipped = try String(contentsOf: repositoryExamples.appendingPathComponent(name), encoding: .utf8)
            let fixture = try String(contentsOf: Fixtures.url("rules/good/\(name)"), encoding: .utf8)
            #expect(shipped == fixture, "\(name) differs from its fixture")
        }
    }

    static var shippedExamples: [String] {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("rules/examples")
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0.hasSuffix(".yaml") }.sorted()
            .map { folder.appendingPathComponent($0).path }
    }

    /// Every shipped example loads as it is (alone: each is meant to be copied into rules/ on its own).
    @Test(arguments: shippedExamples)
    func everyShippedExampleLoads(path: String) throws {
        let set = try RuleLoader(environment: nil).load(documents: [try YAMLValue.load(contentsOf: URL(fileURLWithPath: path))])
        #expect(!set.rules.isEmpty && !set.subscriptions.isEmpty)
    }

    @Test func theExamplesAreAllThere() {
        #expect(Self.shippedExamples.count >= 6, "\(Self.shippedExamples)")
    }

    static var badFiles: [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: Fixtures.url("rules/bad").path).filter { $0.hasSuffix(".yaml") }.sorted()) ?? []
    }

    @Test(arguments: badFiles)
    func badFileIsRefusedNamingFileLineAndProblem(name: String) throws {
        let text = try String(contentsOf: Fixtures.url("rules/bad/\(name)"), encoding: .utf8)
        let expectation = try #require(text.split(separator: "\n").first?.dropFirst("# expect: ".count))
        let colon = try #require(expectation.firstIndex(of: ":"))
        let line = try #require(Int(expectation[..<colon]))
        let message = expectation[expectation.index(after: colon)...].trimmingCharacters(in: .whitespaces)

        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try directory.write(name, text)
        let error = try #require(throws: RuleLoadError.self) {
            try RuleLoader(environment: Self.environment).load(directory: directory.url)
        }
        let problem = try #require(error.problems.first)
        #expect(problem.file.hasSuffix(name))
        #expect(problem.line == line, "\(error)")
        #expect(problem.description.contains(message), "\(error)")
    }

    /// Anchors that refer to anchors, used as a filter's field key: composing hashes all 10^8
    /// copies (a minute and more at 100% CPU; 10^9 and more fit in a kilobyte). Refused at the
    /// first alias, before composing; the other files are still checked.
    @Test func aliasBombIsRefusedBeforeItIsExpanded() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try directory.write("a.yaml", "subscriptions:\n  - {id: ops, type: slack, url_env: OPS_URL}\n")
        try directory.write("bomb.yaml", Fixtures.aliasBomb(levels: 8).replacingOccurrences(
            of: "bomb: {", with: "rules:\n  - name: bomb\n    subscriptions: [ops]\n    filter:\n      fields: {"))
        try directory.write("c.yaml", "rules:\n  - {name: late, subscriptions: [nobody]}\n")
        let error = try #require(throws: RuleLoadError.self) {
            try RuleLoader(environment: Self.environment).load(directory: directory.url)
        }
        #expect(error.problems.count == 2, "\(error)")
        let alias = try #require(error.problems.first { $0.file.hasSuffix("bomb.yaml") })
        #expect((alias.line, alias.column) == (2, 10))
        #expect(alias.message.hasPrefix("aliases (*l0) are not supported"), "\(error)")
        #expect(error.description.contains("c.yaml:2") && error.description.contains("no subscription \"nobody\""))
    }

    /// Each bad reference names a few of the declared subscriptions, not all: thousands of both
    /// must not make a quadratic pile of text.
    @Test func aMissingSubscriptionNamesAFewOfTheDeclaredOnes() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let subscriptions = (0..<500).map { "  - {id: s\($0), type: slack, url_env: OPS_URL}" }
        let rules = (0..<500).map { "  - {name: r\($0), subscriptions: [missing\($0)]}" }
        try directory.write("many.yaml", (["subscriptions:"] + subscriptions + ["rules:"] + rules).joined(separator: "\n") + "\n")
        let error = try #require(throws: RuleLoadError.self) {
            try RuleLoader(environment: Self.environment).load(directory: directory.url)
        }
        #expect(error.problems.count == 500)
        let first = try #require(error.problems.first)
        #expect(first.line == 503 && first.message.hasPrefix("rule \"r0\": no subscription \"missing0\" is declared"), "\(first)")
        #expect(first.message.hasSuffix(", s115 and 480 more)"), "\(first)")
    }

    @Test func everyProblemInEveryFileIsReportedAndNothingIsPartiallyLoaded() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try directory.write("a.yaml", "subscriptions:\n  - {id: ops, type: slack, url_env: OPS_URL}\nrules:\n  - name: ok\n    subscriptions: [ops]\n")
        try directory.write("b.yaml", "rules:\n  - name: one\n    filter: {typs: [x]}\n    subscriptions: [ops]\n")
        try directory.write("c.yml", "subscriptions:\n  - {id: ops, type: slack, url_env: OPS_URL}\n")
        let error = try #require(throws: RuleLoadError.self) {
            try RuleLoader(environment: Self.environment).load(directory: directory.url)
        }
        #expect(error.problems.count == 2, "\(error)")
        #expect(error.description.contains("b.yaml:3"))
        #expect(error.description.contains("c.yml:2") && error.description.contains("already declared at"))
    }

    @Test func unsetEnvironmentVariableIsAnErrorUnlessCheckingOffline() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try directory.write("r.yaml", "subscriptions:\n  - {id: ops, type: slack, url_env: NOT_SET_ANYWHERE}\n")
        let error = try #require(throws: RuleLoadError.self) {
            try RuleLoader(environment: [:]).load(directory: directory.url)
        }
        #expect(error.description.contains("r.yaml:2") && error.description.contains("NOT_SET_ANYWHERE is not set"))
        #expect(try RuleLoader(environment: nil).load(directory: directory.url).subscriptions.count == 1)
    }

    @Test func aURLFromTheEnvironmentIsValidatedToo() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try directory.write("r.yaml", "subscriptions:\n  - {id: ops, type: slack, url_env: OPS_URL}\n")
        let error = try #require(throws: RuleLoadError.self) {
            try RuleLoader(environment: ["OPS_URL": "ftp://nope"]).load(directory: directory.url)
        }
        #expect(error.description.contains("must be an http or https URL"))
        #expect(error.description.contains("OPS_URL"))
        #expect(!error.description.contains("ftp://nope"), "the value itself is a secret")
    }

    @Test func missingFolderIsEmptyAndOtherFilesAreIgnored() throws {
        let set = try RuleLoader(environment: [:]).load(directory: URL(fileURLWithPath: "/nonexistent/rules"))
        #expect(set.rules.isEmpty)
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try directory.write("README.md", "not yaml: [")
        try directory.write("examples/x.yaml", "not: [valid")
        #expect(try RuleLoader(environment: [:]).load(directory: directory.url).files.isEmpty)
    }
}
