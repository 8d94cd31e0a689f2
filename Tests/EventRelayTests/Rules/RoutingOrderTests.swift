import EventModel
import Foundation
import Rules
import Sinks
import Testing
import YAMLSupport

/// Rules are tried in order; the first that matches routes the event and ends routing unless it
/// continues. API subscriptions are routes of their own, whatever the rules did.
@Suite("Routing: ordered rules, continue, suspended, catch-all, API subscriptions apart")
struct RoutingOrderTests {
    static func rules(_ yaml: String) throws -> [Rule] {
        let text = """
            subscriptions:
              - {id: deploys, type: webhook, url_env: D_URL, secret_env: D_SECRET}
              - {id: security, type: webhook, url_env: S_URL, secret_env: S_SECRET}
              - {id: rest, type: webhook, url_env: R_URL, secret_env: R_SECRET}
              - {id: audit, type: webhook, url_env: A_URL, secret_env: A_SECRET}
            rules:
            \(yaml)
            """
        return try RuleLoader(environment: nil).load(documents: [try YAMLValue.parse(text, file: "r.yaml")]).rules
    }

    static let deploy = Fixtures.event(type: "deployment", app: "shop-prod")
    static let lock = Fixtures.event(type: "login_lock")
    static let restart = Fixtures.event(type: "restart", app: "web")

    func routed(_ rules: [Rule], _ event: Event, api: [Subscription] = []) -> [String] {
        Router(rules: rules, subscriptions: api).route(event).map { "\($0.subscriptionID)<-\($0.matchedBy)" }
    }

    @Test func theFirstMatchingRuleEndsRoutingAndACatchAllTakesTheRest() throws {
        let rules = try Self.rules("""
              - {name: audit-all, subscriptions: [audit], continue: true}
              - {name: deploys, filter: {type: deployment}, subscriptions: [deploys]}
              - {name: locks, filter: {type: login_lock}, subscriptions: [security]}
              - {name: also-deploys, filter: {type: deployment}, subscriptions: [security]}
              - {name: everything-else, subscriptions: [rest]}
            """)
        #expect(routed(rules, Self.deploy) == ["audit<-rule:audit-all", "deploys<-rule:deploys"], "also-deploys is never reached")
        #expect(routed(rules, Self.lock) == ["audit<-rule:audit-all", "security<-rule:locks"])
        #expect(routed(rules, Self.restart) == ["audit<-rule:audit-all", "rest<-rule:everything-else"], "the catch-all")
    }

    @Test func aSuspendedRuleIsKeptButNeverMatches() throws {
        let rules = try Self.rules("""
              - {name: deploys, filter: {type: deployment}, subscriptions: [deploys], suspended: true}
              - {name: everything-else, subscriptions: [rest]}
            """)
        #expect(rules.first?.suspended == true)
        #expect(routed(rules, Self.deploy) == ["rest<-rule:everything-else"])
    }

    /// An API subscription's own filter is its own route: a rule that ends routing does not
    /// reach it, and it does not end the rules.
    @Test func apiSubscriptionsAreRoutedApartFromTheRulesOrder() throws {
        let rules = try Self.rules("""
              - {name: deploys, filter: {type: deployment}, subscriptions: [deploys]}
              - {name: everything-else, subscriptions: [rest]}
            """)
        let api = [Subscription.slack("dev", url: "https://x.test/a", filter: EventFilter(types: ["deployment"]))]
        #expect(routed(rules, Self.deploy, api: api) == ["deploys<-rule:deploys", "dev<-subscription:dev"])
        #expect(routed(rules, Self.restart, api: api) == ["rest<-rule:everything-else"])
    }

    /// The index by exact type keeps the declared order: a typed rule after an untyped one is
    /// still tried after it.
    @Test func theTypeIndexKeepsTheDeclaredOrder() throws {
        let rules = try Self.rules("""
              - {name: prod, filter: {app: "*-prod"}, subscriptions: [security]}
              - {name: deploys, filter: {type: deployment}, subscriptions: [deploys]}
            """)
        #expect(routed(rules, Self.deploy) == ["security<-rule:prod"])
        #expect(routed(rules, Fixtures.event(type: "deployment", app: "web")) == ["deploys<-rule:deploys"])
    }

    @Test func continueAndSuspendedAreTrueOrFalse() throws {
        #expect(throws: RuleLoadError.self) { _ = try Self.rules("  - {name: r, subscriptions: [rest], continue: maybe}") }
        #expect(throws: RuleLoadError.self) { _ = try Self.rules("  - {name: r, subscriptions: [rest], suspended: 2}") }
    }
}
