import EventModel
import Foundation
import HTTPServer

/// A loopback stand-in for Scalingo's API and auth service, speaking real HTTP: token exchange
/// (Basic auth, the token as password), and newest-first paged `/v1/events` and
/// `/v1/apps/{app}/events` with `meta.pagination` in the real API's shape (including
/// `previous_page` and a `next_page` clamped to the last page, as seen in production).
final class FakeScalingo: @unchecked Sendable {
    let apiToken: String
    let pageSize: Int
    /// Answer 404 (rather than an empty page) past the last page, as some servers do.
    var notFoundPastLastPage = false
    private let lock = NSLock()
    /// Each timeline newest first, as the real API orders it (by `created_at`, so a late insert
    /// lands below newer events).
    private var userEvents: [(time: Date, event: JSONValue)] = []
    private var appEvents: [String: [(time: Date, event: JSONValue)]] = [:]
    /// Runs before each events page is answered (path, page): to publish events in the middle of a
    /// walk, or to fail that page (a status to answer with).
    private var beforePage: (@Sendable (String, Int) -> Int?)?
    private var issued: Set<String> = []
    /// Makes each bearer the exchange hands out (a JWT with an `exp`, or an opaque string).
    private var bearerFactory: @Sendable () -> String = { "bearer-\(UUID().uuidString)" }
    private var failNext: [(status: Int, headers: [(String, String)], body: String)] = []
    private(set) var recorder: RecordingServer!

    init(apiToken: String = "tk-us-test-token", pageSize: Int = 5) throws {
        self.apiToken = apiToken
        self.pageSize = pageSize
        // Weak: a relay process may still poll after a failed test let this fake go (unowned crashed the whole run).
        recorder = try RecordingServer { [weak self] request in self?.answer(request) ?? HTTPServerResponse(status: 503) }
    }

    var baseURL: String { recorder.baseURL }
    var requests: [HTTPServerRequest] { recorder.requests }
    func stop() async { await recorder.stop() }

    /// Adds events to the user timeline and, when they have an app, to that app's timeline.
    func publish(_ events: [JSONValue], userTimeline: Bool = true) {
        lock.withLock {
            for event in events {
                let time = Timestamp.parse(event["created_at"]?.stringValue ?? "") ?? .distantPast
                if userTimeline { Self.insert((time, event), into: &userEvents) }
                if let app = event["app_name"]?.stringValue { Self.insert((time, event), into: &appEvents[app, default: []]) }
            }
        }
    }

    /// Newest first; an event with the same time as others goes below them (it arrived later).
    private static func insert(_ entry: (time: Date, event: JSONValue), into timeline: inout [(time: Date, event: JSONValue)]) {
        var low = 0
        var high = timeline.count
        while low < high {
            let middle = (low + high) / 2
            if timeline[middle].time >= entry.time { low = middle + 1 } else { high = middle }
        }
        timeline.insert(entry, at: low)
    }

    /// Apps that exist (listed by `GET /v1/apps`, their timelines answer) besides those events named.
    private var createdApps: Set<String> = []
    /// One-off audit logs by id, as `GET /v1/apps/{app}/audit_logs/{id}` answers them.
    private var auditLogs: [String: JSONValue] = [:]

    func addAuditLog(id: String, entries: JSONValue) { lock.withLock { auditLogs[id] = entries } }
    private var deletedApps: Set<String> = []

    func createApp(_ name: String) { lock.withLock { _ = createdApps.insert(name); deletedApps.remove(name) } }

    /// The app is gone: not listed, and its timeline answers 404.
    func deleteApp(_ name: String) { lock.withLock { _ = deletedApps.insert(name) } }

    /// Calls `hook` before answering each events page, with the path and page number.
    func onPage(_ hook: @escaping @Sendable (String, Int) -> Void) { lock.withLock { beforePage = { hook($0, $1); return nil } } }

    /// Answers `status` instead of the page whenever `hook` returns one.
    func failPages(_ hook: @escaping @Sendable (String, Int) -> Int?) { lock.withLock { beforePage = hook } }

    /// How many events pages were requested, per path.
    func pageRequests(path: String) -> Int { requests.filter { $0.path == path && $0.method == "GET" }.count }

    /// Makes the next API (not auth) responses fail as given.
    func failNextRequests(_ failures: [(status: Int, headers: [(String, String)], body: String)]) {
        lock.withLock { failNext.append(contentsOf: failures) }
    }

