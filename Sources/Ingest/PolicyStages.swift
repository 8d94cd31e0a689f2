import EventModel
import Foundation
import Rules
import Store
import YAMLSupport

/// The policy stages, in the order they run after routing. Each reads the policies in force
/// from the catalog at that moment (so a reload applies to the next batch) and leaves alone what
/// an earlier stage settled.
///
/// 1. notify on change / once per value: decides which events are news at all (and keeps the
///    state per key whatever happens later, so a muted failure still counts as the last state);
/// 2. inhibition: events another event makes redundant for a while;
/// 3. mutes; 4. quiet hours (drop, or delay to the window's end);
/// 5. throttles; 6. digests (which gather what is left into one message per group).
public enum PolicyStages {
    public static func all(catalog: SubscriptionCatalog) -> [any IngestStage] {
        [
            ChangeStage(catalog: catalog), InhibitStage(catalog: catalog), MuteStage(catalog: catalog), QuietHoursStage(catalog: catalog),
            ThrottleStage(catalog: catalog), DigestStage(catalog: catalog),
        ]
    }

    /// Times in notes: UTC, to the second, as the API writes them.
    static func time(_ date: Date) -> String { date.formatted(.iso8601) }

    static func millis(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
    static func date(_ value: JSONValue?) -> Date? {
        guard case .integer(let ms)? = value else { return nil }
        return Date(timeIntervalSince1970: Double(ms) / 1000)
    }

    /// A key's values as people read them: `app=web, category=deploy.failed`.
    static func describe(_ paths: [FilterPath], _ event: Event) -> String {
        paths.isEmpty ? "every event" : paths.map { "\($0.text)=\($0.value(in: event)?.scalarText ?? "(none)")" }.joined(separator: ", ")
    }

    static func allAbsent(_ paths: [FilterPath], _ event: Event) -> Bool {
        !paths.isEmpty && paths.allSatisfy { path in path.value(in: event).map { $0 == .null } ?? true }
    }
}

/// `notify_on_change` and `once_per`: an event is told when its key's state changes (or its
/// value was never told); otherwise its deliveries are `unchanged`. The state is kept per rule or
/// subscription and key, bounded (`max_keys`, the least recently changed evicted).
public struct ChangeStage: IngestStage {
    public let catalog: SubscriptionCatalog
    public var name: String { "notify_on_change" }

    public init(catalog: SubscriptionCatalog) { self.catalog = catalog }

    private enum Check { case change(Policies.OnChange), once(Policies.OncePer) }

    private func checks(_ book: PolicyBook, _ delivery: StagedDelivery, _ event: Event) -> [(PolicyStateKey, Check)] {
        var found: [(PolicyStateKey, Check)] = []
        for (scope, policies) in book.policies(matchedBy: delivery.matchedBy, subscriptionID: delivery.subscriptionID) {
            if let change = policies.onChange, !PolicyStages.allAbsent(change.key, event) {
                found.append((PolicyStateKey(policy: "change:\(scope)", key: FilterPath.key(change.key, of: event)), .change(change)))
            }
            if let once = policies.oncePer, !PolicyStages.allAbsent(once.key, event) {
                found.append((PolicyStateKey(policy: "once:\(scope)", key: FilterPath.key(once.key, of: event)), .once(once)))
            }
        }
        return found
    }

    public func stateKeys(for events: [StagedEvent], now: Date) -> Set<PolicyStateKey> {
        let book = catalog.policies
        var keys: Set<PolicyStateKey> = []
        for item in events {
            for delivery in item.deliveries where delivery.isOpen {
                for (key, _) in checks(book, delivery, item.event) { keys.insert(key) }
            }
        }
        return keys
    }

