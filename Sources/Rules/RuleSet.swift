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
    /// The policies of the subscriptions declared here (quiet hours, digests…), by id.
    public var subscriptionPolicies: [String: Policies]
    public var mutes: [Mute]
    public var inhibits: [InhibitRule]

    public static let empty = RuleSet(rules: [], subscriptions: [], files: [])

    public init(
        rules: [Rule], subscriptions: [Subscription], files: [String], subscriptionPolicies: [String: Policies] = [:], mutes: [Mute] = [],
        inhibits: [InhibitRule] = []
    ) {
        self.subscriptionPolicies = subscriptionPolicies
        self.mutes = mutes
        self.inhibits = inhibits
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
    /// The destination kinds and their decoders (the sink registry, handed in).
    public var sinks: SinkKinds

    public init(environment: [String: String]?, sinks: SinkKinds) {
        self.environment = environment
        self.sinks = sinks
    }

    static let topKeys = ["subscriptions", "rules", "mutes", "inhibit"]
    /// The keys every subscription has; each kind adds its own.
    static let sharedSubscriptionKeys = ["id", "type", "description", "delivery"] + PolicyReader.keys
    static let ruleKeys = ["name", "description", "filter", "subscriptions", "continue", "suspended"] + PolicyReader.keys

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
        var subscriptionPolicies: [String: Policies] = [:]
        var mutes: [(Mute, YAMLValue)] = []
        var inhibits: [(InhibitRule, YAMLValue)] = []

        for document in documents {
            do {
                let top = try document.mapping()
                try top.allowOnly(Self.topKeys)
                if let list = top["subscriptions"], !list.isNull {
                    for entry in try list.sequence() {
                        do throws(YAMLError) {
                            let subscription = try readSubscription(entry)
                            subscriptions.append((subscription, entry))
                            do throws(YAMLError) {
                                subscriptionPolicies[subscription.id] = try PolicyReader.read(try entry.mapping(), at: entry)
                            } catch {
                                var located = error
                                located.message = "subscription \"\(subscription.id)\": \(error.message)"
                                throw located
                            }
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
                if let list = top["mutes"], !list.isNull {
                    for entry in try list.sequence() {
                        do { mutes.append((try PolicyReader.mute(entry), entry)) } catch { problems.append(error) }
                    }
                }
                if let list = top["inhibit"], !list.isNull {
                    for entry in try list.sequence() {
                        do { inhibits.append((try PolicyReader.inhibit(entry), entry)) } catch { problems.append(error) }
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
        var mutePlaces: [String: YAMLValue] = [:]
        for (mute, place) in mutes {
            if let first = mutePlaces[mute.id] {
                problems.append(place.error("mute \"\(mute.id)\" is already declared at \(first.file):\(first.line)"))
            } else {
                mutePlaces[mute.id] = place
            }
            let fields = try? place.mapping()
            if let name = mute.rule, rulePlaces[name] == nil {
                problems.append((fields?["rule"] ?? place).error("mute \"\(mute.id)\": no rule \"\(name)\" is declared in the rules folder"))
            }
            if let id = mute.subscription, subscriptionPlaces[id] == nil, !invalidIDs.contains(id) {
                problems.append((fields?["subscription"] ?? place).error("mute \"\(mute.id)\": no subscription \"\(id)\" is declared in the rules folder\(knownList)"))
            }
        }
        var inhibitNames: Set<String> = []
        for (inhibit, place) in inhibits where !inhibitNames.insert(inhibit.name).inserted {
            problems.append(place.error("inhibit \"\(inhibit.name)\" is declared twice"))
        }
        if !problems.isEmpty {
            throw RuleLoadError(problems: problems.sorted { ($0.file, $0.line, $0.column) < ($1.file, $1.line, $1.column) })
        }
        return RuleSet(
            rules: rules.map(\.0), subscriptions: subscriptions.map(\.0), files: documents.map(\.file), subscriptionPolicies: subscriptionPolicies,
            mutes: mutes.map(\.0), inhibits: inhibits.map(\.0))
    }

    private func readSubscription(_ value: YAMLValue) throws(YAMLError) -> Subscription {
        let fields = try value.mapping()
        let idValue = try fields.require("id")
        let id = try idValue.string()
        if let problem = Subscription.validateID(id) { throw idValue.error(problem.message) }
        let typeValue = try fields.require("type")
        guard let kind = sinks.named(try typeValue.string()) else { throw typeValue.error(sinks.unknownTypeMessage) }
        for field in kind.fields where field.isSecret && field.origins.contains(.rules) {
            if let written = fields[field.name] {
                let how = field.shape == .secretMap
                    ? "put each value in an environment variable and map names to them with \(field.ruleKey)"
                    : "put it in an environment variable and name it with \(field.ruleKey)"
                throw written.error("rule files must not hold secrets: \(how)")
            }
        }
        try fields.allowOnly(Self.sharedSubscriptionKeys + kind.keys(for: .rules))
        let source = YAMLSettingsSource(fields: fields, kind: kind, environment: environment)
        let settings: any SinkSettings
        do throws(FieldError) {
            settings = try kind.read(source)
        } catch {
            throw located(error, fields: fields, entry: value, kind: kind, id: id, resolved: false)
        }
        let subscription = Subscription(
            id: id, settings: settings,
            delivery: try fields["delivery"].map { value throws(YAMLError) in try DeliveryOptionsReader.read(value) } ?? .none,
            origin: .rules)
        if let problem = subscription.validate() {
            throw located(problem, fields: fields, entry: value, kind: kind, id: id, resolved: environment != nil)
        }
        return subscription
    }

    /// A settings problem at the key it is about: a secret's `_env` key (saying whose value it
    /// was, when `resolved`), a map's entry, or the subscription when the key is missing.
    private func located(
        _ problem: FieldError, fields: YAMLMapping, entry: YAMLValue, kind: SinkKind, id: String, resolved: Bool
    ) -> YAMLError {
        let parts = problem.field.split(separator: ".", maxSplits: 1).map(String.init)
        let key = parts.first ?? problem.field
        let field = kind.fields.first { $0.name == key || $0.reports.contains(key) }
        var place = entry
        var note = ""
        var message = problem.message
        if let field, let node = fields[field.ruleKey] {
            place = node
            if field.shape == .secretMap, parts.count > 1 {
                let name = parts[1]
                if let mapping = try? node.mapping(), let written = mapping.entries.first(where: { $0.key == name }) {
                    place = written.keyValue
                }
                message = "\(field.name.hasSuffix("s") ? String(field.name.dropLast()) : field.name) \(name): \(message)"
            } else if field.shape == .secret, resolved, let variable = try? node.string() {
                note = " (the value of \(variable))"
            }
        } else if let field, field.isSecret {
            if message.hasPrefix("is ") { message = "\(field.ruleKey) \(message)" } else { note = " (name its environment variable with \(field.ruleKey))" }
        } else if let node = fields[key] {
            place = node
        }
        return place.error("subscription \"\(id)\": \(message)\(note)")
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
            var rule = Rule(
                name: name, description: try fields["description"]?.string(), filter: filter, subscriptionIDs: ids,
                location: "\(value.file):\(value.line)", continues: try fields["continue"]?.bool() ?? false,
                suspended: try fields["suspended"]?.bool() ?? false)
            rule.policies = try PolicyReader.read(fields, at: value)
            return (rule, value, references)
        } catch {
            var located = error
            located.message = "rule \"\(name)\": \(error.message)"
            throw located
        }
    }

    /// A filter in the grammar of `FilterExpression`; a missing filter accepts every event.
    public static func readFilter(_ value: YAMLValue?) throws(YAMLError) -> FilterExpression {
        try FilterReader.read(value)
    }
}
