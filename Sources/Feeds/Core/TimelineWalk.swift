import Foundation

/// One poll of one newest-first timeline, as a state machine: the feed fetches what `Step` asks
/// for and hands each page back; the walk says which events on it are new and what to fetch next.
/// Pure: no I/O, no clock (the time is passed in), so every paging decision is tested directly.
///
/// A walk never stops on a page that merely looks seen (offset pages shift while they are read,
/// and late inserts sit below seen events); it stops once a page reaches below its line
/// (see `TimelineCursor` for why the lines are safe):
/// - **sweep**: from the newest page down past the cursor's horizon;
/// - **head**, when a sweep is unfinished (the cursor's backlog): from the newest page down to
///   where that sweep began, then **backlog**: on from its resume token down past its line;
/// - **baseline** (first start without backfill): from the newest page down past
///   `now - lateness`, marking everything seen and delivering nothing.
///
/// When the page budget runs out or a page fails, the sweep becomes (or stays) the cursor's
/// backlog, and the next poll resumes exactly there.
public struct TimelineWalk: Sendable {
    public enum Request: Sendable, Equatable {
        /// The timeline's newest page.
        case first
        /// A page token the platform gave (or the resume token of a backlog).
        case token(String)
    }

    public enum Step: Sendable, Equatable {
        case fetch(Request)
        case done
    }

    enum Phase: Sendable, Equatable {
        case baseline
        case sweep
        case head
        case backlog
        case finished
    }

    /// How the platform orders its pages, which decides when a page has gone past the line.
    public enum Order: Sendable, Equatable {
        /// By event time (Scalingo, Qovery): the first event older than the line means every event
        /// after it is older too.
        case byTime
        /// By id (EscapeKit): an event stored late can have a high id and an old time, so only a
        /// page whose events are all older than the line ends the phase; and an id above every id
        /// read before is new whatever its time says.
        case byID
    }

    /// The platform's id order (for `.byID`): whether the first id sorts below the second.
    public typealias IDOrder = @Sendable (String, String) -> Bool
    /// Ids by their UTF-8 bytes: the order when a platform says nothing else.
    public static let byteOrder: IDOrder = { $0.utf8.lexicographicallyPrecedes($1.utf8) }

    public private(set) var cursor: TimelineCursor
    public private(set) var pages = 0
    private let order: Order
    private(set) var phase: Phase
    private let lateness: Duration
    private let maxPages: Int
    private let now: Date
    private var newestRead: Date?
    /// The oldest event time read in the current phase.
    private var oldestRead: Date?
    /// Pages the walk may reach while continuing a sweep: all of them, or, when the head found new
    /// events, a quarter more, so those are committed (and delivered) without waiting for a long
    /// sweep at the platform's rate limit.
    private var backlogBudget = Int.max
    private let seenBeforeHead: Int
    private let isBelow: IDOrder
    /// `.byID`: the highest id read before this walk; an id above it is new whatever its time.
    private let topAtStart: String?
    /// `.byID`: the highest id this walk read, kept as the cursor's top once everything between it
    /// and `topAtStart` has been read.
    private var topRead: String?
    /// The newest event time on the walk's first page: the platform's clock at the walk's start,
    /// as far as it can be told (events are stamped by the platform, not by the relay).
    private var firstPageNewest: Date?
    /// The horizon was set by the relay's clock alone (a first start, or a timeline that was empty
    /// then): the first page read places it by the platform's, the newest event on it minus
    /// lateness. Only then: what the baseline marked seen is below it, and an empty timeline at
    /// the start means whatever is on it now came later.
    private let unanchored: Bool
    /// The newest time among the events found new (for the clock offset).
    private var newestNew: Date?
    /// The clock offset the cursor remembers from earlier walks.
    private let storedOffset: Duration?
    /// Not a first start (whose backfill reads old events by design).
    private let measuresOffset: Bool

    /// - Parameters:
    ///   - cursor: the stream's cursor, nil on its first start.
    ///   - maxPages: pages one poll may read (at least 2: a poll continuing a sweep reads what
    ///     arrived on top and at least one page of the sweep).
    ///   - backfill: on a first start, deliver what happened in this window before `now` instead of setting a baseline.
    ///   - isBelow: for `.byID`, the platform's id order (bytes by default).
    public init(
        cursor: TimelineCursor?, now: Date, lateness: Duration, maxPages: Int, backfill: Duration = .zero, order: Order = .byTime,
        isBelow: @escaping IDOrder = byteOrder
    ) {
        self.now = now
        self.order = order
        self.isBelow = isBelow
        seenBeforeHead = cursor?.seen.count ?? 0
        self.lateness = lateness
        self.maxPages = max(2, maxPages)
        topAtStart = order == .byID ? cursor?.top : nil
        storedOffset = cursor?.offset
        measuresOffset = cursor != nil
        if let cursor {
            self.cursor = cursor
            phase = cursor.backlog == nil ? .sweep : .head
            unanchored = cursor.emptyAtStart
        } else if backfill > .zero {
            // The window is the relay's: drawn from a quiet timeline's newest event, it would
            // deliver what happened days ago. (Events after the start are caught either way.)
            self.cursor = TimelineCursor(horizon: now.addingTimeInterval(-backfill.timeInterval))
            phase = .sweep
            unanchored = false
        } else {
            self.cursor = TimelineCursor(horizon: now.addingTimeInterval(-lateness.timeInterval))
            phase = .baseline
            unanchored = true
        }
    }

    /// How far the platform's clock (the newest new event's time) stood from the relay's when
    /// this walk found new events: about zero, or minus the time they took to be read. Far below
    /// zero, the platform's clock is behind (or it stores events late); above zero, ahead.
    public var clockOffset: Duration? {
        newestNew.map { .milliseconds(Int64(($0.timeIntervalSince(now) * 1000).rounded())) }
    }

    public var firstStep: Step { .fetch(.first) }

    /// True once the walk has said `.done` (or was interrupted).
    public var isFinished: Bool { phase == .finished }

    /// The line the current phase reads down past.
    private var line: Date {
        switch phase {
        case .head: cursor.backlog?.upper ?? cursor.horizon
        case .backlog: cursor.backlog?.lower ?? cursor.horizon
        case .baseline, .sweep, .finished: cursor.horizon
        }
    }

    /// Takes the page the last step asked for, newest first, and `next`, the token of the page after
    /// it (nil when the platform says this is the last). Returns the indices of the new events on it.
    ///
    /// `mayBeLast`: the platform gives no next-page marker and this page was shorter than asked
    /// for. It ends a sweep unless every event on it is new, and never a baseline, a head or a
    /// backlog (which read on to their line or an empty page): a server that caps pages below
    /// the size asked for would otherwise end them a page early, every time.
    public mutating func receive(_ page: [(id: String, time: Date)], next: String?, mayBeLast: Bool = false) -> (new: [Int], step: Step) {
        guard phase != .finished else { return ([], .done) }
        pages += 1
        if pages == 1, !page.isEmpty {
            // An event stamped after the relay's now says nothing about the platform's clock
            // being behind (one such event would lift every line to the relay's clock): the
            // newest of the others, or now when all are ahead.
            let now = self.now
            let top = page.lazy.map(\.time).filter { $0 <= now }.max() ?? now
            firstPageNewest = top
            if unanchored {
                // Lines follow the platform's clock, never the relay's alone: with the platform's
                // clock behind, a line drawn from the relay's would call every new event history.
                var anchor = min(now, top).addingTimeInterval(-lateness.timeInterval)
                if phase != .baseline {
                    // A timeline empty at the first start: what is on it now came since, unless
                    // that empty answer was a fault. Then at most `maxSkew` more is delivered.
                    anchor = max(anchor, cursor.horizon.addingTimeInterval(-Self.maxSkew.timeInterval))
                }
                cursor.horizon = min(cursor.horizon, anchor)
            }
        }
        var new: [Int] = []
        /// New only by their id: their times say nothing about where the walk stands.
        var newByID = Set<Int>()
        for (index, item) in page.enumerated() {
            newestRead = max(newestRead ?? item.time, item.time)
            oldestRead = min(oldestRead ?? item.time, item.time)
            if order == .byID, topRead.map({ isBelow($0, item.id) }) ?? true { topRead = item.id }
            if phase == .baseline {
                cursor.markSeen(id: item.id, time: item.time)
            } else if cursor.seen[item.id] == nil, isAboveTop(item.id) {
                // Read by id, an id above everything read before is new, whatever its time says
                // (a platform's clock, or an event stored with an old time). Remembered at the floor
                // at least, so it stays seen until the cursor's top has moved past it.
                new.append(index)
                if item.time < cursor.floor { newByID.insert(index) }
                cursor.markSeen(id: item.id, time: max(item.time, cursor.floor))
                if item.time >= cursor.floor { observe(item.time) }
            } else if cursor.classify(id: item.id, time: item.time) == .new {
                new.append(index)
                cursor.markSeen(id: item.id, time: item.time)
                observe(item.time)
            }
        }
        let line = self.line
        // The head's line is the newest event when the sweep began: reaching it is enough (what lies
        // at or below it was read by the sweep; late inserts there go to the next one). The other
        // lines must be passed: an event exactly at them is still deliverable.
        let head = phase == .head
        let passed: Bool
        switch order {
        case .byTime: passed = page.contains { head ? $0.time <= line : $0.time < line }
        case .byID:
            passed = page.indices.allSatisfy { index in
                (head ? page[index].time <= line : page[index].time < line) && !newByID.contains(index)
            } && (!head || reachedHeadTop(page))
        }
        // A short page ends a sweep (its server has no next-page marker) unless it is all new. A
        // baseline, a head or a backlog reads on until its line or an empty page: they must read
        // all of their stretch (a baseline marks it seen; the others are below pages already
        // read, seen ones included), and a server that caps pages would end them above its end.
        let last = next == nil || (mayBeLast && phase == .sweep && new.count < page.count)
        guard let next, !last, !page.isEmpty, !passed else { return (new, passedTheLine()) }
        // With a sweep to continue, the head leaves it at least one page of the budget.
        let budget = phase == .head ? maxPages - 1 : phase == .backlog ? backlogBudget : maxPages
        guard pages < budget else { return (new, cut(resume: next)) }
        return (new, .fetch(.token(next)))
    }

    /// The page `pending` could not be read: what was read stays, the rest becomes (or stays) the
    /// backlog, resumed from `pending` next time. A failure on the very first page changes nothing.
    public mutating func interrupted(at pending: Request) {
        guard phase != .finished else { return }
        switch pending {
        case .first:
            phase = .finished  // only ever the first request: nothing was read
        case .token(let token):
            _ = cut(resume: token)
        }
    }

    /// A platform clock may run this far behind the relay's when a timeline was empty at the
    /// first start and the relay cannot tell; beyond it, set `lateness` to cover it.
    public static let maxSkew: Duration = .seconds(3600)

    /// The clock offset is measured on the newest events only: the first page of a walk that is
    /// not the first start (a backfill's events are old by design), and never from an event
    /// stamped after the relay's now (one such event would make a clock behind look ahead).
    private mutating func observe(_ time: Date) {
        guard pages == 1, phase == .sweep || phase == .head, measuresOffset, time <= now else { return }
        newestNew = max(newestNew ?? time, time)
    }

    /// By id, a head has reached where the last one began only once its page holds an id that is
    /// not above it (times can lie; ids cannot).
    private func reachedHeadTop(_ page: [(id: String, time: Date)]) -> Bool {
        guard let headTop = cursor.backlog?.headTop ?? topAtStart else { return true }
        return page.contains { !isBelow(headTop, $0.id) }
    }

    private func isAboveTop(_ id: String) -> Bool {
        guard let topAtStart else { return false }
        return isBelow(topAtStart, id)
    }

    /// When the sweep began, in the platform's clock as far as it can be told: the relay's clock,
    /// or the newest event on the first page if that is earlier (events inserted since then are
    /// stamped at least that late, minus lateness, by the clock that stamps them). Nil when
    /// nothing was read: with no event to go by, the line stays where it was.
    ///
    /// On a quiet timeline the newest event is old, and a line drawn from it would have every poll
    /// read the same pages again: the platform's clock is then `now` plus the offset seen when
    /// events last arrived (their time minus when they were read: never above the real offset,
    /// so the line it draws is never too high).
    private var sweepAnchor: Date? {
        firstPageNewest.map { top in
            min(now, max(top, storedOffset.map { now.addingTimeInterval($0.timeInterval) } ?? top))
        }
    }

    private mutating func passedTheLine() -> Step {
        switch phase {
        case .baseline, .sweep:
            markChecked(through: newestRead)
            advanceTop()
            return finish(sweepStartedAt: sweepAnchor)
        case .head:
            guard var backlog = cursor.backlog else { return finish(sweepStartedAt: sweepAnchor) }
            let headFoundNew = cursor.seen.count > seenBeforeHead
            backlogBudget = headFoundNew ? min(maxPages, pages + max(1, maxPages / 4)) : maxPages
            // Everything above the old line is read now: the next poll's head starts from here,
            // so a busy top never eats the whole budget. (Late inserts below it go to the next sweep.)
            backlog.upper = max(backlog.upper, newestRead ?? backlog.upper)
            if order == .byID, let topRead { backlog.headTop = topRead }
            cursor.backlog = backlog
            phase = .backlog
            oldestRead = nil
            guard pages < maxPages else { return finish(sweepStartedAt: nil) }
            return .fetch(.token(backlog.resume))
        case .backlog:
            let started = cursor.backlog?.anchor ?? sweepAnchor
            markChecked(through: cursor.backlog?.upper)
            cursor.backlog = nil
            advanceTop()
            return finish(sweepStartedAt: started)
        case .finished:
            return .done
        }
    }

    /// The budget ran out (or a page failed) before the line was passed.
    private mutating func cut(resume: String) -> Step {
        switch phase {
        case .baseline:
            // Nothing from before the first start is owed: what could not be read is history,
            // including events at the very millisecond of the oldest one read (bursts share them).
            cursor.horizon = max(cursor.horizon, (oldestRead ?? cursor.horizon).addingTimeInterval(0.001))
            advanceTop()
        case .sweep:
            cursor.backlog = TimelineCursor.Backlog(
                upper: newestRead ?? line, lower: cursor.horizon, resume: resume, since: now, reached: oldestRead ?? line,
                anchor: sweepAnchor)
            // By id, the next head reads down to where this sweep began: its highest id.
            if order == .byID { cursor.backlog?.headTop = topRead }
        case .head:
            // More arrived than one poll reads: the sweep goes on from here. What lies between here
            // and where it had got to is read again (as seen ids) on the way down.
            if var backlog = cursor.backlog {
                backlog.upper = max(backlog.upper, newestRead ?? backlog.upper)
                // What lies below the cut is read by the backlog, which resumes there.
                if order == .byID, let topRead { backlog.headTop = topRead }
                backlog.resume = resume
                // Everything down to where the sweep had got is read: only below it is news.
                backlog.reached = min(backlog.reached, oldestRead ?? backlog.reached)
                cursor.backlog = backlog
            }
        case .backlog:
            if var backlog = cursor.backlog {
                backlog.resume = resume
                backlog.reached = min(backlog.reached, oldestRead ?? backlog.reached)
                cursor.backlog = backlog
            }
        case .finished:
            return .done
        }
        return finish(sweepStartedAt: nil)
    }

    /// Everything between the old top and the highest id read has been read: the top moves up.
    private mutating func advanceTop() {
        guard order == .byID, let topRead else { return }
        if cursor.top.map({ isBelow($0, topRead) }) ?? true { cursor.top = topRead }
    }

    private mutating func markChecked(through top: Date?) {
        guard let top else { return }
        cursor.checkedThrough = max(cursor.checkedThrough ?? top, top)
    }

    @discardableResult
    private mutating func finish(sweepStartedAt: Date?) -> Step {
        if unanchored { cursor.emptyAtStart = firstPageNewest == nil }
        if let clockOffset { cursor.offset = clockOffset }
        cursor.settle(newestRead: newestRead, completedSweepStartedAt: sweepStartedAt, lateness: lateness)
        phase = .finished
        return .done
    }
}