    /// Hands out JWT bearers whose `exp` is `lifetime` from now.
    func issueJWTs(lifetime: TimeInterval) {
        lock.withLock {
            bearerFactory = {
                let header = Data(#"{"alg":"HS256","typ":"JWT"}"#.utf8).base64EncodedString()
                let exp = Int64(Date().timeIntervalSince1970 + lifetime)
                let payload = Data(#"{"exp":\#(exp),"iss":"fake","uuid":"\#(UUID().uuidString)"}"#.utf8).base64EncodedString()
                func url(_ text: String) -> String {
                    text.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
                }
                return "\(url(header)).\(url(payload)).c2lnbmF0dXJl"
            }
        }
    }

    /// Forgets issued bearers, as if they expired early: the next API call gets a 401.
    func revokeBearers() { lock.withLock { issued.removeAll() } }

    private func answer(_ request: HTTPServerRequest) -> HTTPServerResponse {
        if request.path == "/v1/tokens/exchange" {
            guard request.method == "POST",
                  request.header("authorization") == "Basic " + Data(":\(apiToken)".utf8).base64EncodedString()
            else { return json(401, #"{"error":"Invalid credentials"}"#) }
            let bearer = lock.withLock { bearerFactory }()
            lock.withLock { _ = issued.insert(bearer) }
            return json(200, #"{"token":"\#(bearer)"}"#)
        }
        let authorized = lock.withLock { () -> Bool in
            guard let header = request.header("authorization"), header.hasPrefix("Bearer ") else { return false }
            return issued.contains(String(header.dropFirst(7)))
        }
        guard authorized else { return json(401, #"{"error":"You are not authorized to do this operation"}"#) }
        if let failure = lock.withLock({ failNext.isEmpty ? nil : failNext.removeFirst() }) {
            return json(failure.status, failure.body, headers: failure.headers)
        }
        if request.path.hasPrefix("/v1/apps/"), request.path.contains("/audit_logs/") {
            let id = String(request.path.split(separator: "/").last ?? "")
            guard let entries = lock.withLock({ auditLogs[id] }) else { return json(404, #"{"error":"not found"}"#) }
            return json(200, String(decoding: entries.encoded(), as: UTF8.self))
        }
        if request.path == "/v1/apps" {
            let names = lock.withLock { createdApps.union(appEvents.keys).subtracting(deletedApps).sorted() }
            let body = JSONValue.object(["apps": .array(names.map { .object(["name": .string($0), "id": .string("app-\($0)")]) })])
            return json(200, String(decoding: body.encoded(), as: UTF8.self))
        }
        let pageNumber = max(1, request.query["page"].flatMap(Int.init) ?? 1)
        if let hook = lock.withLock({ beforePage }), let status = hook(request.path, pageNumber) {
            return json(status, #"{"error":"injected failure"}"#)
        }
        let newestFirst: [JSONValue]
        if request.path == "/v1/events" {
            // The user timeline ignores `from`, as the real one does.
            newestFirst = lock.withLock { userEvents.map(\.event) }
        } else if request.path.hasPrefix("/v1/apps/"), request.path.hasSuffix("/events") {
            let app = String(request.path.dropFirst("/v1/apps/".count).dropLast("/events".count))
            let (found, exists) = lock.withLock { (appEvents[app], (appEvents[app] != nil || createdApps.contains(app)) && !deletedApps.contains(app)) }
            guard exists else { return json(404, #"{"error":"not found"}"#) }
            let timeline = found ?? []
            var entries = timeline
            if let hours = request.query["from"].flatMap(Double.init) {
                let since = Date().addingTimeInterval(-hours * 3600)
                entries = entries.filter { $0.time >= since }
            }
            newestFirst = entries.map(\.event)
        } else {
            return json(404, #"{"error":"not found"}"#)
        }
        let size = request.query["per_page"].flatMap(Int.init) ?? pageSize
        let totalPages = max(1, (newestFirst.count + size - 1) / size)
        let page = pageNumber
        if notFoundPastLastPage && page > totalPages { return json(404, #"{"error":"not found"}"#) }
        let slice = page <= totalPages ? Array(newestFirst.dropFirst((page - 1) * size).prefix(size)) : []
        let body: JSONValue = .object([
            "events": .array(slice),
            "meta": .object([
                "pagination": .object([
                    "current_page": .integer(Int64(page)),
                    "next_page": .integer(Int64(min(page + 1, totalPages))),  // clamped, never null: as seen live
                    "previous_page": page > 1 ? .integer(Int64(page - 1)) : .null,
                    "total_pages": .integer(Int64(totalPages)),
                    "total_count": .integer(Int64(newestFirst.count)),
                ])
            ]),
        ])
        return json(200, String(decoding: body.encoded(), as: UTF8.self))
    }
}

/// Scalingo-shaped events for tests.
enum ScalingoEventFactory {
    static func stamp(_ date: Date) -> String { Timestamp.format(date) }

    static func deployment(id: String, app: String, status: String, at date: Date) -> JSONValue {
        .object([
            "id": .string(id), "created_at": .string(stamp(date)), "type": .string("deployment"),
            "app_id": .string("app-\(app)"), "app_name": .string(app),
            "user": .object(["username": .string("ann"), "email": .string("ann@example.com"), "id": .string("us-ann")]),
            "type_data": .object([
                "deployment_id": .string("dep-\(id)"), "pusher": .string("ann"), "git_ref": .string("0123456789abcdef0123"),
                "git_ref_url": .string("https://github.com/acme/\(app)/commit/0123456"), "status": .string(status),
                "duration": .integer(75), "stack": .string("scalingo-22"),
            ]),
        ])
    }

    static func loginLock(id: String, user: String, ip: String, at date: Date) -> JSONValue {
        .object([
            "id": .string(id), "created_at": .string(stamp(date)), "type": .string("login_lock"),
            "user": .object(["username": .string(user), "email": .string("\(user)@example.com"), "id": .string("us-\(user)")]),
            "type_data": .object(["remote_ip": .string(ip)]),
        ])
    }

    static func generic(id: String, type: String, app: String?, at date: Date) -> JSONValue {
        var object: [String: JSONValue] = [
            "id": .string(id), "created_at": .string(stamp(date)), "type": .string(type),
            "user": .object(["username": .string("bob")]), "type_data": .object([:]),
        ]
        if let app { object["app_name"] = .string(app) }
        return .object(object)
    }
}
