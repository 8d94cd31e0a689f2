import Feeds
import Foundation
import Testing

/// A newest-first timeline in memory with offset pages, as Scalingo serves it: the walk's world,
/// without I/O. `beforePage` can change the timeline in the middle of a walk.
struct SimulatedTimeline {
    var entries: [(id: String, time: Date)] = []
    var pageSize: Int
    /// Ordered by id, handed out when stored (EscapeKit): a late event goes on top, with its old time.
    var order: TimelineWalk.Order = .byTime

    /// By id: the order ids were handed out in (the platform's id order).
    let ranks = Ranks()

    final class Ranks: @unchecked Sendable {
        private let lock = NSLock()
        private var ranks: [String: Int] = [:]
        func add(_ id: String) { lock.withLock { ranks[id] = ranks[id] ?? ranks.count } }
        func isBelow(_ a: String, _ b: String) -> Bool { lock.withLock { (ranks[a] ?? -1) < (ranks[b] ?? -1) } }
    }

    init(pageSize: Int, order: TimelineWalk.Order = .byTime) {
        self.pageSize = pageSize
        self.order = order
    }

    /// Newest first: by time, a late insert lands below newer events; by id, it goes on top.
    mutating func insert(id: String, time: Date) {
        let index = order == .byID ? 0 : entries.firstIndex { $0.time < time } ?? entries.count
        entries.insert((id, time), at: index)
        ranks.add(id)
    }

    /// A server that serves at most this many a page whatever the page size asked for, with no
    /// next-page marker (EscapeKit's way: the walk is told a short page may be the last).
    var cap: Int?

    func page(_ request: TimelineWalk.Request) -> (items: [(id: String, time: Date)], next: String?, mayBeLast: Bool) {
        if let cap {
            // Tokens are ids (EscapeKit's page_from): the page below the token's id, which does
            // not shift when events arrive on top.
            var start = 0
            if case .token(let id) = request { start = entries.firstIndex { $0.id == id }.map { $0 + 1 } ?? entries.count }
            let items = Array(entries.dropFirst(start).prefix(min(cap, pageSize)))
            return (items, items.last?.id, items.count < pageSize)
        }
        var offset = 0
        if case .token(let token) = request { offset = Int(token) ?? 0 }
        let start = (offset / pageSize) * pageSize
        let items = Array(entries.dropFirst(start).prefix(pageSize))
        let next = start + pageSize < entries.count ? String(start + pageSize) : nil
        return (items, next, false)
    }

    /// Runs one poll; `beforePage(n)` runs before the n-th page (1-based) is served.
    mutating func poll(
        _ cursor: TimelineCursor?, now: Date, lateness: Duration = .seconds(300), maxPages: Int, backfill: Duration = .zero,
        failAtPage: Int? = nil, beforePage: (inout SimulatedTimeline, Int) -> Void = { _, _ in }
    ) -> (cursor: TimelineCursor?, new: [String], pages: Int) {
        let ranks = self.ranks
        var walk = TimelineWalk(
            cursor: cursor, now: now, lateness: lateness, maxPages: maxPages, backfill: backfill, order: order,
            isBelow: { ranks.isBelow($0, $1) })
        var new: [String] = []
        var step = walk.firstStep
        var served = 0
        while case .fetch(let request) = step {
            served += 1
            if served == failAtPage {
                walk.interrupted(at: request)
                return (walk.pages == 0 ? nil : walk.cursor, new, walk.pages)
            }
            beforePage(&self, served)
            let page = page(request)
            let (indices, next) = walk.receive(page.items, next: page.next, mayBeLast: page.mayBeLast)
            new += indices.map { page.items[$0].id }
            step = next
        }
        #expect(walk.isFinished)
        return (walk.cursor, new, walk.pages)
    }
}

@Suite("Timeline cursor and walk (pure)")
struct TimelineWalkTests {
    static let t0 = Date(timeIntervalSince1970: 1_700_000_000)
    static func at(_ seconds: Double) -> Date { t0.addingTimeInterval(seconds) }

