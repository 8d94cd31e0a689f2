import EventModel
import Foundation

/// Where one newest-first timeline stands, kept durable between polls and restarts. Pure value
/// logic, no I/O: the walk decides, the store persists it (as an opaque, versioned checkpoint).
///
/// Not a "newest id" mark: platforms insert events late, below newer ones, and offset pages shift
/// while they are read. The rule that makes it safe: an event inserted at time `w` has a time of at
/// least `w - lateness` (the lateness window, which also absorbs clock skew). So each **sweep** of
/// the timeline, from the newest page down, reads past the time its predecessor started, minus
/// the lateness window: every event inserted since then is at or above that line.
///
/// - `horizon`: where the next sweep stops; below it (outside a backlog) is history;
/// - `seen`: every event id read at or above the floor, so nothing is delivered twice;
/// - `backlog`: a sweep that did not fit in one poll (page limit, an error): the page token to
///   resume from, the line it must pass below, and the newest time it had reached (each poll
///   first reads what arrived above that, then continues the sweep);
/// - `newest`: the newest event time read, for status (lag).
///
/// An unseen event at or above the floor is new; below it, history.
public struct TimelineCursor: Sendable, Equatable, Codable {
    public enum Verdict: Sendable, Equatable {
        case new
        case seen
        case history
    }

    public struct Backlog: Sendable, Equatable, Codable {
        /// The newest event time when the sweep began: each poll reads what arrived above it first.
        public var upper: Date
        /// The line the sweep must pass below before it is complete.
        public var lower: Date
        /// The platform's page token to continue from (a page offset, a link, an id).
        public var resume: String
        /// When the sweep began (the relay's clock).
        public var since: Date
        /// When the sweep began in the platform's clock, as far as it can be told: `since`, or the
        /// newest event then if that was earlier. The next sweep reads down to `anchor - lateness`.
        public var anchor: Date
        /// By id: the highest id the heads have read; the next head reads down to it.
        public var headTop: String?
        /// The oldest event time the sweep has read so far: where it stands.
        public var reached: Date

        public init(upper: Date, lower: Date, resume: String, since: Date, reached: Date? = nil, anchor: Date? = nil) {
            self.upper = upper
            self.lower = lower
            self.resume = resume
            self.since = since
            self.reached = reached ?? upper
            self.anchor = anchor ?? since
        }
    }

    public var horizon: Date
    public var newest: Date?
    public var seen: [String: Date]
    public var backlog: Backlog?
    /// The top of the last complete sweep: everything from there down to the floor has been read
    /// once. A sweep still above it is reading events never read before (the stream is behind);
    /// below it, it is only looking again for late inserts.
    public var checkedThrough: Date?
    /// For a timeline paged by id: the highest id read, everything between it and the previous
    /// top read too. An id above it is new whatever its time.
    public var top: String?
    /// The stream's first start found it empty and nothing has been read since: the horizon is
    /// the relay's clock's, and the first events read move it by theirs (see `TimelineWalk`).
    public var emptyAtStart = false
    /// The platform's clock minus the relay's, as last seen: the newest new event's time minus
    /// when it was read (so at most the real offset). See `TimelineWalk.clockOffset`.
    public var offset: Duration?

    public init(
        horizon: Date, newest: Date? = nil, seen: [String: Date] = [:], backlog: Backlog? = nil, checkedThrough: Date? = nil, top: String? = nil
    ) {
        self.horizon = horizon
        self.newest = newest
        self.seen = seen
        self.backlog = backlog
        self.checkedThrough = checkedThrough
        self.top = top
    }

    /// Part of the timeline has never been read: a sweep is unfinished above what was checked.
    public var isBehind: Bool {
        guard let backlog else { return false }
        guard let checkedThrough else { return true }
        return backlog.reached > checkedThrough
    }

    /// The oldest time still deliverable: the horizon, or the bottom of an unfinished backlog.
    public var floor: Date { min(horizon, backlog?.lower ?? horizon) }

    public func classify(id: String, time: Date) -> Verdict {
        if seen[id] != nil { return .seen }
        return time >= floor ? .new : .history
    }

    public mutating func markSeen(id: String, time: Date) {
        seen[id] = time
    }

