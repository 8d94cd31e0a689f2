import Delivery
import EventModel
import Foundation
import HTTPClient
import HTTPServer
import Rules
import SQLiteStore
import Sinks
import Store

/// Measures the three hot paths: routing an event, writing the outbox, and delivering over HTTP.
/// Run with `Benchmarks/run.sh` (release build); record the figures in docs/benchmarks.md.
@main
struct Bench {
    static func main() async throws {
        let scale = Int(ProcessInfo.processInfo.environment["BENCH_SCALE"] ?? "1") ?? 1
        print("EventRelay benchmarks (BENCH_SCALE=\(scale))")
        primitives(count: 1_000_000 * scale)
        matching(events: 200_000 * scale)
        try await outbox(polls: 500 * scale)
        try await delivery(count: 5_000 * scale, sinkDelay: .zero, concurrency: 64)
        try await delivery(count: 2_000 * scale, sinkDelay: .milliseconds(10), concurrency: 64)
    }

    static func report(_ name: String, count: Int, unit: String, elapsed: Duration) {
        let seconds = elapsed.timeInterval
        let rate = Double(count) / seconds
        print(String(format: "%-52@ %10.0f %@/s  (%d in %.3f s, %.2f µs each)", name as NSString, rate, unit, count, seconds, seconds / Double(count) * 1e6))
    }

    /// The building blocks of matching, alone.
    static func primitives(count: Int) {
        let clock = ContinuousClock()
        let glob = Glob("app-1-*")
        let texts = (0..<64).map { "app-\($0)-prod" }
        var hits = 0
        let globTime = clock.measure {
            for index in 0..<count where glob.matches(texts[index & 63]) { hits &+= 1 }
        }
        report("glob match (\"app-1-*\")", count: count, unit: "matches", elapsed: globTime)
        let filter = CompiledExpression(flat: EventFilter(types: ["deployment"], apps: ["*-prod"], fields: ["type_data.status": ["*-error"]]))
        let event = Event(
            source: "scalingo", feed: "b", id: "e", type: "deployment", time: Date(), app: "web-prod",
            raw: .object(["type_data": .object(["status": .string("build-error")])]))
        let filterTime = clock.measure {
            for _ in 0..<count where filter.matches(event) { hits &+= 1 }
        }
        report("filter match (type, app glob, field glob)", count: count, unit: "matches", elapsed: filterTime)
        if hits == 0 { print("(no hits?)") }
    }

