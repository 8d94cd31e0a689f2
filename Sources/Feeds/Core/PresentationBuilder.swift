import EventModel
import Foundation

/// Assembles a presentation; facts without a value are left out.
struct PresentationBuilder {
    let event: Event
    let data: JSONValue
    var tone = EventPresentation.Tone.info
    var title = ""
    var subject: String?
    var facts: [EventPresentation.Fact] = []
    var links: [EventPresentation.Link] = []
    /// The one-line text, when the presenter words it itself.
    var fallback: String?
    /// The story the event continues (see `EventPresentation.thread`).
    var thread: String?

    /// `data`: where the type's own fields are (Scalingo's `type_data`, EscapeKit's `data`).
    init(_ event: Event, data: JSONValue) {
        self.event = event
        self.data = data
        subject = event.app ?? event.project
    }

    mutating func set(_ tone: EventPresentation.Tone, _ title: String) {
        self.tone = tone
        self.title = title
    }

    mutating func fact(_ label: String, _ value: String?, link: String? = nil, code: Bool = false) {
        guard let value, !value.isEmpty else { return }
        facts.append(EventPresentation.Fact(label, value, link: EventPresentation.safeLink(link), code: code))
    }

    mutating func link(_ label: String, _ url: String?) {
        guard let url = EventPresentation.safeLink(url), !links.contains(where: { $0.url == url }) else { return }
        links.append(EventPresentation.Link(label, url))
    }

    var presentation: EventPresentation {
        let actor = event.actor?.displayName
        var facts = facts
        // Who did it, visibly (not only in a notification line), unless a fact names them already.
        if let actor, !facts.contains(where: { $0.value == actor || $0.value.hasPrefix(actor + " (") }) {
            facts.append(EventPresentation.Fact("By", actor))
        }
        var line = title
        if let subject { line += " on \(subject)" }
        if let actor, subject != nil || self.facts.first?.value != actor { line += " by \(actor)" }
        if let first = self.facts.first {
            // One line: a value of several lines shows its first, and says the rest was cut.
            let value = first.value.trimmingCharacters(in: .whitespacesAndNewlines)
            let firstLine = value.prefix { !$0.isNewline }
            line += " (\(first.label.lowercased()): \(firstLine.count < value.count ? String(firstLine) + EventPresentation.truncationMarker : value))"
        }
        return EventPresentation(
            tone: tone, title: title, subject: subject, actor: actor, facts: facts, links: links, fallback: fallback ?? line, thread: thread)
    }

    static func yesNo(_ flag: Bool) -> String { flag ? "yes" : "no" }

    static func flag(_ value: JSONValue) -> String? {
        switch value {
        case .bool(let flag): return yesNo(flag)
        case .string(let text): return text == "true" ? "yes" : text == "false" ? "no" : text
        default: return nil
        }
    }

    static func person(_ value: JSONValue?) -> String? {
        guard let value else { return nil }
        let name = value["username"]?.scalarText
        let email = value["email"]?.scalarText
        switch (name, email) {
        case (let name?, let email?) where name != email: return "\(name) (\(email))"
        case (let name?, _): return name
        case (nil, let email?): return email
        default: return nil
        }
    }

    /// Just the scheme and host (a log drain's URL often carries its token); `(hidden)` for
    /// anything that does not start with a scheme.
    static func host(_ url: String?) -> String? {
        guard let url else { return nil }
        guard let (scheme, authority, _) = parts(url) else { return "(hidden)" }
        return "\(scheme)://\(authority.split(separator: "@").last.map(String.init) ?? authority)"
    }

    /// The URL without user info, query or fragment (a git source may carry a token).
    static func withoutCredentials(_ url: String?) -> String? {
        guard let url else { return nil }
        guard let (scheme, authority, path) = parts(url) else { return url.contains("@") ? "(hidden)" : url }
        let host = authority.split(separator: "@").last.map(String.init) ?? authority
        return "\(scheme)://\(host)\(path)"
    }

    /// `scheme://authority/path` split, when the text starts with a scheme.
    private static func parts(_ url: String) -> (String, String, String)? {
        guard let schemeEnd = url.range(of: "://") else { return nil }
        let scheme = url[..<schemeEnd.lowerBound]
        guard let first = scheme.first, first.isLetter, scheme.allSatisfy({ $0.isLetter || $0.isNumber || "+-.".contains($0) }) else { return nil }
        let rest = url[schemeEnd.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        let path = rest.dropFirst(authority.count).prefix { $0 != "?" && $0 != "#" }
        return (String(scheme), String(authority), String(path))
    }

    static func duration(_ seconds: Int64) -> String {
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(seconds / 60)m \(seconds % 60)s" }
        return "\(seconds / 3600)h \(seconds % 3600 / 60)m"
    }

    /// Keys whose values are never shown for a type the presenter does not know.
    static func secretLooking(_ key: String) -> Bool {
        let lower = key.lowercased()
        return [
            "value", "secret", "token", "password", "passwd", "pwd", "passphrase", "key", "code", "url", "dsn", "credential", "auth",
            "private", "phone", "address", "email", "iban", "card",
        ].contains { lower.contains($0) }
    }
}

extension JSONValue {
    /// A non-empty scalar field as text.
    func text(_ key: String) -> String? {
        guard let text = self[key]?.scalarText, !text.isEmpty else { return nil }
        return text
    }
}
