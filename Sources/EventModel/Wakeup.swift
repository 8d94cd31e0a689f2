/// A doorbell for a loop (the dispatcher, a feed poller) that sleeps until there is work or a deadline passes. Rings are not
/// counted: many rings while the loop is busy wake it once.
public final class Wakeup: Sendable {
    private let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    public init() {
        (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    public func ring() {
        continuation.yield()
    }

    public func finish() {
        continuation.finish()
    }

    /// One consumer only: the loop that owns it.
    public func makeWaiter() -> Waiter { Waiter(iterator: stream.makeAsyncIterator(), continuation: continuation) }

    public struct Waiter {
        var iterator: AsyncStream<Void>.Iterator
        let continuation: AsyncStream<Void>.Continuation

        /// Returns on a ring, at the timeout, or when the doorbell is finished or the task cancelled.
        public mutating func wait(timeout: Duration) async {
            let continuation = self.continuation
            let timer = Task {
                try? await Task.sleep(for: timeout)
                if !Task.isCancelled { continuation.yield() }
            }
            _ = await iterator.next()
            timer.cancel()
        }
    }
}
