import Foundation

extension Duration {
    /// The duration in seconds, as Foundation counts time.
    public var timeInterval: TimeInterval {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

/// Wall-clock time, injected wherever logic depends on "now" so tests can set it.
public struct WallClock: Sendable {
    private let read: @Sendable () -> Date

    public init(_ read: @escaping @Sendable () -> Date) {
        self.read = read
    }

    public static let system = WallClock { Date() }

    public var now: Date { read() }
}

/// A clock tests move by hand.
public final class ManualClock: @unchecked Sendable {
    private let state: LockedValue<Date>

    public init(_ start: Date) {
        state = LockedValue(start)
    }

    public var now: Date { state.value }

    public func advance(by duration: Duration) {
        state.withValue { $0 = $0.addingTimeInterval(duration.timeInterval) }
    }

    public func set(_ date: Date) { state.value = date }

    public var wallClock: WallClock { WallClock { [state] in state.value } }
}
