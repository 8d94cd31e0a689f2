import EventModel
import Foundation
import YAMLSupport

/// A kind's settings as a rule file writes them: plain keys as they are, secrets as the names
/// of environment variables (`url_env`, `headers_env: {Name: VAR}`), resolved from `environment`,
/// or, for an offline check (`environment` nil), replaced by each field's placeholder.
struct YAMLSettingsSource: SettingsSource {
    let fields: YAMLMapping
    let kind: SinkKind
    let environment: [String: String]?

    var origin: SettingsOrigin { .rules }

    private func node(_ key: String) -> YAMLValue? {
        guard let value = fields[key], !value.isNull else { return nil }
        return value
    }

    private func read<T>(_ key: String, _ body: (YAMLValue) throws(YAMLError) -> T) throws(FieldError) -> T? {
        guard let value = node(key) else { return nil }
        do {
            return try body(value)
        } catch {
            throw FieldError(field: key, message: error.message)
        }
    }

    func string(_ key: String) throws(FieldError) -> String? { try read(key) { value throws(YAMLError) in try value.string() } }
    func bool(_ key: String) throws(FieldError) -> Bool? { try read(key) { value throws(YAMLError) in try value.bool() } }
    func integer(_ key: String) throws(FieldError) -> Int? {
        try read(key) { value throws(YAMLError) in try value.int(in: -1_000_000_000...1_000_000_000) }
    }
    func strings(_ key: String) throws(FieldError) -> [String]? { try read(key) { value throws(YAMLError) in try value.stringList() } }

    func isGiven(_ key: String) -> Bool { node(key) != nil || node(key + "_env") != nil }

    func stored(_ key: String) -> JSONValue? { nil }

    private func placeholder(_ key: String) -> String {
        kind.fields.first { $0.name == key }?.placeholder ?? "unresolved"
    }

    private func resolve(_ value: YAMLValue, key: String) throws(FieldError) -> SecretString {
        let name: String
        do {
            name = try value.environmentVariableName()
        } catch {
            throw FieldError(field: key, message: error.message)
        }
        guard let environment else { return SecretString(placeholder(key.split(separator: ".").first.map(String.init) ?? key)) }
        guard let resolved = environment[name], !resolved.isEmpty else {
            throw FieldError(field: key, message: "environment variable \(name) is not set")
        }
        return SecretString(resolved)
    }

    func secret(_ key: String) throws(FieldError) -> SecretString? {
        guard let value = node(key + "_env") else { return nil }
        return try resolve(value, key: key)
    }

    func secretMap(_ key: String) throws(FieldError) -> [(name: String, value: SecretString)]? {
        guard let value = node(key + "_env") else { return nil }
        let mapping: YAMLMapping
        do {
            mapping = try value.mapping()
        } catch {
            throw FieldError(field: key, message: error.message)
        }
        var result: [(name: String, value: SecretString)] = []
        for entry in mapping.entries {
            result.append((entry.key, try resolve(entry.value, key: "\(key).\(entry.key)")))
        }
        return result
    }
}
