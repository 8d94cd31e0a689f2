import EventModel
import Feeds
import Foundation
import HTTPServer

/// A loopback stand-in for EscapeKit's events endpoint, speaking real HTTP: the token checked in
/// a configurable header, pages of at most `page_size` events with ids below `page_from`,
/// highest id first (numeric ids compare as numbers), the documented filters, and no next-page
/// marker. Faults, late inserts and events published in the middle of a walk are injectable.
final class FakeEscapeKit: @unchecked Sendable {
    static let path = "/api/v1/events/"

    let token: String
    let authHeader: String
    let authScheme: String
    /// The page size when the request names none.
    let defaultPageSize: Int
    private let lock = NSLock()
    /// Highest id first, as EscapeKit orders a page.
    private var events: [(id: String, event: JSONValue)] = []
    private var failNext: [HTTPServerResponse] = []
    /// Runs before each events page is answered, with the request's `page_from` (nil: the first
    /// page); returning a response answers with it instead of the page.
    private var beforePage: (@Sendable (String?) -> HTTPServerResponse?)?
    private(set) var recorder: RecordingServer!
    /// The most events a page holds, whatever `page_size` asks for (servers cap pages).
    private var pageCap = Int.max

    func capPages(at cap: Int) { lock.withLock { pageCap = cap } }

    init(token: String = "ek-secret-token-0123", authHeader: String = "Authorization", authScheme: String = "Bearer", defaultPageSize: Int = 20) throws {
        self.token = token
        self.authHeader = authHeader
        self.authScheme = authScheme
        self.defaultPageSize = defaultPageSize
        // Weak: a relay process may still poll after a failed test let this fake go (unowned crashed the whole run).
        recorder = try RecordingServer { [weak self] request in self?.answer(request) ?? HTTPServerResponse(status: 503) }
    }

    var url: String { recorder.baseURL + Self.path }
    var requests: [HTTPServerRequest] { recorder.requests }
    /// The events pages asked for (authorized or not), in order.
    var pageRequests: [HTTPServerRequest] { requests.filter { $0.path == Self.path } }
    func stop() async { await recorder.stop() }

    /// Adds events (each needs an `id`) at their place in id order.
    func publish(_ new: [JSONValue]) {
        lock.withLock {
            for event in new {
                guard let id = event["id"]?.scalarText else { continue }
                let index = events.firstIndex { Self.isBelow($0.id, id) } ?? events.count
                events.insert((id, event), at: index)
            }
        }
    }

    var count: Int { lock.withLock { events.count } }

    /// Makes the next events requests answer these instead (after the auth check).
    func failNextRequests(_ responses: [HTTPServerResponse]) { lock.withLock { failNext.append(contentsOf: responses) } }

    /// Calls `hook` before each events page with its `page_from`; a response it returns is sent instead.
    func onPage(_ hook: @escaping @Sendable (String?) -> HTTPServerResponse?) { lock.withLock { beforePage = hook } }

    private func answer(_ request: HTTPServerRequest) -> HTTPServerResponse {
        guard request.path == Self.path, request.method == "GET" else { return json(404, #"{"error":"not found"}"#) }
        let expected = authScheme.isEmpty ? token : "\(authScheme) \(token)"
        guard request.header(authHeader) == expected else { return json(401, #"{"error":"invalid credentials"}"#) }
        if let failure = lock.withLock({ failNext.isEmpty ? nil : failNext.removeFirst() }) { return failure }
        let from = request.query["page_from"]
        if let hook = lock.withLock({ beforePage }), let response = hook(from) { return response }
        let size = request.query["page_size"].flatMap(Int.init) ?? defaultPageSize
        guard size > 0 else { return json(400, #"{"error":"bad page_size"}"#) }
        let page = lock.withLock {
            Array(events.lazy.filter { entry in
                (from.map { Self.isBelow(entry.id, $0) } ?? true) && Self.matches(entry.event, request.query)
            }.prefix(min(size, pageCap)).map(\.event))
        }
        return json(200, String(decoding: JSONValue.array(page).encoded(), as: UTF8.self))
    }

    /// The server's own order, written apart from the relay's so a mistake there cannot hide in both:
    /// numbers as numbers, anything else as text.
    static func isBelow(_ a: String, _ b: String) -> Bool {
        if let x = Int(a), let y = Int(b) { return x < y }
        return a < b
    }

    /// The documented filters, with their documented dependencies.
    static func matches(_ event: JSONValue, _ query: [String: String]) -> Bool {
        func field(_ name: String) -> String? { event[name]?.scalarText }
        var wanted: [String] = []
        if query["inventory_project"] != nil {
            wanted.append("inventory_project")
            if query["inventory_application"] != nil {
                wanted.append("inventory_application")
                if query["inventory_version"] != nil { wanted.append("inventory_version") }
            }
        } else if query["state_project"] != nil {
            wanted.append("state_project")
            if query["state_environment"] != nil {
                wanted.append("state_environment")
                if query["state_deployment"] != nil { wanted.append("state_deployment") }
            }
        }
        return wanted.allSatisfy { field($0) == query[$0] }
    }
}

/// EscapeKit-shaped events for tests.
enum EscapeKitEventFactory {
    static func nanoseconds(_ date: Date) -> String {
        let whole = Int64(date.timeIntervalSince1970.rounded(.down))
        let fraction = Int64(((date.timeIntervalSince1970 - Double(whole)) * 1e9).rounded(.down))
        return String(whole) + String(repeating: "0", count: 9 - String(fraction).count) + String(fraction)
    }

    static func event(
        id: Int, type: String = "REDEPLOY_STATE_DEPLOYMENT", at date: Date, user: String = "ann",
        fields: [String: JSONValue] = ["state_project": .string("shop"), "state_environment": .string("prod"), "state_deployment": .string("web")]
    ) -> JSONValue {
        var object = fields
        object["id"] = .string(String(id))
        object["type"] = .string(type)
        object["timestamp"] = .string(nanoseconds(date))
        object["username"] = .string(user)
        return .object(object)
    }

    /// `count` events with ids `first`, `first + 1`, …, one `step` apart in time from `start`.
    static func run(from first: Int, count: Int, start: Date, step: TimeInterval = 0.01) -> [JSONValue] {
        (0..<count).map { event(id: first + $0, at: start.addingTimeInterval(Double($0) * step)) }
    }
}

/// A JSON response with any content type and body, for faults.
func raw(_ status: Int, _ text: String, contentType: String = "application/json", headers: [(String, String)] = []) -> HTTPServerResponse {
    HTTPServerResponse(
        status: status, headers: [(name: "Content-Type", value: contentType)] + headers.map { (name: $0.0, value: $0.1) }, body: Array(text.utf8))
}
