import EventModel
import Foundation

/// A rule: events that pass `filter` go to each of `subscriptionIDs`. Rules are tried in order
/// (files by name, then as written); the first that matches routes the event and ends routing,
/// unless it says `continues` (`continue: true`), as Alertmanager's routes do. A suspended rule
/// is kept but never matches.
public struct Rule: Sendable, Hashable {
    public var name: String
    public var description: String?
    public var filter: FilterExpression
    public var subscriptionIDs: [String]
    /// `file:line` where the rule was declared.
    public var location: String
    /// After this rule matches, the rules after it are tried too.
    public var continues: Bool
    public var suspended: Bool
    /// What the policy stages do with the deliveries this rule makes (throttle, digest…).
    public var policies: Policies = Policies()

    public init(
        name: String, description: String? = nil, filter: FilterExpression, subscriptionIDs: [String], location: String = "",
        continues: Bool = false, suspended: Bool = false
    ) {
        self.name = name
        self.description = description
        self.filter = filter
        self.subscriptionIDs = subscriptionIDs
        self.location = location
        self.continues = continues
        self.suspended = suspended
    }

    /// A rule with today's flat filter (the shorthand), meaning what it always meant.
    public init(
        name: String, description: String? = nil, filter: EventFilter, subscriptionIDs: [String], location: String = "", continues: Bool = false
    ) {
        self.init(
            name: name, description: description, filter: FilterExpression(flat: filter), subscriptionIDs: subscriptionIDs, location: location,
            continues: continues)
    }
}

/// One subscription an event must be delivered to, and what decided it.
public struct RouteMatch: Sendable, Hashable {
    public var subscriptionID: String
    /// `rule:<name>` for a rule from the rules folder, `subscription:<id>` for a subscription's own filter.
    public var matchedBy: String

    public init(subscriptionID: String, matchedBy: String) {
        self.subscriptionID = subscriptionID
        self.matchedBy = matchedBy
    }
}

/// Decides where an event goes: the rules from files, tried in order until one that matches and
/// does not continue; then, apart from them, every API subscription's own filter (an API
/// subscription is its own route: the rules' order does not reach it). Pure and immutable;
/// rebuild it when subscriptions change.
public struct Router: Sendable {
    private struct Route: Sendable {
        let matchedBy: String
        let filter: CompiledExpression
        let subscriptionIDs: [String]
        /// A rule that ends routing when it matches (not `continue`); API subscriptions never do.
        let stops: Bool
    }
    private let routes: [Route]
    /// Routes that can only match certain exact types, by type; the rest are checked for every event.
    private let routesByType: [String: [Int]]
    private let routesForAnyType: [Int]
    /// Routes below this index are rules; the rest, API subscriptions.
    private let ruleCount: Int
    public let rules: [Rule]

    public init(rules: [Rule], subscriptions: [Subscription]) {
        self.rules = rules
        var routes = rules.filter { !$0.suspended }.map {
            Route(matchedBy: "rule:\($0.name)", filter: CompiledExpression($0.filter), subscriptionIDs: $0.subscriptionIDs, stops: !$0.continues)
        }
        for subscription in subscriptions where subscription.origin == .api {
            routes.append(Route(
                matchedBy: "subscription:\(subscription.id)", filter: CompiledExpression(flat: subscription.filter), subscriptionIDs: [subscription.id],
                stops: false))
        }
        self.routes = routes
        ruleCount = routes.count - subscriptions.filter { $0.origin == .api }.count
        var byType: [String: [Int]] = [:]
        var anyType: [Int] = []
        for (index, route) in routes.enumerated() {
            if let types = route.filter.exactTypes {
                for type in types { byType[type, default: []].append(index) }
            } else {
                anyType.append(index)
            }
        }
        routesByType = byType
        routesForAnyType = anyType
    }

