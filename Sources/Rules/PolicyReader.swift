import EventModel
import Foundation
import YAMLSupport

/// Reads the policy keys of a rule or a subscription in a rule file (`throttle`, `digest`,
/// `notify_on_change`, `once_per`, `quiet_hours`), the file's `mutes` and `inhibit` lists.
/// Everything is checked here: unknown keys, paths, durations, time zones, times, conflicts.
public enum PolicyReader {
    public static let keys = ["throttle", "digest", "notify_on_change", "once_per", "quiet_hours"]
    public static let maxKeys = 1_000_000
    static let maxWindow: Duration = .seconds(30 * 86400)

    /// The policies among `fields` (other keys are the caller's).
    public static func read(_ fields: YAMLMapping, at entry: YAMLValue) throws(YAMLError) -> Policies {
        var policies = Policies()
        if let value = fields["throttle"], !value.isNull {
            let map = try value.mapping()
            try map.allowOnly(["key", "window"])
            policies.throttle = Policies.Throttle(
                key: try paths(map["key"]), window: try map.require("window").duration(in: .seconds(1)...maxWindow))
        }
        if let value = fields["digest"], !value.isNull {
            let map = try value.mapping()
            try map.allowOnly(["by", "group_wait", "group_interval", "daily_at", "time_zone", "list"])
            var digest = Policies.Digest(by: try paths(map["by"]))
            if let wait = map["group_wait"] { digest.groupWait = try wait.duration(in: .zero...maxWindow) }
            if let interval = map["group_interval"] { digest.groupInterval = try interval.duration(in: .seconds(1)...maxWindow) }
            if let list = map["list"] { digest.listed = try list.int(in: 0...50) }
            if let daily = map["daily_at"] {
                if let other = map["group_wait"] ?? map["group_interval"] {
                    throw other.error("a daily digest is sent at daily_at: group_wait and group_interval do not apply")
                }
                digest.daily = Policies.Digest.Daily(minute: try minuteOfDay(daily, allowEnd: false), timeZone: try timeZone(map.require("time_zone")))
            } else if let zone = map["time_zone"] {
                throw zone.error("only a daily digest (daily_at) has a time zone")
            }
            policies.digest = digest
        }
        if let value = fields["notify_on_change"], !value.isNull {
            let map = try value.mapping()
            try map.allowOnly(["key", "value", "states", "initial", "max_keys"])
            var change = Policies.OnChange(key: try paths(map["key"]))
            if let path = map["value"] { change.value = try FilterReader.filterPath(try path.nonEmptyString(), path) }
            if let states = map["states"], !states.isNull {
                for entry in try states.mapping().entries {
                    let globs = try entry.value.stringList()
                    guard !globs.isEmpty else { throw entry.value.error("must list at least one value") }
                    change.states.append((entry.key, globs))
                }
            }
            if let initial = map["initial"] { change.initial = try initial.bool() }
            if let max = map["max_keys"] { change.maxKeys = try max.int(in: 1...maxKeys) }
            policies.onChange = change
        }
        if let value = fields["once_per"], !value.isNull {
            let map = try value.mapping()
            try map.allowOnly(["key", "max_keys"])
            guard let key = map["key"] else { throw value.error("needs a key (the paths whose value is told once)") }
            var once = Policies.OncePer(key: try paths(key))
            if let max = map["max_keys"] { once.maxKeys = try max.int(in: 1...maxKeys) }
            policies.oncePer = once
        }
        if let value = fields["quiet_hours"], !value.isNull {
            policies.quietHours = try quietHours(value)
        }
        if policies.digest != nil, let other = fields["throttle"] {
            throw other.error("a digest already sends at most one message per group and interval: use digest or throttle, not both")
        }
        if policies.onChange != nil, let other = fields["once_per"] {
            throw other.error("notify_on_change and once_per both decide which events are told: use one")
        }
        return policies
    }

