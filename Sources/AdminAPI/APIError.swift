import EventModel
import HTTPServer

/// Every error the admin API returns: `{"error": {"code", "message", "field"?}}` with its status.
struct APIError: Error {
    var status: Int
    var code: String
    var message: String
    var field: String?
    var headers: [(name: String, value: String)] = []

    static func invalidJSON(_ detail: String) -> APIError {
        APIError(status: 400, code: "invalid_json", message: "the request body is not valid JSON: \(detail)")
    }
    static func unknownField(_ field: String, allowed: [String]) -> APIError {
        APIError(
            status: 400, code: "unknown_field",
            message: "unknown field \"\(field)\" (expected one of: \(allowed.joined(separator: ", ")))", field: field)
    }
    static func invalidField(_ field: String, _ message: String) -> APIError {
        APIError(status: 422, code: "invalid_field", message: "\(field): \(message)", field: field)
    }
    static func invalidParameter(_ name: String, _ message: String) -> APIError {
        APIError(status: 400, code: "invalid_parameter", message: "\(name): \(message)", field: name)
    }
    static func notFound(_ message: String) -> APIError { APIError(status: 404, code: "not_found", message: message) }
    static func conflict(_ message: String) -> APIError { APIError(status: 409, code: "conflict", message: message) }
    static func methodNotAllowed(_ allowed: [String]) -> APIError {
        APIError(
            status: 405, code: "method_not_allowed", message: "use \(allowed.joined(separator: ", ")) here",
            headers: [("Allow", allowed.joined(separator: ", "))])
    }
    static let unauthorized = APIError(
        status: 401, code: "unauthorized", message: "send the admin token as: Authorization: Bearer <token>",
        headers: [("WWW-Authenticate", "Bearer realm=\"event-relay\"")])
    static func internalError(_ message: String) -> APIError { APIError(status: 500, code: "internal", message: message) }
    static func unavailable(_ message: String) -> APIError { APIError(status: 503, code: "unavailable", message: message) }

    var response: HTTPServerResponse {
        var error: [String: JSONValue] = ["code": .string(code), "message": .string(message)]
        if let field { error["field"] = .string(field) }
        return JSONResponse.make(status, .object(["error": .object(error)]), headers: headers)
    }
}

/// Every answer's body: compact JSON, keys in one stable order (by their UTF-8 bytes), then a
/// newline, written by `CanonicalJSON` straight into one buffer (a pretty-printing `JSONEncoder`
/// per answer cost most of a request's time).
enum JSONResponse {
    static func make(_ status: Int, _ body: JSONValue, headers: [(name: String, value: String)] = []) -> HTTPServerResponse {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(4096)
        CanonicalJSON.append(body, to: &bytes)
        bytes.append(UInt8(ascii: "\n"))
        return HTTPServerResponse(
            status: status,
            headers: [("Content-Type", "application/json"), ("Cache-Control", "no-store")] + headers,
            body: bytes)
    }
}
