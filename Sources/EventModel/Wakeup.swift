import Foundation

/// A doorbell for a loop (the dispatcher, a feed poller) that sleeps until there is work or a
/// deadline passes. Rings are not counted: many rings while the loop is busy wake it once, and a
/// ring that came while the loop was busy makes its next wait return at once, without arming a
/// timer (the common case under load).
public final class Wakeup: @unchecked Sendable {
    // Guarded by `lock` (an NSLock: ThreadSanitizer reports false races on Synchronization.Mutex).
    private let lock = NSLock()
    private var rung = false
    private var finished = false
    private var waiting: CheckedContinuation<Void, Never>?
    private var timer: Task<Void, Never>?
    /// Tells a late timer (or cancellation) of an earlier wait from the current one.
    private var generation: UInt64 = 0

    public init() {}

    public func ring() {
        let woken = lock.withLock { () -> CheckedContinuation<Void, Never>? in
            guard let waiting else {
                rung = true
                return nil
            }
            self.waiting = nil
            timer?.cancel()
            timer = nil
            return waiting
        }
        woken?.resume()
    }

    /// Every wait from now on returns at once.
    public func finish() {
        let woken = lock.withLock { () -> CheckedContinuation<Void, Never>? in
            finished = true
            defer { waiting = nil }
            timer?.cancel()
            timer = nil
            return waiting
        }
        woken?.resume()
    }

    /// One consumer only: the loop that owns it.
    public func makeWaiter() -> Waiter { Waiter(bell: self) }

    public struct Waiter {
        let bell: Wakeup

        /// Returns on a ring, at the timeout, or when the doorbell is finished or the task cancelled.
        public mutating func wait(timeout: Duration) async {
            await bell.wait(timeout: timeout)
        }
    }

    private func wait(timeout: Duration) async {
        let ready = lock.withLock { () -> Bool in
            guard rung || finished else { return false }
            rung = false
            return true
        }
        if ready || Task.isCancelled { return }
        let generation = lock.withLock { () -> UInt64 in
            self.generation += 1
            return self.generation
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = lock.withLock { () -> Bool in
                    if rung || finished || generation != self.generation || Task.isCancelled {
                        rung = false
                        return true
                    }
                    waiting = continuation
                    timer = Task { [weak self] in
                        try? await Task.sleep(for: timeout)
                        if !Task.isCancelled { self?.expire(generation) }
                    }
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            expire(generation)
        }
    }

    /// The wait of `generation` ends now (its timeout passed, or its task was cancelled).
    private func expire(_ generation: UInt64) {
        let woken = lock.withLock { () -> CheckedContinuation<Void, Never>? in
            guard generation == self.generation, let waiting else { return nil }
            self.waiting = nil
            timer?.cancel()
            timer = nil
            return waiting
        }
        woken?.resume()
    }
}
