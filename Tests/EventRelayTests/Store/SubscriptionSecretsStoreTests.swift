import EventModel
import Foundation
import GRDB
@testable import SQLiteStore
import Sinks
import Store
import Testing

/// Rotated-out secrets and custom headers in the SQLite store, including a database written
/// before they existed.
@Suite("SQLite store: subscription secrets and headers")
struct SubscriptionSecretsStoreTests {
    static let t0 = Date(timeIntervalSince1970: 1_700_000_000)
    static let secret = "whsec_" + Data((0..<32).map { UInt8($0) }).base64EncodedString()
    static let previous = "whsec_" + Data((100..<132).map { UInt8($0) }).base64EncodedString()

    @Test func previousSecretsAndHeadersRoundTrip() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try SQLiteStore(path: directory.path + "/relay.sqlite")
        var settings = WebhookSettings(
            url: SecretString("https://receiver.test/in"), secret: SecretString(Self.secret),
            previousSecrets: [PreviousSecret(secret: SecretString(Self.previous), expiresAt: Self.t0.addingTimeInterval(86_400.5))],
            headers: [
                CustomHeader(name: "X-B", value: SecretString("second in name order, first given")),
                CustomHeader(name: "Authorization", value: SecretString("Bearer t")),
            ])
        let subscription = Subscription(id: "hook", settings: settings, createdAt: Self.t0, updatedAt: Self.t0)
        try await store.insertSubscription(subscription)
        let read = try #require(try await store.subscription(id: "hook")?.webhook)
        #expect(read.previousSecrets == settings.previousSecrets)
        #expect(read.headers.map(\.name) == ["Authorization", "X-B"], "headers come back in name order")
        #expect(Set(read.headers) == Set(settings.headers))
        settings.previousSecrets = []
        settings.headers = []
        var rotated = subscription
        rotated.settings = settings
        try await store.updateSubscription(rotated)
        #expect(try await store.listSubscriptions() == [rotated])
    }

    /// A database of the last release with separate columns (v7): every value moves into the
    /// settings document, and the columns are gone.
    @Test func settingsColumnsOfEarlierReleasesMoveIntoTheSettingsDocument() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.path + "/relay.sqlite"
        let queue = try DatabaseQueue(path: path)
        try SQLiteStore.migrator.migrate(queue, upTo: "v7: events say how their body is written, so deliveries use its bytes as they are")
        try await queue.write { db in
            try db.execute(
                sql: """
                    INSERT INTO subscriptions (id, kind, url, signing_secret, slack_icon, slack_username, filter, created_at, updated_at,
                        delivery_options, previous_secrets, headers)
                    VALUES ('hook', 'webhook', 'https://receiver.test/in', ?, NULL, NULL, '{"types":["deployment"]}', 1700000000000,
                        1700000000000, NULL, ?, '[{"name":"X-B","value":"b value"},{"name":"Authorization","value":"Bearer t"}]'),
                    ('chat', 'slack', 'https://hooks.slack.test/T/B/x', NULL, ':rocket:', 'Relay', '{}', 1700000000000, 1700000000000,
                        NULL, '[]', '[]')
                    """,
                arguments: [Self.secret, "[{\"secret\":\"\(Self.previous)\",\"expires_at\":1700086400000}]"])
        }
        try queue.close()
        let store = try SQLiteStore(path: path)
        let hook = try #require(try await store.subscription(id: "hook"))
        let webhook = try #require(hook.webhook)
        #expect(webhook.url.value == "https://receiver.test/in" && webhook.secret?.value == Self.secret)
        #expect(webhook.previousSecrets == [PreviousSecret(secret: SecretString(Self.previous), expiresAt: Date(timeIntervalSince1970: 1_700_086_400))])
        #expect(webhook.headers == testHeaders(["X-B": "b value", "Authorization": "Bearer t"]))
        #expect(hook.filter == EventFilter(types: ["deployment"]))
        let chat = try #require(try await store.subscription(id: "chat")?.slack)
        #expect(chat == SlackSettings(url: SecretString("https://hooks.slack.test/T/B/x"), username: "Relay", icon: ":rocket:"))
        let reopened = try DatabaseQueue(path: path)
        let columns = try await reopened.read { db in try db.columns(in: "subscriptions").map(\.name) }
        try reopened.close()
        #expect(Set(columns) == ["id", "kind", "filter", "created_at", "updated_at", "delivery_options", "settings"])
    }

    /// The v1–v3 schema as releases before rotation wrote it, with one subscription in it.
    static func writeOldDatabase(at path: String) throws {
        let queue = try DatabaseQueue(path: path)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: subscriptions, feed cursors, events, outbox") { db in
            try db.execute(sql: """
                CREATE TABLE subscriptions (id TEXT PRIMARY KEY, kind TEXT NOT NULL, url TEXT NOT NULL, signing_secret TEXT,
                    slack_icon TEXT, slack_username TEXT, filter TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
                CREATE TABLE feed_cursors (feed TEXT PRIMARY KEY, horizon INTEGER NOT NULL, updated_at INTEGER NOT NULL);
                CREATE TABLE feed_seen (feed TEXT NOT NULL, event_id TEXT NOT NULL, event_time INTEGER NOT NULL,
                    PRIMARY KEY (feed, event_id)) WITHOUT ROWID;
                CREATE INDEX feed_seen_by_time ON feed_seen(feed, event_time);
                CREATE TABLE events (key TEXT PRIMARY KEY, source TEXT NOT NULL, feed TEXT NOT NULL, type TEXT NOT NULL,
                    time INTEGER NOT NULL, body TEXT NOT NULL, created_at INTEGER NOT NULL);
                CREATE TABLE deliveries (id TEXT PRIMARY KEY, event_key TEXT NOT NULL REFERENCES events(key),
                    subscription_id TEXT NOT NULL, matched_by TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
                    next_attempt_at INTEGER NOT NULL, lease_until INTEGER, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
                    delivered_at INTEGER, last_status_code INTEGER, last_error TEXT);
                CREATE UNIQUE INDEX deliveries_once ON deliveries(event_key, subscription_id);
                CREATE INDEX deliveries_due ON deliveries(status, next_attempt_at);
                CREATE INDEX deliveries_by_subscription ON deliveries(subscription_id, id);
                CREATE TABLE delivery_attempts (delivery_id TEXT NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
                    at INTEGER NOT NULL, outcome TEXT NOT NULL, status_code INTEGER, error TEXT, duration_ms INTEGER NOT NULL);
                CREATE INDEX delivery_attempts_by_delivery ON delivery_attempts(delivery_id, at);
                """)
        }
        migrator.registerMigration("v2: opaque, versioned feed checkpoints") { db in
            try db.execute(sql: "CREATE TABLE feed_checkpoints (stream TEXT PRIMARY KEY, version INTEGER NOT NULL, data BLOB NOT NULL, updated_at INTEGER NOT NULL)")
        }
        migrator.registerMigration("v3: every ingested event's key, for dedupe across feeds, streams and push") { db in
            try db.execute(sql: """
                CREATE TABLE ingested_events (key TEXT PRIMARY KEY, first_seen INTEGER NOT NULL) WITHOUT ROWID;
                CREATE INDEX ingested_events_by_time ON ingested_events(first_seen);
                """)
        }
        try migrator.migrate(queue)
        try queue.write { db in
            try db.execute(
                sql: "INSERT INTO subscriptions VALUES ('old', 'webhook', 'https://receiver.test/old', ?, NULL, NULL, '{}', 1700000000000, 1700000000000)",
                arguments: [secret])
        }
        try queue.close()
    }

    @Test func aDatabaseFromBeforeRotationMigratesWithNoPreviousSecretsAndNoHeaders() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try Self.writeOldDatabase(at: directory.path + "/relay.sqlite")
        let store = try SQLiteStore(path: directory.path + "/relay.sqlite")
        let old = try #require(try await store.subscription(id: "old"))
        let settings = try #require(old.webhook)
        #expect(settings.secret?.value == Self.secret && settings.previousSecrets.isEmpty && settings.headers.isEmpty)
        var changed = try settings.rotatingSecret(to: SecretString(Self.previous), previousExpiresAt: Self.t0.addingTimeInterval(60), now: Self.t0)
        changed.headers = testHeaders(["Authorization": "Bearer t"])
        var rotated = old
        rotated.settings = changed
        try await store.updateSubscription(rotated)
        #expect(try await store.subscription(id: "old") == rotated)
    }
}
