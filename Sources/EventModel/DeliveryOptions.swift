import Foundation

/// How one subscription's deliveries are paced: its lane's order, concurrency, rate limit and
/// retry schedule. Every field is optional; unset fields take the defaults of the subscription's
/// kind (a Slack webhook: about one message a second) and of the `delivery:` configuration.
public struct DeliveryOptions: Sendable, Hashable {
    public enum Ordering: String, Sendable, Hashable, CaseIterable {
        /// The default: in the order events arrived for each thing they are about (`Event.orderKey`:
        /// an app, or a platform account's own events), one at a time per key; different keys go
        /// side by side, up to `concurrency` at once. A delivery waiting for its retry holds only
        /// those of its own key.
        case key
        /// One at a time for the whole subscription, in the order events arrived; a delivery
        /// waiting for its retry holds every one behind it.
        case fifo
        /// Up to `concurrency` at once, in no particular order: for throughput.
        case none
    }

    /// What a subscription that sets no `ordering` gets.
    public static let defaultOrdering = Ordering.key

    public var ordering: Ordering?
    /// In flight at once (not with `ordering: fifo`).
    public var concurrency: Int?
    public var rateLimit: RateLimit?
    /// Waits after each failed attempt; after the last, the delivery is dead-lettered.
    public var retrySchedule: [Duration]?

    public init(ordering: Ordering? = nil, concurrency: Int? = nil, rateLimit: RateLimit? = nil, retrySchedule: [Duration]? = nil) {
        self.ordering = ordering
        self.concurrency = concurrency
        self.rateLimit = rateLimit
        self.retrySchedule = retrySchedule
    }

    public static let none = DeliveryOptions()
    public var isEmpty: Bool { self == .none }

    public static let maxConcurrency = 1024
    public static let maxRetrySteps = 100
    public static let maxRetryDelay: Duration = .seconds(7 * 86400)

    /// The first problem, named by its JSON/YAML field under `field`.
    public func validate(field: String = "delivery") -> FieldError? {
        if let concurrency {
            guard (1...Self.maxConcurrency).contains(concurrency) else {
                return FieldError(field: "\(field).concurrency", message: "must be 1 to \(Self.maxConcurrency)")
            }
            if ordering == .fifo && concurrency > 1 {
                return FieldError(
                    field: "\(field).concurrency",
                    message: "ordering: fifo sends one at a time; use ordering: key (the default: in order per app) or none for more in flight")
            }
        }
        if let rateLimit, let problem = rateLimit.validate(field: "\(field).rate_limit", burstField: "\(field).burst") { return problem }
        if let schedule = retrySchedule {
            guard schedule.count <= Self.maxRetrySteps else {
                return FieldError(field: "\(field).retry_schedule", message: "has more than \(Self.maxRetrySteps) steps")
            }
            for delay in schedule where delay < .zero || delay > Self.maxRetryDelay {
                return FieldError(field: "\(field).retry_schedule", message: "each wait must be between 0s and 7d (168h)")
            }
        }
        return nil
    }
}

/// `count` messages per `period`, with up to `burst` at once: `1/s`, `30/min`, `1000/h`.
public struct RateLimit: Sendable, Hashable, CustomStringConvertible {
    public var count: Int
    public var period: Duration
    public var burst: Int

    public init(count: Int, per period: Duration, burst: Int? = nil) {
        self.count = count
        self.period = period
        self.burst = burst ?? max(1, count)
    }

    public var perSecond: Double { Double(count) / max(0.001, period.timeInterval) }

    static let units: [(String, Duration)] = [("s", .seconds(1)), ("min", .seconds(60)), ("m", .seconds(60)), ("h", .seconds(3600))]

    /// `N/s`, `N/min` (or `N/m`), `N/h`.
    public static func parse(_ text: String, burst: Int? = nil) -> RateLimit? {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].allSatisfy({ $0.isASCII && $0.isNumber }), parts[0].count <= 7, let count = Int(parts[0]),
              let unit = units.first(where: { $0.0 == parts[1].lowercased() })
        else { return nil }
        return RateLimit(count: count, per: unit.1, burst: burst)
    }

    public var description: String {
        let seconds = period.components.seconds
        let unit = seconds == 3600 ? "h" : seconds == 60 ? "min" : "s"
        return "\(count)/\(unit)"
    }

    public func validate(field: String, burstField: String? = nil) -> FieldError? {
        guard count >= 1, count <= 1_000_000 else { return FieldError(field: field, message: "must allow 1 to 1000000 messages") }
        guard burst >= 1, burst <= 10_000 else { return FieldError(field: burstField ?? "\(field).burst", message: "must be 1 to 10000") }
        return nil
    }
}

// Stored as JSON: durations in milliseconds.
extension DeliveryOptions: Codable {
    enum CodingKeys: String, CodingKey { case ordering, concurrency, rateLimit = "rate_limit", burst, retryScheduleMs = "retry_schedule_ms" }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        ordering = try container.decodeIfPresent(String.self, forKey: .ordering).flatMap(Ordering.init(rawValue:))
        concurrency = try container.decodeIfPresent(Int.self, forKey: .concurrency)
        let burst = try container.decodeIfPresent(Int.self, forKey: .burst)
        rateLimit = try container.decodeIfPresent(String.self, forKey: .rateLimit).flatMap { RateLimit.parse($0, burst: burst) }
        retrySchedule = try container.decodeIfPresent([Int64].self, forKey: .retryScheduleMs)?.map { .milliseconds($0) }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(ordering?.rawValue, forKey: .ordering)
        try container.encodeIfPresent(concurrency, forKey: .concurrency)
        try container.encodeIfPresent(rateLimit?.description, forKey: .rateLimit)
        try container.encodeIfPresent(rateLimit?.burst, forKey: .burst)
        try container.encodeIfPresent(retrySchedule?.map { $0.milliseconds }, forKey: .retryScheduleMs)
    }
}

extension Duration {
    /// Whole milliseconds, saturating.
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        guard !overflow else { return seconds < 0 ? .min : .max }
        return scaled + attoseconds / 1_000_000_000_000_000
    }
}