    @Test func classifiesAgainstTheFloorAndTheBacklog() {
        var cursor = TimelineCursor(horizon: Self.at(100))
        cursor.markSeen(id: "a", time: Self.at(150))
        #expect(cursor.classify(id: "a", time: Self.at(150)) == .seen)
        #expect(cursor.classify(id: "b", time: Self.at(100)) == .new, "the horizon itself is not history")
        #expect(cursor.classify(id: "c", time: Self.at(99)) == .history)
        cursor.backlog = .init(upper: Self.at(80), lower: Self.at(20), resume: "60", since: Self.at(0))
        #expect(cursor.floor == Self.at(20))
        #expect(cursor.classify(id: "c", time: Self.at(99)) == .new, "an unread backlog stays deliverable")
        #expect(cursor.classify(id: "d", time: Self.at(19)) == .history)
    }

    @Test func checkpointsRoundTripAndReadTheOldFormat() throws {
        var cursor = TimelineCursor(horizon: Self.at(100), newest: Self.at(400), seen: ["a": Self.at(150), "b": Self.at(399.5)])
        cursor.backlog = .init(upper: Self.at(80), lower: Self.at(20), resume: "60", since: Self.at(1))
        let decoded = try JSONDecoder().decode(TimelineCursor.self, from: JSONEncoder().encode(cursor))
        #expect(decoded.horizon == cursor.horizon && decoded.newest == cursor.newest && decoded.backlog == cursor.backlog)
        #expect(decoded.seen.keys.sorted() == ["a", "b"])
        // Version 0: what the v1 store held (a horizon and seen ids).
        let legacy = #"{"horizon": 1700000100000, "seen": [["x", 1700000200000]]}"#
        let old = try JSONDecoder().decode(TimelineCursor.self, from: Data(legacy.utf8))
        #expect(old.horizon == Self.at(100) && old.seen["x"] == Self.at(200) && old.newest == nil && old.backlog == nil)
        #expect(throws: (any Error).self) { try JSONDecoder().decode(TimelineCursor.self, from: Data(#"{"horizon": 1, "seen": [[1, "x"]]}"#.utf8)) }
    }

    @Test func aFirstStartMarksTheLatenessWindowSeenAndDeliversNothing() throws {
        var timeline = SimulatedTimeline(pageSize: 3)
        for index in 0..<20 { timeline.insert(id: "old\(index)", time: Self.at(Double(index) * 60)) }  // 0 … 1140 s
        let first = timeline.poll(nil, now: Self.at(1150), maxPages: 10)
        #expect(first.new.isEmpty)
        let cursor = try #require(first.cursor)
        #expect(cursor.newest == Self.at(1140))
        #expect(cursor.horizon == Self.at(840), "the newest event - lateness: the platform's clock, not the relay's")
        #expect(first.pages == 3, "1140…1020, 960…840, then 780…660, which reaches below 840")
        #expect(cursor.seen.count == 6, "the events from 840 s up are remembered")
        // A late insert after the start, inside the window, is delivered; one far below it is history.
        timeline.insert(id: "late", time: Self.at(900))
        timeline.insert(id: "ancient", time: Self.at(100))
        let second = timeline.poll(cursor, now: Self.at(1180), maxPages: 10)
        #expect(second.new == ["late"])
    }

    @Test func anEmptyTimelineStartsFromNowMinusTheLatenessWindow() {
        var timeline = SimulatedTimeline(pageSize: 3)
        let first = timeline.poll(nil, now: Self.at(1000), maxPages: 10)
        #expect(first.cursor?.horizon == Self.at(700) && first.cursor?.newest == nil)
        timeline.insert(id: "a", time: Self.at(990))
        #expect(timeline.poll(first.cursor, now: Self.at(1010), maxPages: 10).new == ["a"])
    }

    /// One event stamped in the future must not make a platform clock that is behind look ahead:
    /// the line would then follow the relay's clock and call every later event history.
    @Test func aFutureStampedEventDoesNotMoveTheLineAboveThePlatformsClock() throws {
        var timeline = SimulatedTimeline(pageSize: 10)
        for index in 0..<3 { timeline.insert(id: "old\(index)", time: Self.at(300 + Double(index))) }
        // The relay's clock is 600 s ahead of the platform's.
        let first = try #require(timeline.poll(nil, now: Self.at(1000), maxPages: 10).cursor)
        timeline.insert(id: "a", time: Self.at(420))
        timeline.insert(id: "future", time: Self.at(5000))
        let second = timeline.poll(first, now: Self.at(1030), maxPages: 10)
        #expect(Set(second.new) == ["a", "future"])
        let offset = try #require(second.cursor?.offset)
        #expect(offset < .seconds(-600), "measured on the event that is not in the future: \(offset)")
        timeline.insert(id: "b", time: Self.at(450))
        let third = timeline.poll(second.cursor, now: Self.at(1060), maxPages: 10)
        #expect(third.new == ["b"])
    }

    /// A first start that found the timeline empty lets the first events read place the line by
    /// the platform's clock, but a fault (an empty answer for a full timeline) delivers at most
    /// `maxSkew` of history, never days of it.
    @Test func anEmptyFirstAnswerDeliversNoOldHistoryLater() throws {
        var timeline = SimulatedTimeline(pageSize: 10)
        let first = try #require(timeline.poll(nil, now: Self.at(10_000), maxPages: 10).cursor)
        #expect(first.emptyAtStart)
        for index in 0..<20 { timeline.insert(id: "days-ago-\(index)", time: Self.at(Double(index) * 100)) }
        let second = timeline.poll(first, now: Self.at(10_030), maxPages: 10)
        #expect(second.new.isEmpty, "\(second.new)")
        #expect(second.cursor?.emptyAtStart == false)
        // Behind by less than maxSkew: what came after the start is delivered.
        var other = SimulatedTimeline(pageSize: 10)
        let start = try #require(other.poll(nil, now: Self.at(10_000), maxPages: 10).cursor)
        other.insert(id: "new", time: Self.at(10_000 - 1200))
        #expect(other.poll(start, now: Self.at(10_030), maxPages: 10).new == ["new"])
    }

    @Test func aBurstBeyondThePageLimitIsReadOverSeveralPollsExactlyOnce() throws {
        var timeline = SimulatedTimeline(pageSize: 5)
        timeline.insert(id: "base", time: Self.at(0))
        var cursor = timeline.poll(nil, now: Self.at(1), maxPages: 3).cursor
        for index in 0..<100 { timeline.insert(id: "b\(index)", time: Self.at(10 + Double(index) * 0.1)) }
        var delivered: [String] = []
        var polls = 0
        repeat {
            let result = timeline.poll(cursor, now: Self.at(100 + Double(polls)), maxPages: 3)
            #expect(result.pages <= 3)
            delivered += result.new
            cursor = result.cursor
            polls += 1
        } while cursor?.backlog != nil && polls < 50
        #expect(polls == 10, "15 events, then 10 a poll: one page re-reads the top, two continue the sweep")
        #expect(delivered.count == 100 && Set(delivered).count == 100)
        #expect(cursor?.backlog == nil)
    }

    @Test func aStreamIsBehindOnlyWhileItsSweepIsAboveWhatWasReadBefore() throws {
        var timeline = SimulatedTimeline(pageSize: 5)
        timeline.insert(id: "base", time: Self.at(0))
        var cursor = try #require(timeline.poll(nil, now: Self.at(1), maxPages: 2).cursor)
        #expect(!cursor.isBehind && cursor.checkedThrough == Self.at(0))
        for index in 0..<30 { timeline.insert(id: "b\(index)", time: Self.at(100 + Double(index))) }
        var behind: [Bool] = []
        var backlog: [Bool] = []
        for poll in 0..<12 {
            cursor = try #require(timeline.poll(cursor, now: Self.at(200 + Double(poll)), maxPages: 2).cursor)
            behind.append(cursor.isBehind)
            backlog.append(cursor.backlog != nil)
        }
        // 30 new events at 2 pages, then 1 head + 1 sweep page, a poll: behind for five polls. The
        // next sweep must still pass below 200 - 300 s, reading all 30 again for late inserts: not behind.
        #expect(behind == Array(repeating: true, count: 5) + Array(repeating: false, count: 7), "\(behind)")
        #expect(backlog.contains(true) && backlog.last == false, "\(backlog)")
        #expect(cursor.checkedThrough == Self.at(129))
    }

    @Test func aBacklogIsVisibleWithItsResumePointAndBounds() throws {
        var timeline = SimulatedTimeline(pageSize: 5)
        timeline.insert(id: "base", time: Self.at(0))
        let cursor = timeline.poll(nil, now: Self.at(1), maxPages: 2).cursor
        for index in 0..<30 { timeline.insert(id: "b\(index)", time: Self.at(100 + Double(index))) }
        let result = timeline.poll(cursor, now: Self.at(200), maxPages: 2)
        let backlog = try #require(result.cursor?.backlog)
        #expect(backlog.upper == Self.at(129), "where the sweep began: the newest event")
        #expect(backlog.lower == Self.at(-300), "the line it must pass: the first start's newest event - lateness")
        #expect(backlog.resume == "10" && backlog.since == Self.at(200) && backlog.reached == Self.at(120))
        #expect(result.new.count == 10)
    }

    @Test func eventsArrivingDuringTheWalkNeverEndItEarly() throws {
        var timeline = SimulatedTimeline(pageSize: 4)
        timeline.insert(id: "base", time: Self.at(0))
        var cursor = timeline.poll(nil, now: Self.at(1), maxPages: 50).cursor
        for index in 0..<40 { timeline.insert(id: "a\(index)", time: Self.at(10 + Double(index))) }
        var counter = 0
        // Before every page, 2 more events arrive at the top: each page the walk reads starts with
        // the half page it has just read. A walk that stops on a page holding seen events ends there.
        let first = timeline.poll(cursor, now: Self.at(100), maxPages: 200) { timeline, page in
            guard page > 1 else { return }
            for _ in 0..<2 {
                timeline.insert(id: "x\(counter)", time: Self.at(60 + Double(counter) * 0.01))
                counter += 1
            }
        }
        #expect(Set(first.new).isSuperset(of: (0..<40).map { "a\($0)" }), "every event below the shifting pages is read")
        cursor = first.cursor
        let second = timeline.poll(cursor, now: Self.at(200), maxPages: 200)
        #expect(Set(first.new + second.new) == Set((0..<40).map { "a\($0)" } + (0..<counter).map { "x\($0)" }))
        #expect(first.new.count + second.new.count == 40 + counter, "and none twice")
    }

    @Test func lateInsertsBelowAFullySeenPageAreCaught() {
        var timeline = SimulatedTimeline(pageSize: 3)
        timeline.insert(id: "base", time: Self.at(0))
        var cursor = timeline.poll(nil, now: Self.at(1), maxPages: 10).cursor
        for index in 0..<9 { timeline.insert(id: "n\(index)", time: Self.at(1000 + Double(index))) }
        let first = timeline.poll(cursor, now: Self.at(1010), maxPages: 10)
        #expect(first.new.count == 9)
        cursor = first.cursor
        // Two events inserted late, 60 and 120 s older than events already seen: below three full, seen pages.
        timeline.insert(id: "late60", time: Self.at(948))
        timeline.insert(id: "late120", time: Self.at(888))
        let second = timeline.poll(cursor, now: Self.at(1020), maxPages: 10)
        #expect(second.new.sorted() == ["late120", "late60"])
        #expect(timeline.poll(second.cursor, now: Self.at(1030), maxPages: 10).new.isEmpty)
    }

    @Test func anIDOrderedWalkEndsOnlyAtAPageWhollyBelowItsLine() {
        // Newest first by id: one event with an old time sits among new ones.
        let page: [(id: String, time: Date)] = [("9", Self.at(500)), ("8", Self.at(-900)), ("7", Self.at(490))]
        let cursor = TimelineCursor(horizon: Self.at(0))
        var byTime = TimelineWalk(cursor: cursor, now: Self.at(600), lateness: .seconds(300), maxPages: 10)
        #expect(byTime.receive(page, next: "7").step == .done, "by time: the old event means the rest is older")
        var byID = TimelineWalk(cursor: cursor, now: Self.at(600), lateness: .seconds(300), maxPages: 10, order: .byID)
        let first = byID.receive(page, next: "7")
        #expect(first.step == .fetch(.token("7")) && first.new == [0, 2])
        let last = byID.receive([("6", Self.at(-10)), ("5", Self.at(-20))], next: "5")
        #expect(last.step == .done && last.new.isEmpty, "a page wholly below the line ends it")
    }

    @Test func aBaselineCutByItsPageLimitNeverSendsAnEventOfTheSameMillisecondLater() {
        var timeline = SimulatedTimeline(pageSize: 2)
        // A burst: five events at the very same millisecond, before the first start.
        for index in 0..<5 { timeline.insert(id: "pre\(index)", time: Self.at(100)) }
        let first = timeline.poll(nil, now: Self.at(110), maxPages: 2)
        #expect(first.pages == 2 && first.new.isEmpty)
        let second = timeline.poll(first.cursor, now: Self.at(120), maxPages: 10)
        #expect(second.new.isEmpty, "the fifth, unread at the start, is history too: \(second.new)")
    }