    public static func quietHours(_ value: YAMLValue) throws(YAMLError) -> Policies.QuietHours {
        let map = try value.mapping()
        try map.allowOnly(["time_zone", "intervals", "action"])
        let zone = try timeZone(map.require("time_zone"))
        let list = try map.require("intervals").sequence()
        guard !list.isEmpty else { throw value.error("intervals must list at least one interval") }
        var action = Policies.QuietHours.Action.delay
        if let written = map["action"] {
            guard let parsed = Policies.QuietHours.Action(rawValue: try written.string()) else {
                throw written.error("must be drop or delay")
            }
            action = parsed
        }
        return Policies.QuietHours(intervals: TimeIntervals(timeZone: zone, intervals: try list.map(interval)), action: action)
    }

    static let weekdays = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
    static let months = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"]

    static func interval(_ value: YAMLValue) throws(YAMLError) -> TimeIntervals.Interval {
        let map = try value.mapping()
        try map.allowOnly(["times", "weekdays", "days_of_month", "months", "years"])
        var interval = TimeIntervals.Interval()
        if let times = map["times"] {
            for entry in try times.sequence() {
                let range = try entry.mapping()
                try range.allowOnly(["start_time", "end_time"])
                let start = try minuteOfDay(range.require("start_time"), allowEnd: false)
                let endValue = try range.require("end_time")
                let end = try minuteOfDay(endValue, allowEnd: true)
                guard start < end else { throw endValue.error("must be after start_time (split a range that spans midnight in two)") }
                interval.times.append(start..<end)
            }
        }
        if let days = map["weekdays"] { interval.weekdays = try ranges(days, names: weekdays, numbers: nil, base: 0) }
        if let days = map["days_of_month"] {
            interval.daysOfMonth = try ranges(days, names: [], numbers: -31...31, base: 1)
            if interval.daysOfMonth.contains(where: { $0.lowerBound == 0 || $0.upperBound == 0 }) { throw days.error("days run from 1 to 31, or -1 (the last) to -31") }
        }
        if let list = map["months"] { interval.months = try ranges(list, names: months, numbers: 1...12, base: 1) }
        if let list = map["years"] { interval.years = try ranges(list, names: [], numbers: 1970...9999, base: 0) }
        return interval
    }

    /// `monday:friday`, `saturday`, `1:5`, `-1`: names (their index + `base`) or numbers in `numbers`.
    static func ranges(_ value: YAMLValue, names: [String], numbers: ClosedRange<Int>?, base: Int) throws(YAMLError) -> [ClosedRange<Int>] {
        var result: [ClosedRange<Int>] = []
        for item in try value.sequence() {
            let text = try item.string().lowercased()
            // A leading minus is a negative day, not a range separator.
            let parts = text.hasPrefix("-") && !text.dropFirst().contains(":") ? [text] : text.split(separator: ":", maxSplits: 1).map(String.init)
            func one(_ part: String) throws(YAMLError) -> Int {
                if let index = names.firstIndex(of: part) { return index + base }
                if let numbers, let number = Int(part), numbers.contains(number) { return number }
                let expected = names.isEmpty ? "" : "one of \(names.joined(separator: ", "))"
                let range = numbers.map { "a number from \($0.lowerBound) to \($0.upperBound)" } ?? ""
                throw item.error("\"\(part)\" is not \([expected, range].filter { !$0.isEmpty }.joined(separator: " or "))")
            }
            guard let first = parts.first else { throw item.error("must not be empty") }
            let lower = try one(first)
            let upper = parts.count > 1 ? try one(parts[1]) : lower
            guard lower <= upper else { throw item.error("the range's start must not be after its end") }
            result.append(lower...upper)
        }
        return result
    }

    /// `HH:MM`, `24:00` only as an end.
    static func minuteOfDay(_ value: YAMLValue, allowEnd: Bool) throws(YAMLError) -> Int {
        let text = try value.string()
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[1].count == 2, let hour = Int(parts[0]), let minute = Int(parts[1]), (0..<60).contains(minute),
              (0..<24).contains(hour) || (allowEnd && hour == 24 && minute == 0)
        else { throw value.error("must be a time of day as HH:MM (00:00 to \(allowEnd ? "24:00" : "23:59"))") }
        return hour * 60 + minute
    }

