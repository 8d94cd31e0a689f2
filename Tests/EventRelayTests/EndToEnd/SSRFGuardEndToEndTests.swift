import EventModel
import Foundation
import HTTPClient
import Relay
import Sinks
import Testing
import YAMLSupport

/// The relay's deliveries through the SSRF guard, end to end: API subscriptions pointing at a
/// loopback receiver, refused unless `delivery.allowed_networks` allows loopback, recorded as
/// permanent failures whose reason names the address and never the URL.
@Suite("SSRF guard end to end: deliveries, the admin API, the configuration")
struct SSRFGuardEndToEndTests {
    /// A relay without feeds whose two API subscriptions (a webhook on 127.0.0.1, Slack on
    /// `localhost`) point at `sinks`; one matching event is ingested.
    static func deliverOneEvent(allowing networks: [IPNetwork], to sinks: RecordingServer) async throws -> (RelayHarness, [JSONValue]) {
        let harness = try RelayHarness()
        var configuration = harness.configuration(scalingo: nil)
        configuration.deliveryAllowedNetworks = networks
        try await harness.start(configuration)
        let hook = try await harness.admin(.POST, "/v1/subscriptions", """
            {"id": "hook", "type": "webhook", "url": "\(sinks.baseURL)/hook/a-long-secret-path-0123456789",
             "secret": "\(RelayHarness.webhookSecret)", "filter": {"types": ["deployment"]}}
            """)
        #expect(hook.status == 201, "\(hook.json)")
        let slack = try await harness.admin(.POST, "/v1/subscriptions", """
            {"id": "chat", "type": "slack", "url": "http://localhost:\(sinks.port)/services/T0/B0/secret-slack-token",
             "filter": {"types": ["deployment"]}}
            """)
        #expect(slack.status == 201, "\(slack.json)")
        let relay = try #require(harness.relay)
        let result = try await relay.pipeline.ingest(IngestBatch(events: [Fixtures.event(type: "deployment")], now: Date()))
        #expect(result.deliveries == 2)
        let done = try await eventually(timeout: .seconds(20)) {
            let list = try await harness.admin(.GET, "/v1/deliveries").json["deliveries"]?.arrayValue ?? []
            return list.count == 2 && list.allSatisfy { $0["status"] != .string("pending") }
        }
        let settled = try await harness.admin(.GET, "/v1/deliveries").json["deliveries"]?.arrayValue ?? []
        #expect(done, "both deliveries settled: \(settled)")
        return (harness, settled)
    }

    @Test func aDeliveryToLoopbackIsRefusedForGoodWithAReasonAndNoURL() async throws {
        let sinks = try RecordingServer()
        let (harness, deliveries) = try await Self.deliverOneEvent(allowing: [], to: sinks)
        for delivery in deliveries {
            #expect(delivery["status"] == .string("dead_letter"), "refused once, not retried: \(delivery)")
            #expect(delivery["attempts"] == .integer(1))
            let reason = delivery["last_error"]?.stringValue ?? ""
            #expect(reason.hasPrefix("refused to connect to "), "\(reason)")
            #expect(reason.contains("a loopback address (allow it with delivery.allowed_networks)"), "\(reason)")
            for secret in ["secret", "hook/", "services", "localhost", ":\(sinks.port)"] {
                #expect(!reason.contains(secret), "the reason shows no part of the URL: \(reason)")
            }
        }
        let hook = try #require(deliveries.first { $0["subscription_id"] == .string("hook") })
        #expect(hook["last_error"] == .string("refused to connect to 127.0.0.1: a loopback address (allow it with delivery.allowed_networks)"))
        let id = try #require(hook["id"]?.stringValue)
        let log = try await harness.admin(.GET, "/v1/deliveries/\(id)").json["attempt_log"]?.arrayValue ?? []
        #expect(log.count == 1 && log.first?["outcome"] == .string("failed"), "\(log)")
        #expect(sinks.requests.isEmpty, "nothing reached the receiver")
        await harness.cleanup()
        await sinks.stop()
    }

    @Test func aDeliveryToAnAllowedNetworkIsSent() async throws {
        let sinks = try RecordingServer()
        let (harness, deliveries) = try await Self.deliverOneEvent(allowing: RelayHarness.loopbackNetworks, to: sinks)
        #expect(deliveries.allSatisfy { $0["status"] == .string("delivered") }, "\(deliveries)")
        #expect(Set(sinks.requests.map(\.path)) == ["/hook/a-long-secret-path-0123456789", "/services/T0/B0/secret-slack-token"])
        await harness.cleanup()
        await sinks.stop()
    }

