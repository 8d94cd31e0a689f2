import EventModel
import Foundation
import HTTPClient
import Sinks
import Testing

/// Scrubbing a destination's secrets out of what its receiver answered, in every form a receiver
/// is known to echo them.
@Suite("Scrubber")
struct ScrubberTests {
    static let url = "https://hooks.example.com/services/T0001/B0001/tok_9f8e7d6c5b4a3210?key=qwertyuiop123&team=ops"
    static let secret = "whsec_" + Data((0..<32).map { UInt8($0) }).base64EncodedString()
    static let previous = "whsec_" + Data((100..<132).map { UInt8($0) }).base64EncodedString()
    static let settings = WebhookSettings(
        url: SecretString(url), secret: SecretString(secret),
        previousSecrets: [PreviousSecret(secret: SecretString(previous), expiresAt: Date(timeIntervalSince1970: 0))],
        headers: testHeaders(["Authorization": "Bearer sk_live_abcdefghijkl", "X-Short": "ops"]))
    static let scrubber = Scrubber(settings: settings)

    /// Pieces of a webhook's settings that must never be seen in what is kept or shown.
    static func secretFragments(of settings: WebhookSettings) -> [String] {
        let url = settings.url.value
        var fragments = [url]
        if let schemeEnd = url.range(of: "://") {
            let rest = url[schemeEnd.upperBound...]
            if let slash = rest.firstIndex(of: "/") { fragments.append(String(rest[slash...])) }
        }
        for segment in url.split(whereSeparator: { "/?&=".contains($0) }) where segment.count >= 8 && !segment.contains(".") {
            fragments.append(String(segment))
        }
        for secret in ([settings.secret].compactMap({ $0 }) + settings.previousSecrets.map(\.secret)).map(\.value) {
            fragments += [secret, String(secret.dropFirst(6)), String(secret.dropFirst(6).prefix(20))]
        }
        for header in settings.headers.map(\.value.value) where header.count >= 8 {
            fragments.append(header)
            fragments += header.split(separator: " ").filter { $0.count >= 8 }.map(String.init)
        }
        return fragments
    }

    static let keyBytes = Data((0..<32).map { UInt8($0) })
    static let body = String(secret.dropFirst(6))

    @Test(arguments: [
        // (what the receiver sent back, what may be kept)
        ("bad url \(url)", "bad url [redacted]"),
        ("POST /services/T0001/B0001/tok_9f8e7d6c5b4a3210?key=qwertyuiop123&team=ops HTTP/1.1", "POST [redacted] HTTP/1.1"),
        ("path=/services/T0001/B0001/tok_9f8e7d6c5b4a3210", "path=[redacted]"),
        ("no such token: tok_9f8e7d6c5b4a3210.", "no such token: [redacted]."),
        ("key qwertyuiop123 revoked", "key [redacted] revoked"),
        ("{\"url\":\"https:\\/\\/hooks.example.com\\/services\\/T0001\\/B0001\\/tok_9f8e7d6c5b4a3210?key=qwertyuiop123&team=ops\"}", "{\"url\":\"[redacted]\"}"),
        ("{\"url\":\"https://hooks.example.com/services/T0001/B0001/tok_9f8e7d6c5b4a3210?key=qwertyuiop123\\u0026team=ops\"}", "{\"url\":\"[redacted]\"}"),
        ("<a href=\"https://hooks.example.com/services/T0001/B0001/tok_9f8e7d6c5b4a3210?key=qwertyuiop123&amp;team=ops\">", "<a href=\"[redacted]\">"),
        ("next=https%3A%2F%2Fhooks.example.com%2Fservices%2FT0001%2FB0001%2Ftok_9f8e7d6c5b4a3210%3Fkey%3Dqwertyuiop123%26team%3Dops", "next=[redacted]"),
        ("next=https%3a%2f%2fhooks.example.com%2fservices%2fT0001%2fB0001%2ftok_9f8e7d6c5b4a3210%3fkey%3dqwertyuiop123%26team%3dops", "next=[redacted]"),
        ("secret \(secret) refused", "secret [redacted] refused"),
        ("key \(body)", "key [redacted]"),
        ("key \(keyBytes.base64EncodedString().replacingOccurrences(of: "=", with: ""))!", "key [redacted]!"),
        ("key=\(keyBytes.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: ""))", "key=[redacted]"),
        ("key \(keyBytes.map { String(format: "%02x", $0) }.joined())", "key [redacted]"),
        ("json \"whsec_\(body.replacingOccurrences(of: "/", with: "\\/"))\"", "json \"[redacted]\""),
        ("retired \(previous)", "retired [redacted]"),
        ("Authorization: Bearer sk_live_abcdefghijkl", "Authorization: [redacted]"),
        ("token sk_live_abcdefghijkl expired", "token [redacted] expired"),
        ("auth=Bearer%20sk_live_abcdefghijkl", "auth=[redacted]"),
        ("auth=Bearer+sk_live_abcdefghijkl", "auth=[redacted]"),
        // Short values are words, not tokens: scrubbing them would blank ordinary text.
        ("team ops in T0001", "team ops in T0001"),
        // Segments of 8 or more characters are scrubbed wherever they appear, words included.
        ("no such services here", "no such [redacted] here"),
        ("ünïcode stays — 日本語", "ünïcode stays — 日本語"),
        ("", ""),
    ])
    func scrubsEveryEncoding(text: String, expected: String) {
        #expect(Self.scrubber.scrub(text) == expected)
    }

    @Test func headerValuesAreScrubbedWholeHoweverShortAndWhateverTheirCase() {
        let scrubber = Scrubber(settings: WebhookSettings(
            url: SecretString("https://hooks.example.com/in"), secret: SecretString(Self.secret),
            headers: testHeaders(["X-Api-Key": "short7k", "Authorization": "Bearer HeaderSecretValue99"])))
        #expect(scrubber.scrub("key=short7k") == "key=[redacted]")
        #expect(scrubber.scrub("auth=bearer headersecretvalue99") == "auth=[redacted]", "echoed lower-cased")
        #expect(scrubber.scrub("X-API-KEY: SHORT7K") == "X-API-KEY: [redacted]")
    }

    @Test func aSecretCutByTheEndOfAnExcerptIsScrubbedOnlyWhenTheTextWasCut() {
        let text = "token tok_9f8e7"
        #expect(Self.scrubber.scrub(text, cut: true) == "token [redacted]")
        #expect(Self.scrubber.scrub(text, cut: false) == text)
    }

    @Test func userInfoAndItsBasicAuthorizationAreScrubbed() {
        let scrubber = Scrubber(settings: SlackSettings(url: SecretString("https://relay:hunter2-long-pass@chat.test/hook")))
        let basic = Data("relay:hunter2-long-pass".utf8).base64EncodedString()
        #expect(scrubber.scrub("Authorization: Basic \(basic)") == "Authorization: Basic [redacted]")
        #expect(scrubber.scrub("user relay:hunter2-long-pass") == "user [redacted]")
        #expect(scrubber.scrub("pw hunter2-long-pass") == "pw [redacted]")
        #expect(scrubber.scrub("https://chat.test/hook") == "[redacted]")
    }

    @Test func aReceiverEchoingTheWholeRequestKeepsNothingSecret() {
        let request = """
            {"method":"POST","url":"https:\\/\\/hooks.example.com\\/services\\/T0001\\/B0001\\/tok_9f8e7d6c5b4a3210?key=qwertyuiop123&team=ops",
             "path":"/services/T0001/B0001/tok_9f8e7d6c5b4a3210","query":{"key":"qwertyuiop123","team":"ops"},
             "headers":{"Authorization":"Bearer sk_live_abcdefghijkl","X-Short":"ops","webhook-signature":"v1,abc="},
             "args":"key=qwertyuiop123&team=ops","debug":"signing with \(Self.secret)",
             "raw":"POST /services/T0001/B0001/tok_9f8e7d6c5b4a3210?key=qwertyuiop123&team=ops HTTP/1.1\\r\\nAuthorization: Bearer sk_live_abcdefghijkl"}
            """
        let scrubbed = Self.scrubber.scrub(request)
        for fragment in Self.secretFragments(of: Self.settings) {
            #expect(!scrubbed.contains(fragment), "\(fragment) left in \(scrubbed)")
        }
        #expect(scrubbed.contains("\"X-Short\":\"ops\"") && scrubbed.contains("\"method\":\"POST\""), "what is not secret stays readable")
    }

    @Test func theExcerptIsScrubbedBeforeItIsCut() {
        // The token starts 10 characters before the excerpt's 200-character limit.
        let response = HTTPResponse(status: 400, body: Array((String(repeating: "x", count: 180) + "tok_9f8e7d6c5b4a3210 and more text after it").utf8))
        guard case .failed(_, let reason, _) = ResponseClassifier.classify(response, now: Date(), scrubber: Self.scrubber) else {
            Issue.record("a 400 fails")
            return
        }
        #expect(!reason.contains("tok_9f"), "\(reason)")
        #expect(reason.contains("[redacted]"))
        // Without a scrubber (a success never builds one) the body is as it was.
        #expect(ResponseClassifier.classify(HTTPResponse(status: 204), now: Date(), scrubber: Self.scrubber) == .delivered(status: 204))
    }

    @Test func aScrubberWithNothingToScrubChangesNothing() {
        #expect(Scrubber.none.scrub("anything \(Self.url)") == "anything \(Self.url)")
        #expect(Scrubber(secrets: ["ab"]).scrub("abab") == "abab", "fragments under 4 characters are never needles")
    }

    /// Settings print, debug-print and dump without a secret.
    @Test func settingsAndSubscriptionsShowNoSecretWhenPrinted() {
        let subscription = Subscription(id: "hook", settings: Self.settings)
        var dumped = ""
        dump(subscription, to: &dumped)
        for text in ["\(subscription)", String(reflecting: subscription), dumped, "\(Self.settings)", String(reflecting: Self.settings)] {
            #expect(!text.contains("tok_9f8e7d6c5b4a3210") && !text.contains(Self.secret) && !text.contains("sk_live"), "\(text)")
        }
        #expect("\(Self.settings)" == "<webhook settings>")
    }

    @Test func aURLInsideAHeaderValueIsScrubbedWholeByWordAndByPart() {
        let scrubber = Scrubber(settings: SlackSettings(
            url: SecretString("https://chat.test/hook"), headers: testHeaders(["X-Callback": "cb https://cb.test/p/tok_abcdefgh123 extra_secret_word"])))
        #expect(scrubber.scrub("extra_secret_word") == "[redacted]")
        #expect(scrubber.scrub("token tok_abcdefgh123") == "token [redacted]")
    }
}
