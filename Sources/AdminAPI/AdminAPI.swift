import Delivery
import EventModel
import Feeds
import Foundation
import HTTPServer
import Logging
import Rules
import Sinks
import Store
import YAMLSupport

/// The admin API, as an HTTP handler: testable in-process (call `handle`) and served live by
/// `HTTPServer`. Every `/v1` route and `/metrics` need the bearer token; `/healthz` does not.
public final class AdminAPI: HTTPServerHandler {
    public struct Dependencies: Sendable {
        public var store: any RelayStore
        public var catalog: SubscriptionCatalog
        public var feeds: @Sendable () -> [FeedStatus]
        /// Makes the named feed poll every stream now; false when there is no such feed.
        public var pollFeed: @Sendable (String) -> Bool
        /// Push feeds by name (`POST /v1/ingest/{name}`), and where their events go.
        public var pushFeeds: [String: PushFeed]
        public var ingest: (any EventIngest)?
        /// Prometheus text exposition.
        public var metrics: @Sendable () async -> [UInt8]
        /// The subscriptions in the catalog changed: the dispatcher takes them up now.
        public var subscriptionsChanged: @Sendable () -> Void
        /// The dispatcher: lanes' state, pause and resume, test sends, wake-ups.
        public var dispatcher: DeliveryDispatcher?
        public var clock: WallClock
        /// How events read in each destination (`POST /v1/render`).
        public var presenter: any EventPresenter
        /// Where destinations read credentials they name (e-mail's `password_env`).
        public var environment: [String: String]

        public init(
            store: any RelayStore, catalog: SubscriptionCatalog, feeds: @escaping @Sendable () -> [FeedStatus] = { [] },
            pollFeed: @escaping @Sendable (String) -> Bool = { _ in false },
            pushFeeds: [PushFeed] = [], ingest: (any EventIngest)? = nil,
            metrics: @escaping @Sendable () async -> [UInt8] = { [] },
            subscriptionsChanged: @escaping @Sendable () -> Void = {}, dispatcher: DeliveryDispatcher? = nil,
            clock: WallClock = .system, presenter: any EventPresenter = GenericPresenter(), environment: [String: String] = [:]
        ) {
            self.presenter = presenter
            self.environment = environment
            self.store = store
            self.catalog = catalog
            self.feeds = feeds
            self.pollFeed = pollFeed
            self.pushFeeds = Dictionary(pushFeeds.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            self.ingest = ingest
            self.metrics = metrics
            self.subscriptionsChanged = subscriptionsChanged
            self.dispatcher = dispatcher
            self.clock = clock
        }
    }

    private let auth: AdminAuth
    let dependencies: Dependencies
    let logger: Logger
    /// Serialises subscription changes so the catalog is rebuilt from a consistent store.
    let changes = ChangeQueue()

    public init(token: SecretString, dependencies: Dependencies, logger: Logger = Logger(label: "event-relay.admin")) {
        auth = AdminAuth(token: token)
        self.dependencies = dependencies
        self.logger = logger
    }

    public func refuse(_ refusal: HTTPServerRefusal) -> HTTPServerResponse {
        switch refusal {
        case .bodyTooLarge(let limit):
            return APIError(status: 413, code: "body_too_large", message: "the request body is larger than \(limit) bytes").response
        case .shuttingDown:
            return APIError.unavailable("the relay is shutting down").response
        }
    }

    public func handle(_ request: HTTPServerRequest) async -> HTTPServerResponse {
        do {
            return try await route(request)
        } catch let error as APIError {
            return error.response
        } catch let error as StoreError {
            logger.error("store error", metadata: ["error": "\(error)", "path": "\(request.path)"])
            return APIError.internalError("the store failed: \(error)").response
        } catch {
            logger.error("unexpected error", metadata: ["error": "\(error)", "path": "\(request.path)"])
            return APIError.internalError("unexpected error").response
        }
    }

