import Delivery
import EventModel
import Foundation
import Store
import Testing

@Suite("Lane scheduler (pure, injected time)")
struct LaneSchedulerTests {
    static let t0 = Date(timeIntervalSince1970: 1_700_000_000)
    func at(_ seconds: TimeInterval) -> Date { Self.t0.addingTimeInterval(seconds) }

    let fast = LaneSettings(concurrency: 4, ordered: false)
    let fifo = LaneSettings(concurrency: 1, ordered: true, orderedBatch: 8)
    let slack = LaneSettings(concurrency: 1, ordered: true, rateLimit: RateLimit(count: 1, per: .seconds(1), burst: 3), orderedBatch: 8)

    func limits(_ scheduler: inout LaneScheduler, at now: Date) -> [String: Int] {
        Dictionary(uniqueKeysWithValues: scheduler.plan(now: now).map { ($0.subscriptionID, $0.limit) })
    }

    @Test func aHangingLaneNeverTakesAnotherLanesSlots() {
        var scheduler = LaneScheduler()
        scheduler.configure(["hang": fast, "ok": fast], now: Self.t0)
        #expect(limits(&scheduler, at: Self.t0) == ["hang": 4, "ok": 4])
        scheduler.claimed("hang", asked: 4, got: 4, nextDue: nil, now: Self.t0)
        scheduler.claimed("ok", asked: 4, got: 4, nextDue: nil, now: Self.t0)
        // "hang"'s four never answer; "ok" answers and is recorded, again and again.
        for round in 1...100 {
            #expect(scheduler.sent("ok", .delivered, now: at(Double(round))) == [])
            scheduler.recorded("ok", count: 1)
            #expect(limits(&scheduler, at: at(Double(round))) == ["ok": 1], "round \(round)")
            scheduler.claimed("ok", asked: 1, got: 1, nextDue: nil, now: at(Double(round)))
        }
        #expect(scheduler.status("hang")?.inFlight == 4)
    }

    @Test func anOrderedLaneClaimsABatchOnlyWhenNothingIsInFlight() {
        var scheduler = LaneScheduler()
        scheduler.configure(["a": fifo], now: Self.t0)
        #expect(scheduler.plan(now: Self.t0) == [LaneClaim(subscriptionID: "a", limit: 8, ordered: true)])
        scheduler.claimed("a", asked: 8, got: 3, nextDue: nil, now: Self.t0)
        #expect(scheduler.plan(now: Self.t0).isEmpty)
        scheduler.recorded("a", count: 2)
        #expect(scheduler.plan(now: Self.t0).isEmpty, "one of the batch is still in flight")
        scheduler.recorded("a", count: 1)
        #expect(limits(&scheduler, at: Self.t0) == ["a": 8], "recorded: ask the store again")
    }

    @Test func anUnorderedLaneClaimsAgainWhileOutcomesAreWrittenUpToTwiceItsConcurrency() {
        var scheduler = LaneScheduler()
        scheduler.configure(["a": fast, "f": fifo], now: Self.t0)
        scheduler.claimed("a", asked: 4, got: 4, nextDue: nil, now: Self.t0)
        scheduler.claimed("f", asked: 8, got: 2, nextDue: nil, now: Self.t0)
        #expect(limits(&scheduler, at: Self.t0) == [:])
        for _ in 0..<4 { _ = scheduler.sent("a", .delivered, now: Self.t0) }
        for _ in 0..<2 { _ = scheduler.sent("f", .delivered, now: Self.t0) }
        scheduler.released("a", count: 4)
        scheduler.released("f", count: 2)
        // Answered, not yet written: the unordered lane's slots are free, the ordered lane waits.
        #expect(limits(&scheduler, at: Self.t0) == ["a": 4])
        #expect(scheduler.status("a")?.inFlight == 4, "shown in flight until written")
        scheduler.claimed("a", asked: 4, got: 4, nextDue: nil, now: Self.t0)
        for _ in 0..<4 { _ = scheduler.sent("a", .delivered, now: Self.t0) }
        scheduler.released("a", count: 4)
        #expect(limits(&scheduler, at: Self.t0) == [:], "eight waiting to be written: no more")
        #expect(scheduler.nextWake(now: Self.t0) == nil)
        scheduler.recorded("a", count: 4)
        scheduler.recorded("f", count: 2)
        #expect(limits(&scheduler, at: Self.t0) == ["a": 4, "f": 8])
        #expect(scheduler.status("a")?.inFlight == 4)
        // Recorded without being released first (how the scheduler was driven before `released`): the slots free then.
        scheduler.claimed("a", asked: 4, got: 4, nextDue: nil, now: Self.t0)
        scheduler.recorded("a", count: 4)
        #expect(scheduler.status("a")?.inFlight == 4)
        scheduler.recorded("a", count: 4)
        #expect(scheduler.status("a")?.inFlight == 0)
    }

