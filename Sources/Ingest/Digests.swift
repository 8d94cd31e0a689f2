import EventModel
import Foundation
import Logging
import Metrics
import Rules
import Store

/// Digests: a rule's (or subscription's) deliveries are gathered by group (`by`) and destination
/// into the store (`digest:<scope>` entries: counts by type and app, the first few events) and
/// settled `digested`; `DigestFlusher` sends each group as one message when it is due.
public struct DigestStage: IngestStage {
    public let catalog: SubscriptionCatalog
    public var name: String { "digest" }
    static let maxGroups = 100_000
    /// Counts kept by type and by app, at most this many of each (the rest as "other").
    static let maxCounted = 50

    public init(catalog: SubscriptionCatalog) { self.catalog = catalog }

    static func key(scope: String, _ digest: Policies.Digest, _ delivery: StagedDelivery, _ event: Event) -> PolicyStateKey {
        PolicyStateKey(policy: "digest:\(scope)", key: delivery.subscriptionID + "\u{1F}" + FilterPath.key(digest.by, of: event))
    }

    private func digests(_ book: PolicyBook, _ delivery: StagedDelivery, _ event: Event) -> [(PolicyStateKey, Policies.Digest)] {
        book.policies(matchedBy: delivery.matchedBy, subscriptionID: delivery.subscriptionID).compactMap { scope, policies in
            policies.digest.map { (Self.key(scope: scope, $0, delivery, event), $0) }
        }
    }

    public func stateKeys(for events: [StagedEvent], now: Date) -> Set<PolicyStateKey> {
        let book = catalog.policies
        var keys: Set<PolicyStateKey> = []
        for item in events {
            for delivery in item.deliveries where delivery.isOpen {
                if let (key, _) = digests(book, delivery, item.event).first { keys.insert(key) }
            }
        }
        return keys
    }

    /// When a group that just got its first event is sent: `group_wait` later, but not before
    /// `group_interval` after the last one sent; or a daily digest's next time.
    public static func due(_ digest: Policies.Digest, now: Date, lastSent: Date?) -> Date {
        if let daily = digest.daily { return nextDaily(daily, after: now) }
        let waited = now.addingTimeInterval(seconds(digest.groupWait))
        guard let lastSent else { return waited }
        return max(waited, lastSent.addingTimeInterval(seconds(digest.groupInterval)))
    }

    static func nextDaily(_ daily: Policies.Digest.Daily, after now: Date) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = daily.timeZone
        let start = calendar.startOfDay(for: now)
        for day in 0..<3 {
            guard let base = calendar.date(byAdding: .day, value: day, to: start),
                  let time = calendar.date(bySettingHour: daily.minute / 60, minute: daily.minute % 60, second: 0, of: base)
            else { continue }
            if time > now { return time }
        }
        return now.addingTimeInterval(86400)
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    public func apply(to events: inout [StagedEvent], state: inout PolicyStates, now: Date) {
        let book = catalog.policies
        guard !book.rules.isEmpty || !book.subscriptions.isEmpty else { return }
        for index in events.indices {
            let event = events[index].event
            for slot in events[index].deliveries.indices where events[index].deliveries[slot].isOpen {
                let delivery = events[index].deliveries[slot]
                guard let (key, digest) = digests(book, delivery, event).first else { continue }
                var value = state[key]?.objectValue ?? [:]
                let count = value["count"]?.intValue ?? 0
                var due = state.dueAt(key)
                if count == 0 || due == nil {
                    due = Self.due(digest, now: now, lastSent: PolicyStages.date(value["last_sent"]))
                    value["first_at"] = .integer(PolicyStages.millis(now))
                    value["first"] = .array([])
                    value["by_type"] = .object([:])
                    value["by_app"] = .object([:])
                    value["tone"] = .string("info")
                }
                value["subscription"] = .string(delivery.subscriptionID)
                value["matched_by"] = .string(delivery.matchedBy)
                value["scope"] = .string(String(key.policy.dropFirst("digest:".count)))
                value["group"] = .object(Dictionary(digest.by.map { ($0.text, $0.value(in: event) ?? .null) }, uniquingKeysWith: { a, _ in a }))
                value["count"] = .integer(count + 1)
                value["by_type"] = .object(Self.counted(value["by_type"]?.objectValue ?? [:], event.category?.rawValue ?? event.type))
                value["by_app"] = .object(Self.counted(value["by_app"]?.objectValue ?? [:], event.app ?? "(no app)"))
                if case .array(var first) = value["first"] ?? .array([]), first.count < digest.listed {
                    first.append(.object([
                        "key": .string(event.key), "type": .string(event.type), "app": event.app.map(JSONValue.string) ?? .null,
                        "summary": .string(EventPresentation.clip(event.summary, 200)), "time": .integer(PolicyStages.millis(event.time)),
                    ]))
                    value["first"] = .array(first)
                }
                if GenericPresenter.tone(of: event.category) == .failure { value["tone"] = .string("failure") }
                value["listed"] = .integer(Int64(digest.listed))
                state.set(key, .object(value), dueAt: due, limit: Self.maxGroups)
                let at = due.map { " (sent at \(PolicyStages.time($0)))" } ?? ""
                events[index].deliveries[slot].settle(.digested, "in the digest of \(PolicyStages.describe(digest.by, event))\(at) (\(key.policy))")
            }
        }
    }

    static func counted(_ counts: [String: JSONValue], _ name: String) -> [String: JSONValue] {
        var counts = counts
        let slot = counts[name] != nil || counts.count < maxCounted ? name : "other"
        counts[slot] = .integer((counts[slot]?.intValue ?? 0) + 1)
        return counts
    }
}

