import EventModel
import Foundation
import Testing

/// The doorbell the dispatcher and the feed pollers sleep on.
struct WakeupTests {
    @Test func aRingBeforeTheWaitMakesItReturnAtOnceAndIsUsedUp() async {
        let bell = Wakeup()
        var waiter = bell.makeWaiter()
        bell.ring()
        bell.ring()  // Not counted: one wait returns for both.
        let clock = ContinuousClock()
        let first = await clock.measure { await waiter.wait(timeout: .seconds(30)) }
        #expect(first < .seconds(5))
        let second = await clock.measure { await waiter.wait(timeout: .milliseconds(200)) }
        #expect(second >= .milliseconds(200))
    }

    @Test func aRingWakesAWaiter() async {
        let bell = Wakeup()
        var waiter = bell.makeWaiter()
        let started = ContinuousClock.now
        async let waited: Void = waiter.wait(timeout: .seconds(60))
        // Rings until the waiter is woken (a ring that lands before it waits counts as well).
        let ringer = Task {
            while !Task.isCancelled {
                bell.ring()
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
        await waited
        ringer.cancel()
        #expect(ContinuousClock.now - started < .seconds(30))
    }

    @Test(arguments: [false, true])
    func cancellingTheWaitingTaskEndsTheWait(whileWaiting: Bool) async {
        let bell = Wakeup()
        let started = AsyncStream<Void>.makeStream()
        let task = Task {
            var waiter = bell.makeWaiter()
            let clock = ContinuousClock()
            started.continuation.yield()
            return await clock.measure { await waiter.wait(timeout: .seconds(60)) }
        }
        if whileWaiting {
            // Once the task runs; the wait itself begins a moment later (either order must end it).
            var iterator = started.stream.makeAsyncIterator()
            await iterator.next()
        }
        task.cancel()
        #expect(await task.value < .seconds(30))
    }

    @Test func afterFinishEveryWaitReturnsAtOnce() async {
        let bell = Wakeup()
        var waiter = bell.makeWaiter()
        bell.finish()
        let clock = ContinuousClock()
        let elapsed = await clock.measure {
            for _ in 0..<100 { await waiter.wait(timeout: .seconds(60)) }
        }
        #expect(elapsed < .seconds(30))
    }

    @Test func manyRingsAndWaitsFromOtherTasksNeverLoseAWakeUp() async {
        // Each round: a ringer rings once after the waiter may have started waiting; the wait
        // must end by that ring, long before its timeout.
        let bell = Wakeup()
        var waiter = bell.makeWaiter()
        let clock = ContinuousClock()
        for _ in 0..<200 {
            let ringer = Task { bell.ring() }
            // Generous: under the full suite the ringer may wait seconds for a thread; a lost
            // wake-up waits the whole minute.
            let elapsed = await clock.measure { await waiter.wait(timeout: .seconds(60)) }
            await ringer.value
            #expect(elapsed < .seconds(30))
        }
    }
}