    @Test func anOpenBreakerDoesNotProbeWhileAnOutcomeWaitsToBeWritten() {
        var scheduler = LaneScheduler()
        let settings = LaneSettings(concurrency: 4, ordered: false, breaker: CircuitBreaker.Settings(threshold: 1))
        scheduler.configure(["down": settings], now: Self.t0)
        scheduler.claimed("down", asked: 4, got: 1, nextDue: at(3600), now: Self.t0)
        #expect(scheduler.sent("down", .failed, now: Self.t0).contains(.breakerOpened(subscriptionID: "down", failures: 1)))
        scheduler.released("down", count: 1)
        // The failed delivery's row is still leased: a probe now would find nothing to take.
        #expect(limits(&scheduler, at: at(5)) == [:])
        scheduler.recorded("down", count: 1)
        #expect(limits(&scheduler, at: at(5)) == ["down": 1])
    }

    @Test func aWakeWhileAClaimIsWithTheStoreOutlivesTheClaimsAnswer() {
        var scheduler = LaneScheduler()
        scheduler.configure(["a": fast, "f": fifo], now: Self.t0)
        #expect(limits(&scheduler, at: Self.t0) == ["a": 4, "f": 8])
        // New deliveries are written and the lanes woken while the claims run; the store's
        // answers ("nothing pending") were read before that.
        scheduler.wake(["a", "f"])
        scheduler.claimed("a", asked: 4, got: 0, nextDue: nil, now: Self.t0)
        scheduler.claimed("f", asked: 8, got: 0, nextDue: nil, now: Self.t0)
        #expect(limits(&scheduler, at: Self.t0) == ["a": 4, "f": 8], "asked again, not left waiting for a rescan")
        // Without a wake, "nothing pending" is believed.
        scheduler.claimed("a", asked: 4, got: 0, nextDue: nil, now: Self.t0)
        scheduler.claimed("f", asked: 8, got: 0, nextDue: nil, now: Self.t0)
        #expect(limits(&scheduler, at: Self.t0) == [:])
        #expect(scheduler.nextWake(now: Self.t0) == nil)
    }

    @Test func aLaneWithNothingDueIsNotAskedUntilItsNextDueOrAWake() {
        var scheduler = LaneScheduler()
        scheduler.configure(["a": fast, "b": fast], now: Self.t0)
        scheduler.claimed("a", asked: 4, got: 0, nextDue: at(30), now: Self.t0)
        scheduler.claimed("b", asked: 4, got: 0, nextDue: nil, now: Self.t0)
        #expect(scheduler.plan(now: at(29)).isEmpty, "no claim-then-nothing spinning")
        #expect(scheduler.nextWake(now: Self.t0) == at(30), "b has nothing pending: only a wake brings it back")
        #expect(limits(&scheduler, at: at(30)) == ["a": 4])
        scheduler.wake(["b"])
        #expect(limits(&scheduler, at: at(29)) == ["b": 4])
        scheduler.due("b", at: at(12))
        #expect(limits(&scheduler, at: at(13)).keys.contains("b"))
    }

