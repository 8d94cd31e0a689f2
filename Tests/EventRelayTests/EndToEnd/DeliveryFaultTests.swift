import Delivery
import EventModel
import Foundation
import HTTPServer
import Relay
import Store
import Testing

/// The dispatcher on its worst day, on real parts: loopback receivers (libmicrohttpd) that hang,
/// rate-limit, fail and go away; the relay's libcurl client and SQLite store. Events enter
/// through the relay's own ingest pipeline, as a feed's would.
@Suite("Delivery faults: lanes, pacing, breaker, disable, dead letters")
struct DeliveryFaultTests {
    /// A relay with the given subscriptions (rules YAML), every event of source `test` routed to
    /// all of `routed`, and the relay's health events routed to `ops`.
    final class Setup: @unchecked Sendable {
        let harness: RelayHarness
        let ops: RecordingServer

        init(
            subscriptions: String, routed: [String], urls: [String: String],
            adjust: (inout RelayConfiguration) -> Void = { _ in }
        ) async throws {
            ops = try RecordingServer()
            var environment = ["TEST_SECRET": RelayHarness.webhookSecret, "TEST_OPS_URL": ops.baseURL + "/ops"]
            for (name, url) in urls { environment[name] = url }
            harness = try RelayHarness(environment: environment)
            try harness.writeRule("routes.yaml", """
                subscriptions:
                \(subscriptions)
                  - {id: ops, type: webhook, url_env: TEST_OPS_URL, secret_env: TEST_SECRET}
                rules:
                  - {name: all, filter: {sources: [test]}, subscriptions: [\(routed.joined(separator: ", "))]}
                  - {name: health, filter: {sources: [event-relay]}, subscriptions: [\(routed.joined(separator: ", ")), ops]}
                """)
            var configuration = harness.configuration(scalingo: nil)
            adjust(&configuration)
            try await harness.start(configuration)
        }

        var relay: Relay { harness.relay! }

        func publish(_ count: Int, prefix: String = "e") async throws {
            let now = Date()
            let events = (0..<count).map { Fixtures.event(type: "deployment", source: "test", id: "\(prefix)\($0)", time: now) }
            _ = try await relay.pipeline.ingest(IngestBatch(events: events, now: now))
        }

        /// Health events the ops receiver got, as (type, subscription_id).
        func healthEvents() -> [(type: String, subject: String)] {
            ops.requests.compactMap { request in
                guard let document = try? JSONValue.parse(request.body), let event = document["event"] else { return nil }
                return (event["type"]?.stringValue ?? "", event["details"]?["subscription_id"]?.stringValue ?? "")
            }
        }

        func finish() async {
            await harness.cleanup()
            await ops.stop()
        }
    }

    static func eventIDs(_ requests: [HTTPServerRequest]) -> [String] {
        requests.compactMap { try? JSONValue.parse($0.body)["event"]?["id"]?.stringValue }
    }

    @Test func aHangingReceiverDelaysNoOtherSubscription() async throws {
        let released = LockedValue(false)
        let hanging = try RecordingServer { _ in
            // Hangs until the test ends (the relay's request timeout is 60 s here).
            for _ in 0..<1200 where !released.value { try? await Task.sleep(for: .milliseconds(50)) }
            return HTTPServerResponse(status: 200)
        }
        let healthy = try RecordingServer()
        let setup = try await Setup(
            subscriptions: """
                  - {id: hang, type: webhook, url_env: TEST_HANG_URL, secret_env: TEST_SECRET, delivery: {ordering: none, concurrency: 4}}
                  - {id: fine, type: webhook, url_env: TEST_FINE_URL, secret_env: TEST_SECRET}
                """,
            routed: ["hang", "fine"], urls: ["TEST_HANG_URL": hanging.baseURL + "/h", "TEST_FINE_URL": healthy.baseURL + "/f"],
            adjust: { $0.httpClient.requestTimeout = .seconds(60) })
        try await setup.publish(40)
        // Every delivery to the healthy receiver arrives while the hanging lane's four requests
        // are still unanswered: with one shared pool, they held the slots until they timed out.
        #expect(await healthy.waitFor(timeout: .seconds(30)) { $0.count >= 40 })
        #expect(hanging.requests.count == 4, "the hanging lane used only its own 4 slots")
        let hang = try await setup.relay.store.deliveryCountsBySubscription()["hang"] ?? [:]
        #expect(hang[.pending] == 40 && hang[.delivered] == nil, "none of the hanging lane's requests has been answered yet")
        #expect(Self.eventIDs(healthy.requests) == (0..<40).map { "e\($0)" }, "in order (FIFO), each once")
        released.value = true
        await setup.finish()
        await hanging.stop()
        await healthy.stop()
    }

