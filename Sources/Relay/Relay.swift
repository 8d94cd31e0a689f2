import AdminAPI
import Delivery
import EventModel
import Feeds
import Foundation
import HTTPClient
import HTTPServer
import Ingest
import Logging
import Rules
import SQLiteStore
import ServiceLifecycle
import Sinks
import Store
import UnixSignals

/// The whole relay, wired: store, rules, feeds, dispatcher and admin API as services of one
/// group. `main` builds one from the configuration and runs it; tests do the same in-process.
public final class Relay: Sendable {
    public let configuration: RelayConfiguration
    public let adminPort: UInt16
    public let store: any RelayStore
    public let catalog: SubscriptionCatalog
    public let pollers: [FeedPoller]
    public let dispatcher: DeliveryDispatcher
    public let pipeline: IngestPipeline

    private let group: ServiceGroup
    private let client: CurlHTTPClient
    private let dataDirectory: DataDirectory
    private let logger: Logger

    /// Loads rules and opens everything. Throws `RuleLoadError` (a bad rules folder),
    /// `ConfigurationError`, or `StoreError`; nothing runs until `run()`.
    public init(
        configuration: RelayConfiguration, environment: [String: String], handleSignals: Bool = true,
        logger: Logger = Logger(label: "event-relay")
    ) async throws {
        self.configuration = configuration
        self.logger = logger
        _ = RelayMetrics.registry  // Install the metrics backend before any feed or dispatcher counts.
        let rules = try RuleLoader(environment: environment, sinks: SinkRegistry.kinds).load(directory: URL(fileURLWithPath: configuration.rulesDirectory))

        // Feeds and push feeds first: a missing secret is refused before anything is written.
        // Connections to one receiver are sized by its lanes, not here: each lane bounds its own
        // deliveries in flight (up to 1024), and libcurl opens a connection only for a request
        // that has none free. A delivery queued in libcurl for a free connection would spend its
        // timeout before it is even sent.
        var clientConfiguration = configuration.httpClient
        clientConfiguration.maxConnectionsPerHost = max(clientConfiguration.maxConnectionsPerHost, DeliveryOptions.maxConcurrency)
        clientConfiguration.maxTotalConnections = max(clientConfiguration.maxTotalConnections, 2 * DeliveryOptions.maxConcurrency)
        let client = try CurlHTTPClient(configuration: clientConfiguration)
        self.client = client
        let feeds: [any EventFeed]
        let pushFeeds: [PushFeed]
        do {
            feeds = try configuration.feeds.map { settings throws(FeedSetupError) in
                try settings.makeFeed(environment: environment, transport: client)
            }
            pushFeeds = try configuration.pushFeeds.map { settings throws(FeedSetupError) in try settings.resolve(environment: environment) }
        } catch {
            client.shutdown()
            throw ConfigurationError(error.description)
        }

        let store: SQLiteStore
        let token: SecretString
        let catalog: SubscriptionCatalog
        do {
            dataDirectory = try DataDirectory(path: configuration.dataDirectory)
            store = try SQLiteStore(path: dataDirectory.storePath, sinks: SinkRegistry.kinds)
            self.store = store
            let (found, generatedAt) = try dataDirectory.adminToken(environmentName: configuration.adminTokenEnv, environment: environment)
            token = found
            if let generatedAt {
                logger.notice("generated an admin token (none was set in \(configuration.adminTokenEnv)); read it from \(generatedAt)")
            } else if environment[configuration.adminTokenEnv] == nil {
                logger.info("admin token read from \(dataDirectory.tokenPath)")
            }

            let stored = try await store.listSubscriptions()
            for subscription in stored where rules.subscriptions.contains(where: { $0.id == subscription.id }) {
                throw ConfigurationError(
                    "subscription \(subscription.id) is declared in the rules folder and also exists in the store (created over the API); rename one")
            }
            catalog = SubscriptionCatalog(ruleSet: rules, apiSubscriptions: stored, apiMutes: try await store.listMutes())
            self.catalog = catalog
        } catch {
            client.shutdown()
            throw error
        }

        // The relay's own health events go through the same pipeline as any platform's.
        let healthIngest = LockedValue<IngestPipeline?>(nil)
        let healthLogger = logger.labelled("event-relay.health")
        var dispatcherConfiguration = configuration.dispatcher
        dispatcherConfiguration.defaultRateLimit = { SinkRegistry.defaultRateLimit(kind: $0) }
        let presenter = PlatformPresenter(extraPaths: configuration.redactPaths)
        let dispatcher = DeliveryDispatcher(
            store: store, notifiers: NotifierFactory(
                transport: client, addressPolicy: configuration.deliveryAddressPolicy,
                presenter: presenter, environment: environment, threads: store),
            subscriptions: { catalog.all },
            configuration: dispatcherConfiguration, logger: logger.labelled("event-relay.delivery"),
            health: { notice in
                guard let pipeline = healthIngest.value else { return }
                let now = Date()
                do {
                    _ = try await pipeline.ingest(IngestBatch(events: [HealthEvents.event(for: notice, now: now)], now: now))
                } catch {
                    healthLogger.error("could not record a health event", metadata: ["error": "\(error)"])
                }
            })
        self.dispatcher = dispatcher
        let digests = DigestFlusher(store: store, onDeliveries: { [dispatcher] in dispatcher.wake() })
        let pipeline = IngestPipeline(
            store: store, stages: IngestPipeline.standardStages(catalog: catalog), onDeliveries: { [dispatcher] in dispatcher.wake() },
            onStateWritten: { [digests] in digests.wakeup.ring() })
        healthIngest.value = pipeline
        self.pipeline = pipeline
        let pollers = feeds.map { feed in
            FeedPoller(feed: feed, ingest: pipeline, logger: logger.labelled("event-relay.feed"))
        }
        self.pollers = pollers

        let api = AdminAPI(
            token: token,
            dependencies: AdminAPI.Dependencies(
                store: store, catalog: catalog, feeds: { pollers.map { $0.currentStatus } },
                pollFeed: { name in
                    guard let poller = pollers.first(where: { $0.feed.name == name }) else { return false }
                    poller.pollNow()
                    return true
                },
                pushFeeds: pushFeeds, ingest: pipeline,
                metrics: { await RelayMetrics.exposition(store: store) },
                subscriptionsChanged: { dispatcher.subscriptionsChanged() }, dispatcher: dispatcher, presenter: presenter,
                environment: environment),
            logger: logger.labelled("event-relay.admin"))
        let server: HTTPServer
        do {
            server = try HTTPServer(
                configuration: HTTPServerConfiguration(
                    host: configuration.adminHost, port: configuration.adminPort, maxBodyBytes: configuration.adminMaxBodyBytes,
                    connectionTimeout: configuration.adminConnectionTimeout, connectionLimit: configuration.adminConnectionLimit),
                handler: api)
        } catch {
            client.shutdown()
            throw ConfigurationError("\(error)")
        }
        adminPort = server.port

        // Shut down in reverse order: feeds stop polling, then the dispatcher drains, then the admin server closes.
        let pruner = OutboxPruner(store: store, retention: configuration.retention, logger: logger.labelled("event-relay.retention"))
        let services: [any Service] = [
            AdminServerService(server: server), DispatcherService(dispatcher: dispatcher), PrunerService(pruner: pruner),
            DigestService(flusher: digests),
        ]
            + pollers.map { FeedService(poller: $0) }
        var groupConfiguration = ServiceGroupConfiguration(
            services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
            gracefulShutdownSignals: handleSignals ? [.sigterm, .sigint] : [],
            logger: logger.labelled("event-relay.lifecycle"))
        groupConfiguration.maximumGracefulShutdownDuration = configuration.shutdownGrace
        group = ServiceGroup(configuration: groupConfiguration)

        logger.info("event-relay ready", metadata: [
            "admin": "http://\(configuration.adminHost):\(server.port)", "store": "\(dataDirectory.storePath)",
            "rules": "\(rules.rules.count) rules, \(rules.subscriptions.count) subscriptions from \(rules.files.count) files",
            "feeds": "\(pollers.map { $0.feed.name }.joined(separator: ", "))",
            "delivery_allowed_networks": "\(configuration.deliveryAllowedNetworks.map(\.description).joined(separator: ", "))",
        ])
    }

    /// Runs until SIGTERM/SIGINT (or `shutdown()`), then stops gracefully.
    public func run() async throws {
        defer {
            client.shutdown()
            dataDirectory.unlock()
        }
        try await group.run()
        logger.info("event-relay stopped")
    }

    /// Starts a graceful shutdown, as SIGTERM does.
    public func shutdown() async {
        await group.triggerGracefulShutdown()
    }
}

extension Logger {
    func labelled(_ label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = logLevel
        for (key, value) in handler.metadata { logger[metadataKey: key] = value }
        return logger
    }
}
