import EventModel
import Foundation
import GRDB
import Store

/// The embedded default store: one SQLite file in WAL mode (GRDB's DatabasePool: one writer,
/// concurrent readers), versioned migrations, `synchronous=NORMAL` (durable across process
/// crashes such as kill -9; WAL keeps committed transactions).
public final class SQLiteStore: RelayStore {
    private let pool: DatabasePool
    public let path: String

    public init(path: String) throws {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            try SQLiteStore.migrator.migrate(pool)
        } catch {
            throw StoreError.unavailable("cannot open the SQLite store at \(path): \(error)")
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: subscriptions, feed cursors, events, outbox") { db in
            try db.execute(sql: """
                CREATE TABLE subscriptions (
                    id TEXT PRIMARY KEY,
                    kind TEXT NOT NULL,
                    url TEXT NOT NULL,
                    signing_secret TEXT,
                    slack_icon TEXT,
                    slack_username TEXT,
                    filter TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL
                );
                CREATE TABLE feed_cursors (
                    feed TEXT PRIMARY KEY,
                    horizon INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL
                );
                CREATE TABLE feed_seen (
                    feed TEXT NOT NULL,
                    event_id TEXT NOT NULL,
                    event_time INTEGER NOT NULL,
                    PRIMARY KEY (feed, event_id)
                ) WITHOUT ROWID;
                CREATE INDEX feed_seen_by_time ON feed_seen(feed, event_time);
                CREATE TABLE events (
                    key TEXT PRIMARY KEY,
                    source TEXT NOT NULL,
                    feed TEXT NOT NULL,
                    type TEXT NOT NULL,
                    time INTEGER NOT NULL,
                    body TEXT NOT NULL,
                    created_at INTEGER NOT NULL
                );
                CREATE TABLE deliveries (
                    id TEXT PRIMARY KEY,
                    event_key TEXT NOT NULL REFERENCES events(key),
                    subscription_id TEXT NOT NULL,
                    matched_by TEXT NOT NULL,
                    status TEXT NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    next_attempt_at INTEGER NOT NULL,
                    lease_until INTEGER,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL,
                    delivered_at INTEGER,
                    last_status_code INTEGER,
                    last_error TEXT
                );
                CREATE UNIQUE INDEX deliveries_once ON deliveries(event_key, subscription_id);
                CREATE INDEX deliveries_due ON deliveries(status, next_attempt_at);
                CREATE INDEX deliveries_by_subscription ON deliveries(subscription_id, id);
                CREATE TABLE delivery_attempts (
                    delivery_id TEXT NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
                    at INTEGER NOT NULL,
                    outcome TEXT NOT NULL,
                    status_code INTEGER,
                    error TEXT,
                    duration_ms INTEGER NOT NULL
                );
                CREATE INDEX delivery_attempts_by_delivery ON delivery_attempts(delivery_id, at);
                """)
        }
        migrator.registerMigration("v2: opaque, versioned feed checkpoints") { db in
            // The v1 tables stay until each stream's first commit replaces them (see legacyCursor).
            try db.execute(sql: """
                CREATE TABLE feed_checkpoints (
                    stream TEXT PRIMARY KEY,
                    version INTEGER NOT NULL,
                    data BLOB NOT NULL,
                    updated_at INTEGER NOT NULL
                );
                """)
        }
        migrator.registerMigration("v3: every ingested event's key, for dedupe across feeds, streams and push") { db in
            try db.execute(sql: """
                CREATE TABLE ingested_events (
                    key TEXT PRIMARY KEY,
                    first_seen INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX ingested_events_by_time ON ingested_events(first_seen);
                INSERT OR IGNORE INTO ingested_events (key, first_seen) SELECT key, created_at FROM events;
                """)
        }
        return migrator
    }

    public func ping() async throws {
        _ = try await pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    // MARK: Subscriptions

    public func listSubscriptions() async throws -> [Subscription] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM subscriptions ORDER BY id").map(Self.subscription(from:))
        }
    }

    public func subscription(id: String) async throws -> Subscription? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM subscriptions WHERE id = ?", arguments: [id]).map(Self.subscription(from:))
        }
    }

    public func insertSubscription(_ subscription: Subscription) async throws {
        let filter = try Self.encode(subscription.filter)
        try await pool.write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM subscriptions WHERE id = ?", arguments: [subscription.id]) == true {
                throw StoreError.conflict("a subscription with id \(subscription.id) already exists")
            }
            try db.execute(
                sql: """
                    INSERT INTO subscriptions (id, kind, url, signing_secret, slack_icon, slack_username, filter, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    subscription.id, subscription.kind.rawValue, subscription.url, subscription.signingSecret,
                    subscription.slackIcon, subscription.slackUsername, filter, ms(subscription.createdAt), ms(subscription.updatedAt),
                ])
        }
    }

    public func updateSubscription(_ subscription: Subscription) async throws {
        let filter = try Self.encode(subscription.filter)
        try await pool.write { db in
            try db.execute(
                sql: """
                    UPDATE subscriptions SET kind = ?, url = ?, signing_secret = ?, slack_icon = ?, slack_username = ?,
                    filter = ?, updated_at = ? WHERE id = ?
                    """,
                arguments: [
                    subscription.kind.rawValue, subscription.url, subscription.signingSecret, subscription.slackIcon,
                    subscription.slackUsername, filter, ms(subscription.updatedAt), subscription.id,
                ])
            if db.changesCount == 0 { throw StoreError.notFound("no subscription with id \(subscription.id)") }
        }
    }

    public func deleteSubscription(id: String, now: Date) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM subscriptions WHERE id = ?", arguments: [id])
            guard db.changesCount > 0 else { return false }
            // Nothing is dropped silently: what was still owed to it stays visible as failed.
            try db.execute(
                sql: """
                    UPDATE deliveries SET status = 'failed', last_error = 'subscription deleted', updated_at = ?, lease_until = NULL
                    WHERE subscription_id = ? AND status = 'pending'
                    """,
                arguments: [ms(now), id])
            return true
        }
    }

    // MARK: Feeds

    public func loadCheckpoint(stream: String) async throws -> FeedCheckpoint? {
        try await pool.read { db in
            if let row = try Row.fetchOne(db, sql: "SELECT version, data FROM feed_checkpoints WHERE stream = ?", arguments: [stream]) {
                let data: Data = row["data"]
                return FeedCheckpoint(version: row["version"], data: Array(data))
            }
            return try Self.legacyCursor(db, stream: stream)
        }
    }

    /// A cursor written by schema v1 (a horizon and a table of seen ids), as checkpoint version 0:
    /// `{"horizon": ms, "seen": [[id, ms], ...]}`. Replaced by the stream's first commit.
    static func legacyCursor(_ db: Database, stream: String) throws -> FeedCheckpoint? {
        guard let horizon = try Int64.fetchOne(db, sql: "SELECT horizon FROM feed_cursors WHERE feed = ?", arguments: [stream]) else {
            return nil
        }
        var seen: [JSONValue] = []
        let rows = try Row.fetchCursor(db, sql: "SELECT event_id, event_time FROM feed_seen WHERE feed = ? ORDER BY event_id", arguments: [stream])
        while let row = try rows.next() {
            seen.append(.array([.string(row["event_id"]), .integer(row["event_time"])]))
        }
        let document = JSONValue.object(["horizon": .integer(horizon), "seen": .array(seen)])
        return FeedCheckpoint(version: 0, data: document.encoded())
    }

    /// How long an ingested event's key is remembered for dedupe: longer than any window in which
    /// a feed reads an event again (backfill is at most 72 h) or a platform retries a push.
    public static let dedupeRetention: TimeInterval = 8 * 86400

    public func commitIngest(_ commit: IngestCommit) async throws -> IngestResult {
        let encoder = Event.makeEncoder()
        let bodies = try commit.items.map { item in
            item.deliveries.isEmpty ? nil : String(decoding: try encoder.encode(item.event), as: UTF8.self)
        }
        return try await pool.write { db in
            let now = ms(commit.now)
            if let (stream, checkpoint) = commit.checkpoint {
                try db.execute(
                    sql: """
                        INSERT INTO feed_checkpoints (stream, version, data, updated_at) VALUES (?, ?, ?, ?)
                        ON CONFLICT(stream) DO UPDATE SET version = excluded.version, data = excluded.data, updated_at = excluded.updated_at
                        """,
                    arguments: [stream, checkpoint.version, Data(checkpoint.data), now])
                try db.execute(sql: "DELETE FROM feed_cursors WHERE feed = ?", arguments: [stream])
                try db.execute(sql: "DELETE FROM feed_seen WHERE feed = ?", arguments: [stream])
            }
            let remember = try db.makeStatement(sql: "INSERT OR IGNORE INTO ingested_events (key, first_seen) VALUES (?, ?)")
            let event = try db.makeStatement(
                sql: "INSERT OR IGNORE INTO events (key, source, feed, type, time, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
            let delivery = try db.makeStatement(
                sql: """
                    INSERT OR IGNORE INTO deliveries (id, event_key, subscription_id, matched_by, status, attempts, next_attempt_at, created_at, updated_at)
                    VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?)
                    """)
            var result = IngestResult(newEvents: 0, duplicates: 0, deliveries: 0)
            for (item, body) in zip(commit.items, bodies) {
                let key = item.event.key
                try remember.execute(arguments: [key, now])
                guard db.changesCount > 0 else {
                    result.duplicates += 1
                    continue
                }
                result.newEvents += 1
                guard let body else { continue }
                try event.execute(arguments: [key, item.event.source, item.event.feed, item.event.type, ms(item.event.time), body, now])
                for owed in item.deliveries {
                    try delivery.execute(arguments: [owed.id, key, owed.subscriptionID, owed.matchedBy, now, now, now])
                    result.deliveries += db.changesCount
                }
            }
            try db.execute(
                sql: "DELETE FROM ingested_events WHERE first_seen < ?", arguments: [now - Int64(Self.dedupeRetention * 1000)])
            return result
        }
    }

    // MARK: Outbox

    public func claimDueDeliveries(now: Date, limit: Int, leaseUntil: Date) async throws -> [ClaimedDelivery] {
        let decoder = Event.makeDecoder()
        let rows = try await pool.write { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT d.*, e.body AS event_body FROM deliveries d JOIN events e ON e.key = d.event_key
                    WHERE d.status = 'pending' AND d.next_attempt_at <= ? AND (d.lease_until IS NULL OR d.lease_until <= ?)
                    ORDER BY d.next_attempt_at, d.id LIMIT ?
                    """,
                arguments: [ms(now), ms(now), limit])
            let lease = try db.makeStatement(sql: "UPDATE deliveries SET lease_until = ? WHERE id = ?")
            for row in rows {
                try lease.execute(arguments: [ms(leaseUntil), row["id"] as String])
            }
            return rows.map { (Self.delivery(from: $0), $0["event_body"] as String) }
        }
        return try rows.map { delivery, body in
            do {
                return ClaimedDelivery(delivery: delivery, event: try decoder.decode(Event.self, from: Data(body.utf8)))
            } catch {
                throw StoreError.corrupt("stored event \(delivery.eventKey) cannot be read: \(error)")
            }
        }
    }

    public func recordAttempts(_ attempts: [AttemptRecord]) async throws {
        guard !attempts.isEmpty else { return }
        try await pool.write { db in
            let log = try db.makeStatement(
                sql: "INSERT INTO delivery_attempts (delivery_id, at, outcome, status_code, error, duration_ms) VALUES (?, ?, ?, ?, ?, ?)")
            let delivered = try db.makeStatement(
                sql: """
                    UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, lease_until = NULL, updated_at = ?,
                    delivered_at = ?, last_status_code = ?, last_error = NULL WHERE id = ?
                    """)
            let retry = try db.makeStatement(
                sql: """
                    UPDATE deliveries SET attempts = attempts + 1, lease_until = NULL, updated_at = ?, next_attempt_at = ?,
                    last_status_code = ?, last_error = ? WHERE id = ? AND status = 'pending'
                    """)
            let failed = try db.makeStatement(
                sql: """
                    UPDATE deliveries SET status = 'failed', attempts = attempts + 1, lease_until = NULL, updated_at = ?,
                    last_status_code = ?, last_error = ? WHERE id = ?
                    """)
            let deferred = try db.makeStatement(
                sql: "UPDATE deliveries SET lease_until = NULL, updated_at = ?, next_attempt_at = ? WHERE id = ? AND status = 'pending'")
            for attempt in attempts {
                let at = ms(attempt.at)
                switch attempt.outcome {
                case .delivered:
                    try delivered.execute(arguments: [at, at, attempt.statusCode, attempt.deliveryID])
                case .retry:
                    try retry.execute(arguments: [at, ms(attempt.nextAttemptAt ?? attempt.at), attempt.statusCode, attempt.error, attempt.deliveryID])
                case .failed:
                    try failed.execute(arguments: [at, attempt.statusCode, attempt.error, attempt.deliveryID])
                case .deferred:
                    try deferred.execute(arguments: [at, ms(attempt.nextAttemptAt ?? attempt.at), attempt.deliveryID])
                    continue  // Not an attempt: nothing was sent.
                }
                try log.execute(arguments: [
                    attempt.deliveryID, at, attempt.outcome.rawValue, attempt.statusCode, attempt.error, attempt.durationMilliseconds,
                ])
            }
        }
    }

    public func releaseAllLeases() async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE deliveries SET lease_until = NULL WHERE lease_until IS NOT NULL")
        }
    }

    public func nextDueTime() async throws -> Date? {
        try await pool.read { db in
            try Int64.fetchOne(db, sql: "SELECT MIN(next_attempt_at) FROM deliveries WHERE status = 'pending'").map(date)
        }
    }

    public func deliveries(_ query: DeliveryQuery) async throws -> [Delivery] {
        try await pool.read { db in
            var clauses: [String] = []
            var arguments: StatementArguments = []
            if let status = query.status {
                clauses.append("status = ?")
                _ = arguments.append(contentsOf: [status.rawValue])
            }
            if let subscription = query.subscriptionID {
                clauses.append("subscription_id = ?")
                _ = arguments.append(contentsOf: [subscription])
            }
            if let before = query.before {
                clauses.append("id < ?")
                _ = arguments.append(contentsOf: [before])
            }
            let whereClause = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
            _ = arguments.append(contentsOf: [query.limit])
            return try Row.fetchAll(
                db, sql: "SELECT * FROM deliveries \(whereClause) ORDER BY id DESC LIMIT ?", arguments: arguments
            ).map(Self.delivery(from:))
        }
    }

    public func delivery(id: String) async throws -> Delivery? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM deliveries WHERE id = ?", arguments: [id]).map(Self.delivery(from:))
        }
    }

    public func attempts(deliveryID: String) async throws -> [AttemptRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM delivery_attempts WHERE delivery_id = ? ORDER BY at, rowid", arguments: [deliveryID]).map { row in
                AttemptRecord(
                    deliveryID: row["delivery_id"], at: date(row["at"]),
                    outcome: AttemptRecord.Outcome(rawValue: row["outcome"]) ?? .failed, statusCode: row["status_code"],
                    error: row["error"], durationMilliseconds: row["duration_ms"])
            }
        }
    }

    public func retryDelivery(id: String, now: Date) async throws -> Delivery? {
        try await pool.write { db in
            try db.execute(
                sql: """
                    UPDATE deliveries SET status = 'pending', next_attempt_at = ?, updated_at = ?, lease_until = NULL
                    WHERE id = ? AND status = 'failed'
                    """,
                arguments: [ms(now), ms(now), id])
            return try Row.fetchOne(db, sql: "SELECT * FROM deliveries WHERE id = ?", arguments: [id]).map(Self.delivery(from:))
        }
    }

    public func deliveryCounts() async throws -> [DeliveryStatus: Int] {
        try await pool.read { db in
            var counts: [DeliveryStatus: Int] = [:]
            for status in DeliveryStatus.allCases { counts[status] = 0 }
            for row in try Row.fetchAll(db, sql: "SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status") {
                if let status = DeliveryStatus(rawValue: row["status"]) { counts[status] = row["n"] }
            }
            return counts
        }
    }

    // MARK: Rows

    private static func subscription(from row: Row) throws -> Subscription {
        let filterText: String = row["filter"]
        let filter: EventFilter
        do {
            filter = try JSONDecoder().decode(EventFilter.self, from: Data(filterText.utf8))
        } catch {
            throw StoreError.corrupt("stored filter of subscription \(row["id"] as String) cannot be read: \(error)")
        }
        guard let kind = SubscriptionKind(rawValue: row["kind"]) else {
            throw StoreError.corrupt("stored subscription \(row["id"] as String) has unknown type \(row["kind"] as String)")
        }
        return Subscription(
            id: row["id"], kind: kind, url: row["url"], signingSecret: row["signing_secret"], slackIcon: row["slack_icon"],
            slackUsername: row["slack_username"], filter: filter, origin: .api, createdAt: date(row["created_at"]),
            updatedAt: date(row["updated_at"]))
    }

    private static func delivery(from row: Row) -> Delivery {
        Delivery(
            id: row["id"], eventKey: row["event_key"], subscriptionID: row["subscription_id"], matchedBy: row["matched_by"],
            status: DeliveryStatus(rawValue: row["status"]) ?? .pending, attempts: row["attempts"],
            nextAttemptAt: date(row["next_attempt_at"]), createdAt: date(row["created_at"]), updatedAt: date(row["updated_at"]),
            deliveredAt: (row["delivered_at"] as Int64?).map(date), lastStatusCode: row["last_status_code"], lastError: row["last_error"])
    }

    private static func encode(_ filter: EventFilter) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(filter), as: UTF8.self)
    }
}

private func ms(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
private func date(_ milliseconds: Int64) -> Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }
