import Crypto
import Delivery
import EventModel
import Feeds
import Foundation
import Rules
import Sinks
import Store
import YAMLSupport

/// How resources look in responses. Secrets are always masked.
enum Views {
    static func time(_ date: Date?) -> JSONValue { date.map { .string(Timestamp.format($0)) } ?? .null }
    static func strings(_ list: [String]) -> JSONValue { .array(list.map(JSONValue.string)) }
    static func optional(_ text: String?) -> JSONValue { text.map(JSONValue.string) ?? .null }

    static func filter(_ filter: EventFilter) -> JSONValue {
        var object: [String: JSONValue] = [:]
        for key in EventFilter.listKeys { object[key] = strings(filter.list(key)) }
        object["fields"] = .object(filter.fields.mapValues(strings))
        return .object(object)
    }

    /// The shared fields and the kind's own view, where secrets appear as hints only (a masked
    /// value, a fingerprint, the names of custom headers).
    static func subscription(_ subscription: Subscription, now: Date, delivery state: JSONValue? = nil) -> JSONValue {
        var object = subscription.settings.view(now: now)
        object["id"] = .string(subscription.id)
        object["type"] = .string(subscription.kind)
        object["filter"] = filter(subscription.filter)
        object["origin"] = .string(subscription.origin.rawValue)
        object["delivery"] = delivery(subscription.delivery)
        if let state { object["state"] = state }
        if subscription.origin == .api {
            object["created_at"] = time(subscription.createdAt)
            object["updated_at"] = time(subscription.updatedAt)
        }
        return .object(object)
    }

    /// A subscription as a create or update answers it: with the secret the relay just
    /// generated (the one time it is shown) and the kind's warnings about the settings.
    static func saved(_ subscription: Subscription, now: Date, newSecret: String?) -> JSONValue {
        guard var object = self.subscription(subscription, now: now).objectValue else { return .null }
        if let newSecret { object["new_secret"] = .string(newSecret) }
        let warnings = SinkRegistry.warnings(for: subscription.settings)
        if !warnings.isEmpty { object["warnings"] = strings(warnings) }
        return .object(object)
    }

    /// Whether a subscription sends, its lane as it is now, and what it is owed (the waiting queue).
    static func deliveryState(_ state: SubscriptionState, lane: LaneStatus?, counts: [DeliveryStatus: Int]) -> JSONValue {
        var object: [String: JSONValue] = [
            "status": .string(state.disabledAt != nil ? "disabled" : state.pausedAt != nil ? "paused" : "active"),
            "paused_at": time(state.pausedAt),
            "disabled_at": time(state.disabledAt),
            "disabled_reason": optional(state.disabledReason),
            "failing_since": time(state.failingSince ?? lane?.failingSince),
            "pending": .integer(Int64(counts[.pending] ?? 0)),
            "delivered": .integer(Int64(counts[.delivered] ?? 0)),
            "dead_letters": .integer(Int64(counts[.deadLetter] ?? 0)),
            // Settled by a policy when routed, never sent (see GET /v1/deliveries?status=…).
            "suppressed": .object(Dictionary(uniqueKeysWithValues: DeliveryStatus.allCases.filter(\.isSuppressed).map {
                ($0.rawValue, JSONValue.integer(Int64(counts[$0] ?? 0)))
            })),
        ]
        if let lane {
            let breaker: String
            switch lane.breaker {
            case .closed: breaker = "closed"
            case .open: breaker = "open"
            case .halfOpen: breaker = "half_open"
            }
            object["in_flight"] = .integer(Int64(lane.inFlight))
            object["rate_limited_until"] = time(lane.rateLimitedUntil)
            object["breaker"] = .string(breaker)
        }
        return .object(object)
    }

    /// The outcome of `POST /v1/subscriptions/{id}/test`.
    static func test(_ record: AttemptRecord, scrubber: Scrubber) -> JSONValue {
        .object([
            "outcome": .string(record.outcome.rawValue),
            "delivered": .bool(record.outcome == .delivered),
            "status_code": record.statusCode.map { .integer(Int64($0)) } ?? .null,
            "error": record.error.map { .string(scrubber.scrub($0)) } ?? .null,
            "duration_ms": .integer(Int64(record.durationMilliseconds)),
            "at": time(record.at),
        ])
    }

    /// A subscription's own delivery options (unset ones take the defaults of its kind and of the configuration).
    static func delivery(_ options: DeliveryOptions) -> JSONValue {
        var object: [String: JSONValue] = [:]
        if let ordering = options.ordering { object["ordering"] = .string(ordering.rawValue) }
        if let concurrency = options.concurrency { object["concurrency"] = .integer(Int64(concurrency)) }
        if let rate = options.rateLimit {
            object["rate_limit"] = .string(rate.description)
            object["burst"] = .integer(Int64(rate.burst))
        }
        if let schedule = options.retrySchedule { object["retry_schedule"] = .array(schedule.map { .string(DurationText.format($0)) }) }
        return .object(object)
    }


    static func rule(_ rule: Rule) -> JSONValue {
        .object([
            "name": .string(rule.name),
            "description": optional(rule.description),
            "filter": rule.filter.json,
            "subscriptions": strings(rule.subscriptionIDs),
            "continue": .bool(rule.continues),
            "suspended": .bool(rule.suspended),
            "policies": strings(policyNames(rule.policies)),
            "declared_at": .string(rule.location),
        ])
    }

    /// Which policies apply (their rule-file keys); their settings are in the file.
    static func policyNames(_ policies: Policies) -> [String] {
        var names: [String] = []
        if policies.onChange != nil { names.append("notify_on_change") }
        if policies.oncePer != nil { names.append("once_per") }
        if policies.quietHours != nil { names.append("quiet_hours") }
        if policies.throttle != nil { names.append("throttle") }
        if policies.digest != nil { names.append("digest") }
        return names
    }

    /// `scrubber` removes the subscription's secrets from the recorded errors once more (they
    /// are scrubbed when recorded; records written by earlier releases were not).
    static func delivery(_ delivery: Delivery, scrubber: Scrubber = .none) -> JSONValue {
        .object([
            "id": .string(delivery.id),
            "event": .string(delivery.eventKey),
            "subscription_id": .string(delivery.subscriptionID),
            "matched_by": .string(delivery.matchedBy),
            "status": .string(delivery.status.rawValue),
            "attempts": .integer(Int64(delivery.attempts)),
            "next_attempt_at": delivery.status == .pending ? time(delivery.nextAttemptAt) : .null,
            "created_at": time(delivery.createdAt),
            "updated_at": time(delivery.updatedAt),
            "delivered_at": time(delivery.deliveredAt),
            "last_status_code": delivery.lastStatusCode.map { .integer(Int64($0)) } ?? .null,
            "last_error": optional(delivery.lastError.map { scrubber.scrub($0) }),
            "note": optional(delivery.note),
        ])
    }

    static func attempt(_ attempt: DeliveryAttempt, scrubber: Scrubber = .none) -> JSONValue {
        .object([
            "at": time(attempt.at),
            "outcome": .string(attempt.outcome.rawValue),
            "status_code": attempt.statusCode.map { .integer(Int64($0)) } ?? .null,
            "error": optional(attempt.error.map { scrubber.scrub($0) }),
            "duration_ms": .integer(Int64(attempt.durationMilliseconds)),
        ])
    }

    static func feed(_ status: FeedStatus, now: Date) -> JSONValue {
        .object([
            "name": .string(status.name),
            "source": .string(status.source),
            "interval_seconds": .number(status.interval.timeInterval),
            "streams": .array(status.streams.map { stream($0, now: now) }),
            "healthy": .bool(status.failingStreams.isEmpty),
            "behind": .bool(!status.behindStreams.isEmpty),
            "last_poll_at": time(status.lastPollAt),
            "last_success_at": time(status.lastSuccessAt),
            "last_error": optional(status.lastError),
            "consecutive_failures": .integer(Int64(status.consecutiveFailures)),
            "events_seen": .integer(Int64(status.eventsSeen)),
            "deliveries_queued": .integer(Int64(status.deliveriesQueued)),
            "next_poll_at": time(status.nextPollAt),
            "rate_limited_until": time(status.pausedUntil.flatMap { $0 > now ? $0 : nil }),
            "notes": strings(status.notes),
        ])
    }

