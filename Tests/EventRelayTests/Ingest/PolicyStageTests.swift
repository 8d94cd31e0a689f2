import EventModel
import Foundation
import Ingest
import Rules
import SQLiteStore
import Store
import Testing
import YAMLSupport

/// The policy stages through the real pipeline and a real SQLite file: what each settles, what
/// it remembers in the store (so a new process on the same file carries on), and
/// compare-and-set between two writers (two replicas on one store).
@Suite("Policy stages")
struct PolicyStageTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)  // 2027-01-15T08:00:00Z, a Friday

    static let subscriptions = """
        subscriptions:
          - id: ops
            type: slack
            url_env: HOOK
          - id: audit
            type: slack
            url_env: HOOK

        """

    static func catalog(_ yaml: String) throws -> SubscriptionCatalog {
        let set = try RuleLoader(environment: ["HOOK": "https://hooks.slack.test/x"])
            .load(documents: [try YAMLValue.parse(subscriptions + yaml, file: "policies.yaml")])
        return SubscriptionCatalog(ruleSet: set)
    }

    static func event(_ id: String, _ category: EventCategory, app: String = "web", at time: Date = t0, type: String? = nil) -> Event {
        Event(
            source: "scalingo", feed: "test", id: id, type: type ?? category.rawValue, category: category, time: time, app: app,
            summary: "\(category.rawValue) on \(app)", raw: .object([:]))
    }

    /// A store file and pipelines over it; `reopen` is a new process on the same file.
    final class Bench: @unchecked Sendable {
        let directory: TemporaryDirectory
        var store: SQLiteStore
        let catalog: SubscriptionCatalog

        init(_ catalog: SubscriptionCatalog) throws {
            directory = try TemporaryDirectory()
            store = try SQLiteStore(path: directory.path + "/relay.sqlite")
            self.catalog = catalog
        }

        func pipeline() -> IngestPipeline { IngestPipeline(store: store, stages: IngestPipeline.standardStages(catalog: catalog)) }

        func reopen() throws { store = try SQLiteStore(path: directory.path + "/relay.sqlite") }

        func ingest(_ events: [Event], at now: Date) async throws -> IngestResult {
            try await pipeline().ingest(IngestBatch(events: events, now: now))
        }

        /// Each event's deliveries, by event id: status and note.
        func fate(_ id: String) async throws -> [Delivery] {
            try await store.deliveries(DeliveryQuery(eventKey: "scalingo:\(id)")).sorted { $0.subscriptionID < $1.subscriptionID }
        }

        func status(_ id: String) async throws -> DeliveryStatus? { try await fate(id).first?.status }

        deinit { directory.cleanup() }
    }

    // MARK: Throttle

    @Test func aThrottleSendsOnePerKeyAndWindowAndTheNextSaysHowManyWereHeld() async throws {
        let bench = try Bench(try Self.catalog("""
            rules:
              - name: deploys
                filter: {category: deploy.*}
                subscriptions: [ops]
                throttle: {key: app, window: 10m}
            """))
        let burst = (0..<5).map { Self.event("w\($0)", .deployFailed) } + [Self.event("a0", .deployFailed, app: "api")]
        let result = try await bench.ingest(burst, at: Self.t0)
        #expect(result.deliveries == 6 && result.suppressed == 4)
        #expect(try await bench.status("w0") == .pending)
        for i in 1..<5 {
            let held = try #require(try await bench.fate("w\(i)").first)
            #expect(held.status == .throttled)
            #expect(held.note?.contains("one per 10m for app=web") == true, "\(held.note ?? "")")
        }
        #expect(try await bench.status("a0") == .pending, "another app has a window of its own")

        // A new process on the same file: the window is in the store.
        try bench.reopen()
        _ = try await bench.ingest([Self.event("w5", .deployFailed, at: Self.t0 + 300)], at: Self.t0 + 300)
        #expect(try await bench.status("w5") == .throttled)
        _ = try await bench.ingest([Self.event("w6", .deploySucceeded, at: Self.t0 + 601)], at: Self.t0 + 601)
        let next = try #require(try await bench.fate("w6").first)
        #expect(next.status == .pending)
        #expect(next.note?.hasPrefix("5 more like this were held back since") == true, "\(next.note ?? "")")
        let listed = try await bench.store.deliveries(DeliveryQuery(status: .throttled))
        #expect(listed.count == 5, "every throttled delivery is listed with its status")
    }

    // MARK: Notify on change, once per

    @Test func notifyOnChangeTellsFailuresAndRecoveriesNotEveryCrash() async throws {
        let bench = try Bench(try Self.catalog("""
            rules:
              - name: health
                filter: {category: [deploy.succeeded, deploy.failed, app.crashed]}
                subscriptions: [ops, audit]
                notify_on_change:
                  key: app
                  states:
                    failing: [deploy.failed, app.crashed]
                    healthy: [deploy.succeeded]
            """))
        let story: [(String, EventCategory, DeliveryStatus)] = [
            ("1", .deploySucceeded, .pending),  // first state seen
            ("2", .deploySucceeded, .unchanged),
            ("3", .deployFailed, .pending),
            ("4", .appCrashed, .unchanged),  // still failing
        ]
        for (offset, (id, category, expected)) in story.enumerated() {
            _ = try await bench.ingest([Self.event(id, category, at: Self.t0 + Double(offset))], at: Self.t0 + Double(offset))
            let fate = try await bench.fate(id)
            #expect(fate.count == 2 && fate.allSatisfy { $0.status == expected }, "event \(id): \(fate.map(\.status))")
        }
        #expect(try await bench.fate("3").first?.note?.contains("was healthy") == true)
        #expect(try await bench.fate("4").first?.note?.contains("is still failing") == true)
        // Another app's story is its own.
        _ = try await bench.ingest([Self.event("x", .appCrashed, app: "api")], at: Self.t0 + 5)
        #expect(try await bench.status("x") == .pending)
        // After a restart the state is still there: the recovery is told, a second one is not.
        try bench.reopen()
        _ = try await bench.ingest([Self.event("5", .deploySucceeded, at: Self.t0 + 10)], at: Self.t0 + 10)
        _ = try await bench.ingest([Self.event("6", .deploySucceeded, at: Self.t0 + 11)], at: Self.t0 + 11)
        #expect(try await bench.status("5") == .pending)
        #expect(try await bench.status("6") == .unchanged)
    }

    @Test func oncePerTellsEachValueOnceAndItsStateIsBounded() async throws {
        let bench = try Bench(try Self.catalog("""
            rules:
              - name: consoles
                filter: {category: console.opened}
                subscriptions: [ops]
                once_per: {key: app, max_keys: 3}
            """))
        let apps = ["a", "b", "a", "c", "d", "e", "a"]
        var fates: [DeliveryStatus] = []
        for (i, app) in apps.enumerated() {
            let result = try await bench.ingest([Self.event("c\(i)", .consoleOpened, app: app)], at: Self.t0 + Double(i))
            fates.append(try #require(try await bench.status("c\(i)")))
            if i == 4 { #expect(result.evictedStates == 1, "the fourth value evicts the least recently told") }
        }
        // a, b, (a again), c, d evicts a... e evicts b; a is new again.
        #expect(fates == [.pending, .pending, .unchanged, .pending, .pending, .pending, .pending])
        let kept = try await bench.store.policyStates(policy: "once:rule:consoles", limit: 10)
        #expect(kept.count == 3)
    }

    // MARK: Inhibition

    @Test func aFailedDeploymentHoldsBackTheSameAppsCrashesForAWhile() async throws {
        let bench = try Bench(try Self.catalog("""
            rules:
              - name: all
                subscriptions: [ops]
            inhibit:
              - name: crashes-after-failed-deploy
                source: {category: deploy.failed}
                target: {category: app.crashed}
                equal: [app]
                duration: 15m
            """))
        _ = try await bench.ingest([Self.event("f", .deployFailed)], at: Self.t0)
        _ = try await bench.ingest(
            [Self.event("c1", .appCrashed, at: Self.t0 + 60), Self.event("c2", .appCrashed, app: "api", at: Self.t0 + 60)], at: Self.t0 + 60)
        #expect(try await bench.status("f") == .pending, "the source itself is sent")
        let held = try #require(try await bench.fate("c1").first)
        #expect(held.status == .inhibited && held.note?.contains("deploy.failed for app=web") == true, "\(held.note ?? "")")
        #expect(try await bench.status("c2") == .pending, "another app is not inhibited")
        _ = try await bench.ingest([Self.event("c3", .appCrashed, at: Self.t0 + 901)], at: Self.t0 + 901)
        #expect(try await bench.status("c3") == .pending, "15 minutes later the inhibition is over")
    }

    // MARK: Mutes and quiet hours

    @Test func mutesHoldWhatTheyCoverWhileTheyLast() async throws {
        let bench = try Bench(try Self.catalog("""
            rules:
              - name: deploys
                filter: {category: deploy.*}
                subscriptions: [ops, audit]
            mutes:
              - id: maintenance
                filter: {app: web}
                subscription: ops
                starts_at: "2027-01-15T07:00:00Z"
                ends_at: "2027-01-15T09:00:00Z"
                comment: database upgrade
            """))
        _ = try await bench.ingest([Self.event("m1", .deployFailed), Self.event("m2", .deployFailed, app: "api")], at: Self.t0)
        let m1 = try await bench.fate("m1")
        #expect(m1.map(\.status) == [.pending, .muted], "audit still hears it; ops is muted")
        #expect(m1.last?.note == "muted by maintenance until 2027-01-15T09:00:00Z: database upgrade")
        #expect(try await bench.fate("m2").allSatisfy { $0.status == .pending })
        _ = try await bench.ingest([Self.event("m3", .deployFailed, at: Self.t0 + 3601)], at: Self.t0 + 3601)
        #expect(try await bench.fate("m3").allSatisfy { $0.status == .pending }, "the mute ended by itself")

        // A mute made over the API (handed to the catalog) covers a rule's deliveries.
        bench.catalog.replaceAPIMutes([Mute(
            id: "quiet-deploys", rule: "deploys", startsAt: Self.t0, endsAt: Self.t0 + 7200, comment: "release day", createdAt: Self.t0)])
        _ = try await bench.ingest([Self.event("m4", .deploySucceeded, at: Self.t0 + 3700)], at: Self.t0 + 3700)
        #expect(try await bench.fate("m4").allSatisfy { $0.status == .muted })
    }

    @Test func quietHoursDropOrDelayToTheWindowsEnd() async throws {
        // 2027-01-15T08:00Z is 09:00 in Paris on a Friday.
        let bench = try Bench(try Self.catalog("""
            rules:
              - name: chatter
                filter: {category: deploy.started}
                subscriptions: [ops]
                quiet_hours:
                  time_zone: Europe/Paris
                  action: drop
                  intervals:
                    - weekdays: ["monday:friday"]
                      times: [{start_time: "08:30", end_time: "12:00"}]
              - name: failures
                filter: {category: deploy.failed}
                subscriptions: [audit]
            """ + "\n" + """
              - name: later
                filter: {category: app.scaled}
                subscriptions: [ops]
                quiet_hours:
                  time_zone: Europe/Paris
                  intervals:
                    - weekdays: [friday]
                      times: [{start_time: "00:00", end_time: "10:15"}]
            """))
        _ = try await bench.ingest(
            [Self.event("q1", .deployStarted), Self.event("q2", .deployFailed), Self.event("q3", .appScaled)], at: Self.t0)
        let dropped = try #require(try await bench.fate("q1").first)
        #expect(dropped.status == .quiet && dropped.note?.contains("until 2027-01-15T11:00:00Z") == true, "\(dropped.note ?? "")")
        #expect(try await bench.status("q2") == .pending, "a rule without quiet hours is not affected")
        let delayed = try #require(try await bench.fate("q3").first)
        #expect(delayed.status == .pending)
        #expect(delayed.nextAttemptAt == Date(timeIntervalSince1970: 1_800_000_000 + 75 * 60), "10:15 Paris is 09:15Z")
        // On Saturday the weekday interval does not hold.
        _ = try await bench.ingest([Self.event("q4", .deployStarted, at: Self.t0 + 86400)], at: Self.t0 + 86400)
        #expect(try await bench.status("q4") == .pending)
    }

    // MARK: Digests

    @Test func aBurstBecomesOneDigestPerAppSentWhenDueAndOnlyOnce() async throws {
        let bench = try Bench(try Self.catalog("""
            rules:
              - name: chatter
                filter: {category: deploy.*}
                subscriptions: [ops]
                digest: {by: app, group_wait: 30s, group_interval: 10m, list: 3}
            """))
        let burst = (0..<200).map { i in
            Self.event("d\(i)", i % 4 == 0 ? EventCategory.deployFailed : .deploySucceeded, app: i < 150 ? "web" : "api", at: Self.t0 + Double(i) / 10)
        }
        let result = try await bench.ingest(burst, at: Self.t0)
        #expect(result.deliveries == 200 && result.suppressed == 200)
        #expect(try await bench.store.deliveries(DeliveryQuery(status: .digested, limit: 500)).count == 200)

        // Restarted before the digests are due: they are in the store.
        try bench.reopen()
        let clock = SettableClock(Self.t0 + 29)
        let flusher = DigestFlusher(store: bench.store, now: { clock.now })
        #expect(try await flusher.flushDue() == 0, "not before group_wait")
        clock.now = Self.t0 + 30
        // Two flushers (two replicas) at once: each group is sent once.
        let other = DigestFlusher(store: try SQLiteStore(path: bench.directory.path + "/relay.sqlite"), now: { clock.now })
        async let first = flusher.flushDue()
        async let second = other.flushDue()
        #expect(try await first + second == 2)
        let digests = try await bench.store.deliveries(DeliveryQuery(source: Event.relaySource))
        #expect(digests.count == 2 && digests.allSatisfy { $0.status == .pending && $0.subscriptionID == "ops" })
        #expect(try await flusher.flushDue() == 0)

        let web = try #require(try await bench.store.policyStates(policy: "digest:rule:chatter", limit: 10).values.first {
            $0.value["group"]?["app"]?.stringValue == "web"
        })
        #expect(web.value["count"]?.intValue == 0 && web.dueAt == nil, "the group was reset when sent")
        let event = DigestFlusher.event(
            PolicyStateKey(policy: "digest:rule:chatter", key: "ops"),
            ["count": .integer(150), "group": .object(["app": .string("web")]),
             "by_type": .object(["deploy.failed": .integer(38), "deploy.succeeded": .integer(112)]), "by_app": .object(["web": .integer(150)]),
             "first": .array([.object(["summary": .string("deploy.failed on web"), "app": .string("web"), "time": .integer(1_800_000_000_000)])]),
             "tone": .string("failure")],
            at: Self.t0)
        let shown = GenericPresenter.presentation(of: event)
        #expect(shown.title == "Digest: 150 events" && shown.subject == "web" && shown.tone == .failure)
        #expect(shown.facts.contains { $0.label == "By type" && $0.value == "deploy.succeeded ×112, deploy.failed ×38" })
        #expect(shown.facts.contains { $0.label == "And" && $0.value == "149 more" })

        // The next event of a group sent at +30 s waits for group_interval after it.
        _ = try await bench.ingest([Self.event("late", .deployFailed, at: Self.t0 + 60)], at: Self.t0 + 60)
        let group = try #require(try await bench.store.policyStates(policy: "digest:rule:chatter", limit: 10).values.first {
            $0.value["group"]?["app"]?.stringValue == "web"
        })
        #expect(group.dueAt == Self.t0 + 30 + 600)
    }

    @Test func aDailyDigestIsDueAtItsTimeInItsZone() throws {
        let daily = Policies.Digest.Daily(minute: 9 * 60, timeZone: try #require(TimeZone(identifier: "Europe/Paris")))
        let digest = Policies.Digest(by: [], daily: daily)
        // 08:00Z is 09:00 Paris: the next is tomorrow's.
        #expect(DigestStage.due(digest, now: Self.t0, lastSent: nil) == Self.t0 + 86400)
        #expect(DigestStage.due(digest, now: Self.t0 - 60, lastSent: nil) == Self.t0)
        // Summer time: 09:00 Paris is 07:00Z on 2027-07-01.
        let july = Date(timeIntervalSince1970: 1_814_400_000)  // 2027-07-01T00:00:00Z
        #expect(DigestStage.due(digest, now: july, lastSent: nil) == july + 7 * 3600)
    }

    // MARK: Compare-and-set between writers

    @Test func twoReplicasThrottlingOneKeySendExactlyOne() async throws {
        let catalog = try Self.catalog("""
            rules:
              - name: deploys
                subscriptions: [ops]
                throttle: {key: app, window: 1h}
            """)
        let bench = try Bench(catalog)
        let replicas = try (0..<4).map { _ in
            IngestPipeline(store: try SQLiteStore(path: bench.directory.path + "/relay.sqlite"), stages: IngestPipeline.standardStages(catalog: catalog))
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (r, replica) in replicas.enumerated() {
                group.addTask {
                    for i in 0..<10 {
                        _ = try await replica.ingest(IngestBatch(events: [Self.event("r\(r)-\(i)", .deployFailed)], now: Self.t0 + Double(i)))
                    }
                }
            }
            try await group.waitForAll()
        }
        let all = try await bench.store.deliveries(DeliveryQuery(limit: 100))
        #expect(all.count == 40)
        #expect(all.filter { $0.status == .pending }.count == 1, "one per hour, whichever replica got there first")
        #expect(all.filter { $0.status == .throttled }.count == 39)
    }

    @Test func anEventSeenBeforeIsNotCountedByAPolicyAgain() async throws {
        let bench = try Bench(try Self.catalog("""
            rules:
              - name: chatter
                subscriptions: [ops]
                digest: {by: app}
            """))
        _ = try await bench.ingest([Self.event("same", .deployFailed)], at: Self.t0)
        let again = try await bench.ingest([Self.event("same", .deployFailed), Self.event("same", .deployFailed)], at: Self.t0 + 1)
        #expect(again.duplicates == 2 && again.deliveries == 0)
        let group = try #require(try await bench.store.policyStates(policy: "digest:rule:chatter", limit: 1).values.first)
        #expect(group.value["count"]?.intValue == 1)
    }
}

/// A clock the test moves.
final class SettableClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date
    init(_ start: Date) { current = start }
    var now: Date {
        get { lock.withLock { current } }
        set { lock.withLock { current = newValue } }
    }
}
