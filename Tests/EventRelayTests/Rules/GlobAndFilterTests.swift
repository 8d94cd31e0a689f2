import Sinks
import EventModel
import Rules
import Testing

@Suite("Globs, filters and routing (pure)")
struct GlobAndFilterTests {
    @Test(arguments: [
        ("deployment", "deployment", true),
        ("deployment", "deployments", false),
        ("deployment", "Deployment", false),
        ("*", "", true),
        ("*", "anything", true),
        ("**", "x", true),
        ("*-prod", "api-prod", true),
        ("*-prod", "api-prod-2", false),
        ("*-prod", "-prod", true),
        ("api-*", "api-prod", true),
        ("api-*", "ap", false),
        ("a*b*c", "abc", true),
        ("a*b*c", "aXbYc", true),
        ("a*b*c", "aXcYb", false),
        ("a*b*c", "ab", false),
        ("*error", "build-error", true),
        ("*error*", "errors", true),
        ("ab*ba", "aba", false),
        ("database/*", "database/add_feature", true),
        ("é*", "été", true),
    ])
    func glob(pattern: String, text: String, matches: Bool) {
        #expect(Glob(pattern).matches(text) == matches, "\(pattern) vs \(text)")
    }

    @Test func emptyFilterMatchesEverythingIncludingMissingFields() {
        let filter = CompiledFilter(.any)
        #expect(filter.matches(Fixtures.event(type: "login_lock")))
        #expect(filter.matches(Fixtures.event(type: "deployment", app: "web")))
    }

    @Test func listsAreOrInsideAndAcross() {
        let filter = CompiledFilter(EventFilter(types: ["deployment", "restart"], apps: ["*-prod"]))
        #expect(filter.matches(Fixtures.event(type: "deployment", app: "api-prod")))
        #expect(filter.matches(Fixtures.event(type: "restart", app: "web-prod")))
        #expect(!filter.matches(Fixtures.event(type: "scale", app: "api-prod")))
        #expect(!filter.matches(Fixtures.event(type: "deployment", app: "api-staging")))
        // An event without an app does not pass a non-empty app list, not even "*".
        #expect(!CompiledFilter(EventFilter(apps: ["*"])).matches(Fixtures.event(type: "login_lock")))
    }

    @Test func projectsEnvironmentsAndSources() {
        let filter = CompiledFilter(EventFilter(projects: ["billing"], environments: ["production"], sources: ["scalingo"]))
        #expect(filter.matches(Fixtures.event(type: "x", project: "billing", environment: "production")))
        #expect(!filter.matches(Fixtures.event(type: "x", project: "billing", environment: "staging")))
        #expect(!filter.matches(Fixtures.event(type: "x", project: "billing", environment: "production", source: "qovery")))
        #expect(!filter.matches(Fixtures.event(type: "x", environment: "production")))
    }

    @Test func fieldPathsMatchScalarsAndLists() {
        let raw: JSONValue = .object([
            "type_data": .object([
                "status": .string("build-error"), "duration": .integer(40), "scope": .array([.string("web"), .string("worker")]),
            ])
        ])
        let event = Fixtures.event(type: "deployment", raw: raw)
        #expect(CompiledFilter(EventFilter(fields: ["type_data.status": ["*-error", "aborted"]])).matches(event))
        #expect(!CompiledFilter(EventFilter(fields: ["type_data.status": ["success"]])).matches(event))
        #expect(CompiledFilter(EventFilter(fields: ["type_data.duration": ["40"]])).matches(event))
        #expect(CompiledFilter(EventFilter(fields: ["type_data.scope": ["worker"]])).matches(event))
        #expect(!CompiledFilter(EventFilter(fields: ["type_data.missing": ["*"]])).matches(event))
        #expect(!CompiledFilter(EventFilter(fields: ["type_data": ["*"]])).matches(event), "an object is not a scalar")
    }

    @Test func routerDeliversToEachSubscriptionOnceAndNamesTheFirstRule() {
        let rules = [
            Rule(name: "failures", filter: EventFilter(types: ["deployment"]), subscriptionIDs: ["ops", "audit"], continues: true),
            Rule(name: "everything", filter: .any, subscriptionIDs: ["audit"]),
        ]
        let api = [
            Subscription.slack("dev", url: "https://x.test/a", filter: EventFilter(apps: ["web"])),
            Subscription.slack("ops", url: "https://x.test/b", filter: .any),
        ]
        let router = Router(rules: rules, subscriptions: api)
        let matches = router.route(Fixtures.event(type: "deployment", app: "web"))
        #expect(matches == [
            RouteMatch(subscriptionID: "ops", matchedBy: "rule:failures"),
            RouteMatch(subscriptionID: "audit", matchedBy: "rule:failures"),
            RouteMatch(subscriptionID: "dev", matchedBy: "subscription:dev"),
        ])
        #expect(router.route(Fixtures.event(type: "scale")).map(\.subscriptionID) == ["audit", "ops"])
    }

    @Test func catalogRebuildsRoutingWhenAPISubscriptionsChange() {
        let catalog = SubscriptionCatalog(ruleSet: .empty)
        let event = Fixtures.event(type: "login_lock")
        #expect(catalog.router.route(event).isEmpty)
        catalog.replaceAPISubscriptions([Subscription.slack("sec", url: "https://x.test/", filter: EventFilter(types: ["login_*"]))])
        #expect(catalog.router.route(event).map(\.subscriptionID) == ["sec"])
        #expect(catalog.subscription(id: "sec")?.kind == "slack")
        catalog.replaceAPISubscriptions([])
        #expect(catalog.subscription(id: "sec") == nil)
    }
}
