import Foundation

/// Recurring time intervals in a named IANA time zone, as Alertmanager's `time_intervals` write
/// them: any of `intervals` may hold; within one, every given part must (an absent part holds
/// always). Pure: the time is passed in.
public struct TimeIntervals: Sendable, Hashable {
    public struct Interval: Sendable, Hashable {
        /// Minutes of the day, start inclusive, end exclusive (`00:00`–`24:00`); empty: all day.
        public var times: [Range<Int>]
        /// 0 (Sunday) to 6 (Saturday), inclusive ranges.
        public var weekdays: [ClosedRange<Int>]
        /// 1…31, or negative counting from the month's end (-1: its last day), inclusive ranges.
        public var daysOfMonth: [ClosedRange<Int>]
        /// 1…12, inclusive ranges.
        public var months: [ClosedRange<Int>]
        public var years: [ClosedRange<Int>]

        public init(
            times: [Range<Int>] = [], weekdays: [ClosedRange<Int>] = [], daysOfMonth: [ClosedRange<Int>] = [], months: [ClosedRange<Int>] = [],
            years: [ClosedRange<Int>] = []
        ) {
            self.times = times
            self.weekdays = weekdays
            self.daysOfMonth = daysOfMonth
            self.months = months
            self.years = years
        }
    }

    public var timeZone: TimeZone
    public var intervals: [Interval]

    public init(timeZone: TimeZone, intervals: [Interval]) {
        self.timeZone = timeZone
        self.intervals = intervals
    }

    private var calendar: Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        return calendar
    }

    public func contains(_ date: Date) -> Bool { !containing(date, calendar).isEmpty }

    /// The first moment at or after `date` that no interval holds: when a window `date` is in
    /// ends (`date` itself when it is in none). Nil when the intervals hold for over a year on end.
    public func end(after date: Date) -> Date? {
        let calendar = calendar
        var time = date
        for _ in 0..<2000 {
            let holding = containing(time, calendar)
            guard !holding.isEmpty else { return time }
            // The union holds at least until the furthest boundary of those that hold now.
            guard let next = holding.map({ boundary(of: $0, at: time, calendar) }).max(), next > time else { return nil }
            time = next
            if time.timeIntervalSince(date) > 400 * 86400 { return nil }
        }
        return nil
    }

    /// The intervals holding at `date`, each with the minute range that holds (nil: all day).
    private func containing(_ date: Date, _ calendar: Calendar) -> [(Interval, Range<Int>?)] {
        let parts = calendar.dateComponents([.year, .month, .day, .weekday, .hour, .minute], from: date)
        guard let year = parts.year, let month = parts.month, let day = parts.day, let weekday = parts.weekday,
              let hour = parts.hour, let minute = parts.minute
        else { return [] }
        let minuteOfDay = hour * 60 + minute
        let daysInMonth = calendar.range(of: .day, in: .month, for: date)?.count ?? 31
        var holding: [(Interval, Range<Int>?)] = []
        for interval in intervals {
            if !interval.years.isEmpty && !interval.years.contains(where: { $0.contains(year) }) { continue }
            if !interval.months.isEmpty && !interval.months.contains(where: { $0.contains(month) }) { continue }
            if !interval.weekdays.isEmpty && !interval.weekdays.contains(where: { $0.contains(weekday - 1) }) { continue }
            if !interval.daysOfMonth.isEmpty && !interval.daysOfMonth.contains(where: { range in
                let lower = range.lowerBound < 0 ? daysInMonth + 1 + range.lowerBound : range.lowerBound
                let upper = range.upperBound < 0 ? daysInMonth + 1 + range.upperBound : range.upperBound
                return lower <= day && day <= upper
            }) { continue }
            if interval.times.isEmpty {
                holding.append((interval, nil))
            } else if let range = interval.times.first(where: { $0.contains(minuteOfDay) }) {
                holding.append((interval, range))
            }
        }
        return holding
    }

    /// Where the part holding at `date` stops: its time range's end that day, or the next midnight.
    private func boundary(of holding: (Interval, Range<Int>?), at date: Date, _ calendar: Calendar) -> Date {
        let startOfDay = calendar.startOfDay(for: date)
        let nextDay = calendar.date(byAdding: .day, value: 1, to: startOfDay) ?? date.addingTimeInterval(86400)
        guard let range = holding.1, range.upperBound < 24 * 60 else { return nextDay }
        let end = calendar.date(bySettingHour: range.upperBound / 60, minute: range.upperBound % 60, second: 0, of: startOfDay) ?? nextDay
        return end > date ? end : nextDay
    }
}
