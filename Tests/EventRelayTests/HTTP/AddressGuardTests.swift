import Foundation
import HTTPClient
import HTTPServer
import Testing

/// The policy enforced inside libcurl, over real loopback connections: a guarded request never
/// reaches a refused address, whatever the URL says and whichever connection it would reuse.
@Suite("SSRF guard: libcurl connects only where the policy allows")
struct AddressGuardTests {
    static let guarded = AddressPolicy(settingName: "delivery.allowed_networks")
    static let loopbackAllowed = AddressPolicy(
        allowedNetworks: ["127.0.0.0/8", "::1/128"].compactMap { try? IPNetwork($0) }, settingName: "delivery.allowed_networks")

    /// The error a guarded request fails with.
    static func refusal(_ client: CurlHTTPClient, _ request: HTTPRequest) async -> HTTPClientError? {
        do {
            _ = try await client.execute(request)
            return nil
        } catch let error as HTTPClientError {
            return error
        } catch {
            Issue.record("unexpected \(error)")
            return nil
        }
    }

    @Test func aLoopbackAddressIsRefusedBeforeConnectingUnlessAllowed() async throws {
        let peer = try RecordingServer()
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let url = peer.baseURL + "/hook?token=s3cr3t"

        let error = try #require(await Self.refusal(client, HTTPRequest(method: .POST, url: url, body: [1], addressPolicy: Self.guarded)))
        #expect(error == .addressRefused)
        #expect(!error.isTransient, "trying again cannot help: a permanent failure")
        #expect(error.description == "refused to connect to 127.0.0.1: a loopback address (allow it with delivery.allowed_networks)")
        #expect(peer.requests.isEmpty)

        let allowed = try await client.execute(HTTPRequest(method: .POST, url: url, body: [1], addressPolicy: Self.loopbackAllowed))
        #expect(allowed.status == 200)
        #expect(peer.requests.count == 1)

        let unguarded = try await client.execute(HTTPRequest(url: url))
        #expect(unguarded.status == 200, "requests without a policy (feeds) go anywhere")
        await peer.stop()
    }

    @Test func aHostNameThatResolvesToLoopbackIsRefusedAtConnectTime() async throws {
        let peer = try RecordingServer()
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        // The URL names no address: only the resolved one, seen by the socket callback, tells.
        let url = "http://localhost:\(peer.port)/secret-path"
        let error = try #require(await Self.refusal(client, HTTPRequest(url: url, addressPolicy: Self.guarded)))
        #expect(error == .addressRefused)
        #expect(error.description.hasPrefix("refused to connect to "))
        #expect(error.description.contains("a loopback address"))
        for secret in ["localhost", "secret-path", String(peer.port)] {
            #expect(!error.description.contains(secret), "the reason names the address, never the URL")
        }
        #expect(peer.requests.isEmpty)
        #expect(try await client.execute(HTTPRequest(url: url, addressPolicy: Self.loopbackAllowed)).status == 200)
        await peer.stop()
    }

    @Test func aPooledConnectionToARefusedAddressIsNotReused() async throws {
        let peer = try RecordingServer()
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        // An unguarded request (a feed's) leaves a keep-alive connection in the pool; a guarded
        // one to the same host would reuse it without opening a socket: the pre-request check
        // on the connected peer refuses it.
        #expect(try await client.execute(HTTPRequest(url: peer.baseURL + "/feed")).status == 200)
        let error = try #require(await Self.refusal(client, HTTPRequest(url: peer.baseURL + "/hook", addressPolicy: Self.guarded)))
        #expect(error == .addressRefused && error.description.hasPrefix("refused to connect to 127.0.0.1: a loopback address"))
        #expect(peer.requests.map(\.path) == ["/feed"])
        await peer.stop()
    }

    @Test func redirectsAreNotFollowedAndOnlyHTTPIsSpoken() async throws {
        let target = try RecordingServer()
        let peer = try RecordingServer { _ in HTTPServerResponse(status: 302, headers: [("Location", target.baseURL + "/elsewhere")]) }
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let response = try await client.execute(HTTPRequest(method: .POST, url: peer.baseURL + "/hook", body: [1], addressPolicy: Self.loopbackAllowed))
        #expect(response.status == 302)
        #expect(target.requests.isEmpty)
        for url in ["ftp://127.0.0.1:\(peer.port)/x", "gopher://127.0.0.1:\(peer.port)/x", "file:///etc/passwd"] {
            let error = await Self.refusal(client, HTTPRequest(url: url, addressPolicy: Self.loopbackAllowed))
            #expect(error == .invalidRequest, "\(url): \(error.map(String.init(describing:)) ?? "sent")")
        }
        await peer.stop()
        await target.stop()
    }

    @Test func guardedRequestsRefuseUserInfoInTheURL() async throws {
        let peer = try RecordingServer()
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let error = await Self.refusal(client, HTTPRequest(url: "http://user:pw@127.0.0.1:\(peer.port)/x", addressPolicy: Self.loopbackAllowed))
        #expect(error == .invalidRequest)
        #expect(error?.description.contains("pw") == false)
        #expect(peer.requests.isEmpty)
        await peer.stop()
    }
}