    @Test func slackAtOneMessageASecondDeliversABurstInOrderWithoutA429Storm() async throws {
        // Like Slack: about one message a second per webhook, short bursts allowed, then 429 with Retry-After.
        let limiter = LockedValue((tokens: 3.0, at: ContinuousClock.now, limited: 0))
        let slack = try RecordingServer { _ in
            let allowed = limiter.withValue { state -> Bool in
                let now = ContinuousClock.now
                let elapsed = now - state.at
                state.tokens = min(3, state.tokens + Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
                state.at = now
                guard state.tokens >= 1 else {
                    state.limited += 1
                    return false
                }
                state.tokens -= 1
                return true
            }
            return allowed
                ? HTTPServerResponse(status: 200, body: Array("ok".utf8))
                : HTTPServerResponse(status: 429, headers: [("Retry-After", "1")], body: Array("rate_limited".utf8))
        }
        let setup = try await Setup(
            subscriptions: "  - {id: chat, type: slack, url_env: TEST_SLACK_URL}", routed: ["chat"],
            urls: ["TEST_SLACK_URL": slack.baseURL + "/services/T/B/x"])
        let started = ContinuousClock.now
        try await setup.publish(30)
        let delivered = { slack.requests.count - limiter.value.limited }
        #expect(await slack.waitFor(timeout: .seconds(60)) { _ in delivered() >= 30 })
        let elapsed = ContinuousClock.now - started
        #expect(elapsed > .seconds(25) && elapsed < .seconds(35), "30 messages at 1/s (burst 3) took \(elapsed)")
        #expect(limiter.value.limited <= 2, "\(limiter.value.limited) answers of 429")
        let texts = slack.requests.compactMap { try? JSONValue.parse($0.body)["text"]?.stringValue }
        #expect(texts.count == slack.requests.count)
        // The last outcome may still be on its way to the store.
        #expect(try await eventually { try await setup.relay.store.deliveryCountsBySubscription()["chat"]?[.delivered] == 30 })
        #expect(try await setup.relay.store.deliveryCounts()[.deadLetter] == 0)
        await setup.finish()
        await slack.stop()
    }

    @Test func theBreakerOpensTellsOpsAndTheQueueDrainsAtOnceWhenTheReceiverIsBack() async throws {
        let down = LockedValue(true)
        let flaky = try RecordingServer { _ in
            down.value ? HTTPServerResponse(status: 503, body: Array("maintenance".utf8)) : HTTPServerResponse(status: 204)
        }
        let setup = try await Setup(
            subscriptions: """
                  - id: flaky
                    type: webhook
                    url_env: TEST_FLAKY_URL
                    secret_env: TEST_SECRET
                    delivery: {ordering: none, concurrency: 16, retry_schedule: [30s, 30s, 30s, 30s]}
                """,
            routed: ["flaky"], urls: ["TEST_FLAKY_URL": flaky.baseURL + "/x"])
        try await setup.publish(200)
        #expect(await setup.ops.waitFor(timeout: .seconds(10)) { _ in setup.healthEvents().contains { $0.type == "subscription.failing" } })
        #expect(setup.healthEvents().allSatisfy { $0.subject == "flaky" })
        let attemptsWhileOpen = flaky.requests.count
        try await Task.sleep(for: .seconds(2))
        #expect(flaky.requests.count - attemptsWhileOpen <= 4, "open: only probes, one at a time (\(flaky.requests.count - attemptsWhileOpen) in 2 s)")
        #expect(flaky.requests.count < 60, "no hammering of a receiver that is down: \(flaky.requests.count) requests for 200 events")

        down.value = false
        let back = ContinuousClock.now
        // Failed deliveries wait 30 s for their retry; once a probe gets through, the lane reopens
        // and they are due at once: everything arrives long before 30 s.
        #expect(try await eventually(timeout: .seconds(25)) {
            try await setup.relay.store.deliveryCountsBySubscription()["flaky"]?[.delivered] == 200
        })
        let drained = ContinuousClock.now - back
        #expect(drained < .seconds(10), "drained in \(drained) after the receiver came back")
        let log = try await setup.relay.store.deliveries(DeliveryQuery(status: .delivered, subscriptionID: "flaky", limit: 500))
        #expect(log.count == 200)
        #expect(await setup.ops.waitFor(timeout: .seconds(5)) { _ in setup.healthEvents().contains { $0.type == "subscription.recovered" } })
        #expect(!Self.eventIDs(flaky.requests).contains { $0.hasPrefix("health") }, "flaky never hears about itself")
        await setup.finish()
        await flaky.stop()
    }

    @Test func anOrderedLaneComesBackWithTheBreakersProbeNotWithItsHeadsRetryHoursLater() async throws {
        let down = LockedValue(true)
        let receiver = try RecordingServer { _ in down.value ? HTTPServerResponse(status: 503) : HTTPServerResponse(status: 204) }
        let setup = try await Setup(
            subscriptions: """
                  - {id: fifo, type: webhook, url_env: TEST_FIFO_URL, secret_env: TEST_SECRET, delivery: {retry_schedule: [100ms, 1h, 1h]}}
                """,
            routed: ["fifo"], urls: ["TEST_FIFO_URL": receiver.baseURL + "/x"], adjust: { $0.dispatcher.breaker.threshold = 2 })
        try await setup.publish(5)
        #expect(await setup.ops.waitFor(timeout: .seconds(10)) { _ in setup.healthEvents().contains { $0.type == "subscription.failing" } })
        down.value = false
        // The head's own retry is an hour away; the breaker's probe (after 1-2 s) brings the lane back.
        #expect(try await eventually(timeout: .seconds(15)) {
            try await setup.relay.store.deliveryCountsBySubscription()["fifo"]?[.delivered] == 5
        })
        let delivered = receiver.requests.filter { _ in true }.suffix(5)
        #expect(DeliveryFaultTests.eventIDs(Array(delivered)) == ["e0", "e1", "e2", "e3", "e4"], "in order")
        await setup.finish()
        await receiver.stop()
    }

    /// With the default settings (ordered, breaker after 5 failures), the head's first retry is
    /// 5 s away and the next 5 min: the lane must come back with the head's probe, within about a
    /// second of the receiver answering, not at the head's retry.
    @Test func aDefaultOrderedLaneIsBackWithinASecondOfItsReceiverNotAtItsHeadsRetry() async throws {
        let down = LockedValue(true)
        let receiver = try RecordingServer { _ in down.value ? HTTPServerResponse(status: 503) : HTTPServerResponse(status: 204) }
        let setup = try await Setup(
            subscriptions: "  - {id: fifo, type: webhook, url_env: TEST_FIFO_URL, secret_env: TEST_SECRET}",
            routed: ["fifo"], urls: ["TEST_FIFO_URL": receiver.baseURL + "/x"],
            adjust: {
                // The shipped defaults, not the harness's quick ones.
                $0.dispatcher.retry = RetrySchedule()
                $0.dispatcher.breaker = CircuitBreaker.Settings()
            })
        try await setup.publish(20)
        // Failing: the head was tried and its probes go on (no health event needed yet).
        #expect(await receiver.waitFor(timeout: .seconds(10)) { $0.count >= 3 })
        down.value = false
        let back = ContinuousClock.now
        #expect(try await eventually(timeout: .seconds(20)) {
            try await setup.relay.store.deliveryCountsBySubscription()["fifo"]?[.delivered] == 20
        })
        #expect(ContinuousClock.now - back < .seconds(4), "back with the head's probe (every half second), not its 5 s or 5 min retry")
        let delivered = receiver.requests.filter { _ in true }.suffix(20)
        #expect(DeliveryFaultTests.eventIDs(Array(delivered)) == (0..<20).map { "e\($0)" }, "in order")
        await setup.finish()
        await receiver.stop()
    }

    /// Found by a user: a receiver answering 500 for 25 s left the default subscription waiting
    /// for its head's 5-minute retry, everything queued behind it (316 s after recovery). By
    /// default a subscription is ordered per app: each app's events in order, apps side by side,
    /// and back within about a second of the receiver answering, whatever status it failed with.
    @Test func theDefaultLaneAfterA500OutageIsBackWithinASecondAndInOrderPerApp() async throws {
        let down = LockedValue(true)
        let receiver = try RecordingServer { _ in down.value ? HTTPServerResponse(status: 500) : HTTPServerResponse(status: 204) }
        let setup = try await Setup(
            subscriptions: "  - {id: main, type: webhook, url_env: TEST_MAIN_URL, secret_env: TEST_SECRET}",
            routed: ["main"], urls: ["TEST_MAIN_URL": receiver.baseURL + "/x"],
            adjust: {
                $0.dispatcher.retry = RetrySchedule()
                $0.dispatcher.breaker = CircuitBreaker.Settings()
            })
        let now = Date()
        let apps = ["web", "api", "worker"]
        let events = (0..<30).map { index in
            Fixtures.event(type: "deployment", app: apps[index % 3], source: "test", id: "e\(index)", time: now.addingTimeInterval(Double(index)))
        }
        _ = try await setup.relay.pipeline.ingest(IngestBatch(events: events, now: now))
        // Each app's head was tried, and refused with 500.
        #expect(await receiver.waitFor(timeout: .seconds(10)) { $0.count >= 3 })
        down.value = false
        let back = ContinuousClock.now
        #expect(try await eventually(timeout: .seconds(20)) {
            try await setup.relay.store.deliveryCountsBySubscription()["main"]?[.delivered] == 30
        })
        #expect(ContinuousClock.now - back < .seconds(3), "back with a head probe (every half second), not the 5 s or 5 min retry")
        let delivered = receiver.requests.compactMap { request -> (app: String, id: String)? in
            guard let event = try? JSONValue.parse(request.body)["event"], let app = event["app"]?.stringValue,
                  let id = event["id"]?.stringValue else { return nil }
            return (app, id)
        }
        for (offset, app) in apps.enumerated() {
            let ids = delivered.filter { $0.app == app }.map(\.id)
            var seen = Set<String>()
            let firsts = ids.filter { seen.insert($0).inserted }
            #expect(firsts == stride(from: offset, to: 30, by: 3).map { "e\($0)" }, "\(app) in order: \(firsts)")
        }
        await setup.finish()
        await receiver.stop()
    }

    /// One app's deliveries failing hold only that app's: the others go on, in their own order.
    @Test func aRetryWaitingForOneAppHoldsNoOtherApp() async throws {
        let receiver = try RecordingServer { request in
            let app = (try? JSONValue.parse(request.body)["event"]?["app"]?.stringValue) ?? nil
            return HTTPServerResponse(status: app == "broken" ? 500 : 204)
        }
        let setup = try await Setup(
            subscriptions: "  - {id: main, type: webhook, url_env: TEST_MAIN_URL, secret_env: TEST_SECRET, delivery: {retry_schedule: [1h]}}",
            routed: ["main"], urls: ["TEST_MAIN_URL": receiver.baseURL + "/x"])
        let now = Date()
        let events = (0..<20).map { index in
            Fixtures.event(type: "deployment", app: index < 2 ? "broken" : "fine", source: "test", id: "e\(index)", time: now.addingTimeInterval(Double(index)))
        }
        _ = try await setup.relay.pipeline.ingest(IngestBatch(events: events, now: now))
        #expect(try await eventually(timeout: .seconds(10)) {
            try await setup.relay.store.deliveryCountsBySubscription()["main"]?[.delivered] == 18
        })
        let fine = receiver.requests.compactMap { try? JSONValue.parse($0.body)["event"] }.filter { $0["app"]?.stringValue == "fine" }
        #expect(fine.compactMap { $0["id"]?.stringValue } == (2..<20).map { "e\($0)" }, "in order, never behind the broken app's head")
        let broken = receiver.requests.compactMap { try? JSONValue.parse($0.body)["event"] }.filter { $0["app"]?.stringValue == "broken" }
        let brokenIDs = broken.compactMap { $0["id"]?.stringValue }
        #expect(brokenIDs.first == "e0" && !brokenIDs.contains("e1"), "the broken app's second waits behind its first: \(brokenIDs)")
        await setup.finish()
        await receiver.stop()
    }

    /// Found by a user: one app failing (500) while the others went on waited, once they were
    /// done, for its retry minutes later. It is probed once every app waits.
    @Test func anAppThatFailedWhileOthersFlowedIsBackWithinASecondOfItsReceiver() async throws {
        let broken = LockedValue(true)
        let receiver = try RecordingServer { request in
            let app = (try? JSONValue.parse(request.body)["event"]?["app"]?.stringValue) ?? nil
            return HTTPServerResponse(status: app == "b" && broken.value ? 500 : 204)
        }
        let setup = try await Setup(
            subscriptions: "  - {id: main, type: webhook, url_env: TEST_MAIN_URL, secret_env: TEST_SECRET, delivery: {retry_schedule: [1h, 1h]}}",
            routed: ["main"], urls: ["TEST_MAIN_URL": receiver.baseURL + "/x"],
            adjust: { $0.dispatcher.breaker = CircuitBreaker.Settings() })
        let now = Date()
        let events = (0..<22).map { index in
            Fixtures.event(type: "deployment", app: index < 2 ? "b" : "a", source: "test", id: "e\(index)", time: now.addingTimeInterval(Double(index)))
        }
        _ = try await setup.relay.pipeline.ingest(IngestBatch(events: events, now: now))
        #expect(try await eventually(timeout: .seconds(10)) {
            try await setup.relay.store.deliveryCountsBySubscription()["main"]?[.delivered] == 20
        })
        broken.value = false
        let back = ContinuousClock.now
        #expect(try await eventually(timeout: .seconds(20)) {
            try await setup.relay.store.deliveryCountsBySubscription()["main"]?[.delivered] == 22
        })
        #expect(ContinuousClock.now - back < .seconds(3), "probed every half second, not its retry an hour away")
        await setup.finish()
        await receiver.stop()
    }

    /// A key's run outliving its lease (a slow receiver, a long run): the store sees the rows as
    /// due again, and the next claim must not send the key's later rows beside the run.
    @Test func aRunOutlivingItsLeaseNeverSendsTwoOfOneAppAtOnce() async throws {
        let busy = LockedValue(0)
        let most = LockedValue(0)
        let receiver = try RecordingServer { _ in
            busy.withValue { $0 += 1 }
            most.withValue { $0 = max($0, busy.value) }
            try? await Task.sleep(for: .milliseconds(300))
            busy.withValue { $0 -= 1 }
            return HTTPServerResponse(status: 204)
        }
        let setup = try await Setup(
            subscriptions: "  - {id: main, type: webhook, url_env: TEST_MAIN_URL, secret_env: TEST_SECRET}",
            routed: ["main"], urls: ["TEST_MAIN_URL": receiver.baseURL + "/x"], adjust: { $0.dispatcher.lease = .seconds(1) })
        func publish(_ range: Range<Int>) async throws {
            let now = Date()
            let events = range.map { Fixtures.event(type: "deployment", app: "web", source: "test", id: "e\($0)", time: now) }
            _ = try await setup.relay.pipeline.ingest(IngestBatch(events: events, now: now))
        }
        try await publish(0..<6)
        #expect(await receiver.waitFor(timeout: .seconds(10)) { !$0.isEmpty })
        try await publish(6..<10)
        #expect(try await eventually(timeout: .seconds(20)) {
            try await setup.relay.store.deliveryCountsBySubscription()["main"]?[.delivered] == 10
        })
        #expect(most.value == 1, "one at a time for the app, the lease running out or not")
        var seen = Set<String>()
        let firsts = Self.eventIDs(receiver.requests).filter { seen.insert($0).inserted }
        #expect(firsts == (0..<10).map { "e\($0)" }, "in order")
        await setup.finish()
        await receiver.stop()
    }

    @Test func a410DisablesTheSubscriptionKeepsItsDeliveriesAndSaysSoUntilResumed() async throws {
        let gone = LockedValue(true)
        let receiver = try RecordingServer { _ in
            gone.value ? HTTPServerResponse(status: 410, body: Array("channel_is_archived".utf8)) : HTTPServerResponse(status: 204)
        }
        let setup = try await Setup(
            subscriptions: "  - {id: old, type: webhook, url_env: TEST_OLD_URL, secret_env: TEST_SECRET}", routed: ["old"],
            urls: ["TEST_OLD_URL": receiver.baseURL + "/x"])
        try await setup.publish(5)
        #expect(await setup.ops.waitFor(timeout: .seconds(10)) { _ in setup.healthEvents().contains { $0.type == "subscription.disabled" } })
        let state = try await setup.relay.store.subscriptionStates()["old"]
        #expect(state?.disabledReason?.contains("410") == true)
        #expect(receiver.requests.count == 1, "disabled after the first 410")
        #expect(try await setup.relay.store.deliveryCountsBySubscription()["old"]?[.pending] == 5, "nothing dropped: all five wait")
        let view = try await setup.harness.admin(.GET, "/v1/subscriptions/old").json
        #expect(view["state"]?["status"] == .string("disabled") && view["state"]?["disabled_reason"]?.stringValue?.contains("410") == true)

        // The destination is fixed; the operator resumes the (rules-file) subscription.
        gone.value = false
        let resumed = try await setup.harness.admin(.POST, "/v1/subscriptions/old/resume")
        #expect(resumed.status == 200 && resumed.json["state"]?["status"] == .string("active"), "\(resumed.json)")
        #expect(try await eventually { try await setup.relay.store.deliveryCountsBySubscription()["old"]?[.delivered] == 5 })
        #expect(DeliveryFaultTests.eventIDs(Array(receiver.requests.dropFirst())) == ["e0", "e1", "e2", "e3", "e4"])
        await setup.finish()
        await receiver.stop()
    }

    @Test func aDisabledSubscriptionDeletedAndCreatedAgainStartsAfresh() async throws {
        let receiver = try RecordingServer { request in
            request.path == "/gone" ? HTTPServerResponse(status: 410) : HTTPServerResponse(status: 204)
        }
        let setup = try await Setup(subscriptions: "", routed: ["ops"], urls: [:], adjust: { $0.dispatcher.idlePoll = .seconds(5) })
        let harness = setup.harness
        let body = { (path: String) in
            #"{"id": "again", "type": "webhook", "url": "\#(receiver.baseURL)\#(path)", "filter": {"sources": ["test"]}}"#
        }
        #expect(try await harness.admin(.POST, "/v1/subscriptions", body("/gone")).status == 201)
        try await setup.publish(1, prefix: "a")
        let disabled = try await eventually { try await setup.relay.store.subscriptionStates()["again"]?.disabledAt != nil }
        let owed = try await setup.relay.store.deliveries(DeliveryQuery(subscriptionID: "again"))
        #expect(disabled, "deliveries: \(owed.map { "\($0.status) \($0.attempts) \($0.nextAttemptAt)" }), requests: \(receiver.requests.count), lane: \(String(describing: setup.relay.dispatcher.laneStatus("again")))")
        #expect(try await harness.admin(.DELETE, "/v1/subscriptions/again").status == 204)
        #expect(try await harness.admin(.POST, "/v1/subscriptions", body("/fine")).status == 201)
        try await setup.publish(2, prefix: "b")
        #expect(await receiver.waitFor(timeout: .seconds(10)) { requests in requests.filter { $0.path == "/fine" }.count == 2 })
        await setup.finish()
        await receiver.stop()
    }

    @Test func theLastFailedAttemptDeadLettersTheDeliveryAndTellsOps() async throws {
        let broken = try RecordingServer { _ in HTTPServerResponse(status: 500, body: Array("boom".utf8)) }
        let setup = try await Setup(
            subscriptions: """
                  - {id: bad, type: webhook, url_env: TEST_BAD_URL, secret_env: TEST_SECRET, delivery: {retry_schedule: [100ms, 100ms]}}
                """,
            routed: ["bad"], urls: ["TEST_BAD_URL": broken.baseURL + "/x"])
        try await setup.publish(1)
        #expect(await setup.ops.waitFor(timeout: .seconds(10)) { _ in setup.healthEvents().contains { $0.type == "delivery.dead_lettered" } })
        #expect(broken.requests.count == 3, "three attempts: the first and two retries")
        let dead = try await setup.relay.store.deliveries(DeliveryQuery(status: .deadLetter, subscriptionID: "bad"))
        #expect(dead.count == 1 && dead.first?.lastError?.hasPrefix("gave up after 3 attempts: HTTP 500") == true)
        await setup.finish()
        await broken.stop()
    }

    @Test func connectionsResetMidRequestAreRetriedAndSlowAnswersStillCount() async throws {
        let resetting = try ResettingServer()
        let slow = try RecordingServer { _ in
            try? await Task.sleep(for: .milliseconds(400))
            return HTTPServerResponse(status: 204)
        }
        let setup = try await Setup(
            subscriptions: """
                  - {id: reset, type: webhook, url_env: TEST_RESET_URL, secret_env: TEST_SECRET, delivery: {retry_schedule: [100ms, 100ms]}}
                  - {id: slow, type: webhook, url_env: TEST_SLOW_URL, secret_env: TEST_SECRET, delivery: {ordering: none, concurrency: 8}}
                """,
            routed: ["reset", "slow"], urls: ["TEST_RESET_URL": resetting.baseURL + "/x", "TEST_SLOW_URL": slow.baseURL + "/y"])
        try await setup.publish(8)
        // The slow receiver takes 400 ms an answer, eight at once: all arrive and are delivered.
        #expect(try await eventually { try await setup.relay.store.deliveryCountsBySubscription()["slow"]?[.delivered] == 8 })
        // Resets are failures worth retrying: three attempts, then a dead letter, in order, one at a time.
        #expect(try await eventually { try await setup.relay.store.deliveryCountsBySubscription()["reset"]?[.deadLetter] ?? 0 >= 1 })
        let dead = try #require(try await setup.relay.store.deliveries(DeliveryQuery(status: .deadLetter, subscriptionID: "reset")).last)
        let attempts = try await setup.relay.store.attempts(deliveryID: dead.id)
        #expect(attempts.map(\.outcome) == [.retry, .retry, .retry])
        #expect(attempts.allSatisfy { $0.statusCode == nil && ($0.error ?? "").isEmpty == false }, "\(attempts.map { $0.error ?? "" })")
        let reason = attempts.first?.error ?? ""
        #expect(reason.contains("reset") && reason.contains(resetting.baseURL) == false, "a clear reason, no URL: \(reason)")
        #expect(resetting.connections >= 3)
        await setup.finish()
        resetting.stop()
        await slow.stop()
    }
}
