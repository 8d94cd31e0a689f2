import EventModel
import Foundation
import HTTPClient

/// Decides, from a receiver's HTTP answer, whether a delivery succeeded, should be retried, or
/// cannot succeed (Alertmanager's notify/util.go does this job for its receivers).
public enum ResponseClassifier {
    /// `scrubber` is made only when the answer is not a success: the excerpt of the body kept as
    /// the reason has the destination's secrets removed first (receivers echo requests).
    public static func classify(_ response: HTTPResponse, now: Date, scrubber: @autoclosure () -> Scrubber = .none) -> SendResult {
        let status = response.status
        switch status {
        case 200..<300:
            return .delivered(status: status)
        case 408, 425, 429, 500..<600:
            let retryAfter = response.header("Retry-After").flatMap { RetryAfter.parse($0, now: now) }
            return .retry(status: status, reason: reason(response, scrubber: scrubber()), retryAfter: retryAfter, cause: .http(status))
        default:
            // 3xx (redirects are not followed: a moved endpoint must be reconfigured), 4xx, and anything odd.
            return .failed(status: status, reason: reason(response, scrubber: scrubber()), cause: .http(status))
        }
    }

    static let excerptLength = 200
    /// How much of a body is read for the excerpt: enough that scrubbing long secrets out of
    /// its start still leaves `excerptLength` characters to show.
    static let scannedBytes = 16 * 1024

    /// "HTTP 400: invalid_payload" — the status and the start of the body, scrubbed of the
    /// destination's secrets before it is cut, printable characters only.
    static func reason(_ response: HTTPResponse, scrubber: Scrubber = .none) -> String {
        let cut = response.body.count > scannedBytes
        let scanned = String(decoding: response.body.prefix(scannedBytes), as: UTF8.self)
        let text = scrubber.scrub(scanned, cut: cut).unicodeScalars
            .map { CharacterSet.controlCharacters.contains($0) ? " " : String($0) }
            .joined()
            .trimmingCharacters(in: .whitespaces)
        let excerpt = text.count > excerptLength ? String(text.prefix(excerptLength)) + "…" : text
        return excerpt.isEmpty ? "HTTP \(response.status)" : "HTTP \(response.status): \(excerpt)"
    }
}
