/// An outbound HTTP request. `body` is copied into a buffer the transfer owns until it ends.
public struct HTTPRequest: Sendable {
    public enum Method: String, Sendable {
        case GET, POST, PUT, PATCH, DELETE, HEAD
    }

    public var method: Method
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// Overrides the client's total timeout for this request.
    public var timeout: Duration?
    /// When set, the addresses this request may connect to (deliveries: see `AddressPolicy`).
    /// It is checked on every address libcurl is about to connect to, and again on the connected
    /// (or reused) peer before the request is sent; a refusal fails with `addressRefused`. Such a
    /// request also ignores proxy settings (the check must see the real destination) and URLs
    /// with user info. nil: any address (feeds reading the APIs the operator configured).
    public var addressPolicy: AddressPolicy?

    public init(
        method: Method = .GET, url: String, headers: [(name: String, value: String)] = [], body: [UInt8] = [],
        timeout: Duration? = nil, addressPolicy: AddressPolicy? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.addressPolicy = addressPolicy
    }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    /// Header names as sent; look them up with `header(_:)`, which ignores case.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.last(where: { $0.name.lowercased() == wanted })?.value
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// Anything that can carry an HTTP exchange. Production uses `CurlHTTPClient`; feeds and sinks
/// depend only on this.
public protocol HTTPTransport: Sendable {
    func execute(_ request: HTTPRequest) async throws -> HTTPResponse
}

/// A transport whose every request carries `policy`: what the sinks are given, so no notifier
/// can send a delivery unguarded.
public struct AddressGuardedTransport: HTTPTransport {
    public let base: any HTTPTransport
    public let policy: AddressPolicy

    public init(base: any HTTPTransport, policy: AddressPolicy) {
        self.base = base
        self.policy = policy
    }

    public func execute(_ request: HTTPRequest) async throws -> HTTPResponse {
        var guarded = request
        guarded.addressPolicy = policy
        return try await base.execute(guarded)
    }
}

/// Failure of an exchange before a complete response arrived. A struct over a private code, so
/// new causes can be added without breaking callers (the async-http-client pattern).
/// Messages never contain the request URL: URLs may be secrets.
public struct HTTPClientError: Error, Sendable, Equatable, CustomStringConvertible {
    private enum Code: Equatable, Sendable {
        case invalidRequest
        case connectFailed
        case timedOut
        case tlsFailed
        case responseTooLarge
        case addressRefused
        case authenticationFailed
        case transport
        case cancelled
        case shutdown
    }

    private let code: Code
    /// libcurl's own words (host and port at most), for logs and delivery records.
    public let detail: String

    private init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    // The kinds of failure; compare with `==`, which looks at the kind only.
    public static let invalidRequest = HTTPClientError(.invalidRequest, "")
    public static let connectFailed = HTTPClientError(.connectFailed, "")
    public static let timedOut = HTTPClientError(.timedOut, "")
    public static let tlsFailed = HTTPClientError(.tlsFailed, "")
    public static let responseTooLarge = HTTPClientError(.responseTooLarge, "")
    /// The request's `AddressPolicy` refused the address it would have connected to.
    public static let addressRefused = HTTPClientError(.addressRefused, "")
    /// The server refused the credentials (SMTP AUTH).
    public static let authenticationFailed = HTTPClientError(.authenticationFailed, "")
    public static let transport = HTTPClientError(.transport, "")
    public static let cancelled = HTTPClientError(.cancelled, "request cancelled")
    public static let shutdown = HTTPClientError(.shutdown, "HTTP client shut down")

    /// The same kind of failure, with details.
    func with(detail: String) -> HTTPClientError { HTTPClientError(code, detail) }

    /// Compares the kind of failure only (the `static let` values above are kinds).
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }

    /// Whether trying again later may succeed (the request itself was fine).
    public var isTransient: Bool {
        switch code {
        case .connectFailed, .timedOut, .transport, .tlsFailed, .shutdown, .cancelled: return true
        case .invalidRequest, .responseTooLarge, .addressRefused, .authenticationFailed: return false
        }
    }

    /// The kind of failure as a bounded label (`connect`, `timeout`…), for metrics.
    public var label: String {
        switch code {
        case .invalidRequest: return "invalid_request"
        case .connectFailed: return "connect"
        case .timedOut: return "timeout"
        case .tlsFailed: return "tls"
        case .responseTooLarge: return "response_too_large"
        case .addressRefused: return "address_refused"
        case .authenticationFailed: return "authentication"
        case .transport: return "transport"
        case .cancelled: return "cancelled"
        case .shutdown: return "shutdown"
        }
    }

    public var description: String {
        let kind: String
        switch code {
        case .addressRefused:
            // The detail is a whole sentence: "refused to connect to 10.0.0.1: a private address (…)".
            return detail.isEmpty ? "refused to connect to that address" : detail
        case .invalidRequest: kind = "invalid request"
        case .authenticationFailed: kind = "authentication failed"
        case .connectFailed: kind = "could not connect"
        case .timedOut: kind = "timed out"
        case .tlsFailed: kind = "TLS failure"
        case .responseTooLarge: kind = "response too large"
        case .transport: kind = "transport error"
        case .cancelled: kind = "cancelled"
        case .shutdown: kind = "client shut down"
        }
        return detail.isEmpty ? kind : "\(kind): \(detail)"
    }
}

/// Settings for `CurlHTTPClient`. Every key has a safe default.
public struct HTTPClientConfiguration: Sendable {
    /// Longest time to open the TCP connection and finish the TLS handshake.
    public var connectTimeout: Duration
    /// Longest time for a whole exchange, unless the request sets its own.
    public var requestTimeout: Duration
    /// Largest response body accepted; a larger one fails with `responseTooLarge`.
    public var maxResponseBytes: Int
    /// Connections kept to one host (reused across requests by the multi handle's pool).
    public var maxConnectionsPerHost: Int
    /// Connections in total.
    public var maxTotalConnections: Int
    public var userAgent: String

    public init(
        connectTimeout: Duration = .seconds(5), requestTimeout: Duration = .seconds(30),
        maxResponseBytes: Int = 4 << 20, maxConnectionsPerHost: Int = 16, maxTotalConnections: Int = 128,
        userAgent: String = "EventRelay/0.1"
    ) {
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.maxResponseBytes = maxResponseBytes
        self.maxConnectionsPerHost = maxConnectionsPerHost
        self.maxTotalConnections = maxTotalConnections
        self.userAgent = userAgent
    }
}

extension Duration {
    /// Whole milliseconds, rounded up, at least 1; `Int64.max` for durations too long to count
    /// in milliseconds (rather than an overflow trap).
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        let (sum, sumOverflow) = scaled.addingReportingOverflow((attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
        return overflow || sumOverflow ? (seconds < 0 ? 1 : Int64.max) : max(1, sum)
    }
}
