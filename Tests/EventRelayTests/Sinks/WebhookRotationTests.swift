import EventModel
import Foundation
import HTTPClient
import Sinks
import Testing

/// Signatures during and after a secret rotation, and custom headers, checked with a receiver's
/// own Standard Webhooks implementation (`StandardWebhooksReference`), not the relay's.
@Suite("Webhook secret rotation and custom headers")
struct WebhookRotationTests {
    /// Answers from a script and keeps every request it was asked to send.
    final class ScriptedTransport: HTTPTransport, @unchecked Sendable {
        private let lock = NSLock()
        private var sent: [HTTPRequest] = []
        private let answer: @Sendable (HTTPRequest) throws -> HTTPResponse

        init(_ answer: @escaping @Sendable (HTTPRequest) throws -> HTTPResponse = { _ in HTTPResponse(status: 204) }) {
            self.answer = answer
        }

        var requests: [HTTPRequest] { lock.withLock { sent } }

        func execute(_ request: HTTPRequest) async throws -> HTTPResponse {
            lock.withLock { sent.append(request) }
            return try answer(request)
        }
    }

    static let current = "whsec_" + Data((0..<32).map { UInt8($0) }).base64EncodedString()
    static let previous = "whsec_" + Data((100..<132).map { UInt8($0) }).base64EncodedString()
    static let older = "whsec_" + Data((200..<224).map { UInt8($0) }).base64EncodedString()
    static let rotatedAt = Date(timeIntervalSince1970: 1_750_000_000)
    static let expiry = rotatedAt.addingTimeInterval(24 * 3600)

    static func subscription() -> Subscription {
        Subscription.webhook(
            "hook", url: "https://receiver.test/in/tok_9f8e7d6c5b4a3210?key=qwertyuiop123",
            secret: current,
            previous: [
                PreviousSecret(secret: SecretString(previous), expiresAt: expiry),
                PreviousSecret(secret: SecretString(older), expiresAt: rotatedAt.addingTimeInterval(-1)),
            ],
            headers: ["Authorization": "Bearer sk_live_abcdefghijkl", "X-Team": "ops"])
    }

    static func send(_ subscription: Subscription, at now: Date, over transport: ScriptedTransport) async -> SendResult {
        let notifier = NotifierFactory(transport: transport).notifier(for: subscription)
        return await notifier.notify(
            Fixtures.event(type: "deployment", id: "ev-1"),
            context: DeliveryContext(deliveryID: "dlv_rotation", subscriptionID: subscription.id, matchedBy: "rule:r", attempt: 1, now: now))
    }

    /// The fingerprint is what the doc comment says an operator can compute (`sha256sum | cut -c1-8`).
    @Test func aSecretsFingerprintIsTheFirstEightHexDigitsOfItsSHA256() {
        #expect(SecretHint.fingerprint(SecretString(RelayHarness.webhookSecret)) == "5036e143")
        #expect(SecretHint.fingerprint(SecretString("")) == "e3b0c442")
    }

    @Test func theReferenceImplementationMatchesThePublishedVectors() {
        let hex = { (bytes: [UInt8]) in bytes.map { String(format: "%02x", $0) }.joined() }
        #expect(hex(StandardWebhooksReference.sha256(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex(StandardWebhooksReference.sha256([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        // RFC 4231, test case 2.
        #expect(hex(StandardWebhooksReference.hmacSHA256(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8)))
            == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        // The Standard Webhooks specification's example, verified by the reference and signed alike by the relay.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        let body = Array(#"{"test": 2432232314}"#.utf8)
        let header = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        #expect(StandardWebhooksReference.verifies(header: header, secret: secret, id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: "1614265330", body: body))
        #expect(WebhookSignature.sign(secret: secret, id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: body) == header)
    }

