import EventModel
import Foundation
import GRDB
import Store

/// The embedded default store: one SQLite file in WAL mode (GRDB's DatabasePool: one writer,
/// concurrent readers), versioned migrations, `synchronous=NORMAL` (durable across process
/// crashes such as kill -9; WAL keeps committed transactions).
public final class SQLiteStore: RelayStore {
    let pool: DatabasePool
    public let path: String
    /// Reads each subscription's settings document (the sink registry, handed in).
    private let sinks: SinkKinds

    public init(path: String, sinks: SinkKinds) throws {
        self.path = path
        self.sinks = sinks
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
        migrator.registerMigration("v4: delivery lanes: claims by subscription, fenced leases, dead letters, subscription state, counts") { db in
            try db.execute(sql: """
                ALTER TABLE deliveries ADD COLUMN lease_owner TEXT;
                ALTER TABLE deliveries ADD COLUMN lease_token INTEGER;
                UPDATE deliveries SET status = 'dead_letter' WHERE status = 'failed';
                DROP INDEX deliveries_due;
                DROP INDEX deliveries_by_subscription;
                -- A lane's claim: its due rows, oldest due first; and in order of arrival for FIFO lanes.
                CREATE INDEX deliveries_lane ON deliveries(subscription_id, status, next_attempt_at, id);
                CREATE INDEX deliveries_fifo ON deliveries(subscription_id, status, id);
                CREATE INDEX deliveries_by_status ON deliveries(status, updated_at);
                CREATE TABLE subscription_state (
                    subscription_id TEXT PRIMARY KEY,
                    paused_at INTEGER,
                    disabled_at INTEGER,
                    disabled_reason TEXT,
                    failing_since INTEGER,
                    updated_at INTEGER NOT NULL
                ) WITHOUT ROWID;
                -- Counts kept by triggers, so neither the API nor a metrics scrape scans the outbox.
                CREATE TABLE delivery_counts (
                    subscription_id TEXT NOT NULL,
                    status TEXT NOT NULL,
                    n INTEGER NOT NULL,
                    PRIMARY KEY (subscription_id, status)
                ) WITHOUT ROWID;
                INSERT INTO delivery_counts (subscription_id, status, n)
                    SELECT subscription_id, status, COUNT(*) FROM deliveries GROUP BY subscription_id, status;
                CREATE TRIGGER deliveries_counted_insert AFTER INSERT ON deliveries BEGIN
                    INSERT INTO delivery_counts (subscription_id, status, n) VALUES (NEW.subscription_id, NEW.status, 1)
                        ON CONFLICT (subscription_id, status) DO UPDATE SET n = n + 1;
                END;
                CREATE TRIGGER deliveries_counted_update AFTER UPDATE OF status ON deliveries WHEN OLD.status <> NEW.status BEGIN
                    UPDATE delivery_counts SET n = n - 1 WHERE subscription_id = OLD.subscription_id AND status = OLD.status;
                    INSERT INTO delivery_counts (subscription_id, status, n) VALUES (NEW.subscription_id, NEW.status, 1)
                        ON CONFLICT (subscription_id, status) DO UPDATE SET n = n + 1;
                END;
                CREATE TRIGGER deliveries_counted_delete AFTER DELETE ON deliveries BEGIN
                    UPDATE delivery_counts SET n = n - 1 WHERE subscription_id = OLD.subscription_id AND status = OLD.status;
                END;
                ALTER TABLE subscriptions ADD COLUMN delivery_options TEXT;
                """)
        }
        migrator.registerMigration("v5: webhook secret rotation and custom headers") { db in
            // JSON arrays (see StoredSecrets); secrets, like signing_secret.
            try db.execute(sql: """
                ALTER TABLE subscriptions ADD COLUMN previous_secrets TEXT NOT NULL DEFAULT '[]';
                ALTER TABLE subscriptions ADD COLUMN headers TEXT NOT NULL DEFAULT '[]';
                """)
        }
        migrator.registerMigration("v6: delivery log: replays, lookups by status, retention") { db in
            // A replay owes an event to a subscription a second time: one delivery per event and
            // subscription is no longer a rule of the table (ingest dedupes by ingested_events).
            try db.execute(sql: """
                DROP INDEX deliveries_once;
                CREATE INDEX deliveries_by_event ON deliveries(event_key, subscription_id);
                CREATE INDEX deliveries_status_id ON deliveries(status, id);
                CREATE INDEX deliveries_by_subscription_time ON deliveries(subscription_id, created_at);
                CREATE INDEX deliveries_by_subscription_id ON deliveries(subscription_id, id);
                """)
        }
        migrator.registerMigration("v7: events say how their body is written, so deliveries use its bytes as they are") { db in
            // 1: `StoredEvent`'s canonical JSON (Event.makeEncoder()), spliced into webhook
            // bodies without decoding. NULL (written before): decoded and re-encoded when claimed.
            try db.execute(sql: "ALTER TABLE events ADD COLUMN body_format INTEGER")
        }
        migrator.registerMigration("v8: a subscription's kind settings as one document, so a new kind needs no new column") { db in
            try db.execute(sql: "ALTER TABLE subscriptions ADD COLUMN settings TEXT NOT NULL DEFAULT '{}'")
            for row in try Row.fetchAll(db, sql: "SELECT * FROM subscriptions") {
                let document = try LegacySettings.document(row)
                try db.execute(sql: "UPDATE subscriptions SET settings = ? WHERE id = ?", arguments: [document, row["id"] as String])
            }
            try db.execute(sql: """
                ALTER TABLE subscriptions DROP COLUMN url;
                ALTER TABLE subscriptions DROP COLUMN signing_secret;
                ALTER TABLE subscriptions DROP COLUMN slack_icon;
                ALTER TABLE subscriptions DROP COLUMN slack_username;
                ALTER TABLE subscriptions DROP COLUMN previous_secrets;
                ALTER TABLE subscriptions DROP COLUMN headers;
                """)
        }
        migrator.registerMigration("v9: the chat message each story (a deployment) was posted as, to update it later") { db in
            try db.execute(sql: """
                CREATE TABLE message_threads (
                    subscription_id TEXT NOT NULL,
                    thread_key TEXT NOT NULL,
                    channel TEXT NOT NULL,
                    ts TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    PRIMARY KEY (subscription_id, thread_key)
                ) WITHOUT ROWID;
                CREATE INDEX message_threads_by_time ON message_threads(created_at);
                """)
        }
        migrator.registerMigration("v10: deliveries in order per key (an app), so one app's retry holds only its own") { db in
            // Rows still owed get their event's key (`Event.orderKey`, read from its stored JSON),
            // so those queued before the upgrade stay in order with the same app's new ones.
            try db.execute(sql: """
                ALTER TABLE deliveries ADD COLUMN order_key TEXT NOT NULL DEFAULT '';
                UPDATE deliveries SET order_key = (
                    SELECT COALESCE(json_extract(e.body, '$.source'), '') || char(31)
                        || COALESCE(json_extract(e.body, '$.project_id'), json_extract(e.body, '$.project'), '') || char(31)
                        || COALESCE(json_extract(e.body, '$.environment'), '') || char(31)
                        || COALESCE(json_extract(e.body, '$.app'), json_extract(e.body, '$.app_id'), '')
                    FROM events e WHERE e.key = deliveries.event_key AND json_valid(e.body))
                WHERE status = 'pending' AND EXISTS (SELECT 1 FROM events e WHERE e.key = deliveries.event_key AND json_valid(e.body));
                CREATE INDEX deliveries_keyed ON deliveries(subscription_id, status, order_key, id);
                """)
        }
        migrator.registerMigration("v12: policies remember in the store (throttles, digests, last states), deliveries say why, mutes") { db in
            try db.execute(sql: """
                CREATE TABLE policy_state (
                    policy TEXT NOT NULL,
                    key TEXT NOT NULL,
                    value TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    due_at INTEGER,
                    updated_at INTEGER NOT NULL,
                    PRIMARY KEY (policy, key)
                ) WITHOUT ROWID;
                CREATE INDEX policy_state_due ON policy_state(due_at) WHERE due_at IS NOT NULL;
                CREATE INDEX policy_state_age ON policy_state(policy, updated_at);
                ALTER TABLE deliveries ADD COLUMN note TEXT;
                CREATE TABLE mutes (
                    id TEXT PRIMARY KEY,
                    rule TEXT,
                    subscription TEXT,
                    filter TEXT,
                    starts_at INTEGER NOT NULL,
                    ends_at INTEGER NOT NULL,
                    comment TEXT NOT NULL,
                    origin TEXT NOT NULL,
                    created_at INTEGER NOT NULL
                );
                """)
        }
        return migrator
    }

