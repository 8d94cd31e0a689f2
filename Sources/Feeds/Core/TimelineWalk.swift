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
        /// page whose events are all older than the line ends the phase.
        case byID
    }

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

    /// - Parameters:
    ///   - cursor: the stream's cursor, nil on its first start.
    ///   - maxPages: pages one poll may read (at least 2: a poll continuing a sweep reads what
    ///     arrived on top and at least one page of the sweep).
    ///   - backfill: on a first start, deliver what happened in this window before `now` instead of setting a baseline.
    public init(cursor: TimelineCursor?, now: Date, lateness: Duration, maxPages: Int, backfill: Duration = .zero, order: Order = .byTime) {
        self.now = now
        self.order = order
        seenBeforeHead = cursor?.seen.count ?? 0
        self.lateness = lateness
        self.maxPages = max(2, maxPages)
        if let cursor {
            self.cursor = cursor
            phase = cursor.backlog == nil ? .sweep : .head
        } else if backfill > .zero {
            self.cursor = TimelineCursor(horizon: now.addingTimeInterval(-backfill.timeInterval))
            phase = .sweep
        } else {
            self.cursor = TimelineCursor(horizon: now.addingTimeInterval(-lateness.timeInterval))
            phase = .baseline
        }
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
    public mutating func receive(_ page: [(id: String, time: Date)], next: String?) -> (new: [Int], step: Step) {
        guard phase != .finished else { return ([], .done) }
        pages += 1
        var new: [Int] = []
        for (index, item) in page.enumerated() {
            newestRead = max(newestRead ?? item.time, item.time)
            oldestRead = min(oldestRead ?? item.time, item.time)
            if phase == .baseline {
                cursor.markSeen(id: item.id, time: item.time)
            } else if cursor.classify(id: item.id, time: item.time) == .new {
                new.append(index)
                cursor.markSeen(id: item.id, time: item.time)
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
        case .byID: passed = page.allSatisfy { head ? $0.time <= line : $0.time < line }
        }
        guard let next, !page.isEmpty, !passed else { return (new, passedTheLine()) }
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

    private mutating func passedTheLine() -> Step {
        switch phase {
        case .baseline, .sweep:
            markChecked(through: newestRead)
            return finish(sweepStartedAt: now)
        case .head:
            guard var backlog = cursor.backlog else { return finish(sweepStartedAt: now) }
            let headFoundNew = cursor.seen.count > seenBeforeHead
            backlogBudget = headFoundNew ? min(maxPages, pages + max(1, maxPages / 4)) : maxPages
            // Everything above the old line is read now: the next poll's head starts from here,
            // so a busy top never eats the whole budget. (Late inserts below it go to the next sweep.)
            backlog.upper = max(backlog.upper, newestRead ?? backlog.upper)
            cursor.backlog = backlog
            phase = .backlog
            oldestRead = nil
            guard pages < maxPages else { return finish(sweepStartedAt: nil) }
            return .fetch(.token(backlog.resume))
        case .backlog:
            let started = cursor.backlog?.since ?? now
            markChecked(through: cursor.backlog?.upper)
            cursor.backlog = nil
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
        case .sweep:
            cursor.backlog = TimelineCursor.Backlog(
                upper: newestRead ?? line, lower: cursor.horizon, resume: resume, since: now, reached: oldestRead ?? line)
        case .head:
            // More arrived than one poll reads: the sweep goes on from here. What lies between here
            // and where it had got to is read again (as seen ids) on the way down.
            if var backlog = cursor.backlog {
                backlog.upper = max(backlog.upper, newestRead ?? backlog.upper)
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

    private mutating func markChecked(through top: Date?) {
        guard let top else { return }
        cursor.checkedThrough = max(cursor.checkedThrough ?? top, top)
    }

    @discardableResult
    private mutating func finish(sweepStartedAt: Date?) -> Step {
        cursor.settle(newestRead: newestRead, completedSweepStartedAt: sweepStartedAt, lateness: lateness)
        phase = .finished
        return .done
    }
}
