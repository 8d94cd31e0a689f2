import EventModel
import Foundation

/// The excerpt of a one-off's audit log attached to its `run` event (off by default: a console
/// session can show anything typed or printed in production).
public enum ScalingoAuditLog {
    /// The transcript as the session showed it — outputs and inputs in order — with terminal
    /// escape sequences removed, cut at `limit` bytes (on a character boundary).
    public static func excerpt(_ entries: JSONValue, limit: Int) -> (text: String, truncated: Bool, entries: Int) {
        let list = entries.arrayValue ?? entries["audit_logs"]?.arrayValue ?? []
        var text = ""
        var truncated = false
        var count = 0
        for entry in list {
            guard let content = entry["content"]?.stringValue else { continue }
            count += 1
            let clean = stripEscapes(content)
            if text.utf8.count + clean.utf8.count > limit {
                var room = limit - text.utf8.count
                for character in clean {
                    let size = String(character).utf8.count
                    guard size <= room else { break }
                    text.append(character)
                    room -= size
                }
                truncated = true
                break
            }
            text += clean
        }
        return (text, truncated, count)
    }

    /// Removes ANSI/VT100 escape sequences (`ESC [ … letter`, `ESC ] … BEL`, lone `ESC x`) and
    /// carriage returns.
    public static func stripEscapes(_ text: String) -> String {
        var result = String.UnicodeScalarView()
        var scalars = text.unicodeScalars.makeIterator()
        while let scalar = scalars.next() {
            switch scalar {
            case "\u{1B}":
                guard let kind = scalars.next() else { break }
                if kind == "[" {
                    while let next = scalars.next(), !(0x40...0x7E).contains(next.value) {}
                } else if kind == "]" {
                    while let next = scalars.next(), next != "\u{07}", next != "\u{1B}" {}
                }
            case "\r":
                continue
            default:
                result.append(scalar)
            }
        }
        return String(result)
    }
}