    private func route(_ request: HTTPServerRequest) async throws -> HTTPServerResponse {
        let parts = request.path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        // Only the delivery log, bulk retry and replay take parameters (each checks its own):
        // anywhere else one is a mistake worth saying.
        let takesParameters = parts == ["v1", "deliveries"] || parts == ["v1", "deliveries", "retry"]
            || (parts.count == 4 && parts[1] == "subscriptions" && parts[3] == "replay")
        if !takesParameters, let key = request.query.keys.sorted().first {
            throw APIError.invalidParameter(key, "unknown parameter (\(request.path) takes none)")
        }
        if parts == ["healthz"] {
            try allow(request, ["GET", "HEAD"])
            return await health()
        }
        // Pushes carry their platform's credentials, not the admin token.
        if parts.count == 3, parts[0] == "v1", parts[1] == "ingest" {
            try allow(request, ["POST"])
            return try await push(parts[2], request)
        }
        guard parts.first == "v1" || parts == ["metrics"] else {
            throw APIError.notFound("no such endpoint: \(request.path)")
        }
        guard auth.accepts(authorization: request.header("authorization")) else { throw APIError.unauthorized }

        switch Array(parts) {
        case ["metrics"]:
            try allow(request, ["GET"])
            return HTTPServerResponse(
                status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")], body: await dependencies.metrics())
        case ["v1", "subscriptions"]:
            switch request.method {
            case "GET":
                let now = dependencies.clock.now
                let states = try await dependencies.store.subscriptionStates()
                let counts = try await dependencies.store.deliveryCountsBySubscription()
                return JSONResponse.make(200, .object(["subscriptions": .array(dependencies.catalog.all.map {
                    Views.subscription($0, now: now, delivery: deliveryState($0.id, states: states, counts: counts))
                })]))
            case "POST": return try await createSubscription(request)
            default: throw APIError.methodNotAllowed(["GET", "POST"])
            }
        case let path where path.count == 3 && path[1] == "subscriptions":
            let id = path[2]
            switch request.method {
            case "GET":
                let found = try subscription(id)
                let states = try await dependencies.store.subscriptionStates()
                let counts = try await dependencies.store.deliveryCountsBySubscription()
                return JSONResponse.make(
                    200, Views.subscription(found, now: dependencies.clock.now, delivery: deliveryState(id, states: states, counts: counts)))
            case "PUT": return try await replaceSubscription(id, request)
            case "PATCH": return try await patchSubscription(id, request)
            case "DELETE": return try await deleteSubscription(id)
            default: throw APIError.methodNotAllowed(["GET", "PUT", "PATCH", "DELETE"])
            }
        case let path where path.count == 5 && path[1] == "subscriptions" && path[3] == "secret" && path[4] == "rotate":
            try allow(request, ["POST"])
            return try await rotateSecret(path[2], request)
        case let path where path.count == 5 && path[1] == "subscriptions" && path[3] == "secret" && path[4] == "previous":
            try allow(request, ["DELETE"])
            return try await endPreviousSecrets(path[2])
        case let path where path.count == 4 && path[1] == "subscriptions" && ["pause", "resume"].contains(path[3]):
            try allow(request, ["POST"])
            return try await setPaused(path[2], path[3] == "pause")
        case let path where path.count == 4 && path[1] == "subscriptions" && path[3] == "replay":
            try allow(request, ["POST"])
            return try await replay(path[2], request)
        case let path where path.count == 4 && path[1] == "subscriptions" && path[3] == "test":
            try allow(request, ["POST"])
            return try await testSubscription(path[2])
        case ["v1", "render"]:
            try allow(request, ["POST"])
            return try await render(request)
        case ["v1", "rules"]:
            try allow(request, ["GET"])
            return JSONResponse.make(200, .object([
                "rules": .array(dependencies.catalog.ruleSet.rules.map(Views.rule)),
                "files": Views.strings(dependencies.catalog.ruleSet.files),
                "inhibit": .array(dependencies.catalog.ruleSet.inhibits.map { inhibit in
                    .object([
                        "name": .string(inhibit.name), "source": inhibit.source.json, "target": inhibit.target.json,
                        "equal": Views.strings(inhibit.equal.map(\.text)), "duration": .string(DurationText.format(inhibit.duration)),
                        "declared_at": .string(inhibit.location),
                    ])
                }),
            ]))
        case ["v1", "feeds"]:
            try allow(request, ["GET"])
            let now = dependencies.clock.now
            return JSONResponse.make(200, .object([
                "feeds": .array(dependencies.feeds().map { Views.feed($0, now: now) }),
                "push_feeds": .array(dependencies.pushFeeds.values.sorted { $0.name < $1.name }.map(Views.pushFeed)),
            ]))
        case let path where path.count == 3 && path[1] == "feeds":
            try allow(request, ["GET"])
            if let feed = dependencies.feeds().first(where: { $0.name == path[2] }) {
                return JSONResponse.make(200, Views.feed(feed, now: dependencies.clock.now))
            }
            // A push feed: shown as `GET /v1/feeds` lists it under `push_feeds`.
            guard let pushed = dependencies.pushFeeds[path[2]] else { throw APIError.notFound("no feed named \(path[2])") }
            return JSONResponse.make(200, Views.pushFeed(pushed))
        case let path where path.count == 4 && path[1] == "feeds" && path[3] == "poll":
            try allow(request, ["POST"])
            guard dependencies.pollFeed(path[2]) else {
                if dependencies.pushFeeds[path[2]] != nil {
                    throw APIError.notFound("\(path[2]) is a push feed: the platform sends its events, nothing polls it")
                }
                throw APIError.notFound("no feed named \(path[2])")
            }
            return JSONResponse.make(202, .object(["feed": .string(path[2]), "polling": .bool(true)]))
        case let path where (path.count == 2 || path.count == 3) && path[1] == "mutes":
            return try await mutesRoute(path, request)
        case ["v1", "deliveries"]:
            try allow(request, ["GET"])
            return try await listDeliveries(request)
        case ["v1", "deliveries", "retry"]:
            try allow(request, ["POST"])
            return try await retryDeadLetters(request)
        case let path where path.count == 3 && path[1] == "deliveries":
            try allow(request, ["GET"])
            guard let delivery = try await dependencies.store.delivery(id: path[2]) else {
                throw APIError.notFound("no delivery with id \(path[2])")
            }
            let scrubber = scrubber(forSubscription: delivery.subscriptionID)
            var view = Views.delivery(delivery, scrubber: scrubber).objectValue ?? [:]
            view["attempt_log"] = .array(try await dependencies.store.attempts(deliveryID: delivery.id).map {
                Views.attempt($0, scrubber: scrubber)
            })
            return JSONResponse.make(200, .object(view))
        case let path where path.count == 4 && path[1] == "deliveries" && path[3] == "retry":
            try allow(request, ["POST"])
            return try await retryDelivery(path[2])
        default:
            throw APIError.notFound("no such endpoint: \(request.path)")
        }
    }

    /// `POST /v1/ingest/{name}`: verify, normalize, hand to the pipeline; 202 once the events
    /// are durably in it. A batch is accepted whole or not at all.
    private func push(_ name: String, _ request: HTTPServerRequest) async throws -> HTTPServerResponse {
        guard let feed = dependencies.pushFeeds[name], let ingest = dependencies.ingest else {
            throw APIError.notFound("no push feed named \(name)")
        }
        let now = dependencies.clock.now
        if let refusal = feed.authenticate(HTTPRequestParts(headers: request.headers, body: request.body), now: now) {
            feed.record {
                $0.rejected += 1
                $0.lastError = "401: \(refusal.message)"
            }
            logger.warning("push refused", metadata: ["push_feed": "\(name)", "reason": "\(refusal.message)"])
            return APIError(status: 401, code: refusal.code, message: refusal.message).response
        }
        let events: [Event]
        switch feed.events(in: request.body, receivedAt: now) {
        case .success(let found):
            events = found
        case .failure(let rejection):
            feed.record {
                $0.rejected += 1
                $0.lastError = "\(rejection.status): \(rejection.message)"
            }
            return APIError(status: rejection.status, code: rejection.code, message: rejection.message).response
        }
        let result = try await ingest.ingest(IngestBatch(events: events, now: now))
        feed.record {
            $0.accepted += result.newEvents
            $0.duplicates += result.duplicates
            $0.lastReceivedAt = now
            $0.lastError = nil
        }
        return JSONResponse.make(202, .object([
            "accepted": .integer(Int64(events.count)), "new": .integer(Int64(result.newEvents)),
            "duplicates": .integer(Int64(result.duplicates)), "deliveries": .integer(Int64(result.deliveries)),
        ]))
    }

    func allow(_ request: HTTPServerRequest, _ methods: [String]) throws(APIError) {
        guard methods.contains(request.method) else { throw APIError.methodNotAllowed(methods) }
    }

    /// `/healthz`: a liveness probe, 200 while the process serves, whose body says `degraded` and
    /// what fails (feeds' failing streams with their error's kind, subscriptions disabled, failing
    /// or with their breaker open, the store not answering) or `ok` when nothing does. Cheap: the
    /// feeds' and lanes' state in memory and two small tables (subscription state, kept counts),
    /// never the outbox. No token, so nothing secret: no error's text, no URL.
    private func health() async -> HTTPServerResponse {
        var storeAnswers = true
        var states: [String: SubscriptionState] = [:]
        var deadLetters: JSONValue = .null
        do {
            states = try await dependencies.store.subscriptionStates()
            deadLetters = .integer(Int64(try await dependencies.store.deliveryCounts()[.deadLetter] ?? 0))
        } catch {
            storeAnswers = false
            logger.warning("health: the store does not answer", metadata: ["error": "\(error)"])
        }
        let feeds = dependencies.feeds()
        let failingFeeds = feeds.filter { !$0.failingStreams.isEmpty }.map(Views.failingFeed)
        let failingSubscriptions = dependencies.catalog.all.compactMap {
            Views.failingSubscription($0.id, state: states[$0.id], lane: dependencies.dispatcher?.laneStatus($0.id))
        }
        let degraded = !storeAnswers || !failingFeeds.isEmpty || !failingSubscriptions.isEmpty
        return JSONResponse.make(200, .object([
            "status": .string(degraded ? "degraded" : "ok"),
            "store": .string(storeAnswers ? "ok" : "unavailable"),
            "failing": .object(["feeds": .array(failingFeeds), "subscriptions": .array(failingSubscriptions)]),
            "dead_letters": deadLetters,
            "feeds_failing": Views.strings(feeds.filter { !$0.failingStreams.isEmpty }.map(\.name)),
            "streams_failing": Views.strings(feeds.flatMap { feed in feed.failingStreams.map { "\(feed.name)/\($0)" } }),
            // Streams whose last walk could not read everything new (a burst beyond the page limit,
            // an error mid-walk): they are catching up and resume where they stopped. Not a failure.
            "streams_behind": Views.strings(feeds.flatMap { feed in feed.behindStreams.map { "\(feed.name)/\($0)" } }),
        ]))
    }

    // MARK: Subscriptions

    private func subscription(_ id: String) throws(APIError) -> Subscription {
        guard let subscription = dependencies.catalog.subscription(id: id) else {
            throw APIError.notFound("no subscription with id \(id)")
        }
        return subscription
    }

    private func editable(_ id: String) throws(APIError) -> Subscription {
        let existing = try subscription(id)
        guard existing.origin == .api else {
            throw APIError.conflict("subscription \(id) is declared in the rules folder; change it there")
        }
        return existing
    }

    private func createSubscription(_ request: HTTPServerRequest) async throws -> HTTPServerResponse {
        let object = try SubscriptionInput.object(request.body)
        let now = dependencies.clock.now
        let id = try SubscriptionInput.string(object, "id") ?? Identifier.make(prefix: "sub", now: now)
        let kind = try SubscriptionInput.kind(try SubscriptionInput.requiredString(object, "type"))
        var draft = Subscription(
            id: id, settings: try SubscriptionInput.settings(object, kind: kind, mode: .create),
            filter: try SubscriptionInput.filter(object["filter"], base: .any), delivery: try SubscriptionInput.delivery(object["delivery"]),
            origin: .api, createdAt: now, updatedAt: now)
        let generated = generateSecretIfNeeded(&draft, object)
        let subscription = try SubscriptionInput.checked(draft)
        if dependencies.catalog.isDeclaredInRules(id) {
            throw APIError.conflict("subscription \(id) is declared in the rules folder")
        }
        try await changes.run {
            do {
                try await self.dependencies.store.insertSubscription(subscription)
            } catch let error as StoreError where error.isConflict {
                throw APIError.conflict("a subscription with id \(id) already exists")
            }
            try await self.reloadCatalog()
        }
        logger.info("subscription created", metadata: [
            "subscription": "\(id)", "type": "\(subscription.kind)", "secret_generated": "\(generated != nil)",
        ])
        return JSONResponse.make(
            201, Views.saved(subscription, now: now, newSecret: generated), headers: [("Location", "/v1/subscriptions/\(id)")])
    }

    private func replaceSubscription(_ id: String, _ request: HTTPServerRequest) async throws -> HTTPServerResponse {
        let object = try SubscriptionInput.object(request.body)
        _ = try editable(id)
        return try await saveChange(id) { existing in try self.replaced(id, object, existing) }
    }

    /// Secrets are never shown, so a replacement may leave them out to keep the current ones
    /// (with any rotation in progress), when the type stays the same. A secret given replaces
    /// the current one outright.
    private func replaced(_ id: String, _ object: [String: JSONValue], _ existing: Subscription) throws -> (Subscription, String?) {
        if let bodyID = try SubscriptionInput.string(object, "id"), bodyID != id {
            throw APIError.invalidField("id", "does not match the id in the path (\(id))")
        }
        let kind = try SubscriptionInput.kind(try SubscriptionInput.requiredString(object, "type"))
        var updated = Subscription(
            id: id, settings: try SubscriptionInput.settings(object, kind: kind, mode: .replace, existing: existing.settings),
            filter: try SubscriptionInput.filter(object["filter"], base: .any), delivery: try SubscriptionInput.delivery(object["delivery"]),
            origin: .api, createdAt: existing.createdAt, updatedAt: dependencies.clock.now)
        let generated = generateSecretIfNeeded(&updated, object)
        return (try SubscriptionInput.checked(updated), generated)
    }

    /// JSON merge patch (RFC 7386): fields present replace, `null` clears an optional field,
    /// `filter` merges key by key, secret maps (headers) name by name.
    private func patchSubscription(_ id: String, _ request: HTTPServerRequest) async throws -> HTTPServerResponse {
        let object = try SubscriptionInput.object(request.body)
        _ = try editable(id)
        return try await saveChange(id) { existing in try self.patched(object, existing) }
    }

    private func patched(_ object: [String: JSONValue], _ existing: Subscription) throws -> (Subscription, String?) {
        var updated = existing
        let id = existing.id
        if let bodyID = try SubscriptionInput.string(object, "id"), bodyID != id {
            throw APIError.invalidField("id", "cannot be changed")
        }
        if object["type"]?.isNull == true { throw APIError.invalidField("type", "cannot be removed") }
        let kind = try SubscriptionInput.kind(try SubscriptionInput.string(object, "type") ?? existing.kind)
        updated.settings = try SubscriptionInput.settings(object, kind: kind, mode: .patch, existing: existing.settings)
        updated.filter = try SubscriptionInput.filter(object["filter"], base: updated.filter)
        if object["delivery"] != nil { updated.delivery = try SubscriptionInput.delivery(object["delivery"]) }
        updated.updatedAt = dependencies.clock.now
        let generated = generateSecretIfNeeded(&updated, object, patch: true)
        return (try SubscriptionInput.checked(updated), generated)
    }

    /// A signed kind given no secret (`null` in a whole document is none; in a patch it asks to
    /// clear it, which validation refuses) gets a generated one, returned once in the answer.
    private func generateSecretIfNeeded(_ subscription: inout Subscription, _ object: [String: JSONValue], patch: Bool = false) -> String? {
        let clearing = object[(subscription.settings as? any SecretRotating).map { type(of: $0).secretField } ?? ""]
        guard let signed = subscription.settings as? any SecretRotating, signed.currentSecret == nil,
              clearing == nil || (clearing == .null && !patch)
        else { return nil }
        let secret = type(of: signed).generateSecret()
        subscription.settings = signed.replacingSecret(with: secret)
        return secret.value
    }

    /// `POST /v1/subscriptions/{id}/secret/rotate`, body optional: `secret` (generated when
    /// absent, and then returned once as `new_secret`) and `previous_expires_in` (how long the
    /// current secret keeps signing beside it; default 24h, "0s" revokes it at once).
    private func rotateSecret(_ id: String, _ request: HTTPServerRequest) async throws -> HTTPServerResponse {
        let object = request.body.isEmpty ? [:] : try SubscriptionInput.object(request.body, allowed: ["secret", "previous_expires_in"])
        let given = try SubscriptionInput.string(object, "secret")
        let overlap = try SubscriptionInput.duration(
            object, "previous_expires_in", default: SecretRotation.defaultOverlap, max: SecretRotation.maxOverlap)
        // Read, rotate and write as one change: two rotations at once must not lose a secret.
        let (rotated, newSecret) = try await changes.run {
            var rotated = try self.editable(id)
            let signed = try self.signed(rotated)
            let newSecret = given.map(SecretString.init) ?? type(of: signed).generateSecret()
            let now = self.dependencies.clock.now
            do throws(RotationError) {
                rotated.settings = try signed.rotatingSecret(
                    to: newSecret, previousExpiresAt: now.addingTimeInterval(overlap.timeInterval), now: now)
            } catch {
                switch error {
                case .conflict(let message): throw APIError.conflict(message)
                case .invalid(let problem): throw APIError.invalidField(problem.field, problem.message)
                }
            }
            rotated.updatedAt = now
            try await self.commit(try SubscriptionInput.checked(rotated))
            return (rotated, newSecret)
        }
        let now = dependencies.clock.now
        let expiry = (rotated.settings as? any SecretRotating)?.previousSecrets(inForceAt: now).first.map { Timestamp.format($0.expiresAt) }
        logger.info("subscription secret rotated", metadata: [
            "subscription": "\(id)", "secret_generated": "\(given == nil)", "previous_expires_at": "\(expiry ?? "none")",
        ])
        return JSONResponse.make(200, Views.saved(rotated, now: now, newSecret: given == nil ? newSecret.value : nil))
    }

    private func signed(_ subscription: Subscription) throws(APIError) -> any SecretRotating {
        guard let signed = subscription.settings as? any SecretRotating else {
            throw APIError.conflict("subscription \(subscription.id) is of type \(subscription.kind), which is not signed")
        }
        return signed
    }

    /// `DELETE /v1/subscriptions/{id}/secret/previous`: rotated-out secrets stop signing now.
    private func endPreviousSecrets(_ id: String) async throws -> HTTPServerResponse {
        let updated = try await changes.run {
            var updated = try self.editable(id)
            updated.settings = try self.signed(updated).endingPreviousSecrets()
            updated.updatedAt = self.dependencies.clock.now
            try await self.commit(updated)
            return updated
        }
        logger.info("subscription previous secrets ended", metadata: ["subscription": "\(id)"])
        return JSONResponse.make(200, Views.subscription(updated, now: dependencies.clock.now))
    }

    /// Reads the subscription, changes it and writes it as one change: a rotation running at the
    /// same time cannot be undone by a PUT or PATCH that read the subscription before it.
    private func saveChange(
        _ id: String, _ change: @escaping @Sendable (Subscription) throws -> (Subscription, String?)
    ) async throws -> HTTPServerResponse {
        let (subscription, newSecret) = try await changes.run {
            let (updated, secret) = try change(try self.editable(id))
            try await self.commit(updated)
            return (updated, secret)
        }
        logger.info("subscription updated", metadata: ["subscription": "\(subscription.id)", "secret_generated": "\(newSecret != nil)"])
        return JSONResponse.make(200, Views.saved(subscription, now: dependencies.clock.now, newSecret: newSecret))
    }

    /// Writes a changed subscription and rebuilds the catalog; run inside `changes`.
    private func commit(_ subscription: Subscription) async throws {
        do {
            try await dependencies.store.updateSubscription(subscription)
        } catch let error as StoreError where error.isNotFound {
            throw APIError.notFound("no subscription with id \(subscription.id)")
        }
        try await reloadCatalog()
    }

    private func deleteSubscription(_ id: String) async throws -> HTTPServerResponse {
        _ = try editable(id)
        try await changes.run {
            guard try await self.dependencies.store.deleteSubscription(id: id, now: self.dependencies.clock.now) else {
                throw APIError.notFound("no subscription with id \(id)")
            }
            // Its state went with it: one created again under the same id starts afresh.
            self.dependencies.dispatcher?.setState(id, SubscriptionState())
            try await self.reloadCatalog()
        }
        logger.info("subscription deleted", metadata: ["subscription": "\(id)"])
        return HTTPServerResponse(status: 204)
    }

    private func reloadCatalog() async throws {
        dependencies.catalog.replaceAPISubscriptions(try await dependencies.store.listSubscriptions())
        dependencies.subscriptionsChanged()
    }

    // MARK: Deliveries

    /// Scrubs a subscription's secrets from recorded errors; nothing to scrub once it is gone.
    private func scrubber(forSubscription id: String) -> Scrubber {
        dependencies.catalog.subscription(id: id).map { Scrubber(settings: $0.settings) } ?? .none
    }

    static let deliveryFilters = ["status", "subscription_id", "event", "source", "since", "until"]

    /// The filters shared by listing and bulk retry.
    private func deliveryQuery(_ request: HTTPServerRequest, allowed: [String], defaultLimit: Int, maxLimit: Int) throws(APIError) -> DeliveryQuery {
        for key in request.query.keys.sorted() where !allowed.contains(key) {
            throw APIError.invalidParameter(key, "unknown parameter (expected \(allowed.joined(separator: ", ")))")
        }
        var query = DeliveryQuery(limit: defaultLimit)
        if let status = request.query["status"] {
            guard let parsed = DeliveryStatus(rawValue: status) else {
                throw APIError.invalidParameter("status", "must be one of: \(DeliveryStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            query.status = parsed
        }
        query.subscriptionID = request.query["subscription_id"]
        if let event = request.query["event"] {
            // `source:id`, or the id alone for that id under any source; never a silent empty list.
            let form = "must be an event's key, source:id (such as scalingo:5f3a9c), or its id alone (5f3a9c) for that id of any source"
            if let colon = event.utf8.firstIndex(of: UInt8(ascii: ":")) {
                guard colon != event.startIndex, event.index(after: colon) != event.endIndex else {
                    throw APIError.invalidParameter("event", form)
                }
                query.eventKey = event
            } else {
                guard !event.isEmpty else { throw APIError.invalidParameter("event", form) }
                query.eventID = event
            }
        }
        query.source = request.query["source"]
        for (name, assign) in [("since", { (date: Date) in query.since = date }), ("until", { (date: Date) in query.until = date })] {
            guard let text = request.query[name] else { continue }
            guard let date = Timestamp.parse(text) else {
                throw APIError.invalidParameter(name, "must be an RFC 3339 time such as 2026-12-03T10:00:00Z")
            }
            assign(date)
        }
        if let since = query.since, let until = query.until, until <= since {
            throw APIError.invalidParameter("until", "must be after since")
        }
        if let limit = request.query["limit"] {
            guard let value = Int(limit), (1...maxLimit).contains(value) else {
                throw APIError.invalidParameter("limit", "must be a number from 1 to \(maxLimit)")
            }
            query.limit = value
        }
        if let cursor = request.query["cursor"] ?? request.query["before"] {
            guard cursor.hasPrefix("dlv_"), cursor.count <= 64 else { throw APIError.invalidParameter("cursor", "is not a cursor this API gave") }
            query.before = cursor
        }
        return query
    }

    private func listDeliveries(_ request: HTTPServerRequest) async throws -> HTTPServerResponse {
        let query = try deliveryQuery(
            request, allowed: Self.deliveryFilters + ["limit", "cursor", "before"], defaultLimit: 50, maxLimit: 500)
        let deliveries = try await dependencies.store.deliveries(query)
        var scrubbers: [String: Scrubber] = [:]
        for id in Set(deliveries.filter { $0.lastError != nil }.map(\.subscriptionID)) { scrubbers[id] = scrubber(forSubscription: id) }
        // Of what the filters select (every page of it), not of the whole log.
        let counts = try await dependencies.store.deliveryCounts(query)
        var body: [String: JSONValue] = [
            "deliveries": .array(deliveries.map { Views.delivery($0, scrubber: scrubbers[$0.subscriptionID] ?? .none) }),
            "counts": .object(Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, JSONValue.integer(Int64($0.value))) })),
        ]
        if deliveries.count == query.limit, let last = deliveries.last {
            body["next_cursor"] = .string(last.id)
            body["next_before"] = .string(last.id)
        }
        return JSONResponse.make(200, .object(body))
    }

