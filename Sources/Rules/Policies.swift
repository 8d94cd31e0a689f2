import EventModel
import Foundation

/// What a rule (for the deliveries it makes) or a subscription (for all of its deliveries) asks of
/// the ingest pipeline's policy stages, beyond routing. Each is read and validated with the rule
/// files (`PolicyReader`); the stages in the `Ingest` target apply them, keeping what they must
/// remember in the store. See `docs/rules.md`.
public struct Policies: Sendable, Hashable {
    public var throttle: Throttle?
    public var digest: Digest?
    public var onChange: OnChange?
    public var oncePer: OncePer?
    public var quietHours: QuietHours?

    public init(throttle: Throttle? = nil, digest: Digest? = nil, onChange: OnChange? = nil, oncePer: OncePer? = nil, quietHours: QuietHours? = nil) {
        self.throttle = throttle
        self.digest = digest
        self.onChange = onChange
        self.oncePer = oncePer
        self.quietHours = quietHours
    }

    public var isEmpty: Bool { throttle == nil && digest == nil && onChange == nil && oncePer == nil && quietHours == nil }

    /// At most one delivery per key (per destination) in each `window`; the next one sent says how many were held back.
    public struct Throttle: Sendable, Hashable {
        public var key: [FilterPath]
        public var window: Duration
        public init(key: [FilterPath], window: Duration) {
            self.key = key
            self.window = window
        }
    }

    /// Matches gathered by `by` into one message per group and destination: the first
    /// `groupWait` after the group's first event, then at most one per `groupInterval` (as
    /// Alertmanager groups); or, `daily`, once a day at a time in a time zone.
    public struct Digest: Sendable, Hashable {
        public struct Daily: Sendable, Hashable {
            /// Minutes after midnight.
            public var minute: Int
            public var timeZone: TimeZone
            public init(minute: Int, timeZone: TimeZone) {
                self.minute = minute
                self.timeZone = timeZone
            }
        }
        public var by: [FilterPath]
        public var groupWait: Duration
        public var groupInterval: Duration
        public var daily: Daily?
        /// How many events a digest lists by name (the rest it counts).
        public var listed: Int
        public init(by: [FilterPath], groupWait: Duration = .seconds(30), groupInterval: Duration = .seconds(600), daily: Daily? = nil, listed: Int = 5) {
            self.by = by
            self.groupWait = groupWait
            self.groupInterval = groupInterval
            self.daily = daily
            self.listed = listed
        }
    }

    /// Delivers only when the state of a key changes: the state is the value at `value` (default
    /// the category), or, with `states`, the name of the first state whose globs match it.
    /// The first state seen for a key is delivered unless `initial` is false.
    public struct OnChange: Sendable, Hashable {
        public var key: [FilterPath]
        public var value: FilterPath
        public var states: [(name: String, globs: [String])]
        public var initial: Bool
        public var maxKeys: Int

        public init(key: [FilterPath], value: FilterPath = .event(.category), states: [(name: String, globs: [String])] = [], initial: Bool = true, maxKeys: Int = 10_000) {
            self.key = key
            self.value = value
            self.states = states
            self.initial = initial
            self.maxKeys = maxKeys
        }

        public static func == (lhs: OnChange, rhs: OnChange) -> Bool {
            lhs.key == rhs.key && lhs.value == rhs.value && lhs.initial == rhs.initial && lhs.maxKeys == rhs.maxKeys
                && lhs.states.map(\.name) == rhs.states.map(\.name) && lhs.states.map(\.globs) == rhs.states.map(\.globs)
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(key)
            hasher.combine(value)
            hasher.combine(states.map(\.name))
        }
    }

    /// Delivers once per distinct value of `key` (Argo CD's `oncePer`), remembering the last `maxKeys` values.
    public struct OncePer: Sendable, Hashable {
        public var key: [FilterPath]
        public var maxKeys: Int
        public init(key: [FilterPath], maxKeys: Int = 10_000) {
            self.key = key
            self.maxKeys = maxKeys
        }
    }