/// Sends the digests that are due: for each group, one event of the relay's own (`relay.digest`,
/// its details the group's counts and first events) owed to the group's subscription, committed
/// with the group's reset in one transaction (compare-and-set: a replica that sent it first
/// wins, and the other skips it). Sleeps until the next one is due or a batch wakes it.
public final class DigestFlusher: Sendable {
    private let store: any RelayStore
    private let now: @Sendable () -> Date
    private let onDeliveries: @Sendable () -> Void
    private let logger = Logger(label: "event-relay.digest")
    public let wakeup = Wakeup()
    private let stopped = LockedValue(false)

    public init(store: any RelayStore, now: @escaping @Sendable () -> Date = Date.init, onDeliveries: @escaping @Sendable () -> Void = {}) {
        self.store = store
        self.now = now
        self.onDeliveries = onDeliveries
    }

    /// Sends what is due now; returns how many digests were sent.
    @discardableResult
    public func flushDue() async throws -> Int {
        var sent = 0
        while true {
            let at = now()
            let due = try await store.duePolicyStates(now: at, limit: 64).filter { $0.key.policy.hasPrefix("digest:") }
            guard !due.isEmpty else { return sent }
            var progressed = false
            for (key, entry) in due.sorted(by: { $0.key < $1.key }) {
                do {
                    try await send(key, entry, at: at)
                    sent += 1
                    progressed = true
                } catch let error as StoreError where error.isStale {
                    // Sent or changed by another writer meanwhile: the next read sees it.
                    progressed = true
                }
            }
            if !progressed { return sent }
        }
    }

    private func send(_ key: PolicyStateKey, _ entry: PolicyStateEntry, at: Date) async throws {
        var value = entry.value.objectValue ?? [:]
        let count = value["count"]?.intValue ?? 0
        var items: [IngestCommit.Item] = []
        if count > 0, let subscription = value["subscription"]?.stringValue {
            let event = Self.event(key, value, at: at)
            let matchedBy = value["matched_by"]?.stringValue ?? "digest"
            items.append(IngestCommit.Item(
                event: event,
                deliveries: [
                    NewDelivery(
                        id: Identifier.make(prefix: "dlv", now: at), eventKey: event.key, subscriptionID: subscription, matchedBy: matchedBy,
                        note: "digest of \(count) event\(count == 1 ? "" : "s") (\(key.policy))")
                ]))
        }
        value["count"] = .integer(0)
        value["first"] = .array([])
        value["by_type"] = .object([:])
        value["by_app"] = .object([:])
        value["last_sent"] = .integer(PolicyStages.millis(at))
        let write = PolicyStateWrite(key: key, expectedVersion: entry.version, value: .object(value), dueAt: nil, limit: DigestStage.maxGroups)
        let result = try await store.commitIngest(IngestCommit(items: items, now: at, stateWrites: [write]))
        if result.deliveries > 0 {
            Counter(label: "event_relay_digests_sent_total").increment()
            logger.info("digest sent", metadata: ["policy": "\(key.policy)", "events": "\(count)"])
            onDeliveries()
        }
    }

    /// The digest as an event of the relay's own: every destination presents it (counts by type
    /// and app, the first events, how many more).
    public static func event(_ key: PolicyStateKey, _ value: [String: JSONValue], at: Date) -> Event {
        let count = value["count"]?.intValue ?? 0
        let firstAt = value["first_at"]?.intValue ?? PolicyStages.millis(at)
        let group = value["group"]?.objectValue ?? [:]
        let app = group["app"]?.stringValue
        let scope = value["scope"]?.stringValue ?? key.policy
        let what = group.sorted { $0.key < $1.key }.compactMap { $0.value.scalarText.map { text in text } }.joined(separator: " · ")
        let summary = "\(count) event\(count == 1 ? "" : "s")\(what.isEmpty ? "" : " for \(what)") (digest, \(scope))"
        var details = value
        details["digest"] = .string(key.policy)
        // The id is the group and its first event's time: the same group sent twice is one event.
        let id = "digest-" + StableHash.hex(key.policy + "\u{1F}" + key.key) + "-\(firstAt)"
        return Event(
            source: Event.relaySource, feed: "digest", id: id, type: "relay.digest", category: .relayDigest, time: at, app: app,
            project: group["project"]?.stringValue, environment: group["environment"]?.stringValue, summary: summary,
            details: .object(details), raw: .object([:]))
    }

    /// Runs until cancelled: flushes what is due, then sleeps until the next due time (at most a
    /// minute, so a group written by another replica is seen) or until woken.
    public func run() async {
        var waiter = wakeup.makeWaiter()
        while !Task.isCancelled && !stopped.value {
            var wait: Duration = .seconds(60)
            do {
                try await flushDue()
                if let next = try await store.nextPolicyStateDue() {
                    let seconds = max(0, min(60, next.timeIntervalSince(now())))
                    wait = .milliseconds(Int64(seconds * 1000) + 5)
                }
            } catch {
                logger.warning("digests could not be sent; trying again", metadata: ["error": "\(error)"])
                wait = .seconds(5)
            }
            await waiter.wait(timeout: wait)
        }
    }
}

extension DigestFlusher {
    /// Ends `run` (a graceful shutdown): a digest due later is sent by the next start.
    public func stop() {
        stopped.value = true
        wakeup.finish()
    }
}

/// FNV-1a, 64 bits, as hex: a stable short name for a key (not for secrets).
enum StableHash {
    static func hex(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }
}
