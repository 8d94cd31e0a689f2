import Foundation

/// Deliveries held back on purpose for a while: those a rule makes, those to a subscription, or
/// those of events a filter selects (any of them given: all must hold). Made over the admin API
/// (`/v1/mutes`) or declared in a rule file; it ends by itself at `endsAt`. A muted delivery is
/// recorded (status `muted`, the mute named in its note), never sent.
public struct Mute: Sendable, Hashable {
    public var id: String
    /// The rule whose deliveries it holds (its name), if it is limited to one.
    public var rule: String?
    /// The subscription whose deliveries it holds, if it is limited to one.
    public var subscription: String?
    /// The filter's document in the rules' grammar (compiled by the `Rules` target); nil: any event.
    public var filter: JSONValue?
    public var startsAt: Date
    public var endsAt: Date
    public var comment: String
    /// Who made it (`api`, or the rule file and line).
    public var origin: String
    public var createdAt: Date

    public init(
        id: String, rule: String? = nil, subscription: String? = nil, filter: JSONValue? = nil, startsAt: Date, endsAt: Date, comment: String,
        origin: String = "api", createdAt: Date
    ) {
        self.id = id
        self.rule = rule
        self.subscription = subscription
        self.filter = filter
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.comment = comment
        self.origin = origin
        self.createdAt = createdAt
    }

    public func isActive(at now: Date) -> Bool { startsAt <= now && now < endsAt }
}