    /// 60 rules and 20 API subscriptions with exact and glob patterns; a realistic mix of events.
    static func matching(events count: Int) {
        var rules: [Rule] = []
        for index in 0..<60 {
            rules.append(Rule(
                name: "r\(index)",
                filter: EventFilter(
                    types: index % 3 == 0 ? ["deployment"] : ["login_*", "run"], apps: index % 2 == 0 ? ["app-\(index)-*"] : [],
                    fields: index % 5 == 0 ? ["type_data.status": ["*-error", "aborted"]] : [:]),
                subscriptionIDs: ["s\(index % 7)"]))
        }
        let subscriptions = (0..<20).map {
            Subscription(id: "api\($0)", settings: SlackSettings(url: SecretString("https://x.test/\($0)")), filter: EventFilter(types: ["deployment", "restart"], apps: ["*-prod"]))
        }
        let router = Router(rules: rules, subscriptions: subscriptions)
        let types = ["deployment", "restart", "scale", "login_lock", "run", "new_variable"]
        let events = (0..<1000).map { index in
            Event(
                source: "scalingo", feed: "bench", id: "e\(index)", type: types[index % types.count], time: Date(),
                app: "app-\(index % 80)-\(index % 2 == 0 ? "prod" : "staging")",
                raw: .object(["type_data": .object(["status": .string(index % 4 == 0 ? "build-error" : "success")])]))
        }
        var matched = 0
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            for index in 0..<count { matched &+= router.route(events[index % events.count]).count }
        }
        report("route an event (60 rules + 20 subscriptions)", count: count, unit: "events", elapsed: elapsed)
        if matched == 0 { print("(no matches?)") }
    }

    /// Poll commits of 10 events × 2 subscriptions each, then claiming and recording them.
    static func outbox(polls: Int) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStore(path: directory.appendingPathComponent("bench.sqlite").path, sinks: SinkRegistry.kinds)
        let now = Date()
        let clock = ContinuousClock()
        var deliveries = 0
        let write = try await clock.measure {
            for poll in 0..<polls {
                let events = (0..<10).map { Event(source: "scalingo", feed: "b", id: "p\(poll)-\($0)", type: "deployment", time: now, raw: .object([:])) }
                let owed = events.flatMap { event in
                    ["a", "b"].map { NewDelivery(id: Identifier.make(prefix: "dlv", now: now), eventKey: event.key, subscriptionID: $0, matchedBy: "rule:x") }
                }
                deliveries += owed.count
                // A checkpoint the size of the stream's seen ids, as a feed writes it.
                let checkpoint = FeedCheckpoint(version: 1, data: Array(events.map { "[\"\($0.id)\",1700000000000]" }.joined(separator: ",").utf8))
                let items = events.map { event in IngestCommit.Item(event: event, deliveries: owed.filter { $0.eventKey == event.key }) }
                _ = try await store.commitIngest(IngestCommit(items: items, checkpoint: ("b/events", checkpoint), now: now))
            }
        }
        report("outbox: commit polls (10 events, 20 deliveries each)", count: deliveries, unit: "deliveries", elapsed: write)
        var claimed = 0
        let drain = try await clock.measure {
            while true {
                let lease = Lease(owner: "bench", token: Int64(claimed + 1), until: now.addingTimeInterval(120))
                let results = try await store.claimDeliveries(
                    ["a", "b"].map { LaneClaim(subscriptionID: $0, limit: 128, ordered: false) }, now: now.addingTimeInterval(1), lease: lease)
                let batch = results.flatMap(\.deliveries)
                if batch.isEmpty { break }
                claimed += batch.count
                try await store.recordAttempts(batch.map {
                    AttemptRecord(
                        deliveryID: $0.delivery.id, subscriptionID: $0.delivery.subscriptionID, leaseToken: lease.token, at: now,
                        outcome: .delivered, statusCode: 204, durationMilliseconds: 1, next: .delivered)
                })
            }
        }
        report("outbox: claim + record attempts (batches of 256)", count: claimed, unit: "deliveries", elapsed: drain)
    }

    /// The sink listens on loopback, which deliveries may not reach unless allowed (delivery.allowed_networks).
    static let loopbackAllowed = AddressPolicy(allowedNetworks: ["127.0.0.0/8"].compactMap { try? IPNetwork($0) })

    /// The dispatcher sending webhooks to a loopback libmicrohttpd sink.
    static func delivery(count: Int, sinkDelay: Duration, concurrency: Int) async throws {
        let sink = try HTTPServer(configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 0, maxBodyBytes: 1 << 20), handler: Sink(delay: sinkDelay))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStore(path: directory.appendingPathComponent("bench.sqlite").path, sinks: SinkRegistry.kinds)
        let now = Date()
        let subscription = Subscription(
            id: "hook",
            settings: WebhookSettings(
                url: SecretString("http://127.0.0.1:\(sink.port)/hook"),
                secret: SecretString("whsec_" + Data(repeating: 1, count: 32).base64EncodedString())),
            delivery: DeliveryOptions(ordering: DeliveryOptions.Ordering.none, concurrency: concurrency))
        var remaining = count
        var poll = 0
        while remaining > 0 {
            let events = (0..<min(500, remaining)).map { Event(source: "scalingo", feed: "b", id: "d\(poll)-\($0)", type: "deployment", time: now, raw: .object(["n": .integer(Int64($0))])) }
            remaining -= events.count
            poll += 1
            _ = try await store.commitIngest(IngestCommit(
                items: events.map { event in
                    IngestCommit.Item(
                        event: event,
                        deliveries: [NewDelivery(id: Identifier.make(prefix: "dlv", now: now), eventKey: event.key, subscriptionID: "hook", matchedBy: "rule:x")])
                },
                now: now))
        }
        let client = try CurlHTTPClient(configuration: HTTPClientConfiguration(maxConnectionsPerHost: concurrency, maxTotalConnections: concurrency * 2))
        let dispatcher = DeliveryDispatcher(
            store: store, notifiers: NotifierFactory(transport: client, addressPolicy: Self.loopbackAllowed), subscriptions: { [subscription] },
            configuration: DispatcherConfiguration(concurrency: concurrency, idlePoll: .milliseconds(50)))
        let clock = ContinuousClock()
        let started = clock.now
        let running = Task { await dispatcher.run() }
        while (try await store.deliveryCounts()[.delivered] ?? 0) < count {
            try await Task.sleep(for: .milliseconds(20))
        }
        let elapsed = clock.now - started
        dispatcher.stop()
        await running.value
        client.shutdown()
        await sink.stop()
        let label = sinkDelay == .zero ? "deliver signed webhooks (instant sink, \(concurrency) in flight)"
            : "deliver signed webhooks (10 ms sink, \(concurrency) in flight)"
        report(label, count: count, unit: "deliveries", elapsed: elapsed)
    }
}

struct Sink: HTTPServerHandler {
    let delay: Duration

    func handle(_ request: HTTPServerRequest) async -> HTTPServerResponse {
        if delay > .zero { try? await Task.sleep(for: delay) }
        return HTTPServerResponse(status: 204)
    }

    func refuse(_ refusal: HTTPServerRefusal) -> HTTPServerResponse { HTTPServerResponse(status: 503) }
}
