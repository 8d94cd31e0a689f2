import EventModel
import Foundation
import HTTPServer
import Rules
import Store

/// `/v1/mutes`: list (the rule files' and the API's), create, show, delete. A mute holds back the
/// deliveries of a rule, a subscription, or the events a filter selects (every one given), from
/// `starts_at` (default now) to `ends_at` (or `starts_at` plus `duration`); it ends by itself.
extension AdminAPI {
    static let muteFields = ["id", "rule", "subscription", "filter", "starts_at", "ends_at", "duration", "comment"]
    /// The longest a mute may last: a mute is for a maintenance window, not forever (delete the rule).
    static let maxMute: Duration = .seconds(366 * 86400)

    func mutesRoute(_ parts: [String], _ request: HTTPServerRequest) async throws -> HTTPServerResponse {
        let now = dependencies.clock.now
        if parts.count == 2 {
            switch request.method {
            case "GET":
                return JSONResponse.make(200, .object(["mutes": .array(dependencies.catalog.mutes.map { Self.view($0, now: now) })]))
            case "POST":
                return try await createMute(request, now: now)
            default:
                throw APIError.methodNotAllowed(["GET", "POST"])
            }
        }
        let id = parts[2]
        switch request.method {
        case "GET":
            guard let mute = dependencies.catalog.mutes.first(where: { $0.id == id }) else { throw APIError.notFound("no mute with id \(id)") }
            return JSONResponse.make(200, Self.view(mute, now: now))
        case "DELETE":
            if let declared = dependencies.catalog.ruleSet.mutes.first(where: { $0.id == id }) {
                throw APIError.conflict("mute \(id) is declared in a rule file (\(declared.origin)): remove it there")
            }
            try await changes.run {
                guard try await self.dependencies.store.deleteMute(id: id) else { throw APIError.notFound("no mute with id \(id)") }
                try await self.reloadMutes(now: now)
            }
            logger.info("mute deleted", metadata: ["mute": "\(id)"])
            return HTTPServerResponse(status: 204, headers: [], body: [])
        default:
            throw APIError.methodNotAllowed(["GET", "DELETE"])
        }
    }

    private func createMute(_ request: HTTPServerRequest, now: Date) async throws -> HTTPServerResponse {
        let object = try SubscriptionInput.object(request.body, allowed: Self.muteFields)
        let id = try SubscriptionInput.string(object, "id") ?? Identifier.make(prefix: "mute", now: now)
        if let problem = Subscription.validateID(id) { throw APIError.invalidField("id", problem.message) }
        let rule = try SubscriptionInput.string(object, "rule")
        if let rule, !dependencies.catalog.ruleSet.rules.contains(where: { $0.name == rule }) {
            throw APIError.invalidField("rule", "no rule named \(rule) is in force (see GET /v1/rules)")
        }
        let subscription = try SubscriptionInput.string(object, "subscription")
        if let subscription, dependencies.catalog.subscription(id: subscription) == nil {
            throw APIError.invalidField("subscription", "no subscription \(subscription) exists")
        }
        var filter: JSONValue?
        if let written = object["filter"], !written.isNull {
            do throws(FieldError) {
                filter = try FilterReader.read(JSONFilterNode(written, path: "filter")).json
            } catch {
                throw APIError.invalidField(error.field, error.message)
            }
        }
        guard rule != nil || subscription != nil || filter != nil else {
            throw APIError.invalidField("filter", "name a rule, a subscription or a filter (to hold everything, pause a subscription)")
        }
        let startsAt = try Self.time(object, "starts_at") ?? now
        let endsAt: Date
        switch (try Self.time(object, "ends_at"), object["duration"]) {
        case (let end?, nil): endsAt = end
        case (nil, .some):
            endsAt = startsAt.addingTimeInterval(
                Double(try SubscriptionInput.duration(object, "duration", default: .zero, max: Self.maxMute).components.seconds))
        case (.some, .some): throw APIError.invalidField("duration", "give ends_at or duration, not both")
        case (nil, nil): throw APIError.invalidField("ends_at", "is required (or a duration such as \"2h\"): a mute ends by itself")
        }
        guard endsAt > startsAt else { throw APIError.invalidField("ends_at", "must be after starts_at") }
        guard endsAt > now else { throw APIError.invalidField("ends_at", "is in the past: the mute would hold nothing") }
        guard endsAt.timeIntervalSince(startsAt) <= Double(Self.maxMute.components.seconds) else {
            throw APIError.invalidField("ends_at", "a mute lasts at most 366 days")
        }
        let comment = try SubscriptionInput.string(object, "comment") ?? ""
        guard !comment.trimmingCharacters(in: .whitespaces).isEmpty, comment.count <= 1000 else {
            throw APIError.invalidField("comment", "is required (1 to 1000 characters): say why, for whoever is on call")
        }
        if dependencies.catalog.ruleSet.mutes.contains(where: { $0.id == id }) {
            throw APIError.conflict("mute \(id) is declared in a rule file")
        }
        let mute = Mute(
            id: id, rule: rule, subscription: subscription, filter: filter, startsAt: startsAt, endsAt: endsAt, comment: comment, origin: "api",
            createdAt: now)
        try await changes.run {
            do {
                try await self.dependencies.store.insertMute(mute)
            } catch let error as StoreError where error.isConflict {
                throw APIError.conflict("a mute with id \(id) already exists")
            }
            try await self.reloadMutes(now: now)
        }
        logger.info("mute created", metadata: ["mute": "\(id)", "ends_at": "\(Timestamp.format(endsAt))"])
        return JSONResponse.make(201, Self.view(mute, now: now), headers: [("Location", "/v1/mutes/\(id)")])
    }

    /// Mutes that ended over a day ago are deleted; the rest are handed to the pipeline.
    func reloadMutes(now: Date) async throws {
        _ = try await dependencies.store.pruneMutes(endedBefore: now.addingTimeInterval(-86400))
        dependencies.catalog.replaceAPIMutes(try await dependencies.store.listMutes())
    }

    static func time(_ object: [String: JSONValue], _ key: String) throws(APIError) -> Date? {
        guard let text = try SubscriptionInput.string(object, key) else { return nil }
        guard let date = Timestamp.parse(text) else { throw APIError.invalidField(key, "must be a time like 2026-12-24T18:00:00Z (RFC 3339)") }
        return date
    }

    static func view(_ mute: Mute, now: Date) -> JSONValue {
        .object([
            "id": .string(mute.id),
            "rule": Views.optional(mute.rule),
            "subscription": Views.optional(mute.subscription),
            "filter": mute.filter ?? .null,
            "starts_at": Views.time(mute.startsAt),
            "ends_at": Views.time(mute.endsAt),
            "comment": .string(mute.comment),
            "origin": .string(mute.origin),
            "status": .string(mute.isActive(at: now) ? "active" : now < mute.startsAt ? "scheduled" : "expired"),
        ])
    }
}
