import EventModel
import Feeds
import Foundation
import HTTPClient
import Sinks
import Testing

/// E-mail through libcurl's SMTP to a loopback SMTP server (`SMTPServer`): the message as a
/// mailbox receives it, the server's refusals read as SMTP means them, credentials from the
/// environment, and no fallback to clear text when STARTTLS is asked for.
@Suite("E-mail destination over SMTP", .serialized)
struct EmailTests {
    static func decodedParts(_ data: String) -> [String: String] {
        var parts: [String: String] = [:]
        for chunk in data.components(separatedBy: "--=_event-relay_").dropFirst() {
            guard let type = chunk.range(of: "Content-Type: ")
                .map({ String(chunk[$0.upperBound...].prefix { $0 != ";" }) }), let start = chunk.range(of: "\r\n\r\n")
            else { continue }
            let body = chunk[start.upperBound...].replacingOccurrences(of: "\r\n", with: "")
            parts[type] = Data(base64Encoded: body).map { String(decoding: $0, as: UTF8.self) }
        }
        return parts
    }

    @Test func aLockedAccountArrivesAsAReadableMailWithTextAndHTML() async throws {
        let smtp = try SMTPServer()
        defer { smtp.stop() }
        let setup = try await SecretsAPITests.Setup()
        let created = try await setup.harness.admin(.POST, "/v1/subscriptions", """
            {"id": "mail", "type": "email", "smtp_host": "127.0.0.1", "smtp_port": \(smtp.port), "security": "none",
             "from": "relay@example.com", "to": ["ops@example.com", "sec@example.com"], "time_zone": "Europe/Paris",
             "filter": {"types": ["login_lock"]}}
            """)
        #expect(created.status == 201, "\(created.json)")
        #expect(created.json["smtp_port"] == .integer(Int64(smtp.port)) && created.json["security"] == .string("none"))
        try await setup.push("mail-1")
        #expect(await smtp.waitFor { $0.count == 1 })
        let message = try #require(smtp.messages.first)
        #expect(message.from == "relay@example.com" && message.recipients == ["ops@example.com", "sec@example.com"])
        #expect(message.data.contains("From: relay@example.com\r\nTo: ops@example.com,\r\n sec@example.com\r\n"))
        // The Subject header, unfolded, as RFC 2047 encoded words.
        let lines = message.data.components(separatedBy: "\r\n")
        let start = try #require(lines.firstIndex { $0.hasPrefix("Subject: ") })
        let folded = [String(lines[start].dropFirst("Subject: ".count))] + lines[(start + 1)...].prefix { $0.hasPrefix(" ") }
        var subject = ""
        for word in folded.map({ $0.trimmingCharacters(in: .whitespaces) }) {
            let parts = word.split(separator: "?")
            #expect(parts.count == 5 && parts[1] == "UTF-8" && parts[2] == "B", "\(word)")
            if parts.count == 5 { subject += String(decoding: Data(base64Encoded: String(parts[3])) ?? Data(), as: UTF8.self) }
        }
        #expect(subject.hasPrefix("[EventRelay] ❌ Account locked after repeated failed logins"), "\(subject)")
        let deliveries = try await setup.harness.admin(.GET, "/v1/deliveries?subscription_id=mail").json
        let deliveryID = try #require(deliveries["deliveries"]?.arrayValue?.first?["id"]?.stringValue)
        #expect(message.data.contains("Message-ID: <\(deliveryID)@event-relay>"), "the same id on every retry")
        let parts = Self.decodedParts(message.data)
        let text = try #require(parts["text/plain"])
        #expect(text.contains("User: ann") && text.contains("Remote IP: 10.0.0.1") && text.contains("Europe/Paris"), "\(text)")
        let html = try #require(parts["text/html"])
        #expect(html.contains("<th style=\"text-align:left;padding-right:12px;vertical-align:top\">Remote IP</th><td><code>10.0.0.1</code></td>"))
        for line in message.data.components(separatedBy: "\r\n") { #expect(line.utf8.count <= 998) }
        await setup.finish()
    }

    static func notifier(_ settings: EmailSettings, environment: [String: String] = [:], client: CurlHTTPClient) -> any Notifier {
        EmailSink.notifier(
            for: Subscription(id: "mail", settings: settings), settings: settings,
            context: SinkContext(transport: client, presenter: PlatformPresenter(), mail: client, environment: environment))
    }

    static let context = DeliveryContext(deliveryID: "dlv_mail", subscriptionID: "mail", matchedBy: "r", attempt: 1, now: Date())

    @Test func refusalsReadAsSMTPMeansThem() async throws {
        let smtp = try SMTPServer()
        defer { smtp.stop() }
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        func send(to: [String]) async -> SendResult {
            let settings = EmailSettings(host: "127.0.0.1", port: Int(smtp.port), security: .none, from: "relay@example.com", to: to)
            return await Self.notifier(settings, client: client).notify(Fixtures.event(type: "deployment"), context: Self.context)
        }
        #expect(await send(to: ["ops@example.com"]) == .delivered(status: 250))
        guard case .failed(550, let reason, let cause) = await send(to: ["reject-me@example.com"]) else {
            Issue.record("a 550 recipient is a permanent refusal")
            return
        }
        #expect(cause == .smtp(550) && cause.label == "smtp_5xx" && reason.hasPrefix("SMTP 550"), "\(reason)")
        guard case .retry(451, _, nil, let deferred) = await send(to: ["tempfail@example.com"]) else {
            Issue.record("a 451 recipient is tried again")
            return
        }
        #expect(deferred.label == "smtp_4xx")
        // A server that is not there.
        let gone = EmailSettings(host: "127.0.0.1", port: 9, security: .none, from: "relay@example.com", to: ["ops@example.com"])
        guard case .retry(nil, _, nil, let unreachable) = await Self.notifier(gone, client: client).notify(Fixtures.event(type: "x"), context: Self.context) else {
            Issue.record("an unreachable server is tried again")
            return
        }
        #expect(unreachable.label == "connect")
    }

    @Test func credentialsComeFromTheEnvironmentAndNeverShow() async throws {
        let smtp = try SMTPServer(credentials: ("relay", "s3cret-smtp-passw0rd"))
        defer { smtp.stop() }
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let settings = EmailSettings(
            host: "127.0.0.1", port: Int(smtp.port), security: .none, from: "relay@example.com", to: ["ops@example.com"],
            usernameEnv: "SMTP_USER", passwordEnv: "SMTP_PASSWORD")
        let good = Self.notifier(settings, environment: ["SMTP_USER": "relay", "SMTP_PASSWORD": "s3cret-smtp-passw0rd"], client: client)
        #expect(await good.notify(Fixtures.event(type: "x"), context: Self.context) == .delivered(status: 250))
        #expect(smtp.messages.first?.user == "relay")
        let wrong = Self.notifier(settings, environment: ["SMTP_USER": "relay", "SMTP_PASSWORD": "wrong-password-123"], client: client)
        let refused = await wrong.notify(Fixtures.event(type: "x"), context: Self.context)
        guard case .failed(nil, let reason, .authentication) = refused else {
            Issue.record("refused credentials are a permanent failure, not \(refused); server saw \(smtp.commands)")
            return
        }
        #expect(!reason.contains("wrong-password-123"), "\(reason)")
        let temporary = Self.notifier(settings, environment: ["SMTP_USER": "tempfail", "SMTP_PASSWORD": "whatever-123"], client: client)
        guard case .retry(454, _, nil, let deferred) = await temporary.notify(Fixtures.event(type: "x"), context: Self.context) else {
            Issue.record("a temporary authentication failure (454) is tried again, not dead-lettered")
            return
        }
        #expect(deferred.label == "smtp_4xx")
        let missing = Self.notifier(settings, environment: [:], client: client)
        #expect(await missing.notify(Fixtures.event(type: "x"), context: Self.context)
            == .failed(status: nil, reason: "not sent: environment variable SMTP_USER is not set", cause: .configuration))
        #expect(settings.validate()?.field == "security", "credentials over a plain connection are refused when saved")
        #expect(!String(describing: settings.view(now: Date())).contains("s3cret"))
    }

