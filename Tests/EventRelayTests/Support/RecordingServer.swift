import Foundation
import HTTPServer

/// A loopback HTTP peer on port 0 (libmicrohttpd, like the admin server) that records every
/// request and answers from a script. Tests use it as the fake platform API or the fake sink.
final class RecordingServer: HTTPServerHandler, @unchecked Sendable {
    typealias Responder = @Sendable (HTTPServerRequest) async -> HTTPServerResponse

    private let lock = NSLock()
    private var recorded: [HTTPServerRequest] = []
    private var responder: Responder
    private(set) var server: HTTPServer!

    init(maxBodyBytes: Int = 1 << 20, responder: @escaping Responder = { _ in HTTPServerResponse(status: 200, body: Array("ok".utf8)) }) throws {
        self.responder = responder
        server = try HTTPServer(
            configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 0, maxBodyBytes: maxBodyBytes), handler: self)
    }

    var port: UInt16 { server.port }
    var baseURL: String { "http://127.0.0.1:\(port)" }

    var requests: [HTTPServerRequest] { lock.withLock { recorded } }

    func requests(path: String) -> [HTTPServerRequest] { requests.filter { $0.path == path } }

    func respond(with responder: @escaping Responder) {
        lock.withLock { self.responder = responder }
    }

    func handle(_ request: HTTPServerRequest) async -> HTTPServerResponse {
        let responder = lock.withLock {
            recorded.append(request)
            return self.responder
        }
        return await responder(request)
    }

    func refuse(_ refusal: HTTPServerRefusal) -> HTTPServerResponse {
        switch refusal {
        case .bodyTooLarge: return HTTPServerResponse(status: 413)
        case .shuttingDown: return HTTPServerResponse(status: 503)
        }
    }

    /// Waits until `condition` holds for the recorded requests, polling every 20 ms.
    func waitFor(timeout: Duration = .seconds(30), _ condition: ([HTTPServerRequest]) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(requests) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition(requests)
    }

    func stop() async { await server.stop() }
}

func json(_ status: Int = 200, _ text: String, headers: [(String, String)] = []) -> HTTPServerResponse {
    HTTPServerResponse(
        status: status, headers: [("Content-Type", "application/json")] + headers.map { (name: $0.0, value: $0.1) },
        body: Array(text.utf8))
}
