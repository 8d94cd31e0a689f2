import CCurl
import Foundation

/// Every outbound HTTP request of the relay goes through this client: one libcurl multi handle
/// driven by one dedicated thread, behind an async API. Callers' tasks never block: they hand a
/// prepared transfer over (waking the thread with `curl_multi_wakeup`) and suspend until the
/// thread completes their continuation. Connections are pooled by the multi handle and reused.
public final class CurlHTTPClient: HTTPTransport, MailTransport, @unchecked Sendable {
    public let configuration: HTTPClientConfiguration

    private let multi: MultiHandle
    // Guarded by `lock`: what other threads hand to the loop thread, and the idle handle pool.
    private let lock = NSLock()
    private var incoming: [Transfer] = []
    private var cancelRequests: Set<UInt64> = []
    private var idleHandles: [EasyHandle] = []
    private var nextID: UInt64 = 0
    private var stopping = false
    private let stopped = DispatchSemaphore(value: 0)
    // Owned by the loop thread only.
    private var active: [UInt64: Transfer] = [:]
    private var activeByHandle: [UnsafeMutableRawPointer: Transfer] = [:]

    private static let idlePoolLimit = 64

    public init(configuration: HTTPClientConfiguration = HTTPClientConfiguration()) throws {
        self.configuration = configuration
        multi = try MultiHandle(configuration: configuration)
        let thread = Thread { [self] in runLoop() }
        thread.name = "event-relay.curl"
        thread.start()
    }

    /// Fails everything in flight with `.shutdown` and stops the loop thread. Idempotent.
    /// The loop thread holds the client until then: call this when done with it.
    public func shutdown() {
        let first = lock.withLock { () -> Bool in
            defer { stopping = true }
            return !stopping
        }
        guard first else { return }
        wake()
        stopped.wait()
    }

    public func execute(_ request: HTTPRequest) async throws -> HTTPResponse {
        try await perform(.http(request))
    }

    /// Hands a message to an SMTP server; a refusal comes back as the server's reply code.
    public func send(_ mail: MailRequest) async throws -> MailResponse {
        let response = try await perform(.mail(mail))
        return MailResponse(code: response.status, detail: response.bodyText)
    }

    private func perform(_ work: Transfer.Work) async throws -> HTTPResponse {
        let id = lock.withLock { () -> UInt64 in
            nextID += 1
            return nextID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                submit(id: id, work: work, continuation: continuation)
            }
        } onCancel: {
            lock.withLock { _ = cancelRequests.insert(id) }
            wake()
        }
    }

    private func submit(id: UInt64, work: Transfer.Work, continuation: CheckedContinuation<HTTPResponse, any Error>) {
        let easy: EasyHandle
        do {
            easy = try lock.withLock { try idleHandles.popLast() ?? EasyHandle() }
        } catch {
            continuation.resume(throwing: error)
            return
        }
        let transfer: Transfer
        do {
            transfer = try Transfer(id: id, work: work, easy: easy, configuration: configuration, continuation: continuation)
        } catch {
            // Transfer.init threw before taking the continuation over.
            recycle(easy)
            continuation.resume(throwing: error)
            return
        }
        let accepted = lock.withLock { () -> Bool in
            guard !stopping, !Task.isCancelled else { return false }
            incoming.append(transfer)
            return true
        }
        if accepted {
            wake()
        } else {
            transfer.finish(.failure(Task.isCancelled ? .cancelled : .shutdown))
            recycle(transfer.easy)
        }
    }

    private func wake() {
        let code = curl_multi_wakeup(multi.raw)
        if code != CURLM_OK {
            // Not fatal: the loop's curl_multi_poll returns within a second anyway and picks the work up.
            CurlCode.report("curl_multi_wakeup", CurlCode.describe(code))
        }
    }

    private func recycle(_ easy: EasyHandle) {
        easy.reset()
        lock.withLock {
            if idleHandles.count < Self.idlePoolLimit { idleHandles.append(easy) }
        }
    }

    // MARK: - Loop thread

    private func runLoop() {
        while true {
            // A cancel request always arrives after its transfer was queued (submit checks
            // Task.isCancelled under the lock), so handling `added` first finds every one.
            let (added, cancelled, stop) = lock.withLock { () -> ([Transfer], Set<UInt64>, Bool) in
                defer {
                    incoming.removeAll()
                    cancelRequests.removeAll()
                }
                return (incoming, cancelRequests, stopping)
            }
            if stop {
                for transfer in added { transfer.finish(.failure(.shutdown)) }
                for transfer in Array(active.values) { complete(transfer, .failure(.shutdown)) }
                stopped.signal()
                return
            }
            for transfer in added { start(transfer) }
            for id in cancelled {
                if let transfer = active[id] { complete(transfer, .failure(.cancelled)) }
            }

            var running: Int32 = 0
            let performCode = curl_multi_perform(multi.raw, &running)
            if performCode != CURLM_OK {
                let error = HTTPClientError.transport.with(detail: "curl_multi_perform: \(CurlCode.describe(performCode))")
                for transfer in Array(active.values) { complete(transfer, .failure(error)) }
            }
            drainMessages()

            var ready: Int32 = 0
            let pollCode = curl_multi_poll(multi.raw, nil, 0, 1000, &ready)
            if pollCode != CURLM_OK {
                let error = HTTPClientError.transport.with(detail: "curl_multi_poll: \(CurlCode.describe(pollCode))")
                for transfer in Array(active.values) { complete(transfer, .failure(error)) }
                Thread.sleep(forTimeInterval: 0.01)
            }
        }
    }

    private func start(_ transfer: Transfer) {
        let code = curl_multi_add_handle(multi.raw, transfer.easy.raw)
        guard code == CURLM_OK else {
            transfer.finish(.failure(HTTPClientError.transport.with(detail: "curl_multi_add_handle: \(CurlCode.describe(code))")))
            recycle(transfer.easy)
            return
        }
        active[transfer.id] = transfer
        activeByHandle[transfer.easy.raw] = transfer
    }

    private func drainMessages() {
        var remaining: Int32 = 0
        while let message = curl_multi_info_read(multi.raw, &remaining) {
            guard message.pointee.msg == CURLMSG_DONE, let handle = message.pointee.easy_handle,
                  let transfer = activeByHandle[handle]
            else { continue }
            complete(transfer, transfer.outcome(ercurl_msg_result(message)))
        }
    }

    /// Detaches the transfer from the multi handle, then completes it and returns its easy handle to the pool.
    private func complete(_ transfer: Transfer, _ result: Result<HTTPResponse, HTTPClientError>) {
        let code = curl_multi_remove_handle(multi.raw, transfer.easy.raw)
        active[transfer.id] = nil
        activeByHandle[transfer.easy.raw] = nil
        transfer.finish(result)
        if code == CURLM_OK {
            recycle(transfer.easy)
        }  // else: leave the handle to its owner's deinit rather than reuse a handle curl may still know.
    }
}
