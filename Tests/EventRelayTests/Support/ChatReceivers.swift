import EventModel
import Foundation
import HTTPServer

/// What each chat service checks of an incoming webhook's body, written from its documentation
/// independently of the relay's renderers: a receiver that answers 400 with the first problem,
/// as the real one does, and the service's own success answer otherwise.
enum ChatReceivers {
    /// The first thing the service would refuse, or nil.
    static func problem(kind: String, body: [UInt8]) -> String? {
        guard body.count <= (kind == "teams" ? 28_000 : 32_000) else { return "body over the service's size limit" }
        guard let message = try? JSONValue.parse(body), message.objectValue != nil else { return "not a JSON object" }
        switch kind {
        case "mattermost", "rocketchat": return attachments(message, maxText: kind == "mattermost" ? 16_383 : 5000)
        case "discord": return discord(message)
        case "teams": return teams(message)
        case "googlechat": return googleChat(message)
        default: return "unknown kind \(kind)"
        }
    }

    /// The answer a service gives to a message it takes.
    static func success(kind: String) -> HTTPServerResponse {
        switch kind {
        case "mattermost": return HTTPServerResponse(status: 200, body: Array("ok".utf8))
        case "rocketchat": return HTTPServerResponse(status: 200, body: Array(#"{"success":true}"#.utf8))
        case "discord": return HTTPServerResponse(status: 204)
        case "teams": return HTTPServerResponse(status: 202)
        default: return HTTPServerResponse(status: 200, body: Array("{}".utf8))
        }
    }

    static func string(_ value: JSONValue?, max: Int, nonEmpty: Bool = true) -> Bool {
        guard let text = value?.stringValue else { return false }
        return text.count <= max && (!nonEmpty || !text.isEmpty)
    }

    /// Slack-style attachments (Mattermost, Rocket.Chat).
    static func attachments(_ message: JSONValue, maxText: Int) -> String? {
        if let text = message["text"], !string(text, max: maxText) { return "text missing, empty or over \(maxText)" }
        guard let list = message["attachments"]?.arrayValue, !list.isEmpty else { return "no attachments" }
        for attachment in list {
            if let color = attachment["color"]?.stringValue, !(color.hasPrefix("#") && color.count == 7) { return "bad color \(color)" }
            for field in attachment["fields"]?.arrayValue ?? [] {
                guard string(field["title"], max: 1000), string(field["value"], max: maxText) else { return "bad field \(field)" }
                if let short = field["short"], case .bool = short {} else if field["short"] != nil { return "short is not a bool" }
            }
            if let link = attachment["title_link"], !(link.stringValue?.hasPrefix("http") ?? false) { return "bad title_link" }
        }
        return nil
    }

    /// Discord's documented embed limits.
    static func discord(_ message: JSONValue) -> String? {
        if let content = message["content"], !string(content, max: 2000, nonEmpty: false) { return "content over 2000" }
        if let name = message["username"]?.stringValue {
            if name.isEmpty || name.count > 80 || name.lowercased().contains("discord") || name.lowercased().contains("clyde") {
                return "username refused"
            }
        }
        if message["allowed_mentions"]?["parse"] != .array([]) { return "mentions would ping" }
        let embeds = message["embeds"]?.arrayValue ?? []
        guard embeds.count <= 10, !embeds.isEmpty || message["content"] != nil else { return "no content or too many embeds" }
        for embed in embeds {
            var total = 0
            if let title = embed["title"] { guard string(title, max: 256) else { return "title over 256" }; total += title.stringValue?.count ?? 0 }
            if let description = embed["description"] {
                guard string(description, max: 4096) else { return "description over 4096" }
                total += description.stringValue?.count ?? 0
            }
            let fields = embed["fields"]?.arrayValue ?? []
            guard fields.count <= 25 else { return "more than 25 fields" }
            for field in fields {
                guard string(field["name"], max: 256), string(field["value"], max: 1024) else { return "bad field \(field)" }
                total += (field["name"]?.stringValue?.count ?? 0) + (field["value"]?.stringValue?.count ?? 0)
            }
            if let footer = embed["footer"] {
                guard string(footer["text"], max: 2048) else { return "footer over 2048" }
                total += footer["text"]?.stringValue?.count ?? 0
            }
            guard total <= 6000 else { return "embed text \(total) over 6000" }
            if let color = embed["color"], !(color.intValue.map { (0...0xFFFFFF).contains($0) } ?? false) { return "bad color" }
            if let timestamp = embed["timestamp"]?.stringValue, Timestamp.parse(timestamp) == nil { return "bad timestamp" }
        }
        return nil
    }

    /// A Workflows webhook: a message whose attachment is an Adaptive Card.
    static func teams(_ message: JSONValue) -> String? {
        guard message["type"] == .string("message"), let attachment = message["attachments"]?.arrayValue?.first else { return "not a message" }
        guard attachment["contentType"] == .string("application/vnd.microsoft.card.adaptive"), let card = attachment["content"] else {
            return "not an Adaptive Card"
        }
        guard card["type"] == .string("AdaptiveCard"), card["version"]?.stringValue != nil, let body = card["body"]?.arrayValue else {
            return "card without type, version or body"
        }
        for element in body {
            switch element["type"]?.stringValue {
            case "TextBlock": guard string(element["text"], max: 5000) else { return "TextBlock without text" }
            case "FactSet":
                for fact in element["facts"]?.arrayValue ?? [] {
                    guard string(fact["title"], max: 1000), string(fact["value"], max: 5000) else { return "bad fact" }
                }
            default: return "unknown element \(element["type"]?.stringValue ?? "?")"
            }
        }
        for action in card["actions"]?.arrayValue ?? [] {
            guard action["type"] == .string("Action.OpenUrl"), action["url"]?.stringValue?.hasPrefix("http") == true else { return "bad action" }
        }
        return nil
    }

    /// Google Chat's `cardsV2`: each widget one kind.
    static func googleChat(_ message: JSONValue) -> String? {
        if let text = message["text"], !string(text, max: 4096) { return "text over 4096" }
        for entry in message["cardsV2"]?.arrayValue ?? [] {
            guard entry["cardId"]?.stringValue != nil, let card = entry["card"] else { return "card without id" }
            for section in card["sections"]?.arrayValue ?? [] {
                for widget in section["widgets"]?.arrayValue ?? [] {
                    guard let keys = widget.objectValue?.keys, keys.count == 1,
                          ["decoratedText", "textParagraph", "buttonList"].contains(keys.first ?? "")
                    else { return "widget of an unknown or several kinds" }
                    if let text = widget["decoratedText"], text["text"]?.stringValue == nil { return "decoratedText without text" }
                }
            }
        }
        return nil
    }
}
