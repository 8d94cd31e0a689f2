// swift-tools-version:6.1
import PackageDescription

// Targets mirror the architecture (docs/architecture.md):
// C shims -> HTTP wrappers -> domain (EventModel, Rules) -> Store -> Feeds / Sinks -> Delivery -> AdminAPI -> Relay -> event-relay.
let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "EventRelay",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "event-relay", targets: ["event-relay"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
    ],
    targets: [
        // C libraries, reached only through these two shims.
        .systemLibrary(
            name: "CCurl", pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(
            name: "CMicroHTTPD", pkgConfig: "libmicrohttpd",
            providers: [.apt(["libmicrohttpd-dev"])]),

        // Domain model: events, subscriptions, filters. No I/O, no dependencies.
        .target(name: "EventModel", swiftSettings: strict),
        // YAML documents read with line numbers, shared by the config and rule loaders.
        .target(
            name: "YAMLSupport",
            dependencies: [.product(name: "Yams", package: "Yams")],
            swiftSettings: strict),

        // libcurl multi handle behind an async API: every outbound request.
        .target(name: "HTTPClient", dependencies: ["CCurl"], swiftSettings: strict),
        // libmicrohttpd daemon behind an async handler: the admin server (and test peers).
        .target(name: "HTTPServer", dependencies: ["CMicroHTTPD"], swiftSettings: strict),

        // Routing: globs, filters, rule files, the matcher.
        .target(name: "Rules", dependencies: ["EventModel", "YAMLSupport"], swiftSettings: strict),

        // Persistence behind a protocol; SQLite (GRDB) is the embedded default.
        .target(name: "Store", dependencies: ["EventModel"], swiftSettings: strict),
        .target(
            name: "SQLiteStore",
            dependencies: ["Store", "EventModel", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strict),

        // The ingest pipeline: stages (routing, later policies), then dedupe, outbox and checkpoint
        // in one store transaction. Feeds and push ingest hand it normalized events.
        .target(
            name: "Ingest",
            dependencies: [
                "EventModel", "Rules", "Store", "YAMLSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict),
        // Feeds: one folder per platform behind the EventFeed protocol; the poller hands what they
        // read to the ingest pipeline (through EventModel's EventIngest), knowing neither rules nor store.
        .target(
            name: "Feeds",
            dependencies: [
                "EventModel", "HTTPClient", "YAMLSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict),
        // Sinks: one folder per receiver behind the Notifier protocol; Mustache for templates.
        .target(
            name: "Sinks",
            dependencies: [
                "EventModel", "HTTPClient",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            swiftSettings: strict),
        // The outbox dispatcher: claims due deliveries, sends them through Sinks, schedules retries.
        .target(
            name: "Delivery",
            dependencies: [
                "EventModel", "Store", "Sinks",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict),
        // The admin API: routes, auth, JSON errors; runs on HTTPServer.
        .target(
            name: "AdminAPI",
            dependencies: [
                "EventModel", "YAMLSupport", "HTTPServer", "Store", "Rules", "Sinks", "Feeds", "Ingest", "Delivery",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        // App wiring: configuration, services, lifecycle, metrics.
        .target(
            name: "Relay",
            dependencies: [
                "EventModel", "YAMLSupport", "HTTPClient", "HTTPServer", "Rules", "Store", "SQLiteStore",
                "Ingest", "Feeds", "Sinks", "Delivery", "AdminAPI",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict),
        // Thin executable: parse arguments, hand over to Relay.
        .executableTarget(
            name: "event-relay",
            dependencies: [
                "Relay",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),

        // Rerunnable measurements (Benchmarks/run.sh builds it in release); figures in docs/benchmarks.md.
        .executableTarget(
            name: "EventRelayBench",
            dependencies: ["EventModel", "Rules", "Store", "SQLiteStore", "Ingest", "Sinks", "Delivery", "HTTPClient", "HTTPServer"],
            path: "Benchmarks/EventRelayBench",
            swiftSettings: strict),

        .testTarget(
            name: "EventRelayTests",
            dependencies: [
                "EventModel", "YAMLSupport", "HTTPClient", "HTTPServer", "Rules", "Store", "SQLiteStore",
                "Ingest", "Feeds", "Sinks", "Delivery", "AdminAPI", "Relay",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            resources: [.copy("Fixtures")],
            swiftSettings: strict),
    ]
)
