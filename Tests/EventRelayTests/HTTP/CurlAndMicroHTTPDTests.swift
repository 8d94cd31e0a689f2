import Foundation
import HTTPClient
import HTTPServer
import EventModel
import Testing

@Suite("libcurl client against a libmicrohttpd server over loopback")
struct CurlAndMicroHTTPDTests {
    @Test func getAndPostRoundTrip() async throws {
        let peer = try RecordingServer { request in
            HTTPServerResponse(
                status: 201, headers: [("X-Echo", request.method)],
                body: request.body.isEmpty ? Array("empty".utf8) : request.body)
        }
        let client = try CurlHTTPClient()
        defer { client.shutdown() }

        let get = try await client.execute(HTTPRequest(url: peer.baseURL + "/things?x=1&y=two"))
        #expect(get.status == 201)
        #expect(get.bodyText == "empty")
        #expect(get.header("x-echo") == "GET")

        let body = Array(#"{"hello":"world"}"#.utf8)
        let post = try await client.execute(
            HTTPRequest(method: .POST, url: peer.baseURL + "/post", headers: [("Content-Type", "application/json")], body: body))
        #expect(post.body == body)
        #expect(post.header("X-Echo") == "POST")

        let recorded = peer.requests
        #expect(recorded.count == 2)
        #expect(recorded[0].path == "/things")
        #expect(recorded[0].query == ["x": "1", "y": "two"])
        #expect(recorded[1].header("content-type") == "application/json")
        #expect(recorded[1].body == body)
        await peer.stop()
    }

    @Test func manyConcurrentRequestsShareOneMultiHandle() async throws {
        // The server counts how many requests it holds at once: concurrency, not speed, is the behaviour.
        let load = LockedValue((current: 0, peak: 0))
        let peer = try RecordingServer { request in
            load.withValue { $0.current += 1; $0.peak = max($0.peak, $0.current) }
            try? await Task.sleep(for: .milliseconds(100))
            load.withValue { $0.current -= 1 }
            return HTTPServerResponse(status: 200, body: Array(request.path.utf8))
        }
        let client = try CurlHTTPClient(configuration: HTTPClientConfiguration(maxConnectionsPerHost: 16))
        defer { client.shutdown() }
        let paths = try await withThrowingTaskGroup(of: String.self) { group in
            for index in 0..<100 {
                group.addTask { try await client.execute(HTTPRequest(url: peer.baseURL + "/r\(index)")).bodyText }
            }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(paths.count == 100)
        #expect(load.value.peak > 4, "requests overlapped (peak \(load.value.peak) at once)")
        #expect(load.value.peak <= 16, "and stayed within the per-host connection limit")
        await peer.stop()
    }

    @Test func oversizeRequestBodyIsRefusedWith413() async throws {
        let peer = try RecordingServer(maxBodyBytes: 1024)
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let response = try await client.execute(
            HTTPRequest(method: .POST, url: peer.baseURL + "/big", body: Array(repeating: 65, count: 4096)))
        #expect(response.status == 413)
        #expect(peer.requests.isEmpty)
        await peer.stop()
    }

    @Test func responseLargerThanTheCapFails() async throws {
        let peer = try RecordingServer { _ in HTTPServerResponse(status: 200, body: Array(repeating: 66, count: 100_000)) }
        let client = try CurlHTTPClient(configuration: HTTPClientConfiguration(maxResponseBytes: 10_000))
        defer { client.shutdown() }
        await #expect(throws: HTTPClientError.responseTooLarge) {
            _ = try await client.execute(HTTPRequest(url: peer.baseURL + "/huge"))
        }
        await peer.stop()
    }

    @Test func slowPeerTimesOut() async throws {
        let peer = try RecordingServer { _ in
            try? await Task.sleep(for: .seconds(3))
            return HTTPServerResponse(status: 200)
        }
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        await #expect(throws: HTTPClientError.timedOut) {
            _ = try await client.execute(HTTPRequest(url: peer.baseURL + "/slow", timeout: .milliseconds(300)))
        }
        await peer.stop()
    }

    @Test func refusedConnectionIsAConnectFailure() async throws {
        // Bind a port, then free it, so nothing listens there.
        let closed = try RecordingServer()
        let port = closed.port
        await closed.stop()
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        await #expect(throws: HTTPClientError.connectFailed) {
            _ = try await client.execute(HTTPRequest(url: "http://127.0.0.1:\(port)/"))
        }
    }

    @Test func redirectsAreNotFollowed() async throws {
        let peer = try RecordingServer { _ in HTTPServerResponse(status: 302, headers: [("Location", "/elsewhere")]) }
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let response = try await client.execute(HTTPRequest(url: peer.baseURL + "/start"))
        #expect(response.status == 302)
        #expect(peer.requests.map(\.path) == ["/start"])
        await peer.stop()
    }

    @Test func nonHTTPSchemesAreRejected() async throws {
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        await #expect(throws: HTTPClientError.invalidRequest) {
            _ = try await client.execute(HTTPRequest(url: "file:///etc/passwd"))
        }
    }

    @Test func cancellingTheTaskCancelsTheTransfer() async throws {
        let peer = try RecordingServer { _ in
            try? await Task.sleep(for: .seconds(5))
            return HTTPServerResponse(status: 200)
        }
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let task = Task { try await client.execute(HTTPRequest(url: peer.baseURL + "/wait")) }
        #expect(await peer.waitFor { $0.count == 1 })
        task.cancel()
        // Had the transfer not been cancelled, it would have succeeded when the peer answered.
        await #expect(throws: HTTPClientError.cancelled) { _ = try await task.value }
        await peer.stop()
    }
}