    /// A feed with failing streams, as `/healthz` names it: each failing stream with its error's
    /// kind (and HTTP status), never the error's text.
    static func failingFeed(_ status: FeedStatus) -> JSONValue {
        .object([
            "name": .string(status.name),
            "source": .string(status.source),
            "streams": .array(status.streams.filter { $0.lastError != nil }.map { stream in
                .object([
                    "name": .string(stream.name),
                    "error": .string(stream.lastErrorKind ?? "unknown"),
                    "status_code": stream.lastErrorStatus.map { .integer(Int64($0)) } ?? .null,
                    "consecutive_failures": .integer(Int64(stream.consecutiveFailures)),
                    "last_success_at": time(stream.lastSuccessAt),
                ])
            }),
        ])
    }

    /// A subscription that cannot deliver, as `/healthz` names it (nil when it can): `disabled`,
    /// its breaker `breaker_open` or `breaker_half_open`, or `failing` (a run of failures, breaker
    /// closed). Paused by an operator is not failing. Never the reason's text.
    static func failingSubscription(_ id: String, state: SubscriptionState?, lane: LaneStatus?) -> JSONValue? {
        let failingSince = state?.failingSince ?? lane?.failingSince
        let condition: String
        switch (state?.disabledAt, lane?.breaker) {
        case (.some, _): condition = "disabled"
        case (nil, .open?): condition = "breaker_open"
        case (nil, .halfOpen?): condition = "breaker_half_open"
        default:
            guard failingSince != nil else { return nil }
            condition = "failing"
        }
        return .object([
            "id": .string(id),
            "state": .string(condition),
            "failing_since": time(failingSince),
            "disabled_at": time(state?.disabledAt),
        ])
    }

    static func pushFeed(_ feed: PushFeed) -> JSONValue {
        let stats = feed.currentStats
        return .object([
            "name": .string(feed.name),
            "format": .string(feed.settings.format),
            "auth": .string(feed.settings.auth.rawValue),
            "path": .string("/v1/ingest/\(feed.name)"),
            "accepted": .integer(Int64(stats.accepted)),
            "duplicates": .integer(Int64(stats.duplicates)),
            "rejected": .integer(Int64(stats.rejected)),
            "last_received_at": time(stats.lastReceivedAt),
            "last_error": optional(stats.lastError),
        ])
    }

    /// How far behind the platform the stream may be: while it is behind, since the sweep that has
    /// not caught up began; otherwise since its last successful poll (what happened since is unread).
    static func lag(_ stream: StreamStatus, now: Date) -> JSONValue {
        let since = stream.isBehind ? stream.cursor?.backlog?.since : stream.lastSuccessAt
        return since.map { .number(max(0, now.timeIntervalSince($0)).rounded()) } ?? .null
    }

    /// One stream: its schedule and health, and where its checkpoint stands (lag: how far the
    /// newest event read is behind now; backlog: a stretch not yet read, resumed on the next polls).
    static func stream(_ stream: StreamStatus, now: Date) -> JSONValue {
        let cursor = stream.cursor
        // A sweep that did not fit in one poll: where it stands and where it must reach. While it
        // is above what was read before (`behind`), events are waiting to be read; below, it is
        // only looking again for late inserts.
        let backlog: JSONValue = cursor?.backlog.map { backlog in
            .object([
                "reached": time(backlog.reached),
                "until": time(backlog.lower),
                "since": time(backlog.since),
            ])
        } ?? .null
        return .object([
            "name": .string(stream.name),
            "started": .bool(cursor != nil),
            "healthy": .bool(stream.lastError == nil),
            "last_poll_at": time(stream.lastPollAt),
            "last_success_at": time(stream.lastSuccessAt),
            "last_error": optional(stream.lastError),
            "consecutive_failures": .integer(Int64(stream.consecutiveFailures)),
            "next_poll_at": time(stream.nextPollAt),
            "pages_last_poll": .integer(Int64(stream.pagesLastPoll)),
            "newest_event_at": time(cursor?.newest),
            "lag_seconds": lag(stream, now: now),
            "horizon": time(cursor?.horizon),
            "seen_ids": .integer(Int64(cursor?.seen.count ?? 0)),
            "behind": .bool(stream.isBehind),
            "backlog": backlog,
            "clock_offset_seconds": stream.clockOffset.map { .number($0.timeInterval.rounded()) } ?? .null,
            "clock_skewed": .bool(stream.skewed),
        ])
    }
}
