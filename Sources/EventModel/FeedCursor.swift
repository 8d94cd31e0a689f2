import Foundation

/// Where a feed stands, kept durable between polls and restarts. Not a "newest id" mark: real
/// feeds insert events late, below newer ones, so the cursor remembers every event id seen
/// within an overlap window, and a horizon before which events are history.
///
/// - An event older than `horizon` is history: never delivered (it predates the feed's start,
///   or the overlap window has passed it).
/// - An event at or after `horizon` whose id is in `seen` was already handled.
/// - Anything else is new.
///
/// Pure value logic, no I/O: the feed decides, the store persists.
public struct FeedCursor: Sendable, Equatable {
    public enum Verdict: Sendable, Equatable {
        case new
        case seen
        case history
    }

    public var horizon: Date
    public var seen: [String: Date]

    public init(horizon: Date, seen: [String: Date] = [:]) {
        self.horizon = horizon
        self.seen = seen
    }

    public func classify(id: String, time: Date) -> Verdict {
        if seen[id] != nil { return .seen }
        if time < horizon { return .history }
        return .new
    }

    public mutating func markSeen(id: String, time: Date) {
        seen[id] = time
    }

    public var newest: Date? { seen.values.max() }

    /// Moves the horizon up to `overlap` before the newest event seen (never back), and forgets
    /// ids older than the horizon: they can only ever classify as history now.
    public mutating func advance(overlap: Duration) {
        guard let newest else { return }
        let candidate = newest.addingTimeInterval(-overlap.timeInterval)
        if candidate > horizon { horizon = candidate }
        seen = seen.filter { $0.value >= horizon }
    }
}