    @Test(arguments: [
        (#"http://127.0.0.1:9\@evil/x"#, "backslash"),
        ("http://user:pw@hooks.example.com/x", "user info"),
        ("http://hooks.example.com:0/x", "from 1 to 65535"),
        ("http://hooks.example.com:65536/x", "from 1 to 65535"),
        ("http://2130706433/x", "numeric host"),
    ])
    func theAPIRefusesAURLItWouldReadDifferentlyAndStoresNothing(url: String, message: String) async throws {
        let harness = try RelayHarness()
        try await harness.start(harness.configuration(scalingo: nil))
        let body = String(decoding: JSONValue.object(["type": .string("slack"), "url": .string(url)]).encoded(), as: UTF8.self)
        let response = try await harness.admin(.POST, "/v1/subscriptions", body)
        #expect(response.status == 422, "a field's value is invalid: \(response.json)")
        #expect(response.json["error"]?["code"] == .string("invalid_field"))
        #expect(response.json["error"]?["field"] == .string("url"))
        let text = response.json["error"]?["message"]?.stringValue ?? ""
        #expect(text.hasPrefix("url: ") && text.contains(message), "\(text)")
        #expect(!text.contains("evil") && !text.contains("pw"), "the message does not repeat the URL")
        let listed = try await harness.admin(.GET, "/v1/subscriptions").json["subscriptions"]?.arrayValue
        #expect(listed?.isEmpty == true, "nothing stored: \(String(describing: listed))")
        await harness.cleanup()
    }

    @Test func notifiersAreGuardedByDefaultAndRefuseURLsStoredBeforeTheStrictReading() async throws {
        let sinks = try RecordingServer()
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let context = DeliveryContext(deliveryID: "dlv_1", subscriptionID: "s", matchedBy: "rule:r", attempt: 1, now: Date())
        let event = Fixtures.event(type: "deployment")
        func subscription(_ url: String) -> Subscription {
            Subscription.webhook("s", url: url, secret: RelayHarness.webhookSecret)
        }

        // A factory made without a policy still refuses special addresses: the default is the guard.
        let guarded = await NotifierFactory(transport: client).notifier(for: subscription(sinks.baseURL + "/hook")).notify(event, context: context)
        #expect(guarded == .failed(status: nil, reason: "refused to connect to 127.0.0.1: a loopback address", cause: .transport(.addressRefused)), "\(guarded)")

        // Stored by an earlier release, which accepted it: not sent anywhere, and the reason shows no part of it.
        let allowing = NotifierFactory(transport: client, addressPolicy: AddressPolicy(allowedNetworks: RelayHarness.loopbackNetworks))
        let legacy = await allowing.notifier(for: subscription("http://user:pw@127.0.0.1:\(sinks.port)/hook")).notify(event, context: context)
        guard case .failed(nil, let reason, .configuration) = legacy else {
            Issue.record("expected a permanent failure, got \(legacy)")
            return
        }
        #expect(reason.hasPrefix("not sent: the subscription's url: must not contain user info"), "\(reason)")
        #expect(!reason.contains("pw") && !reason.contains("127.0.0.1"))
        #expect(sinks.requests.isEmpty)
        #expect(await allowing.notifier(for: subscription(sinks.baseURL + "/hook")).notify(event, context: context) == .delivered(status: 200))
        await sinks.stop()
    }

    @Test func allowedNetworksAreReadFromTheConfigurationFile() throws {
        let yaml = "delivery:\n  allowed_networks: [127.0.0.0/8, '::1/128', 10.20.0.0/16, 192.0.2.7]\n"
        let configuration = try ConfigurationLoader.parse(try YAMLValue.parse(yaml, file: "relay.yaml"), environment: [:])
        #expect(configuration.deliveryAllowedNetworks.map(\.description) == ["127.0.0.0/8", "::1/128", "10.20.0.0/16", "192.0.2.7/32"])
        #expect(configuration.deliveryAddressPolicy.settingName == "delivery.allowed_networks")
        let none = try ConfigurationLoader.parse(try YAMLValue.parse("delivery:\n  allowed_networks: []\n", file: "relay.yaml"), environment: [:])
        #expect(none.deliveryAllowedNetworks.isEmpty)
        #expect(RelayConfiguration().deliveryAllowedNetworks.isEmpty, "nothing special is allowed by default")
    }

    @Test(arguments: [
        ("delivery:\n  allowed_networks: 127.0.0.0/8\n", 2, "delivery.allowed_networks: must be a list"),
        ("delivery:\n  allowed_networks:\n    - 127.0.0.0/8\n    - 10.0.0.1/8\n", 4, "delivery.allowed_networks[1]: \"10.0.0.1/8\" has bits set after the first 8: did you mean 10.0.0.0/8?"),
        ("delivery:\n  allowed_networks: [localhost]\n", 2, "\"localhost\" is not an IP network"),
        ("delivery:\n  allowed_networks: [10.0.0.0/33]\n", 2, "the prefix length must be a number from 0 to 32"),
        ("delivery:\n  allowed_networks: [[10.0.0.0/8]]\n", 2, "must be a single value"),
    ])
    func badAllowedNetworksNameTheirLine(yaml: String, line: Int, message: String) throws {
        let error = try #require(throws: YAMLError.self) {
            try ConfigurationLoader.parse(try YAMLValue.parse(yaml, file: "relay.yaml"), environment: [:])
        }
        #expect(error.line == line, "\(error)")
        #expect(error.description.contains(message), "\(error)")
    }
}
