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
        for status in ["pending", "delivered", "failed"] {
            gauges[status] = registry.makeGauge(
                descriptor: MetricNameDescriptor(metricName: "event_relay_outbox_deliveries", unitName: "", helpText: "Deliveries in the outbox by status"),
                labels: [("status", status)])
        }
        return gauges
    }()

    public static func exposition(store: any RelayStore) async -> [UInt8] {
        if let counts = try? await store.deliveryCounts() {
            for (status, count) in counts { outboxGauges[status.rawValue]?.set(Double(count)) }
        }
        return registry.emitToBuffer()
    }
}
