import EventModel
import Foundation
import Metrics
import Prometheus
import Store

/// Prometheus exposition for /metrics. Counters and timers come through swift-metrics (the
/// feeds and the dispatcher use its API); outbox gauges are read from the store at scrape time.
public enum RelayMetrics {
    /// swift-metrics has one process-wide backend; this installs it once.
    public static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(250), .milliseconds(1000),
            .milliseconds(2500), .seconds(10), .seconds(30),
        ]
        MetricsSystem.bootstrap(factory)
        return registry
    }()

    static let outboxGauges: [String: Prometheus.Gauge] = {
        var gauges: [String: Prometheus.Gauge] = [:]
        for status in DeliveryStatus.allCases.map(\.rawValue) {
            gauges[status] = registry.makeGauge(
                descriptor: MetricNameDescriptor(metricName: "event_relay_outbox_deliveries", unitName: "", helpText: "Deliveries in the outbox by status"),
                labels: [("status", status)])
        }
        return gauges
    }()

    /// Per subscription (labels bounded by the subscriptions an operator made): its waiting
    /// queue, its dead letters, and whether it is held (paused or disabled). Gauges are made once
    /// per subscription and kept, so one whose counts dropped to nothing reads 0, not stale.
    private static let subscriptionGauges = LockedValue<[String: (pending: Prometheus.Gauge, dead: Prometheus.Gauge, held: Prometheus.Gauge)]>([:])

    private static func gauges(_ subscription: String) -> (pending: Prometheus.Gauge, dead: Prometheus.Gauge, held: Prometheus.Gauge) {
        subscriptionGauges.withValue { cache in
            if let made = cache[subscription] { return made }
            func gauge(_ name: String, _ help: String) -> Prometheus.Gauge {
                registry.makeGauge(
                    descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: [("subscription", subscription)])
            }
            let made = (
                pending: gauge("event_relay_subscription_pending_deliveries", "Deliveries waiting for a subscription"),
                dead: gauge("event_relay_subscription_dead_letters", "Dead letters of a subscription"),
                held: gauge("event_relay_subscription_held", "1 when a subscription is paused or disabled"))
            cache[subscription] = made
            return made
        }
    }

    /// Read at scrape time from counts the store keeps incrementally (never a scan of the outbox).
    public static func exposition(store: any RelayStore) async -> [UInt8] {
        if let counts = try? await store.deliveryCounts() {
            for (status, count) in counts { outboxGauges[status.rawValue]?.set(Double(count)) }
        }
        if let bySubscription = try? await store.deliveryCountsBySubscription(), let states = try? await store.subscriptionStates() {
            let known = subscriptionGauges.withValue { Set($0.keys) }
            for id in known.union(bySubscription.keys).union(states.keys) {
                let counts = bySubscription[id] ?? [:]
                let gauges = gauges(id)
                gauges.pending.set(Double(counts[.pending] ?? 0))
                gauges.dead.set(Double(counts[.deadLetter] ?? 0))
                gauges.held.set(Double(states[id]?.isHeld == true ? 1 : 0))
            }
        }
        return registry.emitToBuffer()
    }
}
