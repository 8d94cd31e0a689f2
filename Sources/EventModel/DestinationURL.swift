import Foundation

/// A destination URL (a webhook, a Slack incoming webhook), read strictly and one way only:
/// `Subscription.validateURL` accepts exactly what this accepts, `Redact.url` shows what it
/// read, and the host and port are the ones libcurl connects to (a test compares them with
/// libcurl's own parser over a corpus of tricky URLs).
///
/// Refused, because parsers disagree on them or they hide where a request goes: user info
/// (`user:pw@`), backslashes (`http://127.0.0.1:9\@evil/x` is host `127.0.0.1` to libcurl but
/// `evil` to other readers), whitespace and control characters, non-ASCII characters, malformed
/// percent escapes, a port that is empty, 0 or above 65535, an empty host, IPv4 addresses in any
/// form but `a.b.c.d` (`127.1`, `0x7f.0.0.1`, `2130706433`, `0177.0.0.1`), IPv6 zone ids, and
/// schemes other than http and https.
public struct DestinationURL: Sendable, Hashable {
    /// `http` or `https`, lower case.
    public let scheme: String
    /// Lower case; an IPv6 address in brackets, in its canonical form (`[::1]`).
    public let host: String
    /// The port written in the URL, if any.
    public let port: Int?
    /// Path, query and fragment as written: empty, or starting with `/`, `?` or `#`.
    public let rest: String

    public static let maxLength = 2048

    /// The port a connection goes to: the written one or the scheme's.
    public var effectivePort: Int { port ?? (scheme == "https" ? 443 : 80) }

    /// `host` or `host:port`, as `Redact.url` shows it.
    public var authority: String { port.map { "\(host):\($0)" } ?? host }

    /// Why a text is not an acceptable destination URL; `description` completes "url: …". It
    /// never repeats any part of the URL (a port or host field may hold a pasted secret).
    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    public init(_ text: String) throws(Problem) {
        guard !text.isEmpty else { throw Problem("must not be empty") }
        guard text.utf8.count <= Self.maxLength else { throw Problem("is longer than \(Self.maxLength) characters") }
        for byte in text.utf8 {
            if byte == UInt8(ascii: "\\") {
                throw Problem("must not contain a backslash (\\): URL parsers disagree on what it means")
            }
            if byte <= 0x20 || byte == 0x7f { throw Problem("is not a valid URL: it contains spaces or control characters") }
            if byte >= 0x80 { throw Problem("must be ASCII: percent-encode other characters (and write a host in its xn-- form)") }
        }
        guard let separator = text.range(of: "://") else {
            if let colon = text.firstIndex(of: ":"), Self.isScheme(text[..<colon]), !["http", "https"].contains(text[..<colon].lowercased()) {
                throw Problem("must be an http or https URL, not \(text[..<colon].lowercased())")
            }
            throw Problem("is not a valid URL: write it as https://host/path")
        }
        let scheme = text[..<separator.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else {
            throw Problem(Self.isScheme(Substring(scheme)) ? "must be an http or https URL, not \(scheme)" : "is not a valid URL: write it as https://host/path")
        }
        let afterScheme = text[separator.upperBound...]
        let authorityEnd = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? afterScheme.endIndex
        let authority = afterScheme[..<authorityEnd]
        let rest = afterScheme[authorityEnd...]
        guard !authority.contains("@") else {
            throw Problem("must not contain user info (user:password@): send credentials in the path or a header")
        }
        guard !authority.isEmpty else { throw Problem("has no host") }

        let hostText: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw Problem("has an IPv6 address without its closing ]") }
            hostText = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw Problem("has characters after the IPv6 address's ]") }
                portText = after.dropFirst()
            }
        } else if let colon = authority.firstIndex(of: ":") {
            hostText = authority[..<colon]
            let written = authority[authority.index(after: colon)...]
            guard !written.contains(":") else { throw Problem("has more than one port (IPv6 addresses go in brackets: [::1])") }
            portText = written
        } else {
            hostText = authority
        }

        var port: Int?
        if let portText {
            guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(portText),
                  (1...65535).contains(value)
            else {
                throw Problem("has a port that is not a number from 1 to 65535")
            }
            port = value
        }

        let host: String
        if authority.hasPrefix("[") {
            guard !hostText.contains("%") else { throw Problem("must not name an IPv6 zone (%)") }
            guard let canonical = Self.canonicalIPv6(String(hostText)) else {
                throw Problem("has an invalid IPv6 address in its brackets")
            }
            host = "[\(canonical)]"
        } else {
            host = try Self.checkedHostName(hostText.lowercased())
        }
        try Self.checkPercentEscapes(rest)

        self.scheme = scheme
        self.host = host
        self.port = port
        self.rest = String(rest)
    }

    /// The URL shown without its secrets: `https://hooks.slack.com/…WXYZ`. Scheme, host and port
    /// stay; path, query and fragment are hidden but for their last four characters when they are
    /// long enough (16 or more) that four give nothing away.
    public var redacted: String {
        let hidden = rest.drop(while: { $0 == "/" })
        if hidden.isEmpty { return "\(scheme)://\(authority)/" }
        let tail = hidden.count >= 16 ? String(hidden.suffix(4)) : ""
        return "\(scheme)://\(authority)/…\(tail)"
    }

    private static func isScheme(_ text: Substring) -> Bool {
        guard let first = text.first, first.isASCII, first.isLetter else { return false }
        return text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == ".") }
    }

    /// A registered name (`hooks.slack.com`), or an IPv4 address, which must then be written
    /// `a.b.c.d`: libcurl (like browsers) also reads `127.1`, `0x7f.1` or `2130706433` as
    /// 127.0.0.1, which would show one host and connect to another.
    private static func checkedHostName(_ name: String) throws(Problem) -> String {
        guard !name.isEmpty else { throw Problem("has no host") }
        guard name.utf8.count <= 253 else { throw Problem("has a host longer than 253 characters") }
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-_.")
        guard name.allSatisfy({ allowed.contains($0) }) else {
            throw Problem("has a host with characters other than letters, digits, '-', '_' and '.'")
        }
        let labels = (name.hasSuffix(".") ? String(name.dropLast()) : name).split(separator: ".", omittingEmptySubsequences: false)
        guard labels.allSatisfy({ !$0.isEmpty && $0.count <= 63 }) else {
            throw Problem("has a host with an empty or overlong label")
        }
        if let last = labels.last, last.allSatisfy(\.isNumber) || last.hasPrefix("0x") {
            var address = in_addr()
            guard !name.hasSuffix("."), inet_pton(AF_INET, name, &address) == 1 else {
                throw Problem("has a numeric host that is not an IPv4 address written a.b.c.d (each part 0 to 255, no leading zeros)")
            }
        }
        return name
    }

    private static func canonicalIPv6(_ text: String) -> String? {
        var address = in6_addr()
        guard inet_pton(AF_INET6, text, &address) == 1 else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        guard inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count)) != nil else { return nil }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func checkPercentEscapes(_ text: Substring) throws(Problem) {
        let bytes = Array(text.utf8)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%") {
                guard index + 2 < bytes.count, bytes[index + 1].isHexDigit, bytes[index + 2].isHexDigit else {
                    throw Problem("has a % that is not followed by two hex digits (write %25 for a literal %)")
                }
                index += 3
            } else {
                index += 1
            }
        }
    }
}

extension UInt8 {
    fileprivate var isHexDigit: Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(self)
            || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(self)
    }
}
