/// A request as the handler sees it: complete, with its body already read (within the limit).
public struct HTTPServerRequest: Sendable {
    public var method: String
    /// The decoded path, without the query string.
    public var path: String
    /// Decoded query arguments; the last one wins when a name repeats.
    public var query: [String: String]
    /// Header names in lower case.
    public var headers: [String: String]
    public var body: [UInt8]

    public init(
        method: String, path: String, query: [String: String] = [:], headers: [String: String] = [:], body: [UInt8] = []
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }

    public func header(_ name: String) -> String? { headers[name.lowercased()] }
}

public struct HTTPServerResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// Why the server answered a request itself, without calling the handler.
public enum HTTPServerRefusal: Sendable, Equatable {
    /// The body is larger than `maxBodyBytes` (413).
    case bodyTooLarge(limit: Int)
    /// The server is shutting down (503).
    case shuttingDown
}

/// What serves requests. Handlers are plain async functions, so they can be called in-process
/// by tests as well as live through the daemon.
public protocol HTTPServerHandler: Sendable {
    func handle(_ request: HTTPServerRequest) async -> HTTPServerResponse
    /// The response for a request the server refuses before the handler would see it.
    func refuse(_ refusal: HTTPServerRefusal) -> HTTPServerResponse
}

/// Settings for `HTTPServer`, every one with a default.
public struct HTTPServerConfiguration: Sendable {
    /// IP address to bind (an IPv4 or IPv6 literal). Default: loopback only.
    public var host: String
    /// TCP port; 0 picks a free one (read it back from `HTTPServer.port`).
    public var port: UInt16
    /// Largest request body accepted; larger ones get `refuse(.bodyTooLarge)` (413).
    public var maxBodyBytes: Int
    /// Idle connections are closed after this long.
    public var connectionTimeout: Duration
    /// Connections served at once; more wait in the kernel's backlog (bounded by the timeout).
    public var connectionLimit: Int

    public init(
        host: String = "127.0.0.1", port: UInt16 = 8080, maxBodyBytes: Int = 64 * 1024,
        connectionTimeout: Duration = .seconds(30), connectionLimit: Int = 512
    ) {
        self.host = host
        self.port = port
        self.maxBodyBytes = maxBodyBytes
        self.connectionTimeout = connectionTimeout
        self.connectionLimit = connectionLimit
    }
}

public struct HTTPServerError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
