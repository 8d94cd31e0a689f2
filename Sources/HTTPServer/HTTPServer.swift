import CMicroHTTPD
import Foundation

/// An HTTP/1.1 server on libmicrohttpd: one internal polling thread in POLL mode (the
/// single-thread EPOLL mode of 0.9.75 hangs at multiples of 128 connections). Each complete
/// request is handed to an async handler: the connection is suspended, a Task runs the
/// handler, and the connection is resumed with the response. The daemon has one Swift owner;
/// `stop()` (or deinit) stops it after every running handler has finished.
public final class HTTPServer: Sendable {
    public let configuration: HTTPServerConfiguration
    /// The bound port (the real one when configured with 0).
    public let port: UInt16

    private let daemon: DaemonHandle

    public init(configuration: HTTPServerConfiguration, handler: some HTTPServerHandler) throws {
        self.configuration = configuration
        let core = ServerCore(handler: handler, maxBodyBytes: configuration.maxBodyBytes)
        let flags = MHD_USE_INTERNAL_POLLING_THREAD.rawValue | MHD_USE_POLL.rawValue
            | MHD_ALLOW_SUSPEND_RESUME.rawValue | MHD_USE_ERROR_LOG.rawValue
        let timeout = UInt32(clamping: max(1, configuration.connectionTimeout.components.seconds))
        let limit = UInt32(clamping: max(1, configuration.connectionLimit))
        let context = Unmanaged.passUnretained(core).toOpaque()
        let started: OpaquePointer? = try SocketAddress.withSockaddr(host: configuration.host, port: configuration.port) {
            address, isIPv6 in
            ermhd_start_daemon(
                flags | (isIPv6 ? MHD_USE_IPv6.rawValue : 0), address, timeout, limit,
                serverAccessHandler, context, serverCompletedHandler, context)
        }
        guard let started else {
            throw HTTPServerError("could not start the HTTP server on \(configuration.host):\(configuration.port) (address in use or not available)")
        }
        daemon = DaemonHandle(raw: started, core: core)
        core.daemon.value = WeakDaemon(daemon)
        let bound = ermhd_bound_port(started)
        guard bound != 0 else {
            daemon.stop()
            throw HTTPServerError("the HTTP server started but did not report its port")
        }
        port = bound
    }

    /// Refuses new requests (503), waits for running handlers to answer, then stops the daemon
    /// and frees the port. Idempotent.
    public func stop() async {
        daemon.core.beginShutdown()
        await daemon.core.waitForHandlers()
        daemon.stop()
    }

    deinit {
        // Handlers still running hold the daemon; it stops when the last of them finishes.
        daemon.core.beginShutdown()
    }
}

/// The one Swift owner of a `struct MHD_Daemon *`. It keeps `core` (the callbacks' context) alive
/// until the daemon's thread has stopped. Running handlers retain it, so the daemon cannot stop
/// under a suspended connection.
final class DaemonHandle: @unchecked Sendable {
    let raw: OpaquePointer
    let core: ServerCore
    private let lock = NSLock()
    private var stopped = false

    init(raw: OpaquePointer, core: ServerCore) {
        self.raw = raw
        self.core = core
    }

    func stop() {
        let first = lock.withLock { () -> Bool in
            defer { stopped = true }
            return !stopped
        }
        if first { MHD_stop_daemon(raw) }
    }

    deinit { stop() }
}

struct WeakDaemon: @unchecked Sendable {
    weak var handle: DaemonHandle?
    init(_ handle: DaemonHandle?) { self.handle = handle }
}

/// Per-request state, owned by the connection from the first callback to `NOTIFY_COMPLETED`.
final class RequestState: @unchecked Sendable {
    var request: HTTPServerRequest
    var bodyTooLarge = false
    var dispatched = false
    private let lock = NSLock()
    private var _response: HTTPServerResponse?

    init(request: HTTPServerRequest) {
        self.request = request
    }

    var response: HTTPServerResponse? {
        get { lock.withLock { _response } }
        set { lock.withLock { _response = newValue } }
    }
}

/// What the C callbacks reach through their context pointer.
final class ServerCore: @unchecked Sendable {
    let handler: any HTTPServerHandler
    let maxBodyBytes: Int
    let daemon = LockedBox(WeakDaemon(nil))
    private let lock = NSLock()
    private var running = 0
    private var shuttingDown = false
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []

    init(handler: any HTTPServerHandler, maxBodyBytes: Int) {
        self.handler = handler
        self.maxBodyBytes = maxBodyBytes
    }

    func beginShutdown() {
        lock.withLock { shuttingDown = true }
    }

    func waitForHandlers() async {
        await withCheckedContinuation { continuation in
            let idle = lock.withLock { () -> Bool in
                if running == 0 { return true }
                idleWaiters.append(continuation)
                return false
            }
            if idle { continuation.resume() }
        }
    }

    /// Counts a handler in, unless the server is shutting down.
    func enterHandler() -> Bool {
        lock.withLock {
            guard !shuttingDown else { return false }
            running += 1
            return true
        }
    }

