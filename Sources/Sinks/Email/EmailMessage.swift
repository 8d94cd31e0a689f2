import EventModel
import Foundation
import HTTPClient

/// An event as an e-mail (pure): a subject that says what happened to what, a plain-text and
/// an HTML body (`multipart/alternative`) with the facts, the links and a footer. Bodies are
/// base64 (no line limit or encoding trouble); the subject is an RFC 2047 encoded word; the
/// Message-ID is the delivery's id, the same on every retry, so a mailbox shows one message.
enum EmailMessage {
    static func render(
        _ event: Event, presentation: EventPresentation, settings: EmailSettings, deliveryID: String, date: Date
    ) -> [UInt8] {
        let prefix = settings.subjectPrefix ?? "[EventRelay]"
        var subject = "\(prefix) \(ChatText.symbol(presentation.tone)) \(presentation.title)"
        if let subject2 = presentation.subject { subject += " · \(subject2)" }
        let templateContext = TemplateContext(event: event, presentation: presentation, zone: settings.zone)
        if let template = TemplateField.compiled(settings.subjectTemplate, output: .text) { subject = template.render(templateContext) }
        subject = ChatText.clip(subject.replacingOccurrences(of: "\n", with: " "), 200)
        let boundary = "=_event-relay_\(deliveryID)"
        let footer = ChatText.footer(event, subject: presentation.subject, zone: settings.zone).joined(separator: " · ")

        var text = ChatText.headline(presentation) + "\n\n"
        for fact in presentation.facts {
            text += "\(fact.label): \(fact.value.replacingOccurrences(of: "\n", with: "\n  "))" + (fact.link.map { " <\($0)>" } ?? "") + "\n"
        }
        if !presentation.links.isEmpty { text += "\n" + presentation.links.map { "\($0.label): \($0.url)" }.joined(separator: "\n") + "\n" }
        text += "\n-- \n\(footer)\n"
        var templated = false
        if let template = TemplateField.compiled(settings.textTemplate, output: .text) {
            text = template.render(templateContext)
            templated = true
        }

        let color = String(format: "#%06X", ChatText.color(presentation.tone))
        var html = "<!DOCTYPE html><html><body style=\"font-family:sans-serif\">"
        html += "<h2 style=\"border-left:4px solid \(color);padding-left:8px\">\(escape(ChatText.headline(presentation)))</h2><table>"
        for fact in presentation.facts {
            var value = escape(fact.value).replacingOccurrences(of: "\n", with: "<br>")
            if fact.code { value = "<code>\(value)</code>" }
            if let link = fact.link { value = "<a href=\"\(escape(link))\">\(value)</a>" }
            html += "<tr><th style=\"text-align:left;padding-right:12px;vertical-align:top\">\(escape(fact.label))</th><td>\(value)</td></tr>"
        }
        html += "</table>"
        if !presentation.links.isEmpty {
            html += "<p>" + presentation.links.map { "<a href=\"\(escape($0.url))\">\(escape($0.label))</a>" }.joined(separator: " · ") + "</p>"
        }
        html += "<p style=\"color:#777;font-size:small\">\(escape(footer))</p></body></html>"
        if templated {
            // The subscription's own text, in both parts: clients that show HTML show it too.
            html = "<!DOCTYPE html><html><body><pre style=\"font-family:sans-serif;white-space:pre-wrap\">\(escape(text))</pre></body></html>"
        }

        let headers = [
            "From: \(settings.from)",
            // One address per line: 50 long addresses stay within 998 characters a line.
            "To: \(settings.to.joined(separator: ",\r\n "))",
            "Subject: \(encodedWord(subject))",
            "Date: \(rfc5322(date))",
            "Message-ID: <\(deliveryID)@event-relay>",
            "MIME-Version: 1.0",
            "Content-Type: multipart/alternative; boundary=\"\(boundary)\"",
            "X-EventRelay-Event: \(headerSafe(event.source)):\(headerSafe(event.id))",
            "Auto-Submitted: auto-generated",
        ]
        var message = headers.joined(separator: "\r\n") + "\r\n\r\n"
        for (type, body) in [("text/plain", text), ("text/html", html)] {
            message += "--\(boundary)\r\nContent-Type: \(type); charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            message += base64Lines(Array(body.utf8)) + "\r\n"
        }
        message += "--\(boundary)--\r\n"
        return Array(message.utf8)
    }

    /// `=?UTF-8?B?…?=` words of at most 75 characters, folded.
    static func encodedWord(_ text: String) -> String {
        guard !text.allSatisfy({ $0.isASCII && !$0.isNewline && $0 != "=" && $0 != "?" }) else { return text }
        var words: [String] = []
        var chunk: [UInt8] = []
        for character in text {
            let bytes = Array(String(character).utf8)
            if chunk.count + bytes.count > 45 {
                words.append("=?UTF-8?B?\(Data(chunk).base64EncodedString())?=")
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty { words.append("=?UTF-8?B?\(Data(chunk).base64EncodedString())?=") }
        return words.joined(separator: "\r\n ")
    }

    static func base64Lines(_ bytes: [UInt8]) -> String {
        let encoded = Data(bytes).base64EncodedString()
        var lines: [Substring] = []
        var rest = Substring(encoded)
        while !rest.isEmpty {
            lines.append(rest.prefix(76))
            rest = rest.dropFirst(76)
        }
        return lines.joined(separator: "\r\n")
    }

    static func rfc5322(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .gmt
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        return String(
            format: "%@, %02d %@ %04d %02d:%02d:%02d +0000", days[((parts.weekday ?? 1) - 1) % 7], parts.day ?? 1,
            months[((parts.month ?? 1) - 1) % 12], parts.year ?? 1970, parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0)
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// Printable ASCII only, for a header value.
    static func headerSafe(_ text: String) -> String {
        String(text.unicodeScalars.filter { $0.value >= 0x21 && $0.value < 0x7F }.prefix(200).map(Character.init))
    }
}

struct EmailNotifier: Notifier {
    let settings: EmailSettings
    let transport: any MailTransport
    let presenter: any EventPresenter
    let environment: [String: String]

    func notify(_ event: Event, context: DeliveryContext) async -> SendResult {
        var username: String?
        var password: String?
        for (name, target) in [(settings.usernameEnv, 0), (settings.passwordEnv, 1)] {
            guard let name else { continue }
            guard let value = environment[name], !value.isEmpty else {
                return .failed(status: nil, reason: "not sent: environment variable \(name) is not set", cause: .configuration)
            }
            if target == 0 { username = value } else { password = value }
        }
        let scrubber = Scrubber(secrets: Scrubber.forms(of: [username, password].compactMap { $0 }.map(SecretString.init)))
        let mail = MailRequest(
            host: settings.host, port: settings.effectivePort, security: settings.security, from: settings.from, recipients: settings.to,
            message: EmailMessage.render(presenter.redacted(event), presentation: presenter.present(event, context: context), settings: settings, deliveryID: context.deliveryID, date: context.now),
            username: username, password: password)
        do {
            let reply = try await transport.send(mail)
            switch reply.code {
            case 200..<400: return .delivered(status: reply.code)
            case 400..<500:
                return .retry(status: reply.code, reason: scrubber.scrub("SMTP \(reply.code): \(reply.detail)"), retryAfter: nil, cause: .smtp(reply.code))
            default:
                return .failed(status: reply.code, reason: scrubber.scrub("SMTP \(reply.code): \(reply.detail)"), cause: .smtp(reply.code))
            }
        } catch {
            return .noAnswer(error, scrubber: scrubber)
        }
    }
}