    /// Bulk retry: the dead letters the filters select go back in the queue.
    private func retryDeadLetters(_ request: HTTPServerRequest) async throws -> HTTPServerResponse {
        if let status = request.query["status"], status != DeliveryStatus.deadLetter.rawValue {
            throw APIError.invalidParameter("status", "only dead letters (dead_letter) can be retried")
        }
        let query = try deliveryQuery(request, allowed: Self.deliveryFilters + ["limit"], defaultLimit: 1000, maxLimit: 10_000)
        let now = dependencies.clock.now
        let retried = try await changes.run {
            if let id = query.subscriptionID, self.dependencies.catalog.subscription(id: id) == nil {
                throw APIError.conflict("subscription \(id) no longer exists")
            }
            // Dead letters of subscriptions that are gone stay as they are: there is nowhere to send them.
            return try await self.dependencies.store.retryDeadLetters(query, of: Set(self.dependencies.catalog.all.map { $0.id }), now: now)
        }
        dependencies.dispatcher?.wake(Set(retried.map { $0.subscriptionID }))
        logger.info("dead letters queued for retry by an operator", metadata: ["count": "\(retried.count)"])
        return JSONResponse.make(200, .object([
            "retried": .integer(Int64(retried.count)),
            "truncated": .bool(retried.count == query.limit),
        ]))
    }