    // MARK: Message threads

    public func thread(subscriptionID: String, key: String) async throws -> MessageThread? {
        try await pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT channel, ts FROM message_threads WHERE subscription_id = ? AND thread_key = ?", arguments: [subscriptionID, key]
            ).map { MessageThread(channel: $0[0], ts: $0[1]) }
        }
    }

    public func saveThread(subscriptionID: String, key: String, _ thread: MessageThread, now: Date) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO message_threads (subscription_id, thread_key, channel, ts, created_at) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (subscription_id, thread_key) DO UPDATE SET channel = excluded.channel, ts = excluded.ts,
                        created_at = excluded.created_at
                    """,
                arguments: [subscriptionID, key, thread.channel, thread.ts, ms(now)])
        }
    }

    public func pruneThreads(before: Date) async throws -> Int {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM message_threads WHERE created_at < ?", arguments: [ms(before)])
            return db.changesCount
        }
    }

    public func ping() async throws {
        _ = try await pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    // MARK: Subscriptions

    public func listSubscriptions() async throws -> [Subscription] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM subscriptions ORDER BY id").map(self.subscription(from:))
        }
    }

    public func subscription(id: String) async throws -> Subscription? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM subscriptions WHERE id = ?", arguments: [id]).map(self.subscription(from:))
        }
    }

    public func insertSubscription(_ subscription: Subscription) async throws {
        let filter = try Self.encode(subscription.filter)
        let options = try Self.encode(subscription.delivery)
        let settings = Self.encode(subscription.settings)
        try await pool.write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM subscriptions WHERE id = ?", arguments: [subscription.id]) == true {
                throw StoreError.conflict("a subscription with id \(subscription.id) already exists")
            }
            try db.execute(
                sql: """
                    INSERT INTO subscriptions (id, kind, settings, filter, created_at, updated_at, delivery_options)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    subscription.id, subscription.kind, settings, filter, ms(subscription.createdAt), ms(subscription.updatedAt), options,
                ])
        }
    }

    public func updateSubscription(_ subscription: Subscription) async throws {
        let filter = try Self.encode(subscription.filter)
        let options = try Self.encode(subscription.delivery)
        let settings = Self.encode(subscription.settings)
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE subscriptions SET kind = ?, settings = ?, filter = ?, updated_at = ?, delivery_options = ? WHERE id = ?",
                arguments: [subscription.kind, settings, filter, ms(subscription.updatedAt), options, subscription.id])
            if db.changesCount == 0 { throw StoreError.notFound("no subscription with id \(subscription.id)") }
        }
    }

    public func deleteSubscription(id: String, now: Date) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM subscriptions WHERE id = ?", arguments: [id])
            guard db.changesCount > 0 else { return false }
            try db.execute(sql: "DELETE FROM message_threads WHERE subscription_id = ?", arguments: [id])
            // Nothing is dropped silently: what was still owed to it stays visible as failed.
            try db.execute(
                sql: """
                    UPDATE deliveries SET status = 'dead_letter', last_error = 'subscription deleted', updated_at = ?, lease_until = NULL,
                    lease_owner = NULL, lease_token = NULL
                    WHERE subscription_id = ? AND status = 'pending'
                    """,
                arguments: [ms(now), id])
            try db.execute(sql: "DELETE FROM subscription_state WHERE subscription_id = ?", arguments: [id])
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
        let bodies = try commit.items.map { item in
            item.deliveries.isEmpty ? nil : String(decoding: try StoredEvent(item.event).json, as: UTF8.self)
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
            let remember = try db.cachedStatement(sql: "INSERT OR IGNORE INTO ingested_events (key, first_seen) VALUES (?, ?)")
            let event = try db.cachedStatement(
                sql: """
                    INSERT OR IGNORE INTO events (key, source, feed, type, time, body, created_at, body_format)
                    VALUES (?, ?, ?, ?, ?, ?, ?, \(Self.canonicalBody))
                    """)
            let delivery = try db.cachedStatement(
                sql: """
                    INSERT OR IGNORE INTO deliveries (id, event_key, subscription_id, matched_by, status, attempts, next_attempt_at, created_at, updated_at, order_key, note)
                    VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)
                    """)
            var result = IngestResult(newEvents: 0, duplicates: 0, deliveries: 0)
            for (item, body) in zip(commit.items, bodies) {
                let key = item.event.key
                try remember.execute(arguments: [key, now])
                guard db.changesCount > 0 else {
                    // The stages decided as if it were new: their state writes would count it twice.
                    if !commit.stateWrites.isEmpty { throw StoreError.stale("event \(key) was ingested meanwhile") }
                    result.duplicates += 1
                    continue
                }
                result.newEvents += 1
                guard let body else { continue }
                try event.execute(arguments: [key, item.event.source, item.event.feed, item.event.type, ms(item.event.time), body, now])
                let orderKey = item.event.orderKey
                for owed in item.deliveries {
                    try delivery.execute(arguments: [
                        owed.id, key, owed.subscriptionID, owed.matchedBy, owed.status.rawValue, owed.notBefore.map(ms) ?? now, now, now, orderKey,
                        owed.note,
                    ])
                    result.deliveries += db.changesCount
                    if owed.status.isSuppressed { result.suppressed += db.changesCount }
                }
            }
            result.evictedStates = try Self.writeStates(commit.stateWrites, now: now, db)
            try db.cachedStatement(sql: "DELETE FROM ingested_events WHERE first_seen < ?")
                .execute(arguments: [now - Int64(Self.dedupeRetention * 1000)])
            return result
        }
    }

    // MARK: Subscription state

    public func subscriptionStates() async throws -> [String: SubscriptionState] {
        try await pool.read { db in
            var states: [String: SubscriptionState] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT * FROM subscription_state") {
                states[row["subscription_id"]] = SubscriptionState(
                    pausedAt: (row["paused_at"] as Int64?).map(date), disabledAt: (row["disabled_at"] as Int64?).map(date),
                    disabledReason: row["disabled_reason"], failingSince: (row["failing_since"] as Int64?).map(date))
            }
            return states
        }
    }

    public func setPaused(subscriptionID: String, _ paused: Bool, now: Date) async throws {
        try await setState(subscriptionID, column: "paused_at", value: paused ? ms(now) : nil, now: now)
    }

    public func setDisabled(subscriptionID: String, reason: String?, now: Date) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO subscription_state (subscription_id, disabled_at, disabled_reason, failing_since, updated_at) VALUES (?, ?, ?, NULL, ?)
                    ON CONFLICT (subscription_id) DO UPDATE SET disabled_at = excluded.disabled_at,
                    disabled_reason = excluded.disabled_reason, failing_since = NULL, updated_at = excluded.updated_at
                    """,
                arguments: [subscriptionID, reason == nil ? nil : ms(now), reason, ms(now)])
        }
    }

    public func resume(subscriptionID: String, now: Date) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    UPDATE subscription_state SET paused_at = NULL, disabled_at = NULL, disabled_reason = NULL, failing_since = NULL,
                    updated_at = ? WHERE subscription_id = ?
                    """,
                arguments: [ms(now), subscriptionID])
        }
    }

    public func setFailingSince(subscriptionID: String, _ since: Date?, now: Date) async throws {
        try await setState(subscriptionID, column: "failing_since", value: since.map(ms), now: now)
    }

    private func setState(_ id: String, column: String, value: Int64?, now: Date) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO subscription_state (subscription_id, \(column), updated_at) VALUES (?, ?, ?)
                    ON CONFLICT (subscription_id) DO UPDATE SET \(column) = excluded.\(column), updated_at = excluded.updated_at
                    """,
                arguments: [id, value, ms(now)])
        }
    }

    // MARK: Outbox

    /// `events.body_format` of bodies in `StoredEvent`'s canonical form.
    static let canonicalBody = 1

    public func claimDeliveries(_ lanes: [LaneClaim], now: Date, lease: Lease) async throws -> [LaneClaimResult] {
        guard !lanes.isEmpty else { return [] }
        // The write transaction only reads and leases rows; the events' bytes are checked after it.
        let claimed = try await pool.write { db -> [(String, [ClaimedRow], Date?)] in
            let nowMS = ms(now)
            let columns = ClaimedRow.columns
            let due = try db.cachedStatement(
                sql: """
                    SELECT \(columns) FROM deliveries d JOIN events e ON e.key = d.event_key
                    WHERE d.subscription_id = ? AND d.status = 'pending' AND d.next_attempt_at <= ?
                    ORDER BY d.next_attempt_at, d.id LIMIT ?
                    """)
            let oldest = try db.cachedStatement(
                sql: """
                    SELECT \(columns) FROM deliveries d JOIN events e ON e.key = d.event_key
                    WHERE d.subscription_id = ? AND d.status = 'pending' ORDER BY d.id LIMIT ?
                    """)
            let soonest = try db.cachedStatement(
                sql: """
                    SELECT \(columns) FROM deliveries d JOIN events e ON e.key = d.event_key
                    WHERE d.subscription_id = ? AND d.status = 'pending' ORDER BY d.next_attempt_at, d.id LIMIT ?
                    """)
            let nextDue = try db.cachedStatement(
                sql: "SELECT MIN(next_attempt_at) FROM deliveries WHERE subscription_id = ? AND status = 'pending'")
            // Leased rows are not due before the lease ends: a lease that ends unrecorded makes them due again.
            let take = try db.cachedStatement(
                sql: """
                    UPDATE deliveries SET lease_until = ?, lease_owner = ?, lease_token = ?, next_attempt_at = ?
                    WHERE id = ? AND status = 'pending'
                    """)
            var results: [(String, [ClaimedRow], Date?)] = []
            var keyed: KeyedClaim?
            for lane in lanes where lane.limit > 0 {
                var rows: [ClaimedRow]
                var laneNextDue: Date?
                if lane.probe, lane.keyed {
                    let claim = try keyed ?? KeyedClaim(db)
                    keyed = claim
                    (rows, laneNextDue) = try claim.probe(lane, nowMS: nowMS)
                } else if lane.probe {
                    // The breaker's probe: the lane's next delivery, due or not, if not leased.
                    let next = try ClaimedRow.fetchAll(lane.ordered ? oldest : soonest, arguments: [lane.subscriptionID, 1])
                    rows = next.filter { $0.leaseToken == nil || ($0.leaseUntil ?? 0) <= nowMS }
                    // Nothing to take: the next is leased, and due again when its lease ends.
                    if rows.isEmpty { laneNextDue = next.first?.delivery.nextAttemptAt }
                } else if lane.ordered {
                    // FIFO: the oldest pending rows, up to the first that is not due (a retry
                    // waiting, or one in flight): none behind it may overtake it.
                    let head = try ClaimedRow.fetchAll(oldest, arguments: [lane.subscriptionID, lane.limit])
                    rows = Array(head.prefix { $0.nextAttemptAtMS <= nowMS })
                    if rows.count < lane.limit {
                        laneNextDue = rows.count < head.count ? head[rows.count].delivery.nextAttemptAt : nil
                    }
                } else if lane.keyed {
                    let claim = try keyed ?? KeyedClaim(db)
                    keyed = claim
                    (rows, laneNextDue) = try claim.claim(lane, nowMS: nowMS)
                } else {
                    rows = try ClaimedRow.fetchAll(due, arguments: [lane.subscriptionID, nowMS, lane.limit])
                }
                for row in rows {
                    try take.execute(arguments: [ms(lease.until), lease.owner, lease.token, ms(lease.until), row.delivery.id])
                }
                if !lane.ordered, !lane.keyed, !lane.probe, rows.count < lane.limit {
                    // After the takes: what is left is a retry waiting or a lease running out.
                    laneNextDue = try Int64.fetchOne(nextDue, arguments: [lane.subscriptionID]).map(date)
                }
                results.append((lane.subscriptionID, rows, laneNextDue))
            }
            return results
        }
        // A stored event that cannot be read (a damaged row) makes its delivery a dead letter,
        // saying why, instead of failing the whole claim round again at every lease's end.
        var unreadable: [(id: String, reason: String)] = []
        let results = claimed.map { subscriptionID, rows, nextDue in
            LaneClaimResult(
                subscriptionID: subscriptionID,
                deliveries: rows.compactMap { row -> ClaimedDelivery? in
                    do {
                        return ClaimedDelivery(delivery: row.delivery, event: try row.storedEvent(), lease: lease, orderKey: row.orderKey)
                    } catch {
                        unreadable.append((row.delivery.id, "\(error)"))
                        return nil
                    }
                }, nextDue: nextDue)
        }
        if !unreadable.isEmpty {
            let dead = unreadable
            try await pool.write { db in
                let deadLetter = try db.cachedStatement(
                    sql: """
                        UPDATE deliveries SET status = 'dead_letter', last_error = ?, updated_at = ?, lease_until = NULL, lease_owner = NULL,
                        lease_token = NULL WHERE id = ? AND lease_token = ?
                        """)
                for (id, reason) in dead { try deadLetter.execute(arguments: [String(reason.prefix(500)), ms(now), id, lease.token]) }
            }
        }
        return results
    }

    /// A lane ordered by key: each key's oldest pending rows up to the first that is not due (a
    /// retry waiting, or one leased: in flight), shared round-robin between the keys, oldest head
    /// first. Keys are found by skipping through the index `(subscription_id, status, order_key,
    /// id)`, one seek each, so a deep backlog of one key costs no more than a shallow one.
    private struct KeyedClaim {
        let firstKey: Statement
        let nextKey: Statement
        let rowsOfKey: Statement
        /// Keys looked at per claim, at most: beyond it, keys wait for a later claim.
        static let maxKeys = 4096

        init(_ db: Database) throws {
            firstKey = try db.cachedStatement(
                sql: "SELECT order_key FROM deliveries WHERE subscription_id = ? AND status = 'pending' ORDER BY order_key LIMIT 1")
            nextKey = try db.cachedStatement(
                sql: """
                    SELECT order_key FROM deliveries WHERE subscription_id = ? AND status = 'pending' AND order_key > ?
                    ORDER BY order_key LIMIT 1
                    """)
            rowsOfKey = try db.cachedStatement(
                sql: """
                    SELECT \(ClaimedRow.columns) FROM deliveries d JOIN events e ON e.key = d.event_key
                    WHERE d.subscription_id = ? AND d.status = 'pending' AND d.order_key = ? ORDER BY d.id LIMIT ?
                    """)
            headOfKey = try db.cachedStatement(
                sql: """
                    SELECT id, next_attempt_at, lease_until FROM deliveries WHERE subscription_id = ? AND status = 'pending' AND order_key = ?
                    ORDER BY id LIMIT 1
                    """)
            row = try db.cachedStatement(
                sql: "SELECT \(ClaimedRow.columns) FROM deliveries d JOIN events e ON e.key = d.event_key WHERE d.id = ?")
        }

        let headOfKey: Statement
        let row: Statement

        /// A key's oldest pending row, read lightly (no event body).
        struct Head {
            var key: String
            var id: String
            var nextAttemptAtMS: Int64
            var leaseUntilMS: Int64?
        }

        /// Every key's head, up to `maxKeys` keys visited (blocked or not), in key order.
        func heads(_ lane: LaneClaim) throws -> [Head] {
            var heads: [Head] = []
            var after: String?
            var visited = 0
            while visited < Self.maxKeys {
                // "" is a key too (rows written before keys existed): the first seek has no lower bound.
                let key: String?
                if let after {
                    key = try String.fetchOne(nextKey, arguments: [lane.subscriptionID, after])
                } else {
                    key = try String.fetchOne(firstKey, arguments: [lane.subscriptionID])
                }
                guard let key else { break }
                after = key
                visited += 1
                guard let found = try Row.fetchOne(headOfKey, arguments: [lane.subscriptionID, key]) else { continue }
                heads.append(Head(key: key, id: found[0], nextAttemptAtMS: found[1], leaseUntilMS: found[2]))
            }
            return heads
        }

        /// The breaker's (or a head) probe: one key's head that is not leased, due or not. Which
        /// key is drawn at random, so one delivery its receiver keeps refusing cannot be every
        /// probe while the other keys wait for their retries.
        func probe(_ lane: LaneClaim, nowMS: Int64) throws -> ([ClaimedRow], Date?) {
            let all = try heads(lane)
            let free = all.filter { ($0.leaseUntilMS ?? 0) <= nowMS }
            guard let pick = free.randomElement() else {
                // Nothing to take: the heads are leased, and due again when their leases end.
                return ([], all.map(\.nextAttemptAtMS).min().map(date))
            }
            return (try ClaimedRow.fetchAll(row, arguments: [pick.id]), nil)
        }

        /// The rows to lease, and (when fewer than asked) when the lane's next head is due.
        func claim(_ lane: LaneClaim, nowMS: Int64) throws -> ([ClaimedRow], Date?) {
            // Every key's head: the due ones take turns, the others say when to look again.
            var dueHeads: [Head] = []
            var blockedUntil: Int64?
            for head in try heads(lane) {
                if head.nextAttemptAtMS <= nowMS {
                    dueHeads.append(head)
                } else {
                    blockedUntil = min(blockedUntil ?? head.nextAttemptAtMS, head.nextAttemptAtMS)
                }
            }
            dueHeads.sort { $0.id < $1.id }
            if dueHeads.count >= lane.limit {
                var rows: [ClaimedRow] = []
                for head in dueHeads.prefix(lane.limit) { rows += try ClaimedRow.fetchAll(row, arguments: [head.id]) }
                return (rows, nil)
            }
            let heads = dueHeads
            // Fewer keys than slots: each key's due run, taken a row per key per turn.
            let quota = (lane.limit + max(1, heads.count) - 1) / max(1, heads.count)
            var runs: [[ClaimedRow]] = []
            /// A key's run: its due rows from the head, at most `count`; full when it may go on.
            func run(_ key: String, _ count: Int) throws -> (rows: [ClaimedRow], full: Bool) {
                let rows = try ClaimedRow.fetchAll(rowsOfKey, arguments: [lane.subscriptionID, key, count])
                let due = rows.prefix { $0.nextAttemptAtMS <= nowMS }
                if due.count < rows.count {
                    // The run stops at a row waiting: the lane looks again when it is due.
                    let waiting = rows[due.count].nextAttemptAtMS
                    blockedUntil = min(blockedUntil ?? waiting, waiting)
                }
                return (Array(due), due.count == count)
            }
            var full: [Int] = []
            for head in heads {
                let (rows, isFull) = try run(head.key, quota)
                if isFull { full.append(runs.count) }
                runs.append(rows)
            }
            // Short runs leave slots: the runs that may go on take them (a second read of those).
            let spare = lane.limit - runs.reduce(0) { $0 + $1.count }
            if spare > 0, !full.isEmpty {
                let more = quota + (spare + full.count - 1) / full.count
                for index in full { runs[index] = try run(heads[index].key, more).rows }
            }
            var taken: [ClaimedRow] = []
            var turn = 0
            while taken.count < lane.limit {
                var any = false
                for run in runs where turn < run.count && taken.count < lane.limit {
                    taken.append(run[turn])
                    any = true
                }
                if !any { break }
                turn += 1
            }
            return (taken, taken.count < lane.limit ? blockedUntil.map(date) : nil)
        }
    }

    /// A claimed outbox row and its event's stored bytes, as read in the claim's transaction.
    private struct ClaimedRow {
        var delivery: Delivery
        var nextAttemptAtMS: Int64
        var leaseToken: Int64?
        var leaseUntil: Int64?
        var source: String
        var body: [UInt8]
        var canonical: Bool
        var type: String
        var orderKey: String

        /// Read by position, in this order (a lookup by name lowercases the name for every row).
        static let columns = """
            d.id, d.event_key, d.subscription_id, d.matched_by, d.status, d.attempts, d.next_attempt_at, d.created_at, d.updated_at,
            d.delivered_at, d.last_status_code, d.last_error, d.lease_token, d.lease_until, e.source, e.body, e.body_format, e.type,
            d.order_key, d.note
            """

        static func fetchAll(_ statement: Statement, arguments: StatementArguments) throws -> [ClaimedRow] {
            // A cursor reads each row in place (no copy of it); the row is converted at once.
            try Array(Row.fetchCursor(statement, arguments: arguments).map(ClaimedRow.init))
        }

        private init(_ row: Row) {
            nextAttemptAtMS = row[6]
            delivery = Delivery(
                id: row[0], eventKey: row[1], subscriptionID: row[2], matchedBy: row[3],
                status: DeliveryStatus(rawValue: row[4]) ?? .pending, attempts: row[5],
                nextAttemptAt: date(nextAttemptAtMS), createdAt: date(row[7]), updatedAt: date(row[8]),
                deliveredAt: (row[9] as Int64?).map(date), lastStatusCode: row[10], lastError: row[11], note: row[19])
            leaseToken = row[12]
            leaseUntil = row[13]
            source = row[14]
            // TEXT, read as its UTF-8 bytes (no String made).
            body = (row[15] as Data?).map(Array.init) ?? []
            canonical = (row[16] as Int?) == SQLiteStore.canonicalBody
            type = row[17]
            orderKey = row[18]
        }

        func storedEvent() throws -> StoredEvent {
            let key = delivery.eventKey
            let id = key.hasPrefix(source + ":") ? String(decoding: key.utf8.dropFirst(source.utf8.count + 1), as: UTF8.self) : key
            if canonical, let stored = StoredEvent(source: source, id: id, type: type, canonicalJSON: body) { return stored }
            // Written before v7 (by an earlier encoder, perhaps): decoded, and encoded the way it is now.
            do {
                return try StoredEvent(try Event.makeDecoder().decode(Event.self, from: Data(body)))
            } catch {
                throw StoreError.corrupt("stored event \(key) cannot be read: \(error)")
            }
        }
    }

    @discardableResult
    public func recordAttempts(_ attempts: [AttemptRecord]) async throws -> [String] {
        guard !attempts.isEmpty else { return [] }
        return try await pool.write { db in
            let log = try db.cachedStatement(
                sql: "INSERT INTO delivery_attempts (delivery_id, at, outcome, status_code, error, duration_ms) VALUES (?, ?, ?, ?, ?, ?)")
            // A breaker's probe that failed (not counted: the destination is still down) is logged
            // unless the same delivery failed with the same status in the last minute (the reason's
            // text is not compared: it often carries a request id): probes go twice a second, and a
            // destination down for days would otherwise fill the log.
            let probeLog = try db.cachedStatement(
                sql: """
                    INSERT INTO delivery_attempts (delivery_id, at, outcome, status_code, error, duration_ms)
                    SELECT ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (
                        SELECT 1 FROM delivery_attempts WHERE delivery_id = ? AND at > ? AND outcome = ? AND status_code IS ?)
                    """)
            // Fenced: only the holder of the current lease (or a record made without one) changes the row.
            let fence = "status = 'pending' AND (? IS NULL OR lease_token = ?)"
            let delivered = try db.cachedStatement(
                sql: """
                    UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, lease_until = NULL, lease_owner = NULL,
                    lease_token = NULL, updated_at = ?, delivered_at = ?, last_status_code = ?, last_error = NULL WHERE id = ? AND \(fence)
                    """)
            let retry = try db.cachedStatement(
                sql: """
                    UPDATE deliveries SET attempts = attempts + ?, lease_until = NULL, lease_owner = NULL, lease_token = NULL, updated_at = ?,
                    next_attempt_at = ?, last_status_code = COALESCE(?, last_status_code), last_error = COALESCE(?, last_error)
                    WHERE id = ? AND \(fence)
                    """)
            let dead = try db.cachedStatement(
                sql: """
                    UPDATE deliveries SET status = 'dead_letter', attempts = attempts + ?, lease_until = NULL, lease_owner = NULL,
                    lease_token = NULL, updated_at = ?, last_status_code = ?, last_error = ? WHERE id = ? AND \(fence)
                    """)
            var fenced: [String] = []
            for attempt in attempts {
                let at = ms(attempt.at)
                let counted = attempt.counted ? 1 : 0
                let token = attempt.leaseToken
                switch attempt.next {
                case .delivered:
                    try delivered.execute(arguments: [at, at, attempt.statusCode, attempt.deliveryID, token, token])
                case .retry(let next):
                    try retry.execute(arguments: [counted, at, ms(next), attempt.statusCode, attempt.error, attempt.deliveryID, token, token])
                case .wait(let until):
                    try retry.execute(arguments: [counted, at, ms(until), attempt.statusCode, attempt.error, attempt.deliveryID, token, token])
                case .deadLetter:
                    try dead.execute(arguments: [counted, at, attempt.statusCode, attempt.error, attempt.deliveryID, token, token])
                }
                if db.changesCount == 0 { fenced.append(attempt.deliveryID) }
                guard attempt.outcome != .deferred else { continue }  // Not an attempt: nothing was sent.
                if !attempt.counted, attempt.outcome == .retry {
                    try probeLog.execute(arguments: [
                        attempt.deliveryID, at, attempt.outcome.rawValue, attempt.statusCode, attempt.error, attempt.durationMilliseconds,
                        attempt.deliveryID, at - 60_000, attempt.outcome.rawValue, attempt.statusCode,
                    ])
                    continue
                }
                try log.execute(arguments: [
                    attempt.deliveryID, at, attempt.outcome.rawValue, attempt.statusCode, attempt.error, attempt.durationMilliseconds,
                ])
            }
            return fenced
        }
    }

    public func expediteRetries(subscriptionID: String, now: Date) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    UPDATE deliveries SET next_attempt_at = ? WHERE subscription_id = ? AND status = 'pending'
                    AND next_attempt_at > ? AND lease_token IS NULL
                    """,
                arguments: [ms(now), subscriptionID, ms(now)])
        }
    }

    public func subscriptionsWithPendingDeliveries() async throws -> Set<String> {
        try await pool.read { db in
            Set(try String.fetchAll(db, sql: "SELECT subscription_id FROM delivery_counts WHERE status = 'pending' AND n > 0"))
        }
    }

    public func deadLetterPending(subscriptionID: String, reason: String, now: Date) async throws -> Int {
        try await pool.write { db in
            try db.execute(
                sql: """
                    UPDATE deliveries SET status = 'dead_letter', last_error = ?, updated_at = ?, lease_until = NULL, lease_owner = NULL,
                    lease_token = NULL WHERE subscription_id = ? AND status = 'pending'
                    """,
                arguments: [reason, ms(now), subscriptionID])
            return db.changesCount
        }
    }

    // MARK: Delivery log

    public func deliveries(_ query: DeliveryQuery) async throws -> [Delivery] {
        try await pool.read { db in
            let (whereClause, arguments) = try Self.filter(query, db)
            var all = arguments
            _ = all.append(contentsOf: [query.limit])
            return try Row.fetchAll(
                db, sql: "SELECT * FROM deliveries \(whereClause) ORDER BY id DESC LIMIT ?", arguments: all
            ).map(Self.delivery(from:))
        }
    }

    /// The WHERE clause of a delivery query (status, subscription, event, source, time, cursor).
    static func filter(_ query: DeliveryQuery, status: String? = nil, _ db: Database) throws -> (String, StatementArguments) {
        var clauses: [String] = []
        var arguments: StatementArguments = []
        if let status = status ?? query.status?.rawValue {
            clauses.append("status = ?")
            _ = arguments.append(contentsOf: [status])
        }
        if let subscription = query.subscriptionID {
            clauses.append("subscription_id = ?")
            _ = arguments.append(contentsOf: [subscription])
        }
        if let key = query.eventKey {
            clauses.append("event_key = ?")
            _ = arguments.append(contentsOf: [key])
        }
        if let id = query.eventID {
            let keys = try eventKeys(id: id, db)
            if keys.isEmpty {
                clauses.append("0")
            } else {
                clauses.append("event_key IN (\(Array(repeating: "?", count: keys.count).joined(separator: ", ")))")
                _ = arguments.append(contentsOf: StatementArguments(keys))
            }
        }
        if let source = query.source {
            // Keys are `source:id`: a range, served by the index on event_key.
            clauses.append("event_key >= ? AND event_key < ?")
            _ = arguments.append(contentsOf: [source + ":", source + ";"])
        }
        if let since = query.since {
            clauses.append("created_at >= ?")
            _ = arguments.append(contentsOf: [ms(since)])
        }
        if let until = query.until {
            clauses.append("created_at < ?")
            _ = arguments.append(contentsOf: [ms(until)])
        }
        if let before = query.before {
            clauses.append("id < ?")
            _ = arguments.append(contentsOf: [before])
        }
        return (clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND "), arguments)
    }

    /// The key the id would have under each source the deliveries name (`<source>:<id>`): one
    /// seek per source on the index on event_key, skipping over each source's keys, never a scan.
    static func eventKeys(id: String, _ db: Database) throws -> [String] {
        let next = try db.cachedStatement(sql: "SELECT event_key FROM deliveries WHERE event_key >= ? ORDER BY event_key LIMIT 1")
        var keys: [String] = []
        var from = ""
        while let key = try String.fetchOne(next, arguments: [from]) {
            guard let colon = key.utf8.firstIndex(of: UInt8(ascii: ":")) else {
                from = key + "\u{1}"  // not a key `Event.key` writes; past it
                continue
            }
            let source = key[..<colon]
            keys.append(source + ":" + id)
            from = source + ";"  // `;` follows `:`: past every key of this source
        }
        return keys
    }

    public func retryDeadLetters(_ query: DeliveryQuery, of subscriptions: Set<String>, now: Date) async throws -> [Delivery] {
        guard !subscriptions.isEmpty else { return [] }
        return try await pool.write { db in
            var (whereClause, arguments) = try Self.filter(query, status: DeliveryStatus.deadLetter.rawValue, db)
            whereClause += " AND subscription_id IN (\(Array(repeating: "?", count: subscriptions.count).joined(separator: ", ")))"
            _ = arguments.append(contentsOf: StatementArguments(subscriptions.sorted()))
            var all = arguments
            _ = all.append(contentsOf: [query.limit])
            let ids = try String.fetchAll(db, sql: "SELECT id FROM deliveries \(whereClause) ORDER BY id LIMIT ?", arguments: all)
            let retry = try db.cachedStatement(
                sql: """
                    UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, updated_at = ?, lease_until = NULL,
                    lease_owner = NULL, lease_token = NULL WHERE id = ? AND status = 'dead_letter'
                    """)
            for id in ids { try retry.execute(arguments: [ms(now), ms(now), id]) }
            return try ids.compactMap { id in
                try Row.fetchOne(db, sql: "SELECT * FROM deliveries WHERE id = ?", arguments: [id]).map(Self.delivery(from:))
            }
        }
    }

    public func replay(subscriptionID: String, since: Date, until: Date, limit: Int, now: Date) async throws -> (count: Int, truncated: Bool) {
        try await pool.write { db in
            // Each event once (earlier replays made more rows for it), and not one still owed.
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT MIN(id) AS id, event_key FROM deliveries d WHERE subscription_id = ? AND status IN ('delivered', 'dead_letter')
                    AND created_at >= ? AND created_at < ?
                    AND NOT EXISTS (SELECT 1 FROM deliveries p WHERE p.event_key = d.event_key AND p.subscription_id = d.subscription_id
                        AND p.status = 'pending')
                    GROUP BY event_key ORDER BY MIN(id) LIMIT ?
                    """,
                arguments: [subscriptionID, ms(since), ms(until), limit + 1])
            let insert = try db.cachedStatement(
                sql: """
                    INSERT INTO deliveries (id, event_key, subscription_id, matched_by, status, attempts, next_attempt_at, created_at, updated_at, order_key)
                    SELECT ?, ?, ?, ?, 'pending', 0, ?, ?, ?, order_key FROM deliveries WHERE id = ?
                    """)
            // Oldest first, so a FIFO lane replays them in their order (and one ordered by key,
            // each key's: a replay keeps its original's key).
            for row in rows.prefix(limit) {
                let original: String = row["id"]
                try insert.execute(arguments: [
                    Identifier.make(prefix: "dlv", now: now), row["event_key"] as String, subscriptionID, "replay of \(original)",
                    ms(now), ms(now), ms(now), original,
                ])
            }
            return (min(rows.count, limit), rows.count > limit)
        }
    }

    public func prune(deliveredBefore: Date, deadBefore: Date, limit: Int) async throws -> PruneResult {
        try await pool.write { db in
            let victims = try Row.fetchAll(
                db,
                sql: """
                    SELECT id, event_key FROM (
                        SELECT id, event_key FROM deliveries WHERE status IN (\(Self.settledAsDelivered)) AND updated_at < ?
                        UNION ALL
                        SELECT id, event_key FROM deliveries WHERE status = 'dead_letter' AND updated_at < ?
                    ) LIMIT ?
                    """,
                arguments: [ms(deliveredBefore), ms(deadBefore), limit])
            guard !victims.isEmpty else { return PruneResult() }
            let delete = try db.cachedStatement(sql: "DELETE FROM deliveries WHERE id = ?")
            for victim in victims { try delete.execute(arguments: [victim["id"] as String]) }
            // Events nothing refers to any more (their dedupe key lives on in ingested_events).
            let orphan = try db.cachedStatement(
                sql: "DELETE FROM events WHERE key = ? AND NOT EXISTS (SELECT 1 FROM deliveries WHERE event_key = ?)")
            var events = 0
            for key in Set(victims.map { $0["event_key"] as String }) {
                try orphan.execute(arguments: [key, key])
                events += db.changesCount
            }
            return PruneResult(deliveries: victims.count, events: events)
        }
    }

    public func delivery(id: String) async throws -> Delivery? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM deliveries WHERE id = ?", arguments: [id]).map(Self.delivery(from:))
        }
    }

    public func attempts(deliveryID: String) async throws -> [DeliveryAttempt] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM delivery_attempts WHERE delivery_id = ? ORDER BY at, rowid", arguments: [deliveryID]).map { row in
                DeliveryAttempt(
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
                    UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, updated_at = ?, lease_until = NULL,
                    lease_owner = NULL, lease_token = NULL WHERE id = ? AND status = 'dead_letter'
                    """,
                arguments: [ms(now), ms(now), id])
            return try Row.fetchOne(db, sql: "SELECT * FROM deliveries WHERE id = ?", arguments: [id]).map(Self.delivery(from:))
        }
    }

    public func deliveryCounts() async throws -> [DeliveryStatus: Int] {
        try await pool.read { db in
            var counts: [DeliveryStatus: Int] = [:]
            for status in DeliveryStatus.allCases { counts[status] = 0 }
            for row in try Row.fetchAll(db, sql: "SELECT status, SUM(n) AS n FROM delivery_counts GROUP BY status") {
                if let status = DeliveryStatus(rawValue: row["status"]) { counts[status] = row["n"] }
            }
            return counts
        }
    }

    public func deliveryCounts(_ query: DeliveryQuery) async throws -> [DeliveryStatus: Int] {
        try await pool.read { db in
            var selection = query
            selection.before = nil  // the counts are of the whole selection, not of one page
            let sql: String
            let arguments: StatementArguments
            if selection.eventKey == nil, selection.eventID == nil, selection.source == nil, selection.since == nil, selection.until == nil {
                // By subscription and status only: the counts the triggers keep, no scan of the outbox.
                var clauses: [String] = []
                var values: StatementArguments = []
                if let subscription = selection.subscriptionID {
                    clauses.append("subscription_id = ?")
                    _ = values.append(contentsOf: [subscription])
                }
                if let status = selection.status {
                    clauses.append("status = ?")
                    _ = values.append(contentsOf: [status.rawValue])
                }
                let whereClause = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
                sql = "SELECT status, SUM(n) AS n FROM delivery_counts \(whereClause) GROUP BY status"
                arguments = values
            } else {
                let (whereClause, values) = try Self.filter(selection, db)
                sql = "SELECT status, COUNT(*) AS n FROM deliveries \(whereClause) GROUP BY status"
                arguments = values
            }
            var counts: [DeliveryStatus: Int] = [:]
            for status in DeliveryStatus.allCases { counts[status] = 0 }
            for row in try Row.fetchAll(db, sql: sql, arguments: arguments) {
                if let status = DeliveryStatus(rawValue: row["status"]) { counts[status] = row["n"] }
            }
            return counts
        }
    }

    public func deliveryCountsBySubscription() async throws -> [String: [DeliveryStatus: Int]] {
        try await pool.read { db in
            var counts: [String: [DeliveryStatus: Int]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT subscription_id, status, n FROM delivery_counts WHERE n > 0") {
                if let status = DeliveryStatus(rawValue: row["status"]) { counts[row["subscription_id"], default: [:]][status] = row["n"] }
            }
            return counts
        }
    }

    // MARK: Rows

    private func subscription(from row: Row) throws -> Subscription {
        let filterText: String = row["filter"]
        let filter: EventFilter
        do {
            filter = try JSONDecoder().decode(EventFilter.self, from: Data(filterText.utf8))
        } catch {
            throw StoreError.corrupt("stored filter of subscription \(row["id"] as String) cannot be read: \(error)")
        }
        var options = DeliveryOptions.none
        if let text: String = row["delivery_options"] {
            do {
                options = try JSONDecoder().decode(DeliveryOptions.self, from: Data(text.utf8))
            } catch {
                throw StoreError.corrupt("stored delivery options of subscription \(row["id"] as String) cannot be read: \(error)")
            }
        }
        let id: String = row["id"]
        let kindName: String = row["kind"]
        guard let kind = sinks.named(kindName) else {
            throw StoreError.corrupt("stored subscription \(id) has unknown type \(kindName)")
        }
        // Errors name the subscription and the key, never the stored values.
        let settings: any SinkSettings
        do {
            guard let document = try JSONValue.parse(Array((row["settings"] as String).utf8)).objectValue else {
                throw FieldError(field: "settings", message: "is not a JSON object")
            }
            settings = try kind.read(JSONSettingsSource(stored: document))
        } catch let error as FieldError {
            throw StoreError.corrupt("stored settings of subscription \(id) cannot be read: \(error)")
        } catch {
            throw StoreError.corrupt("stored settings of subscription \(id) are not JSON")
        }
        return Subscription(
            id: id, settings: settings, filter: filter, delivery: options, origin: .api, createdAt: date(row["created_at"]),
            updatedAt: date(row["updated_at"]))
    }

    private static func delivery(from row: Row) -> Delivery {
        Delivery(
            id: row["id"], eventKey: row["event_key"], subscriptionID: row["subscription_id"], matchedBy: row["matched_by"],
            status: DeliveryStatus(rawValue: row["status"]) ?? .pending, attempts: row["attempts"],
            nextAttemptAt: date(row["next_attempt_at"]), createdAt: date(row["created_at"]), updatedAt: date(row["updated_at"]),
            deliveredAt: (row["delivered_at"] as Int64?).map(date), lastStatusCode: row["last_status_code"], lastError: row["last_error"],
            note: row["note"])
    }

    /// The settings document, secrets in clear: only this file writes it.
    private static func encode(_ settings: any SinkSettings) -> String {
        String(decoding: JSONValue.object(settings.document()).encoded(), as: UTF8.self)
    }

    private static func encode(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

/// The columns a subscription's settings had before v8, turned into the settings document the
/// kinds of that time (webhook, slack) read: `url`, `secret`, `previous_secrets`
/// (`[{"secret", "expires_at" (Unix ms)}]`, as the column held them), `headers` (names to values),
/// `slack_username`, `slack_icon`.
enum LegacySettings {
    static func document(_ row: Row) throws -> String {
        let id: String = row["id"]
        var document: [String: JSONValue] = ["url": .string(row["url"])]
        if let secret: String = row["signing_secret"] { document["secret"] = .string(secret) }
        if let icon: String = row["slack_icon"] { document["slack_icon"] = .string(icon) }
        if let username: String = row["slack_username"] { document["slack_username"] = .string(username) }
        do {
            let previous = try JSONValue.parse(Array((row["previous_secrets"] as String).utf8))
            if let list = previous.arrayValue, !list.isEmpty { document["previous_secrets"] = previous }
            var headers: [String: JSONValue] = [:]
            for header in try JSONValue.parse(Array((row["headers"] as String).utf8)).arrayValue ?? [] {
                guard let name = header["name"]?.stringValue, let value = header["value"]?.stringValue else {
                    throw StoreError.corrupt("stored headers of subscription \(id) cannot be read")
                }
                headers[name] = .string(value)
            }
            document["headers"] = .object(headers)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.corrupt("stored previous secrets or headers of subscription \(id) cannot be read")
        }
        return String(decoding: JSONValue.object(document).encoded(), as: UTF8.self)
    }
}

func ms(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
func date(_ milliseconds: Int64) -> Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }
