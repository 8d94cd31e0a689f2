import EventModel
import HTTPClient
import Testing

@Suite("Destination URLs: one strict reading, the same host as libcurl's")
struct DestinationURLTests {
    @Test(arguments: [
        ("https://hooks.slack.com/services/T0/B0/xyz", "https", "hooks.slack.com", nil as Int?, 443),
        ("http://example.com", "http", "example.com", nil, 80),
        ("HTTP://Example.COM:8080/Hook", "http", "example.com", 8080, 8080),
        ("https://example.com:443/", "https", "example.com", 443, 443),
        ("http://127.0.0.1:9/x", "http", "127.0.0.1", 9, 9),
        ("http://[::1]:8080/x", "http", "[::1]", 8080, 8080),
        ("http://[0:0:0:0:0:0:0:1]/x", "http", "[::1]", nil, 80),
        ("http://[::FFFF:7F00:1]/x", "http", "[::ffff:127.0.0.1]", nil, 80),
        ("https://example.com:0080/x", "https", "example.com", 80, 80),
        ("https://example.com:65535/x", "https", "example.com", 65535, 65535),
        ("https://my_host.internal./hook", "https", "my_host.internal.", nil, 443),
        ("https://example.com?x=1", "https", "example.com", nil, 443),
        ("https://example.com#frag", "https", "example.com", nil, 443),
        ("https://example.com/a@b/c?d=e@f", "https", "example.com", nil, 443),
        ("https://example.com/%41%2f", "https", "example.com", nil, 443),
        ("https://0x7f.example.com/", "https", "0x7f.example.com", nil, 443),
        ("https://xn--bcher-kva.example/", "https", "xn--bcher-kva.example", nil, 443),
        ("https://1a.example.1b/", "https", "1a.example.1b", nil, 443),
    ])
    func acceptedURLsAreReadAsLibcurlReadsThem(text: String, scheme: String, host: String, port: Int?, effectivePort: Int) throws {
        let url = try DestinationURL(text)
        #expect(url.scheme == scheme && url.host == host && url.port == port && url.effectivePort == effectivePort, "\(text)")
        #expect(Subscription.validateURL(text, field: "url") == nil)
    }

    @Test(arguments: [
        (#"http://127.0.0.1:9\@evil/x"#, "must not contain a backslash"),
        (#"http://evil\.example.com/"#, "backslash"),
        (#"http://example.com/a\b"#, "backslash"),
        ("http://user:pw@example.com/", "must not contain user info"),
        ("http://user@example.com/", "user info"),
        ("http://@example.com/", "user info"),
        ("http://a@b@example.com/", "user info"),
        ("http://example.com:0/", "has a port that is not a number from 1 to 65535"),
        ("http://example.com:65536/", "from 1 to 65535"),
        ("http://example.com:99999999999999999999/", "from 1 to 65535"),
        ("http://example.com:/", "from 1 to 65535"),
        ("http://example.com:+80/", "from 1 to 65535"),
        ("http://example.com:8o/", "from 1 to 65535"),
        ("http://example.com:80:80/", "more than one port"),
        ("http://::1/", "more than one port"),
        ("http:///path", "has no host"),
        ("http://:80/", "has no host"),
        ("http://?x", "has no host"),
        ("http://[]/", "invalid IPv6"),
        ("http://[::1/", "without its closing ]"),
        ("http://[::1]x/", "after the IPv6 address"),
        ("http://[fe80::1%25eth0]/", "zone"),
        ("http://[1.2.3.4]/", "invalid IPv6"),
        ("http://127.1/", "numeric host"),
        ("http://2130706433/", "numeric host"),
        ("http://0x7f.0.0.1/", "numeric host"),
        ("http://0x7f000001/", "numeric host"),
        ("http://0177.0.0.1/", "numeric host"),
        ("http://127.0.0.01/", "numeric host"),
        ("http://127.0.0.1./", "numeric host"),
        ("http://1.2.3.4.5/", "numeric host"),
        ("http://256.0.0.1/", "numeric host"),
        ("http://example.123/", "numeric host"),
        ("http://exa mple.com/", "spaces or control characters"),
        ("http://example.com/a b", "spaces or control characters"),
        ("http://example.com/\t", "control characters"),
        ("http://example.com/\u{7f}", "control characters"),
        (" http://example.com/", "spaces"),
        ("http://example.com/\n", "control characters"),
        ("http://bücher.example/", "must be ASCII"),
        ("http://example.com/ü", "must be ASCII"),
        ("http://ex%61mple.com/", "characters other than"),
        ("http://exa*mple.com/", "characters other than"),
        ("http://a..b/", "empty or overlong label"),
        ("http://.example.com/", "empty or overlong label"),
        ("http://example.com/%zz", "not followed by two hex digits"),
        ("http://example.com/%4", "not followed by two hex digits"),
        ("ftp://example.com/", "must be an http or https URL, not ftp"),
        ("file:///etc/passwd", "not file"),
        ("gopher://127.0.0.1:70/", "not gopher"),
        ("javascript:alert(1)", "not javascript"),
        ("http:/example.com", "write it as https://host/path"),
        ("http:example.com", "write it as https://host/path"),
        ("//example.com/", "write it as https://host/path"),
        ("example.com/hook", "write it as https://host/path"),
        ("", "must not be empty"),
        ("not a url", "spaces"),
    ])
    func refusedURLsSayWhy(text: String, message: String) {
        let problem = #expect(throws: DestinationURL.Problem.self) { try DestinationURL(text) }
        #expect(problem?.description.contains(message) == true, "\(text): \(problem?.description ?? "accepted")")
        #expect(Subscription.validateURL(text, field: "url")?.message == problem?.description)
        #expect(Redact.url(text) == "<invalid URL>")
    }

    @Test func problemsNeverRepeatThePartThatIsWrong() {
        for text in ["http://host:tok3n-secret/x", "http://[tok3n-secret]/x", "http://tok3n-secret*/x", "http://u:tok3n-secret@h/x"] {
            let problem = Subscription.validateURL(text, field: "url")
            #expect(problem != nil && problem?.message.contains("tok3n") == false, "\(text): \(problem?.message ?? "accepted")")
        }
    }

    @Test func longURLsAreRefused() {
        let long = "https://example.com/" + String(repeating: "a", count: 2048)
        #expect(Subscription.validateURL(long, field: "url")?.message == "is longer than 2048 characters")
        #expect(Subscription.validateURL("https://" + String(repeating: "a", count: 64) + ".com/", field: "url") != nil)
    }

    @Test func redactedURLsShowTheHostTheRelayConnectsTo() {
        #expect(Redact.url("https://hooks.slack.com/services/T000/B000/XXXXXXXXabcd") == "https://hooks.slack.com/…abcd")
        #expect(Redact.url("HTTPS://Hooks.Slack.com:8443/hook?token=s3cr3t-long-value") == "https://hooks.slack.com:8443/…alue")
        #expect(Redact.url("https://example.com") == "https://example.com/")
        #expect(Redact.url("https://example.com/short") == "https://example.com/…")
        #expect(Redact.url("http://[::1]:9/x") == "http://[::1]:9/…")
        #expect(Redact.url(#"http://127.0.0.1:9\@evil/x"#) == "<invalid URL>")
        #expect(Redact.url("https://user:pw@example.com/x") == "<invalid URL>")
    }

    /// For every URL of the corpus that the relay accepts, libcurl's own parser (`curl_url`, with
    /// the flags a transfer uses) reads the same scheme, host and port: the host the API shows is
    /// the host libcurl connects to. The refused ones are listed too, to show what they guard against.
    static let corpus: [String] = [
        "https://hooks.slack.com/services/T0/B0/xyz", "http://example.com", "HTTP://Example.COM:8080/Hook", "https://example.com:443/",
        "http://127.0.0.1:9/x", "http://[::1]:8080/x", "http://[0:0:0:0:0:0:0:1]/x", "http://[::FFFF:7F00:1]/x",
        "http://[::ffff:127.0.0.1]/x", "http://[2001:DB8::1]:8443/", "http://[2001:0db8:0000::0001]/", "http://[::102:304]/",
        "https://example.com:0080/x", "https://example.com:65535/x", "https://my_host.internal./hook", "https://example.com?x=1",
        "https://example.com#frag", "https://example.com/a@b/c?d=e@f", "https://example.com/%41%2f", "https://0x7f.example.com/",
        "https://xn--bcher-kva.example/", "https://1a.example.1b/", "http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0:8080/", "https://a-b.c-d.example/?q=%20", "https://example.com/#a@evil", "https://example.com?@evil/",
        "https://example.com#@evil/", "http://EXAMPLE.com./",
        // Refused by the relay:
        #"http://127.0.0.1:9\@evil/x"#, #"http://evil\.example.com/"#, "http://user:pw@example.com/", "http://a@b@example.com/",
        "http://example.com:0/", "http://example.com:65536/", "http://example.com:/", "http://127.1/", "http://2130706433/",
        "http://0x7f.0.0.1/", "http://0x7f000001/", "http://0177.0.0.1/", "http://127.0.0.1./", "http://[fe80::1%25eth0]/",
        "http://example.com:80:80/", "http:/example.com", "http:example.com", "ftp://example.com/", "http://exa mple.com/",
        "http://ex%61mple.com/", "http://bücher.example/", "http://1.2.3.4.5/", "http://example.123/",
    ]

    @Test func libcurlReadsTheSameHostAndPortForEveryAcceptedURL() throws {
        var accepted = 0
        for text in Self.corpus {
            guard let ours = try? DestinationURL(text) else { continue }
            accepted += 1
            let curl = try #require(CurlURL.parse(text), "libcurl refuses \(text), which the relay accepts")
            #expect(curl.scheme.lowercased() == ours.scheme, "\(text)")
            #expect(curl.port == ours.effectivePort, "\(text): libcurl port \(curl.port), ours \(ours.effectivePort)")
            if ours.host.hasPrefix("[") {
                // libcurl shortens an IPv6 address only when that makes it shorter: compare the addresses.
                let theirs = IPAddress(String(curl.host.dropFirst().dropLast()))
                #expect(theirs != nil && theirs == IPAddress(String(ours.host.dropFirst().dropLast())), "\(text): libcurl \(curl.host), ours \(ours.host)")
            } else {
                #expect(curl.host.lowercased() == ours.host, "\(text): libcurl \(curl.host), ours \(ours.host)")
            }
        }
        #expect(accepted == 30, "the accepted part of the corpus was read")
    }

    /// What the refused part guards against: URLs libcurl takes, showing (to another reader) or
    /// connecting to a host other than the one a quick look suggests.
    @Test func libcurlAcceptsSomeOfWhatTheRelayRefuses() {
        #expect(CurlURL.parse("http://127.1/")?.host == "127.0.0.1")
        #expect(CurlURL.parse("http://0x7f000001/")?.host == "127.0.0.1")
        #expect(CurlURL.parse("http://user:pw@example.com/")?.host == "example.com")
    }
}