    /// The state an event puts its key in: the first named state whose globs match the value,
    /// else the value itself; nil when named states are given and none matches (not part of it).
    static func state(_ change: Policies.OnChange, _ event: Event) -> String? {
        let text = change.value.value(in: event)?.scalarText ?? ""
        guard !change.states.isEmpty else { return text }
        return change.states.first { $0.globs.contains { Glob($0).matches(text) } }?.name
    }

    public func apply(to events: inout [StagedEvent], state: inout PolicyStates, now: Date) {
        let book = catalog.policies
        guard !book.rules.isEmpty || !book.subscriptions.isEmpty else { return }
        for index in events.indices {
            let event = events[index].event
            // One decision per key and event, shared by every delivery it governs.
            var decided: [PolicyStateKey: (status: DeliveryStatus, note: String?)] = [:]
            for slot in events[index].deliveries.indices where events[index].deliveries[slot].isOpen {
                for (key, check) in checks(book, events[index].deliveries[slot], event) {
                    let outcome: (status: DeliveryStatus, note: String?)
                    if let known = decided[key] {
                        outcome = known
                    } else {
                        outcome = decide(check, key, event, &state, now)
                        decided[key] = outcome
                    }
                    if outcome.status != .pending {
                        events[index].deliveries[slot].settle(outcome.status, outcome.note ?? "")
                        break
                    } else if let note = outcome.note {
                        events[index].deliveries[slot].note = note
                    }
                }
            }
        }
    }

    private func decide(_ check: Check, _ key: PolicyStateKey, _ event: Event, _ state: inout PolicyStates, _ now: Date)
        -> (status: DeliveryStatus, note: String?)
    {
        switch check {
        case .change(let change):
            guard let current = Self.state(change, event) else { return (.pending, nil) }
            let previous = state[key]?["state"]?.stringValue
            let since = PolicyStages.date(state[key]?["since"])
            if previous == current {
                let when = since.map { " since \(PolicyStages.time($0))" } ?? ""
                return (.unchanged, "no change: \(PolicyStages.describe(change.key, event)) is still \(current)\(when) (\(key.policy))")
            }
            state.set(key, .object(["state": .string(current), "since": .integer(PolicyStages.millis(now))]), limit: change.maxKeys)
            guard let previous else {
                return change.initial ? (.pending, nil) : (.unchanged, "first state seen: \(current) (\(key.policy), initial: false)")
            }
            let when = since.map { " since \(PolicyStages.time($0))" } ?? ""
            return (.pending, "changed: \(PolicyStages.describe(change.key, event)) was \(previous)\(when), now \(current)")
        case .once(let once):
            if let told = PolicyStages.date(state[key]?["at"]) {
                return (.unchanged, "already told for \(PolicyStages.describe(once.key, event)) at \(PolicyStages.time(told)) (\(key.policy))")
            }
            state.set(key, .object(["at": .integer(PolicyStages.millis(now))]), limit: once.maxKeys)
            return (.pending, nil)
        }
    }
}

/// Inhibit rules: an event matching a rule's `source` makes its key active for `duration`;
/// while it is, the open deliveries of events matching `target` with the same key are
/// `inhibited`. Every event counts as a source, routed or not.
public struct InhibitStage: IngestStage {
    public let catalog: SubscriptionCatalog
    public var name: String { "inhibit" }
    static let maxKeys = 10_000

    public init(catalog: SubscriptionCatalog) { self.catalog = catalog }

    static func key(_ rule: InhibitRule, _ event: Event) -> PolicyStateKey {
        PolicyStateKey(policy: "inhibit:\(rule.name)", key: FilterPath.key(rule.equal, of: event))
    }

    public func stateKeys(for events: [StagedEvent], now: Date) -> Set<PolicyStateKey> {
        var keys: Set<PolicyStateKey> = []
        for inhibit in catalog.policies.inhibits {
            for item in events where inhibit.source.matches(item.event) || inhibit.target.matches(item.event) {
                keys.insert(Self.key(inhibit.rule, item.event))
            }
        }
        return keys
    }

