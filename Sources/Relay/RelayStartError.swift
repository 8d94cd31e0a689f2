import Rules
import YAMLSupport

/// Why `serve` could not start, and its exit code: 2 for a problem in what the operator wrote
/// (configuration, rules, missing environment variables), 1 for anything else.
public struct RelayStartError: Error, CustomStringConvertible {
    public let description: String
    public let exitCode: Int32

    public init(_ error: any Error) {
        switch error {
        case let error as RuleLoadError:
            description = "the rules folder has problems:\n" + error.description
            exitCode = 2
        case let error as YAMLError:
            description = "configuration: \(error)"
            exitCode = 2
        case let error as ConfigurationError:
            description = error.description
            exitCode = 2
        default:
            description = "\(error)"
            exitCode = 1
        }
    }
}