    /// Each subscription at most once per event; the first route (rules first, in file order) names the match.
    public func route(_ event: Event) -> [RouteMatch] {
        var matches: [RouteMatch] = []
        // Candidates in declaration order: merge the type's routes with the any-type routes.
        let typed = routesByType[event.type] ?? []
        var candidates: [Int] = []
        candidates.reserveCapacity(typed.count + routesForAnyType.count)
        var i = 0, j = 0
        while i < typed.count || j < routesForAnyType.count {
            if j == routesForAnyType.count || (i < typed.count && typed[i] < routesForAnyType[j]) {
                candidates.append(typed[i]); i += 1
            } else {
                candidates.append(routesForAnyType[j]); j += 1
            }
        }
        var rulesEnded = false
        for index in candidates {
            let route = routes[index]
            // Once a rule that does not continue has matched, only API subscriptions are tried.
            if rulesEnded && index < ruleCount { continue }
            guard route.filter.matches(event) else { continue }
            for id in route.subscriptionIDs where !matches.contains(where: { $0.subscriptionID == id }) {
                matches.append(RouteMatch(subscriptionID: id, matchedBy: route.matchedBy))
            }
            if route.stops { rulesEnded = true }
        }
        return matches
    }
}

/// The subscriptions in force — declared in rule files, and created over the API — and the
/// router built from them. Swapped whole when API subscriptions change; readers never see a
/// half-updated state.
public final class SubscriptionCatalog: Sendable {
    private struct Snapshot: Sendable {
        var router: Router
        var byID: [String: Subscription]
        var api: [Subscription]
        var apiMutes: [Mute]
        var policies: PolicyBook
    }

    public let ruleSet: RuleSet
    private let state: LockedValue<Snapshot>

    public init(ruleSet: RuleSet, apiSubscriptions: [Subscription] = [], apiMutes: [Mute] = []) {
        self.ruleSet = ruleSet
        state = LockedValue(SubscriptionCatalog.snapshot(ruleSet, apiSubscriptions, apiMutes))
    }

    private static func snapshot(_ ruleSet: RuleSet, _ api: [Subscription], _ apiMutes: [Mute]) -> Snapshot {
        var byID: [String: Subscription] = [:]
        for subscription in api { byID[subscription.id] = subscription }
        // Rule-file subscriptions win a name clash (the API refuses to create one anyway).
        for subscription in ruleSet.subscriptions { byID[subscription.id] = subscription }
        var rulePolicies: [String: Policies] = [:]
        for rule in ruleSet.rules where !rule.policies.isEmpty { rulePolicies[rule.name] = rule.policies }
        let policies = PolicyBook(
            rules: rulePolicies, subscriptions: ruleSet.subscriptionPolicies, mutes: ruleSet.mutes + apiMutes, inhibits: ruleSet.inhibits)
        return Snapshot(
            router: Router(rules: ruleSet.rules, subscriptions: api), byID: byID, api: api, apiMutes: apiMutes, policies: policies)
    }

    /// Replaces the API subscriptions (after a create, update or delete) and rebuilds the router.
    public func replaceAPISubscriptions(_ subscriptions: [Subscription]) {
        state.withValue { $0 = SubscriptionCatalog.snapshot(ruleSet, subscriptions, $0.apiMutes) }
    }

    /// Replaces the mutes made over the API (after a create or delete).
    public func replaceAPIMutes(_ mutes: [Mute]) {
        state.withValue { $0 = SubscriptionCatalog.snapshot(ruleSet, $0.api, mutes) }
    }

    /// The policies in force: rules', subscriptions', mutes (files and API), inhibit rules.
    public var policies: PolicyBook { state.value.policies }

    /// Every mute, from the rule files and the API.
    public var mutes: [Mute] { ruleSet.mutes + state.value.apiMutes }

    public var router: Router { state.value.router }

    public func subscription(id: String) -> Subscription? { state.value.byID[id] }

    /// Rule-file subscriptions first, then API ones, each sorted by id.
    public var all: [Subscription] {
        ruleSet.subscriptions.sorted { $0.id < $1.id } + state.value.api.sorted { $0.id < $1.id }
    }

    public func isDeclaredInRules(_ id: String) -> Bool {
        ruleSet.subscriptions.contains { $0.id == id }
    }
}
