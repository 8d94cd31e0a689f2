import Delivery
import EventModel
import Foundation
import HTTPClient
import SQLiteStore
import Sinks
import Store
import Testing

/// The dispatcher must not keep anything per delivered event: a relay runs for weeks. (It once
/// kept every finished child task in a task group it never drained, ~8.8 KB per delivery.)
@Suite("Dispatcher memory")
struct DispatcherMemoryTests {
    /// A receiver at the edge of the world that answers 204 at once and says when the N-th request arrived.
    final class CountingTransport: HTTPTransport, @unchecked Sendable {
        private let lock = NSLock()
        private var count = 0
        private var waiters: [(Int, CheckedContinuation<Void, Never>)] = []

        func execute(_ request: HTTPRequest) async throws -> HTTPResponse {
            let ready = lock.withLock { () -> [CheckedContinuation<Void, Never>] in
                count += 1
                let due = waiters.filter { $0.0 <= count }.map(\.1)
                waiters.removeAll { $0.0 <= count }
                return due
            }
            ready.forEach { $0.resume() }
            return HTTPResponse(status: 204)
        }

        func waitFor(_ target: Int) async {
            await withCheckedContinuation { continuation in
                let done = lock.withLock { () -> Bool in
                    if count >= target { return true }
                    waiters.append((target, continuation))
                    return false
                }
                if done { continuation.resume() }
            }
        }
    }

    /// Resident memory of this process, from /proc (Linux); nil elsewhere.
    static func residentBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    func owe(_ count: Int, from start: Int, store: SQLiteStore, now: Date) async throws {
        let items = (start..<(start + count)).map { index in
            let event = Fixtures.event(type: "deployment", id: "e\(index)", time: now)
            return IngestCommit.Item(
                event: event,
                deliveries: [NewDelivery(id: Identifier.make(prefix: "dlv", now: now), eventKey: event.key, subscriptionID: "hook", matchedBy: "rule:r")])
        }
        _ = try await store.commitIngest(IngestCommit(items: items, now: now))
    }

    @Test func memoryStaysFlatOverThousandsOfDeliveries() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try SQLiteStore(path: directory.path + "/relay.sqlite")
        let transport = CountingTransport()
        let subscription = Subscription.webhook(
            "hook", url: "http://127.0.0.1:9/hook", secret: "whsec_" + Data(repeating: 7, count: 32).base64EncodedString(),
            delivery: DeliveryOptions(ordering: DeliveryOptions.Ordering.none, concurrency: 32))
        let dispatcher = DeliveryDispatcher(
            store: store, notifiers: NotifierFactory(transport: transport), subscriptions: { [subscription] },
            configuration: DispatcherConfiguration(concurrency: 32))
        let running = Task { await dispatcher.run() }
        let now = Date()

        // Warm up (SQLite caches, metric handles, encoders), then measure over many more deliveries.
        try await owe(2_000, from: 0, store: store, now: now)
        dispatcher.wake()
        await transport.waitFor(2_000)
        #expect(try await eventually { try await store.deliveryCounts()[.delivered] == 2_000 })
        let before = try #require(Self.residentBytes())

        let more = 12_000
        for batch in 0..<6 { try await owe(more / 6, from: 2_000 + batch * more / 6, store: store, now: now) }
        dispatcher.wake()
        await transport.waitFor(2_000 + more)
        #expect(try await eventually { try await store.deliveryCounts()[.delivered] == 2_000 + more })
        let after = try #require(Self.residentBytes())

        dispatcher.stop()
        await running.value
        let growthPerDelivery = Double(after - before) / Double(more)
        // Measured on the leak this guards against: ~7,150 B per delivery (a finished child task kept
        // per delivery); without it, ~130 B (SQLite's cache and WAL settling). Other suites run in
        // this process at the same time, so the bar sits well above the quiet figure.
        #expect(growthPerDelivery < 3_000, "resident memory grew by \(after - before) bytes over \(more) deliveries (\(Int(growthPerDelivery)) B each)")
    }
}
