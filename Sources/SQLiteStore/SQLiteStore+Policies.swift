import EventModel
import Foundation
import GRDB
import Store

/// Policy state (compare-and-set in the ingest transaction) and mutes.
extension SQLiteStore {
    /// Statuses pruned on the delivered rows' retention: delivered, and what a policy settled.
    static let settledAsDelivered = (["delivered"] + DeliveryStatus.allCases.filter(\.isSuppressed).map(\.rawValue))
        .map { "'\($0)'" }.joined(separator: ", ")

    /// Applies the writes, each checked against the version its stage read; then keeps each
    /// bounded policy within its limit. Returns how many entries were evicted.
    static func writeStates(_ writes: [PolicyStateWrite], now: Int64, _ db: Database) throws -> Int {
        guard !writes.isEmpty else { return 0 }
        let read = try db.cachedStatement(sql: "SELECT version FROM policy_state WHERE policy = ? AND key = ?")
        let upsert = try db.cachedStatement(
            sql: """
                INSERT INTO policy_state (policy, key, value, version, due_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (policy, key) DO UPDATE SET value = excluded.value, version = excluded.version,
                    due_at = excluded.due_at, updated_at = excluded.updated_at
                """)
        let delete = try db.cachedStatement(sql: "DELETE FROM policy_state WHERE policy = ? AND key = ?")
        var limits: [String: Int] = [:]
        for write in writes {
            let current = try Int64.fetchOne(read, arguments: [write.key.policy, write.key.key])
            guard current == write.expectedVersion else {
                throw StoreError.stale("policy state \(write.key) is at version \(current.map(String.init) ?? "none"), not \(write.expectedVersion.map(String.init) ?? "none")")
            }
            if let value = write.value {
                try upsert.execute(arguments: [
                    write.key.policy, write.key.key, String(decoding: value.encoded(), as: UTF8.self), (current ?? 0) + 1,
                    write.dueAt.map(ms), now,
                ])
            } else {
                try delete.execute(arguments: [write.key.policy, write.key.key])
            }
            if let limit = write.limit { limits[write.key.policy] = min(limits[write.key.policy] ?? .max, limit) }
        }
        var evicted = 0
        for (policy, limit) in limits.sorted(by: { $0.key < $1.key }) {
            let count = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM policy_state WHERE policy = ?", arguments: [policy]) ?? 0
            guard count > limit else { continue }
            try db.execute(
                sql: """
                    DELETE FROM policy_state WHERE policy = ? AND key IN (
                        SELECT key FROM policy_state WHERE policy = ? ORDER BY updated_at, key LIMIT ?)
                    """,
                arguments: [policy, policy, count - limit])
            evicted += db.changesCount
        }
        return evicted
    }

    public func loadIngestContext(eventKeys: [String], stateKeys: Set<PolicyStateKey>) async throws -> IngestContext {
        try await pool.read { db in
            var context = IngestContext()
            let seen = try db.cachedStatement(sql: "SELECT 1 FROM ingested_events WHERE key = ?")
            for key in eventKeys where try Int.fetchOne(seen, arguments: [key]) != nil { context.seenEventKeys.insert(key) }
            let read = try db.cachedStatement(sql: "SELECT value, version, due_at, updated_at FROM policy_state WHERE policy = ? AND key = ?")
            for key in stateKeys {
                guard let row = try Row.fetchOne(read, arguments: [key.policy, key.key]) else { continue }
                context.states[key] = try Self.entry(row, key)
            }
            return context
        }
    }

    public func duePolicyStates(now: Date, limit: Int) async throws -> [PolicyStateKey: PolicyStateEntry] {
        try await pool.read { db in
            var entries: [PolicyStateKey: PolicyStateEntry] = [:]
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT policy, key, value, version, due_at, updated_at FROM policy_state
                    WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY due_at LIMIT ?
                    """,
                arguments: [ms(now), limit])
            for row in rows {
                let key = PolicyStateKey(policy: row["policy"], key: row["key"])
                entries[key] = try Self.entry(row, key)
            }
            return entries
        }
    }

    public func nextPolicyStateDue() async throws -> Date? {
        try await pool.read { db in
            try Int64.fetchOne(db, sql: "SELECT MIN(due_at) FROM policy_state WHERE due_at IS NOT NULL").map(date)
        }
    }

    public func policyStates(policy: String, limit: Int) async throws -> [PolicyStateKey: PolicyStateEntry] {
        try await pool.read { db in
            var entries: [PolicyStateKey: PolicyStateEntry] = [:]
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT policy, key, value, version, due_at, updated_at FROM policy_state WHERE policy = ?
                    ORDER BY updated_at DESC LIMIT ?
                    """,
                arguments: [policy, limit])
            for row in rows {
                let key = PolicyStateKey(policy: row["policy"], key: row["key"])
                entries[key] = try Self.entry(row, key)
            }
            return entries
        }
    }

    private static func entry(_ row: Row, _ key: PolicyStateKey) throws -> PolicyStateEntry {
        let text: String = row["value"]
        guard let value = try? JSONValue.parse(Array(text.utf8)) else { throw StoreError.corrupt("policy state \(key) is not JSON") }
        return PolicyStateEntry(
            value: value, version: row["version"], dueAt: (row["due_at"] as Int64?).map(date), updatedAt: date(row["updated_at"]))
    }

    // MARK: Mutes

    public func listMutes() async throws -> [Mute] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM mutes ORDER BY starts_at, id").map { row in
                let filterText: String? = row["filter"]
                var filter: JSONValue?
                if let filterText {
                    guard let parsed = try? JSONValue.parse(Array(filterText.utf8)) else {
                        throw StoreError.corrupt("the filter of mute \(row["id"] as String) is not JSON")
                    }
                    filter = parsed
                }
                return Mute(
                    id: row["id"], rule: row["rule"], subscription: row["subscription"], filter: filter, startsAt: date(row["starts_at"]),
                    endsAt: date(row["ends_at"]), comment: row["comment"], origin: row["origin"], createdAt: date(row["created_at"]))
            }
        }
    }

    public func insertMute(_ mute: Mute) async throws {
        try await pool.write { db in
            guard try Int.fetchOne(db, sql: "SELECT 1 FROM mutes WHERE id = ?", arguments: [mute.id]) == nil else {
                throw StoreError.conflict("mute \(mute.id) exists")
            }
            try db.execute(
                sql: """
                    INSERT INTO mutes (id, rule, subscription, filter, starts_at, ends_at, comment, origin, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    mute.id, mute.rule, mute.subscription, mute.filter.map { String(decoding: $0.encoded(), as: UTF8.self) },
                    ms(mute.startsAt), ms(mute.endsAt), mute.comment, mute.origin, ms(mute.createdAt),
                ])
        }
    }

    public func deleteMute(id: String) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM mutes WHERE id = ?", arguments: [id])
            return db.changesCount > 0
        }
    }

    public func pruneMutes(endedBefore before: Date) async throws -> Int {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM mutes WHERE ends_at < ?", arguments: [ms(before)])
            return db.changesCount
        }
    }
}