    /// After a walk: `newest` takes what was read, the horizon moves up to `sweepStart - lateness`
    /// when a sweep completed (never back; `sweepStart` in the platform's clock, see `TimelineWalk`), and ids below the floor are forgotten (they could only
    /// classify as history now).
    mutating func settle(newestRead: Date?, completedSweepStartedAt sweepStart: Date?, lateness: Duration) {
        if let newestRead { newest = max(newest ?? newestRead, newestRead) }
        if let sweepStart {
            horizon = max(horizon, sweepStart.addingTimeInterval(-lateness.timeInterval))
        }
        let floor = self.floor
        seen = seen.filter { $0.value >= floor }
    }

    // A compact, stable JSON form: times as integer milliseconds, seen ids as [[id, ms]] sorted by id.
    private enum CodingKeys: String, CodingKey { case horizon, newest, seen, backlog, checked, top, empty, offset }
    private enum BacklogKeys: String, CodingKey { case upper, lower, resume, since, reached, anchor, headTop = "head_top" }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        horizon = Self.date(try container.decode(Int64.self, forKey: .horizon))
        newest = try container.decodeIfPresent(Int64.self, forKey: .newest).map(Self.date)
        checkedThrough = try container.decodeIfPresent(Int64.self, forKey: .checked).map(Self.date)
        top = try container.decodeIfPresent(String.self, forKey: .top)
        emptyAtStart = try container.decodeIfPresent(Bool.self, forKey: .empty) ?? false
        offset = try container.decodeIfPresent(Int64.self, forKey: .offset).map { .milliseconds($0) }
        var seen: [String: Date] = [:]
        for pair in try container.decode([[SeenPart]].self, forKey: .seen) {
            guard pair.count == 2, case .id(let id) = pair[0], case .time(let ms) = pair[1] else {
                throw DecodingError.dataCorruptedError(forKey: .seen, in: container, debugDescription: "seen entries are [id, ms]")
            }
            seen[id] = Self.date(ms)
        }
        self.seen = seen
        if container.contains(.backlog), try !container.decodeNil(forKey: .backlog) {
            let nested = try container.nestedContainer(keyedBy: BacklogKeys.self, forKey: .backlog)
            backlog = Backlog(
                upper: Self.date(try nested.decode(Int64.self, forKey: .upper)), lower: Self.date(try nested.decode(Int64.self, forKey: .lower)),
                resume: try nested.decode(String.self, forKey: .resume), since: Self.date(try nested.decode(Int64.self, forKey: .since)),
                reached: try nested.decodeIfPresent(Int64.self, forKey: .reached).map(Self.date),
                anchor: try nested.decodeIfPresent(Int64.self, forKey: .anchor).map(Self.date))
            backlog?.headTop = try nested.decodeIfPresent(String.self, forKey: .headTop)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(Self.ms(horizon), forKey: .horizon)
        try container.encodeIfPresent(newest.map(Self.ms), forKey: .newest)
        try container.encodeIfPresent(checkedThrough.map(Self.ms), forKey: .checked)
        try container.encodeIfPresent(top, forKey: .top)
        if emptyAtStart { try container.encode(true, forKey: .empty) }
        try container.encodeIfPresent(offset.map { $0.milliseconds }, forKey: .offset)
        try container.encode(seen.sorted { $0.key < $1.key }.map { [SeenPart.id($0.key), .time(Self.ms($0.value))] }, forKey: .seen)
        if let backlog {
            var nested = container.nestedContainer(keyedBy: BacklogKeys.self, forKey: .backlog)
            try nested.encode(Self.ms(backlog.upper), forKey: .upper)
            try nested.encode(Self.ms(backlog.lower), forKey: .lower)
            try nested.encode(backlog.resume, forKey: .resume)
            try nested.encode(Self.ms(backlog.since), forKey: .since)
            try nested.encode(Self.ms(backlog.reached), forKey: .reached)
            try nested.encode(Self.ms(backlog.anchor), forKey: .anchor)
            try nested.encodeIfPresent(backlog.headTop, forKey: .headTop)
        }
    }

    private enum SeenPart: Codable {
        case id(String)
        case time(Int64)

        init(from decoder: any Decoder) throws {
            let value = try decoder.singleValueContainer()
            if let ms = try? value.decode(Int64.self) { self = .time(ms) } else { self = .id(try value.decode(String.self)) }
        }

        func encode(to encoder: any Encoder) throws {
            var value = encoder.singleValueContainer()
            switch self {
            case .id(let id): try value.encode(id)
            case .time(let ms): try value.encode(ms)
            }
        }
    }

    static func ms(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded(.down)) }
    static func date(_ ms: Int64) -> Date { Date(timeIntervalSince1970: Double(ms) / 1000) }
}