    private func setPaused(_ id: String, _ paused: Bool) async throws -> HTTPServerResponse {
        let now = dependencies.clock.now
        let (found, states) = try await changes.run {
            let found = try self.subscription(id)
            // Resuming also enables a subscription the relay disabled (a 410, failing too long)
            // and ends its run of failures: one write.
            if paused {
                try await self.dependencies.store.setPaused(subscriptionID: id, true, now: now)
            } else {
                try await self.dependencies.store.resume(subscriptionID: id, now: now)
            }
            let states = try await self.dependencies.store.subscriptionStates()
            self.dependencies.dispatcher?.setState(id, states[id] ?? SubscriptionState())
            return (found, states)
        }
        logger.notice(paused ? "subscription paused by an operator" : "subscription resumed by an operator", metadata: ["subscription": "\(id)"])
        let counts = try await dependencies.store.deliveryCountsBySubscription()
        return JSONResponse.make(200, Views.subscription(found, now: now, delivery: deliveryState(id, states: states, counts: counts)))
    }

    private func replay(_ id: String, _ request: HTTPServerRequest) async throws -> HTTPServerResponse {
        _ = try subscription(id)
        for key in request.query.keys.sorted() where !["since", "until", "limit"].contains(key) {
            throw APIError.invalidParameter(key, "unknown parameter (expected since, until, limit)")
        }
        let now = dependencies.clock.now
        guard let sinceText = request.query["since"] else {
            throw APIError.invalidParameter("since", "is required: an RFC 3339 time such as 2026-12-03T10:00:00Z")
        }
        guard let since = Timestamp.parse(sinceText) else {
            throw APIError.invalidParameter("since", "must be an RFC 3339 time such as 2026-12-03T10:00:00Z")
        }
        var until = now
        if let text = request.query["until"] {
            guard let parsed = Timestamp.parse(text) else { throw APIError.invalidParameter("until", "must be an RFC 3339 time") }
            until = parsed
        }
        guard since < until else { throw APIError.invalidParameter("since", "must be before until (or now)") }
        var limit = 10_000
        if let text = request.query["limit"] {
            guard let value = Int(text), (1...100_000).contains(value) else {
                throw APIError.invalidParameter("limit", "must be a number from 1 to 100000")
            }
            limit = value
        }
        let (window, most) = (until, limit)
        let (count, truncated) = try await changes.run {
            _ = try self.subscription(id)  // not deleted meanwhile
            return try await self.dependencies.store.replay(subscriptionID: id, since: since, until: window, limit: most, now: now)
        }
        dependencies.dispatcher?.wake([id])
        logger.notice("deliveries replayed by an operator", metadata: ["subscription": "\(id)", "count": "\(count)"])
        return JSONResponse.make(202, .object([
            "subscription_id": .string(id), "replayed": .integer(Int64(count)), "truncated": .bool(truncated),
            "since": Views.time(since), "until": Views.time(until),
        ]))
    }