    @Test func whileThePreviousSecretIsInForceBothSignAndEachVerifiesOne() async throws {
        let transport = ScriptedTransport()
        let result = await Self.send(Self.subscription(), at: Self.rotatedAt.addingTimeInterval(3600), over: transport)
        #expect(result == .delivered(status: 204))
        let request = try #require(transport.requests.first)
        let header = try #require(request.headers.first { $0.name == "webhook-signature" }?.value)
        let timestamp = try #require(request.headers.first { $0.name == "webhook-timestamp" }?.value)
        #expect(timestamp == String(Int(Self.rotatedAt.timeIntervalSince1970) + 3600))
        let parts = header.split(separator: " ").map(String.init)
        #expect(parts.count == 2, "the current and the previous secret; the expired one signs nothing: \(header)")
        func verified(_ secret: String) -> [String] {
            StandardWebhooksReference.verifiedSignatures(header: header, secret: secret, id: "dlv_rotation", timestamp: timestamp, body: request.body)
        }
        #expect(verified(Self.current) == [parts[0]], "the new secret signs first")
        #expect(verified(Self.previous) == [parts[1]])
        #expect(verified(Self.older).isEmpty)
        // Custom headers travel with it, after the relay's own.
        #expect(request.headers.filter { $0.name == "Authorization" }.map(\.value) == ["Bearer sk_live_abcdefghijkl"])
        #expect(request.headers.filter { $0.name == "X-Team" }.map(\.value) == ["ops"])
        #expect(request.headers.filter { $0.name == "Content-Type" }.map(\.value) == ["application/json"])
    }

    @Test(arguments: [0.0, 1.0, 86_400.0])
    func onceThePreviousSecretExpiresOnlyTheNewOneSigns(secondsAfterExpiry: Double) async throws {
        let transport = ScriptedTransport()
        _ = await Self.send(Self.subscription(), at: Self.expiry.addingTimeInterval(secondsAfterExpiry), over: transport)
        let request = try #require(transport.requests.first)
        let header = try #require(request.headers.first { $0.name == "webhook-signature" }?.value)
        let timestamp = try #require(request.headers.first { $0.name == "webhook-timestamp" }?.value)
        #expect(!header.contains(" "))
        #expect(StandardWebhooksReference.verifies(header: header, secret: Self.current, id: "dlv_rotation", timestamp: timestamp, body: request.body))
        #expect(!StandardWebhooksReference.verifies(header: header, secret: Self.previous, id: "dlv_rotation", timestamp: timestamp, body: request.body))
    }

    @Test func slackSubscriptionsSendTheirCustomHeadersButNoSignature() async throws {
        let transport = ScriptedTransport { _ in HTTPResponse(status: 200, body: Array("ok".utf8)) }
        let slack = Subscription.slack("chat", url: "https://chat.test/hooks/abcdefghijkl", headers: ["X-Proxy-Key": "proxy-secret-123"])
        #expect(await Self.send(slack, at: Self.rotatedAt, over: transport) == .delivered(status: 200))
        let request = try #require(transport.requests.first)
        #expect(request.headers.contains { $0.name == "X-Proxy-Key" && $0.value == "proxy-secret-123" })
        #expect(!request.headers.contains { $0.name.hasPrefix("webhook-") })
    }

    /// A receiver that answers 400 with everything it was sent: URL, headers, body.
    static func echo(_ request: HTTPRequest, status: Int) -> HTTPResponse {
        let headers = request.headers.map { "\($0.name): \($0.value)" }.joined(separator: "\n")
        let echoed = "rejected \(request.url)\n\(headers)\n\n\(String(decoding: request.body, as: UTF8.self))"
        return HTTPResponse(status: status, body: Array(echoed.utf8))
    }

    @Test(arguments: [400, 500])
    func aReceiverEchoingTheRequestLeavesNoSecretInTheReason(status: Int) async throws {
        let subscription = Self.subscription()
        let transport = ScriptedTransport { Self.echo($0, status: status) }
        let result = await Self.send(subscription, at: Self.rotatedAt, over: transport)
        let reason: String
        switch result {
        case .failed(let code, let text, _): #expect(status == 400 && code == 400); reason = text
        case .retry(let code, let text, _, _): #expect(status == 500 && code == 500); reason = text
        case .delivered: Issue.record("an error answer was taken for a success"); return
        }
        #expect(reason.hasPrefix("HTTP \(status): "), "\(reason)")
        #expect(reason.contains(Scrubber.replacement), "\(reason)")
        for secret in ScrubberTests.secretFragments(of: try #require(subscription.webhook)) {
            #expect(!reason.contains(secret), "\(secret) in \(reason)")
        }
    }

    @Test func aTransportErrorNamingTheURLIsScrubbed() async throws {
        struct Failure: Error, CustomStringConvertible { var description: String }
        let subscription = Self.subscription()
        let transport = ScriptedTransport { request in throw Failure(description: "could not reach \(request.url)") }
        guard case .retry(nil, let reason, nil, _) = await Self.send(subscription, at: Self.rotatedAt, over: transport) else {
            Issue.record("a transport failure is retried")
            return
        }
        #expect(reason == "could not reach [redacted]")
    }
}