    @Test func aRateLimitedLaneClaimsOnlyTheTokensItHasAndWakesForTheNext() {
        var scheduler = LaneScheduler()
        scheduler.configure(["slack": slack], now: Self.t0)
        #expect(limits(&scheduler, at: Self.t0) == ["slack": 3], "the burst")
        scheduler.claimed("slack", asked: 3, got: 3, nextDue: nil, now: Self.t0)
        scheduler.recorded("slack", count: 3)
        #expect(scheduler.plan(now: at(0.5)).isEmpty, "no token yet")
        #expect(scheduler.nextWake(now: at(0.5)) == at(1))
        #expect(limits(&scheduler, at: at(1)) == ["slack": 1])
        // Over 30 seconds of steady work, 1 a second (after the burst): never more.
        var sent = 0
        var now = at(1)
        while now < at(31) {
            if let claim = scheduler.plan(now: now).first {
                scheduler.claimed("slack", asked: claim.limit, got: claim.limit, nextDue: nil, now: now)
                scheduler.recorded("slack", count: claim.limit)
                sent += claim.limit
            }
            now = scheduler.nextWake(now: now) ?? now.addingTimeInterval(0.1)
        }
        #expect(sent == 30)
    }

    @Test func a429PausesOnlyItsLaneUntilRetryAfterAndIsNotAFailure() {
        var scheduler = LaneScheduler()
        scheduler.configure(["slack": fifo, "hook": fast], now: Self.t0)
        scheduler.claimed("slack", asked: 8, got: 1, nextDue: nil, now: Self.t0)
        #expect(scheduler.sent("slack", .rateLimited(until: at(20)), now: Self.t0) == [])
        scheduler.recorded("slack", count: 1)
        #expect(limits(&scheduler, at: at(19)) == ["hook": 4], "paused lanes are not claimed at all")
        scheduler.claimed("hook", asked: 4, got: 0, nextDue: nil, now: at(19))
        #expect(scheduler.nextWake(now: at(19)) == at(20))
        #expect(limits(&scheduler, at: at(20)).keys.contains("slack"))
        for _ in 0..<50 { _ = scheduler.sent("slack", .rateLimited(until: at(21)), now: at(20)) }
        #expect(scheduler.status("slack")?.breaker == .closed(failures: 0), "429s never open the breaker")
        #expect(scheduler.status("slack")?.failingSince == nil)
    }

