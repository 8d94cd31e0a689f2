import Delivery
import Foundation
import Testing

@Suite("Circuit breaker (pure, injected time)")
struct CircuitBreakerTests {
    static let t0 = Date(timeIntervalSince1970: 1_700_000_000)
    let settings = CircuitBreaker.Settings(threshold: 3, initialCooldown: .seconds(1), maxCooldown: .seconds(4))

    @Test func closedLetsEverythingThroughAndSuccessResetsTheCount() {
        var breaker = CircuitBreaker(settings: settings)
        #expect(breaker.permits(now: Self.t0, inFlight: 50) == nil)
        #expect(breaker.recordFailure(now: Self.t0) == nil)
        #expect(breaker.recordFailure(now: Self.t0) == nil)
        #expect(breaker.recordSuccess() == nil, "closed stays closed: nothing to report")
        #expect(breaker.recordFailure(now: Self.t0) == nil)
        #expect(breaker.recordFailure(now: Self.t0) == nil)
        #expect(breaker.state == .closed(failures: 2))
    }

    @Test func opensAtTheThresholdThenProbesOneAtATimeAfterTheCooldown() {
        var breaker = CircuitBreaker(settings: settings)
        _ = breaker.recordFailure(now: Self.t0)
        _ = breaker.recordFailure(now: Self.t0)
        #expect(breaker.recordFailure(now: Self.t0) == .opened(failures: 3))
        #expect(breaker.permits(now: Self.t0.addingTimeInterval(0.999), inFlight: 0) == 0)
        #expect(breaker.probeAt == Self.t0.addingTimeInterval(1))
        #expect(breaker.recordFailure(now: Self.t0) == nil, "failures of deliveries already in flight do not reopen it")
        #expect(breaker.permits(now: Self.t0.addingTimeInterval(1), inFlight: 0) == 1)
        #expect(breaker.state == .halfOpen(cooldown: .seconds(1)))
        #expect(breaker.permits(now: Self.t0.addingTimeInterval(1), inFlight: 1) == 0, "one probe at a time")
    }

    @Test func aFailedProbeDoublesTheCooldownUpToItsCap() {
        var breaker = CircuitBreaker(settings: settings)
        for _ in 0..<3 { _ = breaker.recordFailure(now: Self.t0) }
        var now = Self.t0
        var cooldowns: [Duration] = []
        for _ in 0..<4 {
            now = breaker.probeAt ?? now
            #expect(breaker.permits(now: now, inFlight: 0) == 1)
            if case .reopened(let cooldown) = breaker.recordFailure(now: now) { cooldowns.append(cooldown) }
        }
        #expect(cooldowns == [.seconds(2), .seconds(4), .seconds(4), .seconds(4)])
    }

    @Test func aSuccessfulProbeOrAnyLateSuccessClosesIt() {
        var probed = CircuitBreaker(settings: settings)
        for _ in 0..<3 { _ = probed.recordFailure(now: Self.t0) }
        _ = probed.permits(now: Self.t0.addingTimeInterval(1), inFlight: 0)
        #expect(probed.recordSuccess() == .closed)
        #expect(probed.state == .closed(failures: 0))
        #expect(probed.permits(now: Self.t0.addingTimeInterval(1), inFlight: 100) == nil)

        var late = CircuitBreaker(settings: settings)
        for _ in 0..<3 { _ = late.recordFailure(now: Self.t0) }
        #expect(late.recordSuccess() == .closed, "a delivery in flight when it opened got through: the destination answers")
    }
}
