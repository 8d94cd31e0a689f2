import EventModel
import Foundation
import HTTPClient

/// `type: email`: one message per event to a list of addresses, through an SMTP server
/// (libcurl's SMTP: STARTTLS by default, implicit TLS, or plain text to a relay on the same
/// host), with a plain-text and an HTML body. The server's credentials come from the relay's
/// environment (`username_env`, `password_env` name the variables), never from the API or a file.
public enum EmailSink: SinkPlugin {
    public static let kind = "email"

    public static let fields: [SinkField] = [
        SinkField("smtp_host", .string), SinkField("smtp_port", .integer), SinkField("security", .string),
        SinkField("from", .string), SinkField("to", .strings), SinkField("subject_prefix", .string),
        SinkField("username_env", .string), SinkField("password_env", .string), SinkField("time_zone", .string),
        // Mustache templates replacing the subject and the plain-text body.
        SinkField("subject_template", .string), SinkField("text_template", .string),
    ]

    public static func settings(from source: any SettingsSource) throws(FieldError) -> EmailSettings {
        guard let host = try source.string("smtp_host") else { throw FieldError(field: "smtp_host", message: "is required") }
        guard let from = try source.string("from") else { throw FieldError(field: "from", message: "is required") }
        guard let to = try source.strings("to"), !to.isEmpty else { throw FieldError(field: "to", message: "is required: a list of addresses") }
        let securityText = try source.string("security") ?? MailRequest.Security.startTLS.rawValue
        guard let security = MailRequest.Security(rawValue: securityText) else {
            throw FieldError(field: "security", message: "must be one of: starttls (port 587), tls (port 465), none (a relay on this host)")
        }
        return EmailSettings(
            host: host, port: try source.integer("smtp_port"), security: security, from: from, to: to,
            subjectPrefix: try source.string("subject_prefix"), usernameEnv: try source.string("username_env"),
            passwordEnv: try source.string("password_env"), timeZone: try source.string("time_zone"),
            subjectTemplate: try source.string("subject_template"), textTemplate: try source.string("text_template"))
    }

    public static func notifier(for subscription: Subscription, settings: EmailSettings, context: SinkContext) -> any Notifier {
        guard let mail = context.mail else {
            return RefusingNotifier(reason: "not sent: this relay has no mail transport", cause: .configuration)
        }
        return EmailNotifier(settings: settings, transport: mail, presenter: context.presenter, environment: context.environment)
    }
}

public struct EmailSettings: SinkSettings, Hashable {
    public var host: String
    /// Nil: the security's usual port (587, 465, 25).
    public var port: Int?
    public var security: MailRequest.Security
    public var from: String
    public var to: [String]
    public var subjectPrefix: String?
    /// Names of environment variables (the values never leave the relay's environment).
    public var usernameEnv: String?
    public var passwordEnv: String?
    public var timeZone: String?
    public var subjectTemplate: String?
    public var textTemplate: String?

    public init(
        host: String, port: Int? = nil, security: MailRequest.Security = .startTLS, from: String, to: [String], subjectPrefix: String? = nil,
        usernameEnv: String? = nil, passwordEnv: String? = nil, timeZone: String? = nil, subjectTemplate: String? = nil,
        textTemplate: String? = nil
    ) {
        self.subjectTemplate = subjectTemplate
        self.textTemplate = textTemplate
        self.host = host
        self.port = port
        self.security = security
        self.from = from
        self.to = to
        self.subjectPrefix = subjectPrefix
        self.usernameEnv = usernameEnv
        self.passwordEnv = passwordEnv
        self.timeZone = timeZone
    }

    public var kind: String { EmailSink.kind }

    public var effectivePort: Int {
        port ?? [.startTLS: 587, .implicitTLS: 465, .none: 25][security] ?? 587
    }

    public var zone: TimeZone { timeZone.flatMap(TimeZone.init(identifier:)) ?? .gmt }

    public func document() -> [String: JSONValue] {
        var document: [String: JSONValue] = [
            "smtp_host": .string(host), "security": .string(security.rawValue), "from": .string(from), "to": .array(to.map(JSONValue.string)),
        ]
        if let port { document["smtp_port"] = .integer(Int64(port)) }
        if let subjectPrefix { document["subject_prefix"] = .string(subjectPrefix) }
        if let usernameEnv { document["username_env"] = .string(usernameEnv) }
        if let passwordEnv { document["password_env"] = .string(passwordEnv) }
        if let timeZone { document["time_zone"] = .string(timeZone) }
        if let subjectTemplate { document["subject_template"] = .string(subjectTemplate) }
        if let textTemplate { document["text_template"] = .string(textTemplate) }
        return document
    }

    /// Nothing here is secret: the credentials are named, not held.
    public func view(now: Date) -> [String: JSONValue] {
        var view = document()
        view["smtp_port"] = .integer(Int64(effectivePort))
        view["time_zone"] = .string(timeZone ?? "UTC")
        return view
    }

    public var secrets: [SecretString] { [] }

    public func validate() -> FieldError? {
        let hostCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:")
        if host.isEmpty || host.count > 253 || !host.allSatisfy({ hostCharacters.contains($0) }) {
            return FieldError(field: "smtp_host", message: "must be a host name or IP address")
        }
        if let port, !(1...65535).contains(port) { return FieldError(field: "smtp_port", message: "must be 1 to 65535") }
        if let problem = Self.validateAddress(from, field: "from") { return problem }
        if to.count > 50 { return FieldError(field: "to", message: "at most 50 addresses") }
        for address in to { if let problem = Self.validateAddress(address, field: "to") { return problem } }
        if let subjectPrefix, subjectPrefix.count > 100 || subjectPrefix.contains(where: \.isNewline) {
            return FieldError(field: "subject_prefix", message: "must be one line of at most 100 characters")
        }
        for (field, name) in [("username_env", usernameEnv), ("password_env", passwordEnv)] {
            guard let name else { continue }
            let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
            if name.isEmpty || name.first?.isNumber == true || !name.allSatisfy({ allowed.contains($0) }) {
                return FieldError(field: field, message: "must name an environment variable (capital letters, digits and _)")
            }
        }
        if (usernameEnv == nil) != (passwordEnv == nil) {
            return FieldError(field: usernameEnv == nil ? "username_env" : "password_env", message: "username_env and password_env go together")
        }
        if usernameEnv != nil, security == .none {
            return FieldError(field: "security", message: "credentials would travel in clear text: use starttls or tls")
        }
        if let timeZone, TimeZone(identifier: timeZone) == nil {
            return FieldError(field: "time_zone", message: "must be an IANA time zone name such as Europe/Paris or UTC")
        }
        if let problem = TemplateField.validate(subjectTemplate, output: .text, field: "subject_template") { return problem }
        return TemplateField.validate(textTemplate, output: .text, field: "text_template")
    }

    /// `local@domain`, one line, no brackets, spaces or separators that would split a header.
    static func validateAddress(_ address: String, field: String) -> FieldError? {
        let parts = address.split(separator: "@", omittingEmptySubsequences: false)
        let forbidden = Set(" \t\r\n<>,;:\"()[]\\")
        guard address.count <= 254, parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."),
              !parts[1].hasSuffix("."), !address.contains(where: { forbidden.contains($0) }), address.allSatisfy(\.isASCII)
        else {
            return FieldError(field: field, message: "\"\(address)\" is not an e-mail address like ops@example.com")
        }
        return nil
    }
}
