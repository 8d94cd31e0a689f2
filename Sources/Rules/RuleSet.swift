import EventModel
import Foundation
import YAMLSupport

/// Everything the rules folder declares: subscriptions (their secrets named by environment
/// variable) and the rules that route events to them. Loaded and validated as a whole: every
/// problem in every file is reported with its file and line, and nothing is used unless all is well.
public struct RuleSet: Sendable {
    public var rules: [Rule]
    public var subscriptions: [Subscription]
    public var files: [String]

    public static let empty = RuleSet(rules: [], subscriptions: [], files: [])

    public init(rules: [Rule], subscriptions: [Subscription], files: [String]) {
        self.rules = rules
        self.subscriptions = subscriptions
        self.files = files
    }
}

/// The rule files' problems, all of them; `description` prints one per line.
public struct RuleLoadError: Error, Sendable, CustomStringConvertible {
    public var problems: [YAMLError]
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

public struct RuleLoader: Sendable {
    /// Resolves `url_env` / `secret_env` names; nil means "do not resolve" (an offline check
    /// without the deployment's environment), in which case only the names are checked.
    public var environment: [String: String]?

    public init(environment: [String: String]?) {
        self.environment = environment
    }

    static let topKeys = ["subscriptions", "rules"]
    static let subscriptionKeys = [
        "id", "type", "url_env", "secret_env", "previous_secret_env", "previous_secret_expires", "headers_env", "slack_icon",
        "slack_username", "description", "delivery",
    ]
    static let ruleKeys = ["name", "description", "filter", "subscriptions"]

    /// Loads every `*.yaml` / `*.yml` file directly in `directory`, in name order. A missing
    /// directory is an empty rule set; an unreadable one is an error.
    public func load(directory: URL) throws(RuleLoadError) -> RuleSet {
        let fileManager = FileManager.default
        var isDirectory: ObjCBool = false
        guard fileManager.fileExists(atPath: directory.path, isDirectory: &isDirectory) else { return .empty }
        guard isDirectory.boolValue else {
            throw RuleLoadError(problems: [YAMLError(file: directory.path, line: 0, column: 0, path: "", message: "is not a directory")])
        }
        let names: [String]
        do {
            names = try fileManager.contentsOfDirectory(atPath: directory.path)
                .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }
                .filter { !$0.hasPrefix(".") }
                .sorted()
        } catch {
            throw RuleLoadError(problems: [YAMLError(file: directory.path, line: 0, column: 0, path: "", message: "cannot list the folder: \(error.localizedDescription)")])
        }
        var documents: [YAMLValue] = []
        var problems: [YAMLError] = []
        for name in names {
            let url = directory.appendingPathComponent(name)
            do {
                documents.append(try YAMLValue.load(contentsOf: url, displayName: displayPath(directory, name)))
            } catch {
                problems.append(error)
            }
        }
        let set: RuleSet
        do throws(RuleLoadError) {
            set = try load(documents: documents)
        } catch {
            throw RuleLoadError(problems: problems + error.problems)
        }
        if !problems.isEmpty { throw RuleLoadError(problems: problems) }
        return set
    }

    private func displayPath(_ directory: URL, _ name: String) -> String {
        let relative = directory.path.hasPrefix(FileManager.default.currentDirectoryPath + "/")
            ? String(directory.path.dropFirst(FileManager.default.currentDirectoryPath.count + 1)) : directory.path
        return relative.isEmpty ? name : "\(relative)/\(name)"
    }

