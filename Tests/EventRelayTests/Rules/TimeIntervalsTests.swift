import Foundation
import Rules
import Testing

/// Recurring intervals in a time zone (quiet hours): pure, the time passed in.
@Suite("Time intervals")
struct TimeIntervalsTests {
    static let paris = TimeZone(identifier: "Europe/Paris") ?? .gmt

    static func at(_ text: String) -> Date { (try? Date(text, strategy: .iso8601)) ?? .distantPast }

    /// Weeknights 20:00–24:00 and 00:00–08:00, and whole weekends.
    static let nights = TimeIntervals(timeZone: paris, intervals: [
        .init(times: [20 * 60..<24 * 60, 0..<8 * 60], weekdays: [1...5]),
        .init(weekdays: [0...0, 6...6]),
    ])

    @Test(arguments: [
        ("2027-01-15T18:59:00Z", false, "2027-01-15T18:59:00Z"),  // Friday 19:59 Paris
        ("2027-01-15T19:00:00Z", true, "2027-01-18T07:00:00Z"),  // Friday 20:00 → Monday 08:00, across the weekend
        ("2027-01-13T22:30:00Z", true, "2027-01-14T07:00:00Z"),  // Wednesday 23:30 → Thursday 08:00, across midnight
        ("2027-01-14T07:00:00Z", false, "2027-01-14T07:00:00Z"),  // Thursday 08:00 exactly: the end is excluded
        ("2027-03-27T12:00:00Z", true, "2027-03-29T06:00:00Z"),  // the weekend of the change to summer time: 08:00 is 06:00Z
    ])
    func holdsAndEndsWhereAPersonExpects(time: String, holds: Bool, end: String) {
        #expect(Self.nights.contains(Self.at(time)) == holds, "\(time)")
        #expect(Self.nights.end(after: Self.at(time)) == Self.at(end), "\(time)")
    }

    @Test func negativeDaysCountFromTheMonthsEnd() {
        let lastDay = TimeIntervals(timeZone: TimeZone.gmt, intervals: [.init(daysOfMonth: [-1 ... -1])])
        #expect(lastDay.contains(Self.at("2027-02-28T12:00:00Z")))
        #expect(!lastDay.contains(Self.at("2027-02-27T12:00:00Z")))
        #expect(lastDay.contains(Self.at("2028-02-29T00:00:00Z")), "a leap year's February")
        #expect(lastDay.end(after: Self.at("2027-02-28T12:00:00Z")) == Self.at("2027-03-01T00:00:00Z"))
    }

    @Test func intervalsThatNeverEndHaveNoEnd() {
        let always = TimeIntervals(timeZone: Self.paris, intervals: [.init()])
        #expect(always.contains(Self.at("2027-01-15T12:00:00Z")))
        #expect(always.end(after: Self.at("2027-01-15T12:00:00Z")) == nil)
    }
}
