import EventModel
import Foundation

/// One destination's circuit breaker. Pure: the time is passed in.
///
/// Closed, it lets everything through and counts consecutive failures; at `threshold` it opens:
/// nothing is sent for a cooldown. Then it is half-open: one delivery at a time probes the
/// destination. A success closes it (the lane is back at full speed at once); a failure opens it
/// again for twice the cooldown, up to `maxCooldown`. A success while open (a delivery that was
/// already in flight) closes it too: the destination answers.
///
/// By default a probe goes every half second however long the outage (`maxCooldown` 500 ms):
/// two requests a second to a destination that is down cost little (their failures are logged
/// once a minute), and the queue drains within a second of it answering again.
/// `delivery.breaker_probe_interval` spaces them further.
public struct CircuitBreaker: Sendable, Equatable {
    public struct Settings: Sendable, Equatable {
        public var threshold: Int
        public var initialCooldown: Duration
        public var maxCooldown: Duration

        public init(threshold: Int = 5, initialCooldown: Duration = .milliseconds(500), maxCooldown: Duration = .milliseconds(500)) {
            self.threshold = max(1, threshold)
            self.initialCooldown = initialCooldown
            self.maxCooldown = max(maxCooldown, initialCooldown)
        }
    }

    public enum State: Sendable, Equatable {
        case closed(failures: Int)
        case open(until: Date, cooldown: Duration)
        case halfOpen(cooldown: Duration)
    }

    public enum Transition: Sendable, Equatable {
        /// `failures` in a row: sending stops, probing starts.
        case opened(failures: Int)
        /// A probe failed: the next one waits `cooldown`.
        case reopened(cooldown: Duration)
        /// A delivery got through after the breaker had opened.
        case closed
    }

    public let settings: Settings
    public private(set) var state: State = .closed(failures: 0)

    public init(settings: Settings = Settings()) {
        self.settings = settings
    }

    /// How many deliveries may be started now, given `inFlight`: nil for no limit (closed), 0 or 1.
    public mutating func permits(now: Date, inFlight: Int) -> Int? {
        switch state {
        case .closed:
            return nil
        case .open(let until, let cooldown):
            guard now >= until else { return 0 }
            state = .halfOpen(cooldown: cooldown)
            return inFlight == 0 ? 1 : 0
        case .halfOpen:
            return inFlight == 0 ? 1 : 0
        }
    }

    /// When an open breaker lets its next probe through.
    public var probeAt: Date? {
        if case .open(let until, _) = state { return until }
        return nil
    }

    public var isOpen: Bool {
        if case .closed = state { return false }
        return true
    }

    public mutating func recordSuccess() -> Transition? {
        defer { state = .closed(failures: 0) }
        if case .closed = state { return nil }
        return .closed
    }

    public mutating func recordFailure(now: Date) -> Transition? {
        switch state {
        case .closed(let failures):
            let count = failures + 1
            guard count >= settings.threshold else {
                state = .closed(failures: count)
                return nil
            }
            state = .open(until: now.addingTimeInterval(settings.initialCooldown.timeInterval), cooldown: settings.initialCooldown)
            return .opened(failures: count)
        case .open:
            // A delivery that was in flight when the breaker opened: already counted as open.
            return nil
        case .halfOpen(let cooldown):
            let next = min(cooldown * 2, settings.maxCooldown)
            state = .open(until: now.addingTimeInterval(next.timeInterval), cooldown: next)
            return .reopened(cooldown: next)
        }
    }
}
