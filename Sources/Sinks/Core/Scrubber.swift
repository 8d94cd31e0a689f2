import EventModel
import Foundation

/// Removes a destination's secrets from text that came back from it (a response body, an error)
/// before that text is stored, logged or shown: receivers echo requests, and an echo of a Slack
/// URL or an `Authorization` header is as good as the secret itself. Pure.
///
/// What counts as a secret of a destination (`forms(of:)`): the whole URL, its user info,
/// path and query, every path segment and query value of at least `minimumTokenLength`
/// characters (shorter ones are words such as `v1` or `hooks`, which would blank ordinary
/// text), every signing secret (current and retired: with and without `whsec_`, and the key
/// re-encoded in base64, unpadded base64, base64url and hex), and every custom header value
/// (whole, from 4 characters; and each of its words of at least `minimumTokenLength` characters).
/// Matching ignores ASCII case. Each is also looked for
/// as a receiver may echo it: percent-encoded (upper- and lower-case hex, `+` for spaces),
/// percent-decoded, JSON-escaped (`\/`, `\"`, `\\`, and Go's `\u0026`), and HTML-escaped.
/// Every occurrence becomes `[redacted]`, longest match first.
public struct Scrubber: Sendable {
    public static let replacement = "[redacted]"
    public static let minimumTokenLength = 8

    /// Needles by their first byte, longest first.
    private let needles: [UInt8: [[UInt8]]]
    private let longest: Int

    /// Scrubs exactly these secrets (and their encodings); secrets shorter than 4 characters are ignored.
    public init(secrets: [String]) {
        var unique: Set<[UInt8]> = []
        for secret in secrets where secret.count >= 4 {
            for form in Self.encodings(of: secret) where form.utf8.count >= 4 {
                // Matched regardless of ASCII case: receivers echo header values lower-cased.
                unique.insert(Array(form.utf8).map(Self.lower))
            }
        }
        var byFirst: [UInt8: [[UInt8]]] = [:]
        for needle in unique { byFirst[needle[0], default: []].append(needle) }
        for key in byFirst.keys { byFirst[key]?.sort { $0.count != $1.count ? $0.count > $1.count : $0.lexicographicallyPrecedes($1) } }
        needles = byFirst
        longest = unique.map(\.count).max() ?? 0
    }

    /// Scrubs every secret the settings hold.
    public init(settings: any SinkSettings) {
        self.init(secrets: Self.forms(of: settings.secrets))
    }

    public static let none = Scrubber(secrets: [])

    /// Each secret and what else gives it away, by its shape: a URL's user info, path, query and
    /// long segments; a Standard Webhooks secret's key in other encodings; a header value's long
    /// words (`Bearer <token>`).
    public static func forms(of secrets: [SecretString]) -> [String] {
        var forms: [String] = []
        for secret in secrets.map(\.value) {
            if secret.hasPrefix("whsec_") {
                forms += signingSecretForms(secret)
            } else {
                let words = secret.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
                forms += [secret] + words.filter { $0.count >= minimumTokenLength }
                // A URL (or a value holding one): its parts give it away too.
                for word in words where word.contains("://") { forms += urlSecrets(word) }
            }
        }
        return forms
    }

