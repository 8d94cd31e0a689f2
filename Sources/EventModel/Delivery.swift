import Foundation

public enum DeliveryStatus: String, Sendable, Codable, CaseIterable {
    /// Waiting for its first or next attempt.
    case pending
    /// The sink accepted it.
    case delivered
    /// A dead letter: a permanent failure, the last attempt of its schedule failed, or its
    /// subscription is gone. Kept (longer than delivered rows), listed, and retryable by hand.
    case deadLetter = "dead_letter"
    /// Held back by a mute (`Delivery.note` names it): recorded, never sent.
    case muted
    /// Dropped by the subscription's quiet hours (those that delay keep it `pending` instead).
    case quiet
    /// Held back by a throttle: the next delivery of its key counts it.
    case throttled
    /// Gathered into a digest: the digest's own delivery carries it.
    case digested
    /// Not a change: a rule that notifies on change (or once per value) had already told.
    case unchanged
    /// Held back while an inhibiting event was active for the same key.
    case inhibited

    /// Settled by a policy when it was routed, never sent: kept and listed like a delivered row.
    public var isSuppressed: Bool {
        switch self {
        case .pending, .delivered, .deadLetter: false
        case .muted, .quiet, .throttled, .digested, .unchanged, .inhibited: true
        }
    }
}

/// One event owed to one subscription: a row of the outbox.
public struct Delivery: Sendable, Hashable {
    public var id: String
    public var eventKey: String
    public var subscriptionID: String
    /// The rule (or `subscription:<id>`) that matched the event to the subscription.
    public var matchedBy: String
    public var status: DeliveryStatus
    public var attempts: Int
    public var nextAttemptAt: Date
    public var createdAt: Date
    public var updatedAt: Date
    public var deliveredAt: Date?
    public var lastStatusCode: Int?
    public var lastError: String?
    /// What a policy said of it when it was routed: why it is muted, throttled, digested,
    /// delayed to the end of quiet hours; or, for one sent, what it stands for (the deliveries
    /// a throttle held back since the last one). Plain text, never a secret.
    public var note: String?

    public init(
        id: String, eventKey: String, subscriptionID: String, matchedBy: String, status: DeliveryStatus = .pending,
        attempts: Int = 0, nextAttemptAt: Date, createdAt: Date, updatedAt: Date, deliveredAt: Date? = nil,
        lastStatusCode: Int? = nil, lastError: String? = nil, note: String? = nil
    ) {
        self.note = note
        self.id = id
        self.eventKey = eventKey
        self.subscriptionID = subscriptionID
        self.matchedBy = matchedBy
        self.status = status
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.deliveredAt = deliveredAt
        self.lastStatusCode = lastStatusCode
        self.lastError = lastError
    }
}

/// Identifiers: a type prefix, then 12 hex digits of milliseconds (so ids sort by creation
/// time) and 16 hex digits, random at each new millisecond and counting up within one (as
/// monotonic ULIDs do), so ids made one after another in a process sort in that order: a
/// subscription's deliveries go out in the order their events were ingested.
public enum Identifier {
    private static let last = LockedValue((millis: UInt64(0), tail: UInt64(0)))

    public static func make(prefix: String, now: Date = Date()) -> String {
        let millis = UInt64(max(0, now.timeIntervalSince1970 * 1000))
        let (stamp, tail) = last.withValue { last -> (UInt64, UInt64) in
            if millis > last.millis || last.tail >= UInt64.max - 1 {
                // Random, with room to count up within the millisecond.
                last = (max(millis, last.millis + (last.tail >= UInt64.max - 1 ? 1 : 0)), UInt64.random(in: 0...(UInt64.max >> 1)))
            } else {
                last.tail += 1
            }
            return last
        }
        return format(prefix: prefix, millis: stamp, tail: tail)
    }

    public static func make(prefix: String, now: Date, using generator: inout some RandomNumberGenerator) -> String {
        format(prefix: prefix, millis: UInt64(max(0, now.timeIntervalSince1970 * 1000)), tail: generator.next())
    }

    static func format(prefix: String, millis: UInt64, tail: UInt64) -> String {
        let time = String(millis, radix: 16)
        let random = String(tail, radix: 16)
        return prefix + "_" + String(repeating: "0", count: max(0, 12 - time.count)) + time
            + String(repeating: "0", count: max(0, 16 - random.count)) + random
    }
}