    /// While the intervals hold, deliveries are dropped (status `quiet`) or delayed to the window's end.
    public struct QuietHours: Sendable, Hashable {
        public enum Action: String, Sendable, Hashable, CaseIterable { case drop, delay }
        public var intervals: TimeIntervals
        public var action: Action
        public init(intervals: TimeIntervals, action: Action) {
            self.intervals = intervals
            self.action = action
        }
    }
}

/// While an event matching `source` is active for a key (for `duration` after it), events
/// matching `target` with the same values at `equal` are held back (status `inhibited`), as
/// Alertmanager's inhibit rules do.
public struct InhibitRule: Sendable, Hashable {
    public var name: String
    public var source: FilterExpression
    public var target: FilterExpression
    public var equal: [FilterPath]
    public var duration: Duration
    public var location: String

    public init(name: String, source: FilterExpression, target: FilterExpression, equal: [FilterPath], duration: Duration, location: String = "") {
        self.name = name
        self.source = source
        self.target = target
        self.equal = equal
        self.duration = duration
        self.location = location
    }
}

extension FilterPath {
    /// The value at this path of an event (nil: absent).
    public func value(in event: Event) -> JSONValue? { CompiledExpression.value(self, event) }

    /// The values of `paths`, as one key: each as text (absent: empty), separated so no value can fake another's place.
    public static func key(_ paths: [FilterPath], of event: Event) -> String {
        paths.map { path in
            guard let value = path.value(in: event) else { return "" }
            return value.scalarText ?? String(decoding: value.encoded(), as: UTF8.self)
        }.joined(separator: "\u{1F}")
    }
}

/// The policies in force, compiled: what the stages consult for each delivery. Immutable; the
/// catalog swaps it whole when rules, subscriptions or mutes change.
public struct PolicyBook: Sendable {
    public struct CompiledMute: Sendable {
        public var mute: Mute
        public var filter: CompiledExpression?
    }
    public struct CompiledInhibit: Sendable {
        public var rule: InhibitRule
        public var source: CompiledExpression
        public var target: CompiledExpression
    }

    /// By rule name.
    public var rules: [String: Policies]
    /// By subscription id.
    public var subscriptions: [String: Policies]
    public var mutes: [CompiledMute]
    public var inhibits: [CompiledInhibit]

    public static let empty = PolicyBook(rules: [:], subscriptions: [:], mutes: [], inhibits: [])

    public init(rules: [String: Policies], subscriptions: [String: Policies], mutes: [Mute], inhibits: [InhibitRule]) {
        self.rules = rules.filter { !$0.value.isEmpty }
        self.subscriptions = subscriptions.filter { !$0.value.isEmpty }
        // A stored mute's filter was checked when it was made; one that no longer reads (a
        // later release's grammar) mutes nothing rather than everything.
        self.mutes = mutes.map { mute in
            CompiledMute(mute: mute, filter: mute.filter.map { document in
                (try? FilterReader.read(JSONFilterNode(document, path: "filter"))).map(CompiledExpression.init) ?? CompiledExpression(.any([]))
            })
        }
        self.inhibits = inhibits.map { CompiledInhibit(rule: $0, source: CompiledExpression($0.source), target: CompiledExpression($0.target)) }
    }

    /// The rule's policies for a delivery it made (`matchedBy` `rule:<name>`), then the subscription's.
    public func policies(matchedBy: String, subscriptionID: String) -> [(scope: String, policies: Policies)] {
        var found: [(String, Policies)] = []
        if matchedBy.hasPrefix("rule:"), let policies = rules[String(matchedBy.dropFirst(5))] { found.append((matchedBy, policies)) }
        if let policies = subscriptions[subscriptionID] { found.append(("subscription:\(subscriptionID)", policies)) }
        return found
    }

    public var hasStatePolicies: Bool {
        !inhibits.isEmpty || rules.values.contains { $0.throttle != nil || $0.digest != nil || $0.onChange != nil || $0.oncePer != nil }
            || subscriptions.values.contains { $0.throttle != nil || $0.digest != nil || $0.onChange != nil || $0.oncePer != nil }
    }
}