    /// Validates parsed documents together (ids and names must be unique across files,
    /// references must resolve across files).
    public func load(documents: [YAMLValue]) throws(RuleLoadError) -> RuleSet {
        var problems: [YAMLError] = []
        var subscriptions: [(Subscription, YAMLValue)] = []
        var rules: [(Rule, YAMLValue, [YAMLValue])] = []
        var invalidIDs: Set<String> = []

        for document in documents {
            do {
                let top = try document.mapping()
                try top.allowOnly(Self.topKeys)
                if let list = top["subscriptions"], !list.isNull {
                    for entry in try list.sequence() {
                        do {
                            subscriptions.append((try readSubscription(entry), entry))
                        } catch {
                            problems.append(error)
                            // Declared, though invalid: rules naming it should not also report it missing.
                            if let id = try? entry.mapping()["id"]?.string() { invalidIDs.insert(id) }
                        }
                    }
                }
                if let list = top["rules"], !list.isNull {
                    for entry in try list.sequence() {
                        do { rules.append(try readRule(entry)) } catch { problems.append(error) }
                    }
                }
            } catch {
                problems.append(error)
            }
        }

        var subscriptionPlaces: [String: YAMLValue] = [:]
        for (subscription, place) in subscriptions {
            if let first = subscriptionPlaces[subscription.id] {
                problems.append(place.error("subscription \"\(subscription.id)\" is already declared at \(first.file):\(first.line)"))
            } else {
                subscriptionPlaces[subscription.id] = place
            }
        }
        var rulePlaces: [String: YAMLValue] = [:]
        // Named in each "no subscription" message: a few, so a folder with thousands of them and
        // thousands of bad references does not build a quadratic pile of text.
        let known = subscriptionPlaces.keys.sorted()
        let knownList = known.isEmpty ? ""
            : " (declared: \(known.prefix(20).joined(separator: ", "))\(known.count > 20 ? " and \(known.count - 20) more" : ""))"
        for (rule, place, references) in rules {
            if let first = rulePlaces[rule.name] {
                problems.append(place.error("rule \"\(rule.name)\": a rule with this name is already declared at \(first.file):\(first.line)"))
            } else {
                rulePlaces[rule.name] = place
            }
            for (id, reference) in zip(rule.subscriptionIDs, references) where subscriptionPlaces[id] == nil && !invalidIDs.contains(id) {
                problems.append(reference.error("rule \"\(rule.name)\": no subscription \"\(id)\" is declared in the rules folder\(knownList)"))
            }
        }
        if !problems.isEmpty {
            throw RuleLoadError(problems: problems.sorted { ($0.file, $0.line, $0.column) < ($1.file, $1.line, $1.column) })
        }
        return RuleSet(rules: rules.map(\.0), subscriptions: subscriptions.map(\.0), files: documents.map(\.file))
    }

