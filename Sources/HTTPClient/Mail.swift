import Foundation

/// One message to hand to an SMTP server (libcurl's SMTP, on the same multi handle and thread
/// as HTTP). `message` is the whole RFC 5322 message, headers and body, CRLF line ends; libcurl
/// does the dot-stuffing.
public struct MailRequest: Sendable {
    /// How the connection is protected. `startTLS` (port 587) upgrades and refuses to go on
    /// without TLS; `implicitTLS` (port 465) starts with it; `none` is plain text (a relay on
    /// the same host).
    public enum Security: String, Sendable, CaseIterable {
        case startTLS = "starttls"
        case implicitTLS = "tls"
        case none
    }

    public var host: String
    public var port: Int
    public var security: Security
    public var from: String
    public var recipients: [String]
    public var message: [UInt8]
    public var username: String?
    public var password: String?
    public var timeout: Duration?
    /// As for HTTP: the addresses the connection may go to.
    public var addressPolicy: AddressPolicy?

    public init(
        host: String, port: Int, security: Security, from: String, recipients: [String], message: [UInt8], username: String? = nil,
        password: String? = nil, timeout: Duration? = nil, addressPolicy: AddressPolicy? = nil
    ) {
        self.host = host
        self.port = port
        self.security = security
        self.from = from
        self.recipients = recipients
        self.message = message
        self.username = username
        self.password = password
        self.timeout = timeout
        self.addressPolicy = addressPolicy
    }

    /// `smtp://host:port` or `smtps://host:port` (IPv6 literals in brackets).
    var url: String {
        let bracketed = host.contains(":") ? "[\(host)]" : host
        return "\(security == .implicitTLS ? "smtps" : "smtp")://\(bracketed):\(port)"
    }
}

/// The server's last reply: 250 when the message was taken; a 4xx or 5xx when it refused it
/// (the sender, a recipient or the data).
public struct MailResponse: Sendable, Equatable {
    public var code: Int
    /// libcurl's words about a refusal ("RCPT failed: 550"), when there was one.
    public var detail: String

    public init(code: Int, detail: String = "") {
        self.code = code
        self.detail = detail
    }
}

/// Anything that can hand a message to an SMTP server. Production uses `CurlHTTPClient`.
public protocol MailTransport: Sendable {
    func send(_ mail: MailRequest) async throws -> MailResponse
}

/// A mail transport whose every message carries `policy` (what the sinks are given).
public struct AddressGuardedMailTransport: MailTransport {
    public let base: any MailTransport
    public let policy: AddressPolicy

    public init(base: any MailTransport, policy: AddressPolicy) {
        self.base = base
        self.policy = policy
    }

    public func send(_ mail: MailRequest) async throws -> MailResponse {
        var guarded = mail
        guarded.addressPolicy = policy
        return try await base.send(guarded)
    }
}