    /// Replaces every occurrence of a secret. When `cut` is true the text is the start of
    /// something longer, and a secret that begins in its last bytes but runs past the end is
    /// replaced too.
    public func scrub(_ text: String, cut: Bool = false) -> String {
        guard longest > 0 else { return text }
        let bytes = Array(text.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        let replacement = Array(Self.replacement.utf8)
        var index = 0
        scan: while index < bytes.count {
            if let candidates = needles[Self.lower(bytes[index])] {
                for needle in candidates where matches(needle, in: bytes, at: index, cut: cut) {
                    output += replacement
                    index += min(needle.count, bytes.count - index)
                    continue scan
                }
            }
            output.append(bytes[index])
            index += 1
        }
        return String(decoding: output, as: UTF8.self)
    }

    private func matches(_ needle: [UInt8], in bytes: [UInt8], at start: Int, cut: Bool) -> Bool {
        let available = bytes.count - start
        if available < needle.count {
            // Only the start of the needle is here: a secret cut by the end of an excerpt.
            guard cut else { return false }
            return needle.prefix(available).elementsEqual(bytes[start...].lazy.map(Self.lower))
        }
        return needle.elementsEqual(bytes[start..<(start + needle.count)].lazy.map(Self.lower))
    }

    static func lower(_ byte: UInt8) -> UInt8 { byte >= 65 && byte <= 90 ? byte + 32 : byte }

    // MARK: What is secret

    static func urlSecrets(_ url: String) -> [String] {
        var secrets = [url]
        guard let schemeEnd = url.range(of: "://") else { return secrets }
        let afterScheme = url[schemeEnd.upperBound...]
        let authorityEnd = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? afterScheme.endIndex
        let authority = afterScheme[..<authorityEnd]
        if let at = authority.lastIndex(of: "@") {
            let userInfo = String(authority[..<at])
            secrets.append(userInfo)
            if let colon = userInfo.firstIndex(of: ":") {
                let password = String(userInfo[userInfo.index(after: colon)...])
                if password.count >= minimumTokenLength { secrets.append(password) }
            }
            // What a receiver echoing `Authorization: Basic …` shows.
            let decoded = userInfo.removingPercentEncoding ?? userInfo
            secrets.append(Data(decoded.utf8).base64EncodedString())
            // The URL without its user info, as a receiver sees the request line's target.
            secrets.append(url.replacingCharacters(in: authority.startIndex...at, with: ""))
        }
        let rest = String(afterScheme[authorityEnd...])
        let withoutFragment = rest.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? rest
        let parts = withoutFragment.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let path = parts.first ?? ""
        let query = parts.count > 1 ? parts[1] : ""
        var candidates = [rest, withoutFragment, path, query]
        candidates += path.split(separator: "/").map(String.init)
        for item in query.split(whereSeparator: { $0 == "&" || $0 == ";" }) {
            candidates.append(String(item))
            if let equals = item.firstIndex(of: "=") { candidates.append(String(item[item.index(after: equals)...])) }
        }
        if let fragmentStart = rest.firstIndex(of: "#") { candidates.append(String(rest[rest.index(after: fragmentStart)...])) }
        for candidate in candidates where candidate.count >= minimumTokenLength && candidate != "/" {
            secrets.append(candidate)
        }
        return secrets
    }

    static func signingSecretForms(_ secret: String) -> [String] {
        var forms = [secret]
        guard secret.hasPrefix("whsec_") else { return forms }
        let body = String(secret.dropFirst(6))
        forms.append(body)
        if let key = Data(base64Encoded: body) {
            let base64 = key.base64EncodedString()
            let unpadded = String(base64.reversed().drop(while: { $0 == "=" }).reversed())
            forms += [base64, unpadded]
            forms.append(unpadded.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_"))
            forms.append(key.map { String(format: "%02x", $0) }.joined())
        }
        return forms
    }

    // MARK: How a receiver may echo it

    static func encodings(of secret: String) -> Set<String> {
        var forms: Set<String> = [secret]
        if let decoded = secret.removingPercentEncoding { forms.insert(decoded) }
        for form in Array(forms) {
            let upper = percentEncoded(form, lowercase: false)
            forms.insert(upper)
            forms.insert(percentEncoded(form, lowercase: true))
            forms.insert(upper.replacingOccurrences(of: "%20", with: "+"))
        }
        for form in Array(forms) {
            forms.insert(jsonEscaped(form, slash: true))
            forms.insert(jsonEscaped(form, slash: false))
            forms.insert(goJSONEscaped(form))
            forms.insert(htmlEscaped(form))
        }
        return forms
    }

    private static let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)

    static func percentEncoded(_ text: String, lowercase: Bool) -> String {
        var result = ""
        for byte in text.utf8 {
            if unreserved.contains(byte) {
                result.append(Character(Unicode.Scalar(byte)))
            } else {
                result += String(format: lowercase ? "%%%02x" : "%%%02X", byte)
            }
        }
        return result
    }

    static func jsonEscaped(_ text: String, slash: Bool) -> String {
        var result = text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        if slash { result = result.replacingOccurrences(of: "/", with: "\\/") }
        return result
    }

    /// Go's encoding/json also escapes `&`, `<` and `>` (and never `/`).
    static func goJSONEscaped(_ text: String) -> String {
        jsonEscaped(text, slash: false).replacingOccurrences(of: "&", with: "\\u0026")
            .replacingOccurrences(of: "<", with: "\\u003c").replacingOccurrences(of: ">", with: "\\u003e")
    }

    static func htmlEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
            .replacingOccurrences(of: "'", with: "&#39;")
    }
}
