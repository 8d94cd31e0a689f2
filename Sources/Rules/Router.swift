import EventModel
import Foundation

/// A rule: events that pass `filter` go to each of `subscriptionIDs`.
public struct Rule: Sendable, Hashable {
    public var name: String
    public var description: String?
    public var filter: EventFilter
    public var subscriptionIDs: [String]
    /// `file:line` where the rule was declared.
    public var location: String

    public init(name: String, description: String? = nil, filter: EventFilter, subscriptionIDs: [String], location: String = "") {
        self.name = name
        self.description = description
        self.filter = filter
        self.subscriptionIDs = subscriptionIDs
        self.location = location
    }
}

/// One subscription an event must be delivered to, and what decided it.
public struct RouteMatch: Sendable, Hashable {
    public var subscriptionID: String
    /// `rule:<name>` for a rule from the rules folder, `subscription:<id>` for a subscription's own filter.
    public var matchedBy: String
}

/// Decides where an event goes: the rules from files, plus every API subscription's own filter.
/// Pure and immutable; rebuild it when subscriptions change.
public struct Router: Sendable {
    private struct Route: Sendable {
        let matchedBy: String
        let filter: CompiledFilter
        let subscriptionIDs: [String]
    }
    private let routes: [Route]
    public let rules: [Rule]

    public init(rules: [Rule], subscriptions: [Subscription]) {
        self.rules = rules
        var routes = rules.map { Route(matchedBy: "rule:\($0.name)", filter: CompiledFilter($0.filter), subscriptionIDs: $0.subscriptionIDs) }
        for subscription in subscriptions where subscription.origin == .api {
            routes.append(Route(matchedBy: "subscription:\(subscription.id)", filter: CompiledFilter(subscription.filter), subscriptionIDs: [subscription.id]))
        }
        self.routes = routes
    }

    /// Each subscription at most once per event; the first route (rules first, in file order) names the match.
    public func route(_ event: Event) -> [RouteMatch] {
        var matches: [RouteMatch] = []
        for route in routes where route.filter.matches(event) {
            for id in route.subscriptionIDs where !matches.contains(where: { $0.subscriptionID == id }) {
                matches.append(RouteMatch(subscriptionID: id, matchedBy: route.matchedBy))
            }
        }
        return matches
    }
}

/// The router in force, swapped whole when subscriptions change; readers never wait on writers for long.
public final class RoutingTable: Sendable {
    private let state: LockedValue<Router>

    public init(_ router: Router) {
        state = LockedValue(router)
    }

    public var current: Router { state.value }

    public func replace(_ router: Router) { state.value = router }
}