    @Test func consecutiveFailuresOpenTheBreakerAndAProbeReopensTheLaneAtFullSpeed() {
        var scheduler = LaneScheduler()
        let settings = LaneSettings(concurrency: 16, ordered: false, breaker: CircuitBreaker.Settings(threshold: 5, initialCooldown: .seconds(1)))
        scheduler.configure(["down": settings], now: Self.t0)
        scheduler.claimed("down", asked: 16, got: 16, nextDue: nil, now: Self.t0)
        var actions: [LaneAction] = []
        for _ in 0..<16 { actions += scheduler.sent("down", .failed, now: Self.t0) }
        scheduler.recorded("down", count: 16)
        #expect(actions == [
            .failingSince(subscriptionID: "down", since: Self.t0),
            .breakerOpened(subscriptionID: "down", failures: 5),
        ])
        #expect(scheduler.plan(now: at(0.5)).isEmpty, "open: nothing is sent")
        #expect(scheduler.nextWake(now: at(0.5)) == at(1))
        #expect(limits(&scheduler, at: at(1)) == ["down": 1], "half-open: one probe")
        scheduler.claimed("down", asked: 1, got: 1, nextDue: nil, now: at(1))
        #expect(scheduler.plan(now: at(1)).isEmpty, "one probe at a time")
        let back = scheduler.sent("down", .delivered, now: at(1.01))
        #expect(back == [
            .breakerClosed(subscriptionID: "down"), .expediteRetries(subscriptionID: "down"),
            .failingSince(subscriptionID: "down", since: nil),
        ])
        scheduler.recorded("down", count: 1)
        #expect(limits(&scheduler, at: at(1.01)) == ["down": 16], "full speed at once")
    }

    @Test func anOpenBreakerProbesWithTheNextDeliveryWithoutWaitingForItsRetry() {
        var scheduler = LaneScheduler()
        let settings = LaneSettings(concurrency: 1, ordered: true, breaker: CircuitBreaker.Settings(threshold: 2, initialCooldown: .seconds(1)))
        scheduler.configure(["fifo": settings], now: Self.t0)
        scheduler.claimed("fifo", asked: 8, got: 1, nextDue: nil, now: Self.t0)
        _ = scheduler.sent("fifo", .failed, now: Self.t0)
        _ = scheduler.sent("fifo", .failed, now: Self.t0)
        scheduler.recorded("fifo", count: 1)
        // The head waits 5 hours for its retry; the breaker opened and probes after 1 s.
        scheduler.claimed("fifo", asked: 8, got: 0, nextDue: at(5 * 3600), now: Self.t0)
        #expect(scheduler.plan(now: at(0.5)).isEmpty)
        #expect(scheduler.nextWake(now: at(0.5)) == at(1), "the probe's time, not the retry's")
        #expect(scheduler.plan(now: at(1)) == [LaneClaim(subscriptionID: "fifo", limit: 1, ordered: true, probe: true)])
        // The probe found nothing to take (the head is leased elsewhere): no spinning.
        scheduler.claimed("fifo", asked: 1, got: 0, nextDue: at(60), now: at(1))
        #expect(scheduler.plan(now: at(2)).isEmpty)
        #expect(scheduler.nextWake(now: at(2)) == at(60))
        scheduler.wake(["fifo"])
        #expect(scheduler.plan(now: at(2)) == [LaneClaim(subscriptionID: "fifo", limit: 1, ordered: true)], "woken: ask the store again, one at a time")
    }

    @Test func anOrderedLaneProbesItsFailedHeadBeforeTheBreakerOpensAndIsBackWithinAProbeInterval() {
        var scheduler = LaneScheduler()
        let settings = LaneSettings(
            concurrency: 1, ordered: true,
            breaker: CircuitBreaker.Settings(threshold: 5, initialCooldown: .milliseconds(500), maxCooldown: .milliseconds(500)), orderedBatch: 8)
        scheduler.configure(["fifo": settings, "free": fast], now: Self.t0)
        scheduler.claimed("fifo", asked: 8, got: 3, nextDue: nil, now: Self.t0)
        scheduler.claimed("free", asked: 4, got: 1, nextDue: nil, now: Self.t0)
        // The head fails (the two behind it are put back); its retry is 5 minutes away and the
        // breaker, one failure in, is still closed.
        #expect(scheduler.sent("fifo", .failed, now: Self.t0, headProbeFrom: Self.t0) == [.failingSince(subscriptionID: "fifo", since: Self.t0)])
        scheduler.released("fifo", count: 3)
        scheduler.recorded("fifo", count: 3)
        scheduler.claimed("fifo", asked: 8, got: 0, nextDue: at(300), now: Self.t0)
        #expect(scheduler.plan(now: at(0.2)).isEmpty)
        #expect(scheduler.nextWake(now: at(0.2)) == at(0.5), "the head's probe, not its retry")
        let probe = LaneClaim(subscriptionID: "fifo", limit: 1, ordered: true, probe: true)
        #expect(scheduler.plan(now: at(0.5)) == [probe])
        scheduler.claimed("fifo", asked: 1, got: 1, nextDue: nil, now: at(0.5))
        #expect(scheduler.plan(now: at(0.7)).isEmpty, "one probe at a time")
        // Still down: the next probe half a second later.
        _ = scheduler.sent("fifo", .failed, now: at(0.6), headProbeFrom: at(0.6))
        scheduler.released("fifo", count: 1)
        scheduler.recorded("fifo", count: 1)
        // Written: the lane asks the store, which says the head is not due for 5 minutes.
        #expect(limits(&scheduler, at: at(0.7)) == ["fifo": 8])
        scheduler.claimed("fifo", asked: 8, got: 0, nextDue: at(300), now: at(0.7))
        #expect(scheduler.nextWake(now: at(0.7)) == at(1.1))
        #expect(scheduler.plan(now: at(1.1)) == [probe])
        scheduler.claimed("fifo", asked: 1, got: 1, nextDue: nil, now: at(1.1))
        // Back: the probe gets through and the lane asks for its whole batch at once.
        #expect(scheduler.sent("fifo", .delivered, now: at(1.2)) == [.failingSince(subscriptionID: "fifo", since: nil)])
        scheduler.released("fifo", count: 1)
        scheduler.recorded("fifo", count: 1)
        #expect(limits(&scheduler, at: at(1.2))["fifo"] == 8)
        // A head the destination answered with a rejection of it (no `headProbeFrom`: a 4xx, the
        // destination is up) is not probed: the same request would be refused again; it waits
        // for its retry.
        scheduler.claimed("fifo", asked: 8, got: 1, nextDue: nil, now: at(2))
        _ = scheduler.sent("fifo", .failed, now: at(2))
        scheduler.released("fifo", count: 1)
        scheduler.recorded("fifo", count: 1)
        scheduler.claimed("fifo", asked: 8, got: 0, nextDue: at(300), now: at(2))
        #expect(limits(&scheduler, at: at(10)) == [:])
        #expect(scheduler.nextWake(now: at(10)) == at(300))
        // Unavailable with a Retry-After of a minute: the head is probed after it, not before.
        scheduler.wake(["fifo"])
        scheduler.claimed("fifo", asked: 8, got: 1, nextDue: nil, now: at(10))
        _ = scheduler.sent("fifo", .failed, now: at(10), headProbeFrom: at(70))
        scheduler.released("fifo", count: 1)
        scheduler.recorded("fifo", count: 1)
        scheduler.claimed("fifo", asked: 8, got: 0, nextDue: at(300), now: at(10))
        #expect(limits(&scheduler, at: at(69)) == [:])
        #expect(scheduler.nextWake(now: at(11)) == at(70))
        #expect(scheduler.plan(now: at(70)) == [probe])
        // An unordered lane's single failure does not probe ahead of its retry.
        _ = scheduler.sent("free", .failed, now: Self.t0)
        scheduler.released("free", count: 1)
        scheduler.recorded("free", count: 1)
        scheduler.claimed("free", asked: 4, got: 0, nextDue: at(300), now: Self.t0)
        #expect(limits(&scheduler, at: at(1.2))["free"] == nil)
    }

    @Test func aLaneOrderedByKeyClaimsItsSlotsWhileKeysAreInFlightAndProbesOnceEveryKeyWaits() {
        var scheduler = LaneScheduler()
        let keyed = LaneSettings(
            concurrency: 4, ordered: true, keyed: true,
            breaker: CircuitBreaker.Settings(threshold: 5, initialCooldown: .milliseconds(500), maxCooldown: .milliseconds(500)))
        #expect(!keyed.ordered && keyed.keyed, "keyed is not the whole lane's FIFO")
        scheduler.configure(["k": keyed], now: Self.t0)
        let claim = LaneClaim(subscriptionID: "k", limit: 4, ordered: false, keyed: true)
        #expect(scheduler.plan(now: Self.t0) == [claim])
        // Three keys' heads in flight: a slot is left, and it is claimed (other keys may have more).
        scheduler.claimed("k", asked: 4, got: 3, nextDue: at(60), now: Self.t0)
        scheduler.wake(["k"])
        #expect(limits(&scheduler, at: at(0.1)) == ["k": 1])
        scheduler.claimed("k", asked: 1, got: 0, nextDue: at(60), now: at(0.1))
        // Each head fails, the destination unavailable: every key waits for a retry 5 minutes away.
        for _ in 0..<3 {
            _ = scheduler.sent("k", .failed, now: at(0.2), headProbeFrom: at(0.2))
            scheduler.released("k", count: 1)
        }
        scheduler.recorded("k", count: 3)
        // Written: the lane asks the store again (what followed those heads may be due).
        #expect(limits(&scheduler, at: at(0.3)) == ["k": 4])
        scheduler.claimed("k", asked: 4, got: 0, nextDue: at(300), now: at(0.3))
        #expect(scheduler.nextWake(now: at(0.3)) == at(0.7), "the head probe, not the retry")
        let probe = LaneClaim(subscriptionID: "k", limit: 1, ordered: false, keyed: true, probe: true)
        #expect(scheduler.plan(now: at(0.7)) == [probe])
        scheduler.claimed("k", asked: 1, got: 1, nextDue: nil, now: at(0.7))
        // The probe gets through: the other keys' heads are expedited, not left for their retry.
        let back = scheduler.sent("k", .delivered, now: at(0.8))
        #expect(back.contains(.expediteRetries(subscriptionID: "k")))
        scheduler.released("k", count: 1)
        scheduler.recorded("k", count: 1)
        #expect(limits(&scheduler, at: at(0.8)) == ["k": 4])
        // An ordinary success (no probe) after one key's failure expedites nothing: that key
        // waits for its own retry while the others go on.
        scheduler.claimed("k", asked: 4, got: 2, nextDue: nil, now: at(1))
        _ = scheduler.sent("k", .failed, now: at(1), headProbeFrom: at(1))
        #expect(!scheduler.sent("k", .delivered, now: at(1.1)).contains(.expediteRetries(subscriptionID: "k")))
    }

    /// Found by a user: one app's head failed (unavailable) while the other apps went on; once
    /// they were done, nothing probed it, and it waited for its retry 5 minutes later.
    @Test func aKeyThatFailedWhileOthersFlowedIsProbedOnceTheyAreDoneAndLessOftenAsItKeepsFailing() {
        var scheduler = LaneScheduler()
        let keyed = LaneSettings(
            concurrency: 4, ordered: false, keyed: true,
            breaker: CircuitBreaker.Settings(threshold: 1000, initialCooldown: .milliseconds(500), maxCooldown: .milliseconds(500)))
        scheduler.configure(["k": keyed], now: Self.t0)
        scheduler.claimed("k", asked: 4, got: 4, nextDue: nil, now: Self.t0)
        // b's head fails, unavailable; a's and c's go through after it.
        _ = scheduler.sent("k", .failed, now: at(0.1), headProbeFrom: at(0.1))
        for _ in 0..<3 { _ = scheduler.sent("k", .delivered, now: at(0.2)) }
        scheduler.released("k", count: 4)
        scheduler.recorded("k", count: 4)
        // Nothing else is due: b's retry is 5 minutes away.
        scheduler.claimed("k", asked: 4, got: 0, nextDue: at(300), now: at(0.3))
        let probe = LaneClaim(subscriptionID: "k", limit: 1, ordered: false, keyed: true, probe: true)
        #expect(scheduler.nextWake(now: at(0.3)) == at(0.6))
        #expect(scheduler.plan(now: at(0.6)) == [probe])
        // It keeps failing: half a second apart for 20 probes, then slower, never beyond 30 s.
        var now = at(0.6)
        var gaps: [TimeInterval] = []
        for _ in 0..<30 {
            scheduler.claimed("k", asked: 1, got: 1, nextDue: nil, now: now)
            _ = scheduler.sent("k", .failed, now: now, headProbeFrom: now)
            scheduler.released("k", count: 1)
            scheduler.recorded("k", count: 1)
            scheduler.claimed("k", asked: 4, got: 0, nextDue: at(300), now: now)
            guard let wake = scheduler.nextWake(now: now) else { break }
            gaps.append(wake.timeIntervalSince(now))
            #expect(scheduler.plan(now: wake) == [probe])
            now = wake
        }
        #expect(gaps.prefix(19).allSatisfy { abs($0 - 0.5) < 0.001 }, "\(gaps)")
        #expect(gaps.last.map { $0 > 0.5 && $0 <= 30 } == true, "\(gaps)")
        // Back: the probe gets through and the retries go at once.
        scheduler.claimed("k", asked: 1, got: 1, nextDue: nil, now: now)
        #expect(scheduler.sent("k", .delivered, now: now).contains(.expediteRetries(subscriptionID: "k")))
    }

    @Test func failingContinuouslyForTheDisablePeriodDisablesTheLaneOnce() {
        var scheduler = LaneScheduler()
        let settings = LaneSettings(concurrency: 1, ordered: false, disableAfter: .seconds(3 * 86400))
        scheduler.configure(["a": settings], now: Self.t0)
        #expect(scheduler.sent("a", .failed, now: Self.t0) == [.failingSince(subscriptionID: "a", since: Self.t0)])
        // A destination that stays down: a failure every 10 hours (the schedule's longest wait).
        var hour = 10.0
        while hour < 72 {
            let actions = scheduler.sent("a", .failed, now: at(hour * 3600))
            #expect(!actions.contains { if case .disable = $0 { return true } else { return false } }, "hour \(hour)")
            hour += 10
        }
        let disabled = scheduler.sent("a", .failed, now: at(3 * 86400))
        #expect(disabled.count == 1)
        guard case .disable(let id, let reason) = disabled.first else { Issue.record("not disabled"); return }
        #expect(id == "a" && reason.contains("longer than 3d"))
        #expect(scheduler.status("a")?.held == true)
        #expect(scheduler.sent("a", .failed, now: at(3 * 86400 + 5)).isEmpty, "said once")
        #expect(scheduler.plan(now: at(4 * 86400)).isEmpty)
    }

    @Test func failuresDaysApartAreNotOneContinuousRun() {
        var scheduler = LaneScheduler()
        scheduler.configure(["quiet": LaneSettings(concurrency: 1, ordered: false, disableAfter: .seconds(3 * 86400))], now: Self.t0)
        _ = scheduler.sent("quiet", .failed, now: Self.t0)
        // Nothing for four days (no events), then one more failure: a new run, not a disable.
        let later = at(4 * 86400)
        #expect(scheduler.sent("quiet", .failed, now: later) == [.failingSince(subscriptionID: "quiet", since: later)])
        #expect(scheduler.status("quiet")?.held == false)
        #expect(LaneSettings().failureGap > .seconds(10 * 3600), "longer than the default schedule's longest wait")
    }

    @Test func aFailingRunSurvivesARestartAndASuccessEndsIt() {
        var scheduler = LaneScheduler()
        scheduler.configure(["a": fast], now: Self.t0)
        scheduler.restoreFailingSince("a", at(-3 * 86400), now: Self.t0)
        guard case .disable = scheduler.sent("a", .failed, now: Self.t0).first else {
            Issue.record("a run of failures that began before the restart counts")
            return
        }
        var other = LaneScheduler()
        other.configure(["b": fast], now: Self.t0)
        other.restoreFailingSince("b", at(-60), now: Self.t0)
        #expect(other.sent("b", .delivered, now: Self.t0) == [.failingSince(subscriptionID: "b", since: nil)])
    }

    @Test func gone410DisablesAtOnceAndHeldLanesStayQuietUntilReleased() {
        var scheduler = LaneScheduler()
        scheduler.configure(["a": fast, "b": fast], now: Self.t0)
        #expect(scheduler.sent("a", .gone(reason: "HTTP 410"), now: Self.t0) == [.disable(subscriptionID: "a", reason: "HTTP 410")])
        #expect(scheduler.sent("a", .gone(reason: "HTTP 410"), now: Self.t0).isEmpty)
        scheduler.setHeld("b", true)
        #expect(scheduler.plan(now: Self.t0).isEmpty)
        #expect(scheduler.nextWake(now: Self.t0) == nil)
        scheduler.setHeld("a", false)
        #expect(limits(&scheduler, at: Self.t0) == ["a": 4])
    }

    @Test func reconfiguringKeepsStateRemovesGoneLanesAndResetsAChangedRate() {
        var scheduler = LaneScheduler()
        scheduler.configure(["a": fast, "slack": slack], now: Self.t0)
        scheduler.claimed("a", asked: 4, got: 2, nextDue: nil, now: Self.t0)
        scheduler.claimed("slack", asked: 3, got: 3, nextDue: nil, now: Self.t0)
        scheduler.recorded("slack", count: 3)
        var faster = slack
        faster.rateLimit = RateLimit(count: 10, per: .seconds(1), burst: 10)
        scheduler.configure(["a": fast, "slack": faster], now: Self.t0)
        #expect(scheduler.status("a")?.inFlight == 2, "kept")
        scheduler.wake()
        #expect(limits(&scheduler, at: Self.t0)["slack"] == 8, "a new rate starts with a full bucket (capped by the batch)")
        scheduler.configure(["slack": faster], now: Self.t0)
        #expect(scheduler.status("a") == nil)
        #expect(scheduler.laneIDs == ["slack"])
    }

    /// Random interleavings: a lane never has more in flight than its concurrency (or one
    /// batch, ordered), never claims while paused, held or open, and counts stay consistent.
    @Test(arguments: 0..<40)
    func invariantsHoldUnderRandomInterleavings(seed: Int) {
        var rng = SeededRandom(seed: UInt64(seed))
        var scheduler = LaneScheduler()
        let lanes: [String: LaneSettings] = [
            "fast": LaneSettings(concurrency: 8, ordered: false, breaker: CircuitBreaker.Settings(threshold: 3)),
            "fifo": LaneSettings(concurrency: 1, ordered: true, orderedBatch: 4),
            "paced": LaneSettings(concurrency: 4, ordered: false, rateLimit: RateLimit(count: 2, per: .seconds(1), burst: 2)),
        ]
        scheduler.configure(lanes, now: Self.t0)
        var now = Self.t0
        var outstanding: [String: Int] = [:]  // claimed, not recorded
        var answered: [String: Int] = [:]  // sent, not recorded
        var released: [String: Int] = [:]  // of those, released (slot freed before the write)
        var claimedPerSecond: [Int: Int] = [:]
        for _ in 0..<400 {
            now = now.addingTimeInterval(Double.random(in: 0..<0.3, using: &rng))
            for claim in scheduler.plan(now: now) {
                let status = scheduler.status(claim.subscriptionID)
                #expect(status?.held == false)
                if let until = status?.rateLimitedUntil { #expect(until <= now) }
                let got = Int.random(in: 0...claim.limit, using: &rng)
                scheduler.claimed(claim.subscriptionID, asked: claim.limit, got: got, nextDue: got < claim.limit ? now.addingTimeInterval(0.5) : nil, now: now)
                outstanding[claim.subscriptionID, default: 0] += got
                if claim.subscriptionID == "paced" { claimedPerSecond[Int(now.timeIntervalSince(Self.t0)), default: 0] += got }
                let settings = lanes[claim.subscriptionID]!
                let id = claim.subscriptionID
                if settings.ordered {
                    #expect(outstanding[id]! <= settings.orderedBatch)
                } else {
                    // Slots: at most `concurrency` unanswered; at most twice that waiting to be written.
                    #expect(outstanding[id]! - released[id, default: 0] <= settings.concurrency)
                    #expect(outstanding[id]! <= 2 * settings.concurrency)
                }
            }
            for (id, count) in outstanding where count > answered[id, default: 0] && Bool.random(using: &rng) {
                let signals: [LaneSignal] = [.delivered, .delivered, .failed, .rateLimited(until: now.addingTimeInterval(0.4))]
                _ = scheduler.sent(id, signals.randomElement(using: &rng)!, now: now)
                answered[id, default: 0] += 1
                if Bool.random(using: &rng) {
                    scheduler.released(id, count: 1)
                    released[id, default: 0] += 1
                }
            }
            for (id, count) in answered where count > 0 && Bool.random(using: &rng) {
                scheduler.recorded(id, count: count)
                outstanding[id, default: 0] -= count
                answered[id] = 0
                released[id] = 0
            }
            for id in lanes.keys { #expect(scheduler.status(id)?.inFlight == outstanding[id, default: 0]) }
            if Int.random(in: 0..<10, using: &rng) == 0 { scheduler.wake() }
        }
        for (second, count) in claimedPerSecond { #expect(count <= 4, "second \(second): \(count) claimed at 2/s with a burst of 2") }
    }
}
