import EventModel
import Foundation

/// A header sent with every delivery of a subscription (an `Authorization` a receiver demands,
/// say). The value is a secret: stored, sent, and scrubbed from what receivers echo; only the
/// name is ever shown.
public struct CustomHeader: Sendable, Hashable {
    public var name: String
    public var value: SecretString

    public init(name: String, value: SecretString) {
        self.name = name
        self.value = value
    }
}

/// Custom headers as any HTTP kind's settings hold them: read, checked, stored and shown the same way.
public enum CustomHeaders {
    public static let field = SinkField("headers", .secretMap, placeholder: "unresolved")

    public static let maxHeaders = 20
    public static let maxNameLength = 64
    public static let maxValueLength = 4096
    /// Names and values together.
    public static let maxSize = 8192
    /// Headers the relay or HTTP itself sets: a subscription may not override them
    /// (compared in lower case; every `webhook-*` name is reserved for Standard Webhooks too).
    public static let reservedNames: Set<String> = [
        "host", "content-length", "content-type", "content-encoding", "transfer-encoding", "connection", "keep-alive",
        "proxy-connection", "proxy-authorization", "te", "trailer", "upgrade", "expect",
    ]
    public static let reservedPrefix = "webhook-"

    public static func read(_ source: any SettingsSource) throws(FieldError) -> [CustomHeader] {
        (try source.secretMap(field.name) ?? []).map { CustomHeader(name: $0.name, value: $0.value) }
    }

    public static func document(_ headers: [CustomHeader]) -> JSONValue {
        .object(Dictionary(headers.map { ($0.name, JSONValue.string($0.value.value)) }, uniquingKeysWith: { first, _ in first }))
    }

    /// Names only, never values.
    public static func view(_ headers: [CustomHeader]) -> JSONValue {
        .array(headers.map { .string($0.name) })
    }

    public static func pairs(_ headers: [CustomHeader]) -> [(name: String, value: String)] {
        headers.map { ($0.name, $0.value.value) }
    }

    /// RFC 9110 field names (tokens), values of printable ASCII without CR, LF, NUL or other
    /// controls (they would split or end the request's header block), bounded in count and size,
    /// none the relay or HTTP sets itself, no name twice. Messages name headers, never values.
    public static func validate(_ headers: [CustomHeader], field: String = "headers") -> FieldError? {
        if headers.count > maxHeaders {
            return FieldError(field: field, message: "at most \(maxHeaders) headers")
        }
        let tokenCharacters = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".unicodeScalars)
        var seen: Set<String> = []
        var size = 0
        for header in headers {
            let name = header.name
            guard !name.isEmpty, name.unicodeScalars.count <= maxNameLength,
                  name.unicodeScalars.allSatisfy({ tokenCharacters.contains($0) })
            else {
                return FieldError(
                    field: field,
                    message: "header names must be 1 to \(maxNameLength) letters, digits or !#$%&'*+-.^_`|~ (got \(String(reflecting: name)))")
            }
            let lower = name.lowercased()
            if reservedNames.contains(lower) || lower.hasPrefix(reservedPrefix) {
                return FieldError(field: "\(field).\(name)", message: "is set by the relay or by HTTP itself and cannot be overridden")
            }
            guard seen.insert(lower).inserted else {
                return FieldError(field: "\(field).\(name)", message: "is given more than once (names are case-insensitive)")
            }
            let value = header.value.value.unicodeScalars
            if value.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) {
                return FieldError(field: "\(field).\(name)", message: "the value must not contain CR, LF or NUL")
            }
            guard !value.isEmpty, value.allSatisfy({ $0 == "\t" || (0x20..<0x7F).contains($0.value) }) else {
                return FieldError(field: "\(field).\(name)", message: "the value must be non-empty printable ASCII (tabs allowed)")
            }
            if value.first == " " || value.first == "\t" || value.last == " " || value.last == "\t" {
                return FieldError(field: "\(field).\(name)", message: "the value must not start or end with whitespace")
            }
            if value.count > maxValueLength {
                return FieldError(field: "\(field).\(name)", message: "the value is longer than \(maxValueLength) characters")
            }
            size += name.utf8.count + header.value.value.utf8.count
        }
        if size > maxSize {
            return FieldError(field: field, message: "names and values together exceed \(maxSize) bytes")
        }
        return nil
    }
}

/// A destination URL as HTTP kinds' settings hold it: a secret (a Slack webhook URL lets anyone
/// post), shown only through `Redact.url`.
public enum DestinationURLField {
    public static let field = SinkField("url", .secret, placeholder: "https://unresolved.invalid/")

    public static func read(_ source: any SettingsSource) throws(FieldError) -> SecretString {
        guard let url = try source.secret(field.name) else { throw FieldError(field: "url", message: "is required") }
        return url
    }

    public static func validate(_ url: SecretString) -> FieldError? {
        Subscription.validateURL(url.value, field: "url")
    }
}
