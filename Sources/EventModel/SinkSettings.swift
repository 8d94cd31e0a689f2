import Foundation

/// One destination kind's settings for one subscription (a webhook's URL, signing secrets and
/// headers; a Slack channel's URL, username and icon). Each kind's folder under `Sinks/` owns
/// its type; everything outside that folder sees only this protocol. A settings value prints as
/// `<kind settings>`: its secrets never reach a log line or an error by interpolation.
public protocol SinkSettings: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The kind's name, the subscription's `type`.
    var kind: String { get }
    /// The document the store keeps, secrets in clear; read back by the kind's decoder from a
    /// `.store` source. Only the store calls this.
    func document() -> [String: JSONValue]
    /// What the admin API shows: secrets masked (a hint, a fingerprint), never whole.
    func view(now: Date) -> [String: JSONValue]
    /// Every secret these settings hold, for scrubbing what receivers echo.
    var secrets: [SecretString] { get }
    /// The rules values must follow; the first problem, naming its field. Decoding checks
    /// shapes only, so a subscription stored under older rules still loads (and says why it
    /// does not send).
    func validate() -> FieldError?
}

extension SinkSettings {
    public var description: String { "<\(kind) settings>" }
    public var debugDescription: String { description }
}

/// Where settings are being read from: each reads secrets its own way (the API takes values,
/// rule files take environment variable names, the store its own document).
public enum SettingsOrigin: String, Sendable, Hashable {
    case api
    case rules
    case store
}

/// One key a kind's settings accept.
public struct SinkField: Sendable {
    public enum Shape: Sendable, Equatable {
        case string
        case bool
        case integer
        case strings
        /// A secret: the API takes the value, a rule file the environment variable holding it
        /// (`<name>_env`). Never shown whole.
        case secret
        /// Names to secret values (custom headers): an object in the API, `<name>_env` mapping
        /// names to variables in a rule file.
        case secretMap
        /// Kept by the store only (a rotation's retired secrets): neither the API nor a rule file sets it.
        case stored
    }

    public var name: String
    public var shape: Shape
    /// Where the key may be given (the store always reads what it wrote).
    public var origins: Set<SettingsOrigin>
    /// What an offline check of a rule file (no environment) reads for this secret: a value
    /// that passes validation, so everything else is still checked.
    public var placeholder: String
    /// Other field names a validation error may use for this key (a rule file's one
    /// `previous_secret` is checked as the `previous_secrets` the API rotates): a rule file's
    /// error for them points here.
    public var reports: [String]

    public init(
        _ name: String, _ shape: Shape, origins: Set<SettingsOrigin> = [.api, .rules, .store], placeholder: String = "unresolved",
        reports: [String] = []
    ) {
        self.name = name
        self.shape = shape
        self.origins = shape == .stored ? [.store] : origins.union([.store])
        self.placeholder = placeholder
        self.reports = reports
    }

    public var isSecret: Bool { shape == .secret || shape == .secretMap }

    /// The key as written in a rule file: secrets are named by environment variable.
    public var ruleKey: String { isSecret ? name + "_env" : name }
}

/// Reads one kind's settings, whatever they came from. A kind's decoder is written once against
/// this; errors are `FieldError`s naming the key, which the API answers as they are and the rule
/// loader turns into file:line messages.
public protocol SettingsSource {
    var origin: SettingsOrigin { get }
    func string(_ key: String) throws(FieldError) -> String?
    func bool(_ key: String) throws(FieldError) -> Bool?
    func integer(_ key: String) throws(FieldError) -> Int?
    func strings(_ key: String) throws(FieldError) -> [String]?
    func secret(_ key: String) throws(FieldError) -> SecretString?
    /// Names and secret values (in name order from JSON, in file order from a rule file).
    func secretMap(_ key: String) throws(FieldError) -> [(name: String, value: SecretString)]?
    /// Whether this read sets the key (an API update that leaves a secret out keeps the current one).
    func isGiven(_ key: String) -> Bool
    /// A `.stored` key: the store's own document, or for an API update the subscription's current
    /// value, which the kind may carry over.
    func stored(_ key: String) -> JSONValue?
}

/// What the store and the rule loader need of the sink registry (which lives in `Sinks` and is
/// handed to them): the kinds, their keys and their decoders.
public struct SinkKind: Sendable {
    public let name: String
    public let fields: [SinkField]
    public let read: @Sendable (any SettingsSource) throws(FieldError) -> any SinkSettings

    public init(name: String, fields: [SinkField], read: @escaping @Sendable (any SettingsSource) throws(FieldError) -> any SinkSettings) {
        self.name = name
        self.fields = fields
        self.read = read
    }

    /// The keys a source of `origin` may give.
    public func keys(for origin: SettingsOrigin) -> [String] {
        fields.filter { $0.origins.contains(origin) }.map { origin == .rules ? $0.ruleKey : $0.name }
    }
}

public struct SinkKinds: Sendable {
    public let all: [SinkKind]

    public init(_ all: [SinkKind]) { self.all = all }

    public var names: [String] { all.map(\.name) }

    public func named(_ name: String) -> SinkKind? { all.first { $0.name == name } }

    /// "must be one of: webhook, slack".
    public var unknownTypeMessage: String { "must be one of: \(names.joined(separator: ", "))" }
}

