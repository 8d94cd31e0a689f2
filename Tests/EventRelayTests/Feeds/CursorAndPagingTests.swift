import EventModel
import Feeds
import Foundation
import Testing

@Suite("Feed cursor and page scanning (pure)")
struct CursorAndPagingTests {
    static let t0 = Date(timeIntervalSince1970: 1_700_000_000)
    static func at(_ seconds: Double) -> Date { t0.addingTimeInterval(seconds) }

    @Test func classifiesNewSeenAndHistory() {
        var cursor = FeedCursor(horizon: Self.at(0))
        cursor.markSeen(id: "a", time: Self.at(10))
        #expect(cursor.classify(id: "a", time: Self.at(10)) == .seen)
        #expect(cursor.classify(id: "b", time: Self.at(5)) == .new)
        #expect(cursor.classify(id: "c", time: Self.at(-1)) == .history)
        #expect(cursor.classify(id: "d", time: Self.at(0)) == .new, "the horizon itself is not history")
    }

    @Test func advanceKeepsTheOverlapWindowAndNeverMovesBack() {
        var cursor = FeedCursor(horizon: Self.at(0))
        for (id, time) in [("a", 10.0), ("b", 100), ("c", 4000)] { cursor.markSeen(id: id, time: Self.at(time)) }
        cursor.advance(overlap: .seconds(3600))
        #expect(cursor.horizon == Self.at(400))
        #expect(Set(cursor.seen.keys) == ["c"], "ids older than the horizon are forgotten")
        // A late event inside the window is still new; one before it is history.
        #expect(cursor.classify(id: "late", time: Self.at(500)) == .new)
        #expect(cursor.classify(id: "old", time: Self.at(300)) == .history)
        var empty = FeedCursor(horizon: Self.at(50))
        empty.advance(overlap: .seconds(10))
        #expect(empty.horizon == Self.at(50))
    }

    @Test func lateInsertedEventBelowNewerOnesIsFoundOnce() {
        // Page 1 newest first: n3 (new), s2 (seen), late (new, inserted below s2), s1 (seen).
        var cursor = FeedCursor(horizon: Self.at(0))
        cursor.markSeen(id: "s1", time: Self.at(10))
        cursor.markSeen(id: "s2", time: Self.at(20))
        let page = [("n3", Self.at(30)), ("s2", Self.at(20)), ("late", Self.at(15)), ("s1", Self.at(10))].map { (id: $0.0, time: $0.1) }
        let outcome = PageScan.scan(page: page, pageNumber: 1, pagination: Pagination(nextPage: 2, totalPages: 3), cursor: &cursor, maxPages: 10)
        #expect(outcome.newIndices == [0, 2])
        #expect(outcome.readNextPage, "a page with news may have more below")
        let again = PageScan.scan(page: page, pageNumber: 1, pagination: Pagination(nextPage: 2, totalPages: 3), cursor: &cursor, maxPages: 10)
        #expect(again.newIndices.isEmpty)
        #expect(!again.readNextPage, "nothing new: stop")
    }

    @Test(arguments: [
        // (pagination, page number, expect next)
        (Pagination(nextPage: 2, totalPages: 5), 1, true),
        (Pagination(nextPage: 5, totalPages: 5), 5, false),  // next_page clamped to the last page
        (Pagination(nextPage: nil, nextPageIsNull: true, totalPages: 9), 1, false),
        (Pagination(nextPage: 3, totalPages: 2), 2, false),  // page count wins
        (Pagination(), 1, true),  // no metadata at all: keep going while there is news
    ])
    func pageMetadataIsTrustedOnlyToStop(pagination: Pagination, pageNumber: Int, expectNext: Bool) {
        var cursor = FeedCursor(horizon: Self.at(0))
        let outcome = PageScan.scan(
            page: [(id: "x\(pageNumber)", time: Self.at(1))], pageNumber: pageNumber, pagination: pagination, cursor: &cursor, maxPages: 50)
        #expect(outcome.readNextPage == expectNext)
    }

    @Test func stopsAtHistoryEmptyPagesAndThePageLimit() {
        var cursor = FeedCursor(horizon: Self.at(100))
        let reachesHistory = PageScan.scan(
            page: [(id: "new", time: Self.at(150)), (id: "old", time: Self.at(50))], pageNumber: 1, pagination: Pagination(),
            cursor: &cursor, maxPages: 50)
        #expect(reachesHistory.newIndices == [0])
        #expect(!reachesHistory.readNextPage)
        #expect(!PageScan.scan(page: [], pageNumber: 1, pagination: Pagination(), cursor: &cursor, maxPages: 50).readNextPage)
        let limited = PageScan.scan(page: [(id: "n2", time: Self.at(160))], pageNumber: 3, pagination: Pagination(), cursor: &cursor, maxPages: 3)
        #expect(!limited.readNextPage && limited.hitPageLimit)
    }

    @Test func baselineMarksTheNewestPageAndStartsAfterIt() {
        let cursor = PageScan.baseline(
            page: [(id: "b", time: Self.at(20)), (id: "a", time: Self.at(10))], now: Self.at(1000), overlap: .seconds(60))
        #expect(cursor.horizon == Self.at(20))
        #expect(cursor.classify(id: "a", time: Self.at(10)) == .seen)
        #expect(cursor.classify(id: "older-on-page-2", time: Self.at(5)) == .history)
        #expect(cursor.classify(id: "next", time: Self.at(21)) == .new)
        let empty = PageScan.baseline(page: [], now: Self.at(1000), overlap: .seconds(60))
        #expect(empty.horizon == Self.at(940))
    }
}