    /// STARTTLS asked for, not offered: nothing is sent in clear text.
    @Test func noClearTextFallbackWhenTLSIsAskedFor() async throws {
        let smtp = try SMTPServer()
        defer { smtp.stop() }
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let settings = EmailSettings(host: "127.0.0.1", port: Int(smtp.port), security: .startTLS, from: "relay@example.com", to: ["ops@example.com"])
        guard case .retry(nil, let reason, nil, let cause) = await Self.notifier(settings, client: client).notify(Fixtures.event(type: "x"), context: Self.context) else {
            Issue.record("a server without STARTTLS is a TLS failure")
            return
        }
        #expect(cause.label == "tls" && reason.contains("STARTTLS"), "\(reason)")
        #expect(smtp.messages.isEmpty && !smtp.commands.contains { $0.uppercased().hasPrefix("MAIL FROM") })
    }

    /// Fifty long addresses: the To header is folded, every line within RFC 5322's 998 characters.
    @Test func manyRecipientsStayWithinTheLineLimitAndTemplatesReachBothParts() async throws {
        let to = (0..<50).map { "a-rather-long-mailbox-name-for-the-on-call-rotation-\($0)@operations.example.com" }
        let settings = EmailSettings(
            host: "smtp.example.com", from: "relay@example.com", to: to, textTemplate: "{{presentation.title}} on {{event.app}} <b>raw</b>")
        #expect(settings.validate() == nil)
        let rendered = await DryRun.render(Fixtures.event(type: "deployment", app: "shop"), for: Subscription(id: "m", settings: settings), presenter: PlatformPresenter())
        let message = try #require(rendered["message"]?.stringValue)
        for line in message.components(separatedBy: "\r\n") { #expect(line.utf8.count <= 998) }
        #expect(message.contains("To: \(to[0]),\r\n \(to[1])"))
        let parts = Self.decodedParts(message)
        #expect(parts["text/plain"]?.hasSuffix("on shop <b>raw</b>") == true, "\(parts)")
        #expect(parts["text/html"]?.contains("on shop &lt;b&gt;raw&lt;/b&gt;") == true, "the HTML part shows the template too, escaped")
    }

    @Test func settingsAreCheckedWhenSaved() throws {
        let email = try #require(SinkRegistry.kinds.named("email"))
        func problem(_ body: [String: JSONValue]) throws -> String? {
            var full: [String: JSONValue] = ["smtp_host": .string("smtp.example.com"), "from": .string("relay@example.com"), "to": .array([.string("ops@example.com")])]
            full.merge(body) { $1 }
            do {
                return try email.read(JSONSettingsSource(api: full)).validate()?.field
            } catch {
                return error.field
            }
        }
        #expect(try problem([:]) == nil)
        #expect(try problem(["to": .array([.string("ops@example.com\r\nBcc: x@evil.test")])]) == "to")
        #expect(try problem(["from": .string("not an address")]) == "from")
        #expect(try problem(["security": .string("ssl3")]) == "security")
        #expect(try problem(["smtp_port": .integer(70000)]) == "smtp_port")
        #expect(try problem(["password_env": .string("SMTP_PASSWORD")]) == "username_env")
        #expect(try problem(["to": .array([])]) == "to")
        #expect(try problem(["subject_prefix": .string("a\nb")]) == "subject_prefix")
    }
}