    /// `POST /v1/render`: `{"event": …, "subscription_id": optional}`. What each destination the
    /// event routes to (or the one named) would receive; nothing is sent or stored.
    private func render(_ request: HTTPServerRequest) async throws -> HTTPServerResponse {
        let object = try SubscriptionInput.object(request.body, allowed: ["event", "subscription_id"])
        guard let document = object["event"], case .object = document else {
            throw APIError.invalidField("event", "is required: a normalized event or a platform's raw event, as a JSON object")
        }
        guard let event = FeedRegistry.readEvent(document, receivedAt: dependencies.clock.now) else {
            throw APIError.invalidField(
                "event", "is neither a normalized event nor an event of a known platform (\(FeedRegistry.kinds.joined(separator: ", ")))")
        }
        var targets: [(Subscription, String)] = []
        if let id = try SubscriptionInput.string(object, "subscription_id") {
            targets = [(try subscription(id), "named")]
        } else {
            for match in dependencies.catalog.router.route(event) {
                if let found = dependencies.catalog.subscription(id: match.subscriptionID) { targets.append((found, match.matchedBy)) }
            }
        }
        var rendered: [JSONValue] = []
        for (subscription, matchedBy) in targets {
            let request = await DryRun.render(
                event, for: subscription, presenter: dependencies.presenter, environment: dependencies.environment, now: dependencies.clock.now,
                threads: dependencies.store)
            rendered.append(.object([
                "subscription_id": .string(subscription.id), "type": .string(subscription.kind), "matched_by": .string(matchedBy), "request": request,
            ]))
        }
        return JSONResponse.make(200, .object([
            "event": .object([
                "source": .string(event.source), "id": .string(event.id), "type": .string(event.type),
                "category": event.category.map { .string($0.rawValue) } ?? .null, "summary": .string(event.summary),
            ]),
            "destinations": .array(rendered),
        ]))
    }