    public func apply(to events: inout [StagedEvent], state: inout PolicyStates, now: Date) {
        let inhibits = catalog.policies.inhibits
        guard !inhibits.isEmpty else { return }
        for index in events.indices {
            let event = events[index].event
            for inhibit in inhibits {
                let key = Self.key(inhibit.rule, event)
                // An event is never held back by itself: the target is checked before the source counts it.
                if inhibit.target.matches(event), let until = PolicyStages.date(state[key]?["until"]), until > now {
                    let by = state[key]?["type"]?.stringValue ?? "an event"
                    let note = "inhibited by \(by) for \(PolicyStages.describe(inhibit.rule.equal, event)) until \(PolicyStages.time(until)) (inhibit \(inhibit.rule.name))"
                    for slot in events[index].deliveries.indices where events[index].deliveries[slot].isOpen {
                        events[index].deliveries[slot].settle(.inhibited, note)
                    }
                }
                if inhibit.source.matches(event) {
                    let until = now.addingTimeInterval(Double(inhibit.rule.duration.components.seconds))
                    state.set(
                        key, .object(["until": .integer(PolicyStages.millis(until)), "type": .string(event.type), "event": .string(event.key)]),
                        limit: Self.maxKeys)
                }
            }
        }
    }
}

/// Mutes from the rule files and the API: an active one that covers a delivery (its rule, its
/// subscription, its filter: every one given) settles it `muted`. No state: a mute ends by itself.
public struct MuteStage: IngestStage {
    public let catalog: SubscriptionCatalog
    public var name: String { "mute" }

    public init(catalog: SubscriptionCatalog) { self.catalog = catalog }

    public static func covers(_ mute: PolicyBook.CompiledMute, _ delivery: StagedDelivery, _ event: Event, now: Date) -> Bool {
        guard mute.mute.isActive(at: now) else { return false }
        if let rule = mute.mute.rule, delivery.matchedBy != "rule:\(rule)" { return false }
        if let subscription = mute.mute.subscription, delivery.subscriptionID != subscription { return false }
        if let filter = mute.filter, !filter.matches(event) { return false }
        return true
    }

    public func apply(to events: inout [StagedEvent], state: inout PolicyStates, now: Date) {
        let mutes = catalog.policies.mutes
        guard !mutes.isEmpty else { return }
        for index in events.indices {
            for slot in events[index].deliveries.indices where events[index].deliveries[slot].isOpen {
                guard let mute = mutes.first(where: { Self.covers($0, events[index].deliveries[slot], events[index].event, now: now) }) else { continue }
                let comment = mute.mute.comment.isEmpty ? "" : ": \(mute.mute.comment)"
                events[index].deliveries[slot].settle(.muted, "muted by \(mute.mute.id) until \(PolicyStages.time(mute.mute.endsAt))\(comment)")
            }
        }
    }
}

/// Quiet hours of a rule or subscription: while they hold, a delivery is dropped (`quiet`) or
/// waits (still `pending`) until they end.
public struct QuietHoursStage: IngestStage {
    public let catalog: SubscriptionCatalog
    public var name: String { "quiet_hours" }

    public init(catalog: SubscriptionCatalog) { self.catalog = catalog }