    @Test func aHeadReachesItsLineOnAPageOfEventsAtThatVeryTime() throws {
        var timeline = SimulatedTimeline(pageSize: 3)
        timeline.insert(id: "base", time: Self.at(0))
        var cursor = timeline.poll(nil, now: Self.at(1), maxPages: 4).cursor
        for index in 0..<30 { timeline.insert(id: "same\(index)", time: Self.at(50)) }  // one shared timestamp
        cursor = timeline.poll(cursor, now: Self.at(60), maxPages: 4).cursor
        let backlog = try #require(cursor?.backlog)
        #expect(backlog.upper == Self.at(50))
        let next = timeline.poll(cursor, now: Self.at(61), maxPages: 4)
        #expect(next.new.count == 9, "one head page, then three pages of the sweep, not a page limit of seen events")
    }

    @Test func newEventsOnTopShortenTheSweepSoTheyAreCommittedSoon() throws {
        var timeline = SimulatedTimeline(pageSize: 5)
        timeline.insert(id: "base", time: Self.at(0))
        var cursor = timeline.poll(nil, now: Self.at(1), maxPages: 40).cursor
        for index in 0..<1000 { timeline.insert(id: "burst\(index)", time: Self.at(10 + Double(index) * 0.001)) }
        cursor = timeline.poll(cursor, now: Self.at(20), maxPages: 40).cursor
        #expect(cursor?.backlog != nil)
        // Nothing new on top: the sweep goes on with the whole budget.
        let quiet = timeline.poll(cursor, now: Self.at(21), maxPages: 40)
        #expect(quiet.pages == 40)
        // Something new on top: the head, then a quarter of the budget, then commit.
        timeline.insert(id: "fresh", time: Self.at(30))
        let busy = timeline.poll(quiet.cursor, now: Self.at(31), maxPages: 40)
        #expect(busy.new.contains("fresh") && busy.pages == 11, "1 head page + 10: \(busy.pages)")
    }

    @Test func aFailedPageKeepsWhatWasReadAndResumesThere() throws {
        var timeline = SimulatedTimeline(pageSize: 5)
        timeline.insert(id: "base", time: Self.at(0))
        let cursor = timeline.poll(nil, now: Self.at(1), maxPages: 10).cursor
        for index in 0..<20 { timeline.insert(id: "n\(index)", time: Self.at(10 + Double(index))) }
        let failed = timeline.poll(cursor, now: Self.at(100), maxPages: 10, failAtPage: 3)
        #expect(failed.new.count == 10)
        #expect(failed.cursor?.backlog?.resume == "10", "the page that failed")
        let retry = timeline.poll(failed.cursor, now: Self.at(130), maxPages: 10)
        #expect(Set(failed.new + retry.new) == Set((0..<20).map { "n\($0)" }) && retry.new.count == 10)
        #expect(retry.cursor?.backlog == nil)
        // A failure on the very first page changes nothing.
        let none = timeline.poll(retry.cursor, now: Self.at(140), maxPages: 10, failAtPage: 1)
        #expect(none.cursor == nil && none.new.isEmpty)
    }

    @Test func backfillReadsEveryPageOfTheWindowOnAFirstStart() {
        var timeline = SimulatedTimeline(pageSize: 10)
        for index in 0..<156 { timeline.insert(id: "e\(index)", time: Self.at(Double(index) * 60)) }  // 0 … 9300 s
        let now = Self.at(9400)
        let first = timeline.poll(nil, now: now, maxPages: 50, backfill: .seconds(7200))
        let window = (0..<156).filter { Double($0) * 60 >= 9400 - 7200 }.map { "e\($0)" }
        #expect(first.new.sorted() == window.sorted())
        #expect(first.cursor?.backlog == nil)
        // With a page limit too small for the window, the rest follows on the next polls.
        var small = SimulatedTimeline(pageSize: 10)
        small.entries = timeline.entries
        var cursor: TimelineCursor? = nil
        var delivered: [String] = []
        var polls = 0
        repeat {
            let result = small.poll(cursor, now: now, maxPages: 2, backfill: .seconds(7200))
            delivered += result.new
            cursor = result.cursor
            polls += 1
        } while cursor?.backlog != nil && polls < 20
        #expect(delivered.sorted() == window.sorted())
    }

