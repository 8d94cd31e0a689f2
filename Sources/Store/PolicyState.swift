import EventModel
import Foundation

/// What policies remember (throttle windows, digest contents, the last state per key, active
/// inhibitions), kept in the store and changed only in the ingest transaction that decided it.
/// Each entry has a version: a commit names the version it read and fails with
/// `StoreError.stale` when another writer (another replica) changed it since, so the
/// pipeline reads again and decides again. No process holds the truth.
public protocol PolicyStateStore: Sendable {
    /// What the stages need before they decide: the entries of these keys (absent ones are not
    /// in the answer) and which of these event keys were ingested already.
    func loadIngestContext(eventKeys: [String], stateKeys: Set<PolicyStateKey>) async throws -> IngestContext
    /// Entries with a due time at or before `now` (digests to send), oldest due first.
    func duePolicyStates(now: Date, limit: Int) async throws -> [PolicyStateKey: PolicyStateEntry]
    /// The earliest due time of any entry, nil when none has one: when to look again.
    func nextPolicyStateDue() async throws -> Date?
    /// Entries of one policy (newest first), for the API and tests.
    func policyStates(policy: String, limit: Int) async throws -> [PolicyStateKey: PolicyStateEntry]
}

/// One remembered thing: a policy (`throttle:<rule>`, `digest:<rule>`…) and a key within it
/// (the values of the fields it groups by).
public struct PolicyStateKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var policy: String
    public var key: String

    public init(policy: String, key: String) {
        self.policy = policy
        self.key = key
    }

    public static func < (lhs: PolicyStateKey, rhs: PolicyStateKey) -> Bool { (lhs.policy, lhs.key) < (rhs.policy, rhs.key) }
    public var description: String { "\(policy)/\(key)" }
}

public struct PolicyStateEntry: Sendable, Equatable {
    /// The policy's own document (its shape is the policy's business).
    public var value: JSONValue
    /// Bumped by each write: what a compare-and-set compares.
    public var version: Int64
    /// When the policy wants to act on it without an event (a digest's send time).
    public var dueAt: Date?
    public var updatedAt: Date

    public init(value: JSONValue, version: Int64, dueAt: Date? = nil, updatedAt: Date) {
        self.value = value
        self.version = version
        self.dueAt = dueAt
        self.updatedAt = updatedAt
    }
}

/// A compare-and-set of one entry, written with the ingest commit.
public struct PolicyStateWrite: Sendable, Equatable {
    public var key: PolicyStateKey
    /// The version read; nil: the entry must not exist yet.
    public var expectedVersion: Int64?
    /// The new document; nil deletes the entry.
    public var value: JSONValue?
    public var dueAt: Date?
    /// At most this many entries for the policy: the least recently updated are evicted (and
    /// counted in `IngestResult.evictedStates`).
    public var limit: Int?

    public init(key: PolicyStateKey, expectedVersion: Int64?, value: JSONValue?, dueAt: Date? = nil, limit: Int? = nil) {
        self.key = key
        self.expectedVersion = expectedVersion
        self.value = value
        self.dueAt = dueAt
        self.limit = limit
    }
}

/// What the pipeline reads before its stages decide (see `PolicyStateStore.loadIngestContext`).
public struct IngestContext: Sendable {
    public var seenEventKeys: Set<String>
    public var states: [PolicyStateKey: PolicyStateEntry]

    public init(seenEventKeys: Set<String> = [], states: [PolicyStateKey: PolicyStateEntry] = [:]) {
        self.seenEventKeys = seenEventKeys
        self.states = states
    }
}

/// Mutes made over the admin API (those in rule files live with the rules).
public protocol MuteStore: Sendable {
    func listMutes() async throws -> [Mute]
    /// Throws `StoreError.conflict` when the id exists.
    func insertMute(_ mute: Mute) async throws
    /// False when there is no such mute.
    func deleteMute(id: String) async throws -> Bool
    /// Deletes mutes that ended before `before`; returns how many.
    func pruneMutes(endedBefore before: Date) async throws -> Int
}
