import EventModel
import Foundation
import HTTPClient

/// Decides, from a receiver's HTTP answer, whether a delivery succeeded, should be retried, or
/// cannot succeed (Alertmanager's notify/util.go does this job for its receivers).
public enum ResponseClassifier {
    public static func classify(_ response: HTTPResponse, now: Date) -> SendResult {
        let status = response.status
        switch status {
        case 200..<300:
            return .delivered(status: status)
        case 408, 425, 429, 500..<600:
            let retryAfter = response.header("Retry-After").flatMap { RetryAfter.parse($0, now: now) }
            return .retry(status: status, reason: reason(response), retryAfter: retryAfter)
        default:
            // 3xx (redirects are not followed: a moved endpoint must be reconfigured), 4xx, and anything odd.
            return .failed(status: status, reason: reason(response))
        }
    }

    /// "HTTP 400: invalid_payload" — the status and the start of the body, printable characters only.
    static func reason(_ response: HTTPResponse) -> String {
        let text = response.bodyText.unicodeScalars
            .map { CharacterSet.controlCharacters.contains($0) ? " " : String($0) }
            .joined()
            .trimmingCharacters(in: .whitespaces)
        let excerpt = text.count > 200 ? String(text.prefix(200)) + "…" : text
        return excerpt.isEmpty ? "HTTP \(response.status)" : "HTTP \(response.status): \(excerpt)"
    }
}
