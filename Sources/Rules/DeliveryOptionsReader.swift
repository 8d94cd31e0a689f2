import EventModel
import YAMLSupport

/// A subscription's `delivery:` options as a rules file writes them (the API reads the same keys
/// from JSON): `ordering`, `concurrency`, `rate_limit`, `burst`, `retry_schedule`.
public enum DeliveryOptionsReader {
    public static let keys = ["ordering", "concurrency", "rate_limit", "burst", "retry_schedule"]

    public static func read(_ value: YAMLValue) throws(YAMLError) -> DeliveryOptions {
        guard !value.isNull else { return .none }
        let fields = try value.mapping()
        try fields.allowOnly(keys)
        var options = DeliveryOptions()
        if let ordering = fields["ordering"] {
            guard let parsed = DeliveryOptions.Ordering(rawValue: try ordering.string()) else {
                throw ordering.error("must be one of: \(DeliveryOptions.Ordering.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            options.ordering = parsed
        }
        if let concurrency = fields["concurrency"] { options.concurrency = try concurrency.int(in: 1...DeliveryOptions.maxConcurrency) }
        let burst = try fields["burst"]?.int(in: 1...10_000)
        if let rate = fields["rate_limit"] {
            guard let parsed = RateLimit.parse(try rate.string(), burst: burst) else {
                throw rate.error("must be a rate like 1/s, 30/min or 1000/h")
            }
            options.rateLimit = parsed
        } else if let burst = fields["burst"] {
            throw burst.error("needs a rate_limit")
        }
        if let schedule = fields["retry_schedule"] {
            let steps = try schedule.sequence()
            guard steps.count <= DeliveryOptions.maxRetrySteps else {
                throw schedule.error("has more than \(DeliveryOptions.maxRetrySteps) steps")
            }
            options.retrySchedule = try steps.map { step throws(YAMLError) in try step.duration(in: .zero...DeliveryOptions.maxRetryDelay) }
        }
        if let problem = options.validate(field: "delivery") {
            let key = problem.field.split(separator: ".").dropFirst().first.map(String.init) ?? ""
            throw (fields[key] ?? value).error(problem.message)
        }
        return options
    }
}