    public static func timeZone(_ value: YAMLValue) throws(YAMLError) -> TimeZone {
        let name = try value.nonEmptyString()
        guard let zone = TimeZone(identifier: name), name.contains("/") || name == "UTC" || name == "GMT" else {
            let known = TimeZone.knownTimeZoneIdentifiers
            let lowered = known.map { $0.lowercased() }
            let hint = closest(name, in: lowered).flatMap { lowered.firstIndex(of: $0) }.map { " (did you mean \(known[$0])?)" } ?? ""
            throw value.error("\"\(name)\" is not an IANA time zone name like Europe/Paris or UTC\(hint)")
        }
        return zone
    }

    /// Paths of the event: `app`, `category`, `raw.…`, `details.…` (one or a list; none: one key for every event).
    static func paths(_ value: YAMLValue?) throws(YAMLError) -> [FilterPath] {
        guard let value, !value.isNull else { return [] }
        let items = (try? value.sequence()) ?? [value]
        var paths: [FilterPath] = []
        for item in items { paths.append(try FilterReader.filterPath(try item.nonEmptyString(), item)) }
        return paths
    }

    // MARK: Mutes and inhibit rules

    public static let muteKeys = ["id", "rule", "subscription", "filter", "starts_at", "ends_at", "comment"]

    public static func mute(_ value: YAMLValue) throws(YAMLError) -> Mute {
        let map = try value.mapping()
        try map.allowOnly(muteKeys)
        let idValue = try map.require("id")
        let id = try idValue.nonEmptyString()
        if let problem = Subscription.validateID(id) { throw idValue.error(problem.message) }
        var filter: JSONValue?
        if let written = map["filter"], !written.isNull {
            filter = try FilterReader.read(written).json
        }
        let starts = try map["starts_at"].map { value throws(YAMLError) in try time(value) } ?? Date(timeIntervalSince1970: 0)
        let endValue = try map.require("ends_at")
        let ends = try time(endValue)
        guard starts < ends else { throw endValue.error("must be after starts_at") }
        let rule = try map["rule"]?.nonEmptyString()
        let subscription = try map["subscription"]?.nonEmptyString()
        if rule == nil && subscription == nil && filter == nil {
            throw value.error("mute \"\(id)\": name a rule, a subscription or a filter (a mute of everything is a pause: POST /v1/subscriptions/{id}/pause)")
        }
        return Mute(
            id: id, rule: rule, subscription: subscription, filter: filter, startsAt: starts, endsAt: ends,
            comment: try map["comment"]?.string() ?? "", origin: "\(value.file):\(value.line)", createdAt: starts)
    }

    static func time(_ value: YAMLValue) throws(YAMLError) -> Date {
        let text = try value.string()
        guard let date = Timestamp.parse(text) else { throw value.error("must be a time like 2026-12-24T18:00:00Z (RFC 3339, with its offset)") }
        return date
    }

    public static let inhibitKeys = ["name", "source", "target", "equal", "duration"]

    public static func inhibit(_ value: YAMLValue) throws(YAMLError) -> InhibitRule {
        let map = try value.mapping()
        try map.allowOnly(inhibitKeys)
        let name = try map.require("name").nonEmptyString()
        do throws(YAMLError) {
            let equal = try paths(map.require("equal"))
            guard !equal.isEmpty else { throw try map.require("equal").error("must name the paths both events share (app, say)") }
            return InhibitRule(
                name: name, source: try FilterReader.read(try map.require("source")), target: try FilterReader.read(try map.require("target")),
                equal: equal, duration: try map.require("duration").duration(in: .seconds(1)...maxWindow), location: "\(value.file):\(value.line)")
        } catch {
            var located = error
            located.message = "inhibit \"\(name)\": \(error.message)"
            throw located
        }
    }
}