/// Settings read from JSON: an API body, or the store's document. An API update reads the body
/// over the subscription's current document (`previous`, when the kind is unchanged):
///
/// - `.create`: the body alone.
/// - `.replace` (PUT): the body, but a secret the body leaves out keeps its current value
///   (secrets are never shown, so a client cannot send them back).
/// - `.patch` (JSON merge patch): a key the body leaves out keeps its current value, `null`
///   clears it; a secret map merges by name, case-insensitively (`null` for a name removes it).
public struct JSONSettingsSource: SettingsSource {
    public enum Mode: Sendable { case create, replace, patch }

    public let origin: SettingsOrigin
    let body: [String: JSONValue]
    let previous: [String: JSONValue]
    let mode: Mode

    public init(api body: [String: JSONValue], mode: Mode = .create, previous: [String: JSONValue] = [:]) {
        origin = .api
        self.body = body
        self.mode = mode
        self.previous = mode == .create ? [:] : previous
    }

    public init(stored document: [String: JSONValue]) {
        origin = .store
        body = document
        previous = [:]
        mode = .create
    }

    /// The value this read uses, nil when none (or `null`). A whole document (create, replace)
    /// with a secret `null` leaves it out: generated, or kept.
    private func value(_ key: String, secret: Bool) -> JSONValue? {
        let chosen: JSONValue?
        switch mode {
        case .create: chosen = body[key]
        case .replace: chosen = secret ? given(key) ?? previous[key] : body[key]
        case .patch: chosen = body[key] ?? previous[key]
        }
        guard let chosen, !chosen.isNull else { return nil }
        return chosen
    }

    /// The body's value; `null` counts only in a patch (where it clears).
    private func given(_ key: String) -> JSONValue? {
        guard let value = body[key], mode == .patch || !value.isNull else { return nil }
        return value
    }

    public func isGiven(_ key: String) -> Bool { given(key) != nil }

    public func stored(_ key: String) -> JSONValue? {
        origin == .store ? body[key] : previous[key]
    }

    public func string(_ key: String) throws(FieldError) -> String? {
        guard let value = value(key, secret: false) else { return nil }
        guard let text = value.stringValue else { throw FieldError(field: key, message: "must be a string") }
        return text
    }

    public func bool(_ key: String) throws(FieldError) -> Bool? {
        guard let value = value(key, secret: false) else { return nil }
        guard case .bool(let flag) = value else { throw FieldError(field: key, message: "must be true or false") }
        return flag
    }

    public func integer(_ key: String) throws(FieldError) -> Int? {
        guard let value = value(key, secret: false) else { return nil }
        guard case .integer(let number) = value, let small = Int(exactly: number), abs(small) <= 1_000_000_000 else {
            throw FieldError(field: key, message: "must be a whole number")
        }
        return small
    }

    public func strings(_ key: String) throws(FieldError) -> [String]? {
        guard let value = value(key, secret: false) else { return nil }
        guard let items = value.arrayValue else { throw FieldError(field: key, message: "must be a list of strings") }
        var result: [String] = []
        for item in items {
            guard let text = item.stringValue else { throw FieldError(field: key, message: "must be a list of strings") }
            result.append(text)
        }
        return result
    }

    public func secret(_ key: String) throws(FieldError) -> SecretString? {
        guard let value = value(key, secret: true) else { return nil }
        guard let text = value.stringValue else { throw FieldError(field: key, message: "must be a string") }
        if origin == .api, body[key] != nil, text.contains("…") {
            throw FieldError(field: key, message: "looks like a masked value as the API shows it; send the whole value")
        }
        return SecretString(text)
    }

    /// Names ignoring case, then as written.
    static func nameOrder(_ a: (name: String, value: SecretString), _ b: (name: String, value: SecretString)) -> Bool {
        let (left, right) = (a.name.lowercased(), b.name.lowercased())
        return left != right ? left < right : a.name < b.name
    }

    public func secretMap(_ key: String) throws(FieldError) -> [(name: String, value: SecretString)]? {
        let given = body[key]
        var result: [(name: String, value: SecretString)] = []
        if mode != .create, given == nil || mode == .patch, let current = previous[key]?.objectValue {
            for (name, value) in current { if let text = value.stringValue { result.append((name, SecretString(text))) } }
        }
        guard let given else { return result.isEmpty && previous[key] == nil ? nil : result.sorted(by: Self.nameOrder) }
        if given.isNull { return [] }
        guard case .object(let object) = given else {
            throw FieldError(field: key, message: "must be an object of names to values")
        }
        for name in object.keys.sorted() {
            let entry = object[name] ?? .null
            // A patch changes a current name whatever its case; a whole set keeps what it was
            // given (two names differing in case are the validation's to refuse).
            let existing = mode == .patch ? result.firstIndex { $0.name.lowercased() == name.lowercased() } : nil
            if entry.isNull, mode == .patch {
                if let existing { result.remove(at: existing) }
                continue
            }
            guard let text = entry.stringValue else {
                throw FieldError(field: "\(key).\(name)", message: mode == .patch ? "must be a string (or null to remove it)" : "must be a string")
            }
            if origin == .api, text.contains("…") {
                throw FieldError(field: "\(key).\(name)", message: "looks like a masked value as the API shows it; send the whole value")
            }
            if let existing {
                result[existing] = (name, SecretString(text))
            } else {
                result.append((name, SecretString(text)))
            }
        }
        return result.sorted(by: Self.nameOrder)
    }
}