    public func apply(to events: inout [StagedEvent], state: inout PolicyStates, now: Date) {
        let book = catalog.policies
        guard !book.rules.isEmpty || !book.subscriptions.isEmpty else { return }
        for index in events.indices {
            for slot in events[index].deliveries.indices where events[index].deliveries[slot].isOpen {
                let delivery = events[index].deliveries[slot]
                for (scope, policies) in book.policies(matchedBy: delivery.matchedBy, subscriptionID: delivery.subscriptionID) {
                    guard let quiet = policies.quietHours, quiet.intervals.contains(now) else { continue }
                    let end = quiet.intervals.end(after: now)
                    let zone = quiet.intervals.timeZone.identifier
                    switch quiet.action {
                    case .drop:
                        let until = end.map { " until \(PolicyStages.time($0))" } ?? ""
                        events[index].deliveries[slot].settle(.quiet, "dropped: quiet hours (\(zone))\(until) (\(scope))")
                    case .delay:
                        // Intervals that never end (a year on end) drop rather than hold forever.
                        guard let end else {
                            events[index].deliveries[slot].settle(.quiet, "dropped: quiet hours (\(zone)) do not end within a year (\(scope))")
                            break
                        }
                        let later = max(end, events[index].deliveries[slot].notBefore ?? end)
                        events[index].deliveries[slot].notBefore = later
                        events[index].deliveries[slot].note = "delayed by quiet hours (\(zone)) to \(PolicyStages.time(later)) (\(scope))"
                    }
                    break
                }
            }
        }
    }
}

/// Throttles: at most one delivery per key and destination in each window; those held back are
/// `throttled`, and the next one sent says how many there were.
public struct ThrottleStage: IngestStage {
    public let catalog: SubscriptionCatalog
    public var name: String { "throttle" }
    static let maxKeys = 100_000

    public init(catalog: SubscriptionCatalog) { self.catalog = catalog }

    private func throttles(_ book: PolicyBook, _ delivery: StagedDelivery, _ event: Event) -> [(PolicyStateKey, Policies.Throttle)] {
        book.policies(matchedBy: delivery.matchedBy, subscriptionID: delivery.subscriptionID).compactMap { scope, policies in
            policies.throttle.map {
                (PolicyStateKey(policy: "throttle:\(scope)", key: delivery.subscriptionID + "\u{1F}" + FilterPath.key($0.key, of: event)), $0)
            }
        }
    }

    public func stateKeys(for events: [StagedEvent], now: Date) -> Set<PolicyStateKey> {
        let book = catalog.policies
        var keys: Set<PolicyStateKey> = []
        for item in events {
            for delivery in item.deliveries where delivery.isOpen {
                for (key, _) in throttles(book, delivery, item.event) { keys.insert(key) }
            }
        }
        return keys
    }

    public func apply(to events: inout [StagedEvent], state: inout PolicyStates, now: Date) {
        let book = catalog.policies
        guard !book.rules.isEmpty || !book.subscriptions.isEmpty else { return }
        for index in events.indices {
            let event = events[index].event
            for slot in events[index].deliveries.indices where events[index].deliveries[slot].isOpen {
                for (key, throttle) in throttles(book, events[index].deliveries[slot], event) {
                    let entry = state[key]
                    let start = PolicyStages.date(entry?["start"])
                    let held = entry?["held"]?.intValue ?? 0
                    let window = Double(throttle.window.components.seconds)
                    if let start, now < start.addingTimeInterval(window) {
                        var value = entry?.objectValue ?? [:]
                        value["held"] = .integer(Int64(held + 1))
                        if value["first_held"] == nil { value["first_held"] = .integer(PolicyStages.millis(now)) }
                        state.set(key, .object(value), limit: Self.maxKeys)
                        let next = PolicyStages.time(start.addingTimeInterval(window))
                        events[index].deliveries[slot].settle(
                            .throttled,
                            "throttled: one per \(DurationText.format(throttle.window)) for \(PolicyStages.describe(throttle.key, event)), next at \(next) (\(key.policy))")
                        break
                    }
                    state.set(key, .object(["start": .integer(PolicyStages.millis(now)), "held": .integer(0)]), limit: Self.maxKeys)
                    if held > 0 {
                        let since = PolicyStages.date(entry?["first_held"]).map { " since \(PolicyStages.time($0))" } ?? ""
                        events[index].deliveries[slot].note =
                            "\(held) more like this \(held == 1 ? "was" : "were") held back\(since) (throttle: one per \(DurationText.format(throttle.window)))"
                    }
                }
            }
        }
    }
}