    private func readSubscription(_ value: YAMLValue) throws(YAMLError) -> Subscription {
        let fields = try value.mapping()
        if fields["url"] != nil {
            throw fields["url"]!.error("rule files must not hold secrets: put the URL in an environment variable and name it with url_env")
        }
        if fields["secret"] != nil {
            throw fields["secret"]!.error("rule files must not hold secrets: put the signing secret in an environment variable and name it with secret_env")
        }
        if fields["headers"] != nil {
            throw fields["headers"]!.error("rule files must not hold secrets: put each header's value in an environment variable and map names to them with headers_env")
        }
        try fields.allowOnly(Self.subscriptionKeys)
        let idValue = try fields.require("id")
        let id = try idValue.string()
        if let problem = Subscription.validateID(id) { throw idValue.error(problem.message) }
        let typeValue = try fields.require("type")
        guard let kind = SubscriptionKind(rawValue: try typeValue.string()) else {
            throw typeValue.error("must be one of: \(SubscriptionKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let url = try resolve(try fields.require("url_env"))
        let secret = try fields["secret_env"].map { value throws(YAMLError) in try resolve(value) }
        var subscription = Subscription(
            id: id, kind: kind, url: url ?? "https://unresolved.invalid/", signingSecret: secret ?? nil,
            slackIcon: try fields["slack_icon"]?.string(), slackUsername: try fields["slack_username"]?.string(),
            delivery: try fields["delivery"].map { value throws(YAMLError) in try DeliveryOptionsReader.read(value) } ?? .none,
            origin: .rules)
        if kind == .webhook, fields["secret_env"] == nil {
            throw value.error("subscription \"\(id)\": webhook subscriptions are signed; name the signing secret's environment variable with secret_env")
        }
        if environment == nil, kind == .webhook {
            // Offline check: the secret is not at hand; check everything else.
            subscription.signingSecret = "whsec_" + Data(repeating: 0, count: 32).base64EncodedString()
        }
        subscription.previousSecrets = try readPreviousSecret(fields, id: id)
        let headerPlaces = try readHeaders(fields, into: &subscription)
        if let problem = subscription.validate() {
            let place: YAMLValue
            let source: String
            switch problem.field {
            case "url":
                place = try fields.require("url_env")
                source = " (the value of \(try place.string()))"
            case "secret":
                place = fields["secret_env"] ?? value
                source = " (the value of \(try fields["secret_env"]?.string() ?? "secret_env"))"
            case "previous_secrets":
                place = fields["previous_secret_env"] ?? value
                source = " (the value of \(try fields["previous_secret_env"]?.string() ?? "previous_secret_env"))"
            case let field where field == "headers" || field.hasPrefix("headers."):
                place = headerPlaces[String(field.dropFirst("headers.".count))] ?? fields["headers_env"] ?? value
                source = ""
            default:
                place = fields[problem.field] ?? value
                source = ""
            }
            let message = problem.field.hasPrefix("headers.") ? "header \(problem.field.dropFirst("headers.".count)): \(problem.message)"
                : problem.message
            throw place.error("subscription \"\(id)\": \(message)\(source)")
        }
        return subscription
    }

    /// `previous_secret_env` and `previous_secret_expires` (an RFC 3339 time), both or neither:
    /// a rotated-out secret that keeps signing beside the current one until then.
    private func readPreviousSecret(_ fields: YAMLMapping, id: String) throws(YAMLError) -> [PreviousSecret] {
        let name = fields["previous_secret_env"].flatMap { $0.isNull ? nil : $0 }
        let expires = fields["previous_secret_expires"].flatMap { $0.isNull ? nil : $0 }
        switch (name, expires) {
        case (nil, nil):
            return []
        case (let name?, nil):
            throw name.error("subscription \"\(id)\": previous_secret_env needs previous_secret_expires, the time it stops signing (RFC 3339, e.g. 2025-07-01T12:00:00Z)")
        case (nil, let expires?):
            throw expires.error("subscription \"\(id)\": previous_secret_expires needs previous_secret_env, the rotated-out secret's variable")
        case (let name?, let expires?):
            let text = try expires.string()
            guard let expiry = Timestamp.parse(text) else {
                throw expires.error("subscription \"\(id)\": must be an RFC 3339 time such as 2025-07-01T12:00:00Z, not \"\(text)\"")
            }
            // Offline: a stand-in that differs from the current secret's stand-in.
            let secret = try resolve(name) ?? "whsec_" + Data(repeating: 1, count: 32).base64EncodedString()
            return [PreviousSecret(secret: secret, expiresAt: expiry)]
        }
    }

    /// `headers_env`: header names to the environment variables holding their values. Returns
    /// where each name was written, for errors.
    private func readHeaders(_ fields: YAMLMapping, into subscription: inout Subscription) throws(YAMLError) -> [String: YAMLValue] {
        guard let mapping = fields["headers_env"], !mapping.isNull else { return [:] }
        var places: [String: YAMLValue] = [:]
        for entry in try mapping.mapping().entries {
            // Offline: a stand-in value, so the names are still checked.
            let value = try resolve(entry.value) ?? "unresolved"
            subscription.headers.append(CustomHeader(name: entry.key, value: value))
            places[entry.key] = entry.keyValue
        }
        return places
    }

    /// Reads an environment variable's name and, when resolving, its value.
    private func resolve(_ value: YAMLValue) throws(YAMLError) -> String? {
        let name = try value.environmentVariableName()
        guard let environment else { return nil }
        guard let resolved = environment[name], !resolved.isEmpty else {
            throw value.error("environment variable \(name) is not set")
        }
        return resolved
    }

    private func readRule(_ value: YAMLValue) throws(YAMLError) -> (Rule, YAMLValue, [YAMLValue]) {
        let fields = try value.mapping()
        let nameValue = try fields.require("name")
        let name = try nameValue.nonEmptyString()
        do throws(YAMLError) {
            try fields.allowOnly(Self.ruleKeys)
            if let problem = Subscription.validateID(name) {
                throw nameValue.error(problem.message.replacingOccurrences(of: "must be", with: "a rule name must be"))
            }
            let filter = try Self.readFilter(fields["filter"])
            let targets = try fields.require("subscriptions")
            let references = targets.isNull ? [] : (try? targets.sequence()) ?? [targets]
            let ids = try targets.stringList()
            guard !ids.isEmpty else { throw targets.error("must name at least one subscription") }
            let rule = Rule(
                name: name, description: try fields["description"]?.string(), filter: filter, subscriptionIDs: ids,
                location: "\(value.file):\(value.line)")
            return (rule, value, references)
        } catch {
            var located = error
            located.message = "rule \"\(name)\": \(error.message)"
            throw located
        }
    }

    /// A filter mapping; a missing filter accepts every event.
    public static func readFilter(_ value: YAMLValue?) throws(YAMLError) -> EventFilter {
        guard let value, !value.isNull else { return .any }
        let fields = try value.mapping()
        try fields.allowOnly(EventFilter.allKeys)
        var filter = EventFilter()
        for key in EventFilter.listKeys {
            if let list = fields[key] { filter.setList(key, try list.stringList()) }
        }
        if let paths = fields["fields"], !paths.isNull {
            for entry in try paths.mapping().entries {
                filter.fields[entry.key] = try entry.value.stringList()
            }
        }
        if let problem = Subscription.validateFilter(filter, field: value.path) {
            throw value.error(problem.description)
        }
        return filter
    }
}
