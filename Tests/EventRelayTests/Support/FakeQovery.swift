import EventModel
import Foundation
import HTTPServer

/// A loopback stand-in for Qovery's organization events API, speaking real HTTP:
/// `GET /organization/{id}/events`, `Authorization: Token <t>` (or `Bearer <t>`, as configured),
/// newest first, keyset pages whose `links.next` carries a nanosecond `continueToken` (so events
/// arriving meanwhile never shift a page), `pageSize`, the filters, `fromTimestamp`/`toTimestamp`.
///
/// Every link also carries a `sig` the server checks: a client that rebuilds a link instead of
/// following it exactly gets a 400. Faults are injectable (the next requests, or per page).
final class FakeQovery: @unchecked Sendable {
    enum Scheme: String { case token = "Token", bearer = "Bearer" }

    /// How `links.next` is written.
    enum LinkStyle { case absolute, rootRelative, pathRelative }

    /// How the last page says it is the last.
    enum EndStyle { case nullNext, missingNext, emptyNext, noLinks, trailingEmptyPage }

    /// A canned answer instead of a page.
    struct Fault: Sendable {
        var status: Int
        var headers: [(String, String)] = []
        var body: String
        var contentType = "application/json"

        static let unauthorized = Fault(status: 401, body: #"{"status":401,"error":"Unauthorized"}"#)
        static let forbidden = Fault(status: 403, body: #"{"status":403,"error":"Forbidden"}"#)
        static func rateLimited(retryAfter: String?) -> Fault {
            Fault(status: 429, headers: retryAfter.map { [("Retry-After", $0)] } ?? [], body: #"{"error":"Too Many Requests"}"#)
        }
        static let serverError = Fault(status: 500, body: #"{"error":"internal error"}"#)
        static let badGateway = Fault(status: 502, body: "<html><body><h1>502 Bad Gateway</h1></body></html>", contentType: "text/html")
        /// An HTML page with a 200, as a captive portal or a misrouted proxy sends.
        static let htmlPage = Fault(status: 200, body: "<!DOCTYPE html><html><body>Maintenance</body></html>", contentType: "text/html")
        static let truncatedJSON = Fault(status: 200, body: #"{"links":{"next":null},"events":[{"id":"a","event_type":"DEPL"#)
        static let wrongShape = Fault(status: 200, body: #"{"data":[{"id":"a"}],"links":{}}"#)
        static let eventsNotAList = Fault(status: 200, body: #"{"events":{"id":"a"}}"#)
    }

    /// One page request as the hook sees it.
    struct PageRequest: Sendable {
        /// 1 for a request without a continue token, then 2, 3, … until the next such request.
        var pageInWalk: Int
        var continueToken: String?
        var query: [String: String]
    }

    let organizationID: String
    let apiToken: String
    let scheme: Scheme
    let pageSize: Int
    var linkStyle = LinkStyle.absolute
    var endStyle = EndStyle.nullNext
    private let lock = NSLock()
    /// Newest first by timestamp (nanoseconds); an equal time goes below (it arrived later).
    private var timeline: [(ns: Int64, event: JSONValue)] = []
    private var beforePage: (@Sendable (PageRequest) -> Fault?)?
    private var failNext: [Fault] = []
    private var pageInWalk = 0
    private(set) var recorder: RecordingServer!

    init(organizationID: String = "0f2e6b8a-1c3d-4e5f-8a9b-0c1d2e3f4a5b", apiToken: String = "qov-test-token-7f3a", scheme: Scheme = .token, pageSize: Int = 10) throws {
        self.organizationID = organizationID
        self.apiToken = apiToken
        self.scheme = scheme
        self.pageSize = pageSize
        // Weak: a relay process may still poll after a failed test let this fake go (unowned crashed the whole run).
        recorder = try RecordingServer { [weak self] request in self?.answer(request) ?? HTTPServerResponse(status: 503) }
    }

    var baseURL: String { recorder.baseURL }
    var eventsPath: String { "/organization/\(organizationID)/events" }
    var requests: [HTTPServerRequest] { recorder.requests }
    var pageRequests: [HTTPServerRequest] { requests.filter { $0.path == eventsPath } }
    func stop() async { await recorder.stop() }

    func publish(_ events: [JSONValue]) {
        lock.withLock {
            for event in events {
                let ns = Self.nanoseconds(event["timestamp"]?.stringValue ?? "") ?? 0
                var low = 0
                var high = timeline.count
                while low < high {
                    let middle = (low + high) / 2
                    if timeline[middle].ns >= ns { low = middle + 1 } else { high = middle }
                }
                timeline.insert((ns, event), at: low)
            }
        }
    }

    var count: Int { lock.withLock { timeline.count } }

    /// Calls `hook` before answering each page.
    func onPage(_ hook: @escaping @Sendable (PageRequest) -> Void) { lock.withLock { beforePage = { hook($0); return nil } } }

    /// Answers the fault instead of the page whenever `hook` returns one.
    func failPages(_ hook: @escaping @Sendable (PageRequest) -> Fault?) { lock.withLock { beforePage = hook } }

    /// The next page requests get these answers, in order.
    func failNextRequests(_ faults: [Fault]) { lock.withLock { failNext.append(contentsOf: faults) } }

    /// The link signature: anything that rebuilds a link from its token cannot know it.
    static func signature(_ token: String) -> String { String(token.reversed()) + "x" }

    private func answer(_ request: HTTPServerRequest) -> HTTPServerResponse {
        guard request.path == eventsPath, request.method == "GET" else { return json(404, #"{"status":404,"error":"Not Found"}"#) }
        guard request.header("authorization") == "\(scheme.rawValue) \(apiToken)" else {
            return json(401, #"{"status":401,"error":"Unauthorized"}"#)
        }
        let token = request.query["continueToken"]
        if let token, request.query["sig"] != Self.signature(token) {
            return json(400, #"{"status":400,"error":"continueToken without its link"}"#)
        }
        let (pageRequest, hook, fault) = lock.withLock { () -> (PageRequest, (@Sendable (PageRequest) -> Fault?)?, Fault?) in
            pageInWalk = token == nil ? 1 : pageInWalk + 1
            return (PageRequest(pageInWalk: pageInWalk, continueToken: token, query: request.query), beforePage, failNext.isEmpty ? nil : failNext.removeFirst())
        }
        if let fault = fault ?? hook?(pageRequest) {
            return HTTPServerResponse(
                status: fault.status, headers: [("Content-Type", fault.contentType)] + fault.headers.map { (name: $0.0, value: $0.1) },
                body: Array(fault.body.utf8))
        }
        let query = request.query
        var entries = lock.withLock { timeline }
        let filters: [(String, String)] = [
            ("eventType", "event_type"), ("targetType", "target_type"), ("subTargetType", "sub_target_type"), ("triggeredBy", "triggered_by"),
            ("targetId", "target_id"), ("serviceProjectId", "project_id"), ("serviceEnvironmentId", "environment_id"), ("origin", "origin"),
        ]
        for (parameter, field) in filters {
            if let wanted = query[parameter] { entries = entries.filter { $0.event[field]?.scalarText == wanted } }
        }
        if let from = query["fromTimestamp"].flatMap({ Int64($0) }) { entries = entries.filter { $0.ns >= from } }
        if let to = query["toTimestamp"].flatMap({ Int64($0) }) { entries = entries.filter { $0.ns <= to } }
        if let token {
            guard let below = Int64(token) else { return json(400, #"{"status":400,"error":"bad continueToken"}"#) }
            entries = entries.filter { $0.ns < below }
        }
        let size = query["pageSize"].flatMap { Int($0) } ?? pageSize
        let page = Array(entries.prefix(size))
        let more = entries.count > size
        var links: [String: JSONValue] = ["previous": .null]
        if let last = page.last, more || endStyle == .trailingEmptyPage {
            links["next"] = .string(link(continueToken: String(last.ns), keeping: query))
        } else {
            switch endStyle {
            case .nullNext: links["next"] = .null
            case .emptyNext: links["next"] = .string("")
            case .missingNext, .noLinks, .trailingEmptyPage: break
            }
        }
        var body: [String: JSONValue] = ["organization_max_limit_reached": .bool(false), "events": .array(page.map(\.event))]
        if endStyle != .noLinks || more { body["links"] = .object(links) }
        return json(200, String(decoding: JSONValue.object(body).encoded(), as: UTF8.self))
    }

    /// The next page's link: the request's filters and size, the token, its signature.
    private func link(continueToken: String, keeping query: [String: String]) -> String {
        var parameters = query.filter { $0.key != "continueToken" && $0.key != "sig" }.sorted { $0.key < $1.key }
        parameters.append(("continueToken", continueToken))
        parameters.append(("sig", Self.signature(continueToken)))
        let text = parameters.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0.1)" }.joined(separator: "&")
        switch linkStyle {
        case .absolute: return baseURL + eventsPath + "?" + text
        case .rootRelative: return eventsPath + "?" + text
        case .pathRelative: return "events?" + text
        }
    }

    /// Nanoseconds since 1970 of an RFC 3339 time with up to nine fraction digits.
    static func nanoseconds(_ text: String) -> Int64? {
        var whole = text
        var fraction = ""
        if let dot = text.firstIndex(of: ".") {
            let digits = text[text.index(after: dot)...].prefix { $0.isNumber }
            fraction = String(digits)
            whole = String(text[..<dot]) + String(text[text.index(dot, offsetBy: digits.count + 1)...])
        }
        guard let date = Timestamp.parse(whole) else { return nil }
        let padded = (fraction + "000000000").prefix(9)
        return Int64(date.timeIntervalSince1970.rounded()) * 1_000_000_000 + (Int64(padded) ?? 0)
    }
}

/// Qovery-shaped events for tests: timestamps with nanoseconds, as the API writes them.
enum QoveryEventFactory {
    /// `2026-01-02T03:04:05.123456789Z`.
    static func stamp(_ date: Date, extraNanoseconds: Int = 0) -> String {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        let nanos = Int(((date.timeIntervalSince1970 - seconds) * 1e6).rounded(.down)) * 1000 + extraNanoseconds % 1000
        let base = Date(timeIntervalSince1970: seconds).formatted(Date.ISO8601FormatStyle())
        return String(base.dropLast()) + "." + String(format: "%09d", nanos) + "Z"
    }

    static func event(
        id: String, type: String, at date: Date, target: String = "APPLICATION", name: String? = "api", subTarget: String? = nil,
        by user: String? = "ann@example.com", project: String? = "acme", environment: String? = "production", change: JSONValue = .string(""),
        origin: String = "CONSOLE", targetID: String = "7d0ab2e4-0000-4000-8000-000000000001"
    ) -> JSONValue {
        var object: [String: JSONValue] = [
            "id": .string(id), "timestamp": .string(stamp(date)), "event_type": .string(type), "target_type": .string(target),
            "target_id": .string(targetID),
            "origin": .string(origin), "change": change, "user_agent": .null, "original_change": .null,
            "project_id": .string("5a1c8e1e-1111-4111-8111-111111111111"), "environment_id": .string("6b2d9f2f-2222-4222-8222-222222222222"),
        ]
        if let name { object["target_name"] = .string(name) }
        if let subTarget { object["sub_target_type"] = .string(subTarget) }
        if let user { object["triggered_by"] = .string(user) }
        if let project { object["project_name"] = .string(project) }
        if let environment { object["environment_name"] = .string(environment) }
        return .object(object)
    }

    static func deployFailed(id: String, at date: Date, service: String = "api") -> JSONValue {
        event(id: id, type: "DEPLOY_FAILED", at: date, name: service, by: "Qovery", origin: "QOVERY_INTERNAL")
    }

    /// `count` events, one every `step` seconds from `start`, cycling through a few types.
    static func burst(_ prefix: String, count: Int, from start: Date, step: TimeInterval = 0.01, type: String? = nil) -> [JSONValue] {
        let types = ["DEPLOY_FAILED", "DEPLOYED", "UPDATE", "SHELL", "RESTARTED"]
        return (0..<count).map { index in
            event(id: "\(prefix)-\(index)", type: type ?? types[index % types.count], at: start.addingTimeInterval(Double(index) * step))
        }
    }
}
