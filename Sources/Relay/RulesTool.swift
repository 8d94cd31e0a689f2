import EventModel
import Feeds
import Foundation
import Rules
import Sinks
import YAMLSupport

/// The offline rule tools behind `event-relay rules check` and `rules test`.
public enum RulesTool {
    /// Loads and validates a rules folder exactly as `serve` does. With `resolveEnvironment`
    /// false, environment variables are checked by name only (for CI without secrets).
    public static func check(directory: String, environment: [String: String], resolveEnvironment: Bool) -> (ok: Bool, report: String) {
        let url = URL(fileURLWithPath: directory)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            return (false, "\(directory): no such folder")
        }
        do {
            let set = try RuleLoader(environment: resolveEnvironment ? environment : nil, sinks: SinkRegistry.kinds).load(directory: url)
            var lines = ["\(directory): \(set.files.count) files, \(set.rules.count) rules, \(set.subscriptions.count) subscriptions: OK"]
            // In the order they are tried: the first that matches ends routing unless it continues.
            for (index, rule) in set.rules.enumerated() {
                let how = rule.suspended ? " [suspended]" : rule.continues ? " [continue]" : ""
                lines.append("  \(index + 1). rule \(rule.name) -> \(rule.subscriptionIDs.joined(separator: ", "))\(how) (\(rule.location))")
            }
            return (true, lines.joined(separator: "\n"))
        } catch {
            return (false, error.description)
        }
    }

    /// Routes one event offline and says which rules and subscriptions would receive it, and
    /// exactly what each destination would be sent (secrets are the offline check's stand-ins).
    /// The event is a normalized EventRelay event or a raw event of any platform in the registry.
    public static func test(eventFile: String, directory: String, redactPaths: [String] = []) async -> (ok: Bool, report: String) {
        let set: RuleSet
        do {
            set = try RuleLoader(environment: nil, sinks: SinkRegistry.kinds).load(directory: URL(fileURLWithPath: directory))
        } catch {
            return (false, error.description)
        }
        let bytes: Data
        do {
            bytes = try Data(contentsOf: URL(fileURLWithPath: eventFile))
        } catch {
            return (false, "\(eventFile): cannot read: \(error.localizedDescription)")
        }
        guard let document = try? JSONValue.parse(Array(bytes)), let event = FeedRegistry.readEvent(document, receivedAt: Date()) else {
            return (false, "\(eventFile): neither a normalized event nor an event of a known platform (\(FeedRegistry.kinds.joined(separator: ", ")))")
        }
        let matches = Router(rules: set.rules, subscriptions: []).route(event)
        var lines = [
            "event \(event.source):\(event.id) type=\(event.type) category=\(event.category?.rawValue ?? "-") app=\(event.app ?? "-") project=\(event.project ?? "-")",
            "  \(event.summary)",
        ]
        if matches.isEmpty {
            lines.append("  matches no rule")
        } else {
            let presenter = PlatformPresenter(extraPaths: redactPaths)
            for match in matches {
                lines.append("  -> \(match.subscriptionID) (\(match.matchedBy))")
                guard let subscription = set.subscriptions.first(where: { $0.id == match.subscriptionID }) else { continue }
                let request = await DryRun.render(event, for: subscription, presenter: presenter)
                let pretty = (try? JSONSerialization.data(
                    withJSONObject: try JSONSerialization.jsonObject(with: Data(request.encoded())),
                    options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])).map { String(decoding: $0, as: UTF8.self) }
                    ?? String(decoding: request.encoded(), as: UTF8.self)
                lines.append(pretty.split(separator: "\n", omittingEmptySubsequences: false).map { "     " + $0 }.joined(separator: "\n"))
            }
        }
        return (true, lines.joined(separator: "\n"))
    }
}
