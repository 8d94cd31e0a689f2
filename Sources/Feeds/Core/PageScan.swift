import EventModel
import Foundation

/// What a platform says about paging; every field optional, because real APIs leave them out,
/// rename them, or get them wrong (`next_page` clamped to the last page instead of null).
public struct Pagination: Sendable, Equatable {
    public var currentPage: Int?
    public var nextPage: Int?
    /// True when the response said `next_page: null` explicitly.
    public var nextPageIsNull: Bool
    public var totalPages: Int?

    public init(currentPage: Int? = nil, nextPage: Int? = nil, nextPageIsNull: Bool = false, totalPages: Int? = nil) {
        self.currentPage = currentPage
        self.nextPage = nextPage
        self.nextPageIsNull = nextPageIsNull
        self.totalPages = totalPages
    }
}

/// Reads one page of newest-first events against the cursor and decides whether to read the
/// next page. Pure: the feed does the I/O.
///
/// Stops on: an empty page; a page with nothing new; a page that reaches history (events older
/// than the horizon); the last page by count or by an explicit null `next_page`; a `next_page`
/// that does not move forward; or the page limit.
public enum PageScan {
    public struct Outcome: Sendable, Equatable {
        /// Indices of the new events on the page.
        public var newIndices: [Int]
        public var readNextPage: Bool
        public var hitPageLimit: Bool
    }

    public static func scan(
        page: [(id: String, time: Date)], pageNumber: Int, pagination: Pagination, cursor: inout FeedCursor, maxPages: Int
    ) -> Outcome {
        var newIndices: [Int] = []
        var reachedHistory = false
        for (index, item) in page.enumerated() {
            switch cursor.classify(id: item.id, time: item.time) {
            case .new:
                newIndices.append(index)
                cursor.markSeen(id: item.id, time: item.time)
            case .seen:
                break
            case .history:
                reachedHistory = true
            }
        }
        var next = !page.isEmpty && !newIndices.isEmpty && !reachedHistory
        if let total = pagination.totalPages, pageNumber >= total { next = false }
        if pagination.nextPageIsNull { next = false }
        if let nextPage = pagination.nextPage, nextPage <= pageNumber { next = false }
        var hitLimit = false
        if next && pageNumber >= maxPages {
            next = false
            hitLimit = true
        }
        return Outcome(newIndices: newIndices, readNextPage: next, hitPageLimit: hitLimit)
    }

    /// The cursor for a stream's first start, from its newest page: those events are history
    /// (marked seen), and the horizon is the newest of them, so only what comes later is sent.
    /// An empty stream starts at `now - overlap`.
    public static func baseline(page: [(id: String, time: Date)], now: Date, overlap: Duration) -> FeedCursor {
        guard let newest = page.map(\.time).max() else {
            return FeedCursor(horizon: now.addingTimeInterval(-overlap.timeInterval))
        }
        var cursor = FeedCursor(horizon: newest)
        for item in page { cursor.markSeen(id: item.id, time: item.time) }
        return cursor
    }
}