    /// Many seeded rounds of bursts, late inserts and events arriving mid-walk, with small page
    /// sizes and limits: every event published after the first poll is delivered exactly once.
    @Test(arguments: 0..<120)
    func randomisedTimelinesDeliverEveryEventExactlyOnce(seed: Int) {
        Self.simulate(seed: seed, order: .byTime)
    }

    /// The same with pages ordered by id, late events stored on top with their old times.
    @Test(arguments: 0..<60)
    func randomisedIDOrderedTimelinesDeliverEveryEventExactlyOnce(seed: Int) {
        Self.simulate(seed: seed, order: .byID)
    }

    /// The same with the platform's clock (which stamps events) behind or ahead of the relay's
    /// by more than the lateness window: lines drawn by the relay's clock alone lose everything.
    @Test(arguments: [-600.0, -3600, 600], [TimelineWalk.Order.byTime, .byID])
    func randomisedTimelinesWithASkewedPlatformClockLoseNothing(skew: Double, order: TimelineWalk.Order) {
        for seed in 0..<25 { Self.simulate(seed: seed, order: order, skew: skew) }
    }

    /// By id from a server that caps its pages below the size asked for.
    @Test(arguments: [-600.0, 0])
    func randomisedIDOrderedTimelinesFromAPageCappingServerLoseNothing(skew: Double) {
        for seed in 0..<20 { Self.simulate(seed: seed, order: .byID, skew: skew, capped: true) }
    }

    static func simulate(seed: Int, order: TimelineWalk.Order, skew: Double = 0, capped: Bool = false) {
        var random = SeededRandom(seed: UInt64(seed) &+ 1)
        var timeline = SimulatedTimeline(pageSize: 2 + random.next(6), order: order)
        if capped {
            precondition(order == .byID, "a capping server without next-page markers pages by id")
            timeline.cap = max(1, timeline.pageSize - 1 - random.next(2))
        }
        let maxPages = 1 + random.next(5)
        let lateness = Duration.seconds(300)
        // `clock` is the platform's, which stamps events; the relay's runs `skew` behind it.
        var clock = 10_000.0
        var relay: Date { Self.at(clock - skew) }
        for index in 0..<random.next(30) { timeline.insert(id: "pre\(index)", time: Self.at(clock - Double(index) * 7)) }
        var cursor = timeline.poll(nil, now: relay, lateness: lateness, maxPages: 50).cursor
        var published: [String] = []
        var delivered: [String] = []
        var serial = 0
        func publish(_ timeline: inout SimulatedTimeline, count: Int, random: inout SeededRandom) {
            for _ in 0..<count {
                // Mostly new, sometimes up to 240 s late (inside the lateness window).
                let late = random.next(4) == 0 ? Double(random.next(240)) : 0
                timeline.insert(id: "e\(serial)", time: Self.at(clock - late))
                published.append("e\(serial)")
                serial += 1
                clock += 0.5
            }
        }
        for _ in 0..<30 {
            publish(&timeline, count: random.next(40), random: &random)
            let midWalk = random.next(3) == 0 ? random.next(6) : 0
            let failAt = random.next(6) == 0 ? 1 + random.next(4) : nil
            var inner = random
            let result = timeline.poll(cursor, now: relay, lateness: lateness, maxPages: maxPages, failAtPage: failAt) { timeline, _ in
                publish(&timeline, count: midWalk, random: &inner)
            }
            random = inner
            if let next = result.cursor { cursor = next }
            delivered += result.new
            clock += 5
        }
        // Quiet polls until every backlog is read.
        for _ in 0..<(capped ? 5000 : 400) where cursor?.backlog != nil || Set(delivered).count < published.count {
            let result = timeline.poll(cursor, now: relay, lateness: lateness, maxPages: maxPages)
            cursor = result.cursor ?? cursor
            delivered += result.new
            clock += 1
        }
        let twice = delivered.count - Set(delivered).count
        let missing = Set(published).subtracting(delivered).sorted()
        let early = delivered.filter { $0.hasPrefix("pre") }
        #expect(twice == 0, "seed \(seed): nothing delivered twice")
        #expect(missing.isEmpty, "seed \(seed): nothing lost: \(missing.count) missing, e.g. \(missing.prefix(5)) (\(timeline.entries.filter { missing.prefix(5).contains($0.id) }.map { $0.time.timeIntervalSince(Self.t0) }))")
        #expect(early.isEmpty, "nothing from before the first start")
    }
}