    private func testSubscription(_ id: String) async throws -> HTTPServerResponse {
        let found = try subscription(id)
        guard let dispatcher = dependencies.dispatcher else { throw APIError.unavailable("deliveries are not running") }
        let record = await dispatcher.sendTest(to: found)
        return JSONResponse.make(200, Views.test(record, scrubber: Scrubber(settings: found.settings)))
    }

    /// A subscription's delivery state for its view: held or not, its lane, what it is owed.
    private func deliveryState(_ id: String, states: [String: SubscriptionState], counts: [String: [DeliveryStatus: Int]]) -> JSONValue {
        Views.deliveryState(states[id] ?? SubscriptionState(), lane: dependencies.dispatcher?.laneStatus(id), counts: counts[id] ?? [:])
    }

    private func retryDelivery(_ id: String) async throws -> HTTPServerResponse {
        guard let current = try await dependencies.store.delivery(id: id) else { throw APIError.notFound("no delivery with id \(id)") }
        guard current.status == .deadLetter else {
            throw APIError.conflict("delivery \(id) is \(current.status.rawValue); only dead letters can be retried")
        }
        let now = dependencies.clock.now
        let retried = try await changes.run {
            guard self.dependencies.catalog.subscription(id: current.subscriptionID) != nil else {
                throw APIError.conflict("subscription \(current.subscriptionID) no longer exists")
            }
            guard let retried = try await self.dependencies.store.retryDelivery(id: id, now: now) else {
                throw APIError.notFound("no delivery with id \(id)")
            }
            return retried
        }
        dependencies.dispatcher?.wake([retried.subscriptionID])
        logger.info("delivery queued for retry by an operator", metadata: ["delivery": "\(id)"])
        return JSONResponse.make(200, Views.delivery(retried, scrubber: scrubber(forSubscription: retried.subscriptionID)))
    }
}

/// Runs async changes one at a time (an actor's methods may interleave at each await; this may not).
actor ChangeQueue {
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func run<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        while busy {
            await withCheckedContinuation { waiting.append($0) }
        }
        busy = true
        defer {
            busy = false
            if !waiting.isEmpty { waiting.removeFirst().resume() }
        }
        return try await body()
    }
}
