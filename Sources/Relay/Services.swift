import AdminAPI
import Delivery
import Feeds
import Ingest
import HTTPServer
import ServiceLifecycle

/// The admin server: already listening when the group starts; on graceful shutdown it refuses
/// new requests, lets running ones answer, and closes the port.
struct AdminServerService: Service {
    let server: HTTPServer

    func run() async throws {
        try? await gracefulShutdown()
        await server.stop()
    }
}

/// One feed's poll loop; graceful shutdown stops polling after the poll in progress commits.
struct FeedService: Service {
    let poller: FeedPoller

    func run() async throws {
        await withGracefulShutdownHandler {
            await poller.run()
        } onGracefulShutdown: {
            poller.stop()
        }
    }
}

/// The outbox dispatcher; graceful shutdown stops claiming and waits for in-flight deliveries
/// (bounded by the group's maximum graceful shutdown duration, after which they are cancelled
/// and stay pending for the next start).
struct DispatcherService: Service {
    let dispatcher: DeliveryDispatcher

    func run() async throws {
        await withGracefulShutdownHandler {
            await dispatcher.run()
        } onGracefulShutdown: {
            dispatcher.stop()
        }
    }
}

/// Prunes the delivery log on its schedule.
struct PrunerService: Service {
    let pruner: OutboxPruner

    func run() async throws {
        await withGracefulShutdownHandler {
            await pruner.run()
        } onGracefulShutdown: {
            pruner.stop()
        }
    }
}

/// Sends digests when they are due (their contents wait in the store meanwhile).
struct DigestService: Service {
    let flusher: DigestFlusher

    func run() async throws {
        await withGracefulShutdownHandler {
            await flusher.run()
        } onGracefulShutdown: {
            flusher.stop()
        }
    }
}