    func leaveHandler() {
        let waiters = lock.withLock { () -> [CheckedContinuation<Void, Never>] in
            running -= 1
            guard running == 0 else { return [] }
            defer { idleWaiters.removeAll() }
            return idleWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Runs the handler off the polling thread; the connection stays suspended until the response
    /// is ready. The task holds the daemon, so the connection is still alive when it resumes it.
    func dispatch(_ state: RequestState, connection: OpaquePointer, daemon: DaemonHandle) {
        let handler = self.handler
        let request = state.request
        let connectionBits = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(connection)))
        Task {
            let response = await handler.handle(request)
            state.response = response
            withExtendedLifetime(daemon) {
                if let pointer = UnsafeRawPointer(bitPattern: connectionBits) {
                    MHD_resume_connection(OpaquePointer(pointer))
                }
            }
            self.leaveHandler()
        }
    }
}

final class LockedBox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

// MARK: - C callbacks (global and non-capturing; context through the cls pointers)

private let serverAccessHandler: ermhd_access_handler = {
    context, connection, url, method, _, uploadData, uploadDataSize, connectionContext in
    guard let context, let connection, let uploadDataSize, let connectionContext else { return ERMHD_NO }
    let core = Unmanaged<ServerCore>.fromOpaque(context).takeUnretainedValue()

    // First call for this request: headers are known, the body is not.
    guard let existing = connectionContext.pointee else {
        let request = HTTPServerRequest(
            method: method.map { String(cString: $0) } ?? "GET",
            path: url.map { String(cString: $0) } ?? "/",
            query: collectValues(connection, kind: ERMHD_QUERY_KIND, lowercaseKeys: false),
            headers: collectValues(connection, kind: ERMHD_HEADER_KIND, lowercaseKeys: true))
        let state = RequestState(request: request)
        if let length = request.headers["content-length"].flatMap(Int.init), length > core.maxBodyBytes {
            state.bodyTooLarge = true
        }
        connectionContext.pointee = Unmanaged.passRetained(state).toOpaque()
        return ERMHD_YES
    }
    let state = Unmanaged<RequestState>.fromOpaque(existing).takeUnretainedValue()

    // Body chunks: keep them within the limit, drop the rest.
    if uploadDataSize.pointee > 0 {
        let size = uploadDataSize.pointee
        if !state.bodyTooLarge, let uploadData {
            if state.request.body.count + size > core.maxBodyBytes {
                state.bodyTooLarge = true
                state.request.body = []
            } else {
                uploadData.withMemoryRebound(to: UInt8.self, capacity: size) { bytes in
                    state.request.body.append(contentsOf: UnsafeBufferPointer(start: bytes, count: size))
                }
            }
        }
        uploadDataSize.pointee = 0
        return ERMHD_YES
    }

    // The request is complete.
    if let response = state.response {
        return queue(response, on: connection)
    }
    if state.bodyTooLarge {
        return queue(core.handler.refuse(.bodyTooLarge(limit: core.maxBodyBytes)), on: connection)
    }
    if state.dispatched { return ERMHD_YES }
    state.dispatched = true
    guard let daemon = core.daemon.value.handle, core.enterHandler() else {
        return queue(core.handler.refuse(.shuttingDown), on: connection)
    }
    MHD_suspend_connection(connection)
    core.dispatch(state, connection: connection, daemon: daemon)
    return ERMHD_YES
}

private let serverCompletedHandler: ermhd_completed_handler = { _, _, connectionContext, _ in
    guard let connectionContext, let state = connectionContext.pointee else { return }
    Unmanaged<RequestState>.fromOpaque(state).release()
    connectionContext.pointee = nil
}

private func queue(_ response: HTTPServerResponse, on connection: OpaquePointer) -> ermhd_result {
    let made = response.body.withUnsafeBytes { bytes in
        // MUST_COPY: libmicrohttpd keeps its own copy, so the Swift array may go away.
        MHD_create_response_from_buffer(bytes.count, UnsafeMutableRawPointer(mutating: bytes.baseAddress), ERMHD_RESPMEM_MUST_COPY)
    }
    guard let made else { return ERMHD_NO }
    defer { MHD_destroy_response(made) }
    for (name, value) in response.headers {
        guard MHD_add_response_header(made, name, value) == ERMHD_YES else { return ERMHD_NO }
    }
    return MHD_queue_response(connection, UInt32(response.status), made)
}

/// Collects header or query values; the iterator gets a dictionary box through its cls pointer.
private final class ValueBox {
    var values: [String: String] = [:]
    let lowercaseKeys: Bool
    init(lowercaseKeys: Bool) { self.lowercaseKeys = lowercaseKeys }
}

private func collectValues(_ connection: OpaquePointer, kind: MHD_ValueKind, lowercaseKeys: Bool) -> [String: String] {
    let box = ValueBox(lowercaseKeys: lowercaseKeys)
    let context = Unmanaged.passUnretained(box).toOpaque()
    _ = withExtendedLifetime(box) {
        MHD_get_connection_values(connection, kind, valueIterator, context)
    }
    return box.values
}

private let valueIterator: MHD_KeyValueIterator = { context, _, key, value in
    guard let context, let key else { return ERMHD_YES }
    let box = Unmanaged<ValueBox>.fromOpaque(context).takeUnretainedValue()
    let name = String(cString: key)
    box.values[box.lowercaseKeys ? name.lowercased() : name] = value.map { String(cString: $0) } ?? ""
    return ERMHD_YES
}
