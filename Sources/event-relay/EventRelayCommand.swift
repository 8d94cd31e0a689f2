import ArgumentParser
import Foundation
import Logging
import Relay

/// `event-relay`: a thin front over the `Relay` target.
@main
struct EventRelayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "event-relay",
        abstract: "Relays platform events (Scalingo, …) to Slack and signed webhooks.",
        subcommands: [Serve.self, RulesCommand.self],
        defaultSubcommand: Serve.self)
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the relay: poll the feeds, deliver what the rules match, serve the admin API.")

    @Option(name: .long, help: "YAML configuration file (default: embedded defaults; see docs/configuration.md).")
    var config: String?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let configuration: RelayConfiguration
        do {
            configuration = try ConfigurationLoader.load(path: config, environment: environment)
        } catch {
            printError("event-relay: configuration: \(error)")
            throw ExitCode(2)
        }
        let level = configuration.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "event-relay")
        logger.logLevel = level
        let relay: Relay
        do {
            relay = try await Relay(configuration: configuration, environment: environment, logger: logger)
        } catch let error as RelayStartError {
            printError("event-relay: \(error)")
            throw ExitCode(error.exitCode)
        } catch {
            let startError = RelayStartError(error)
            printError("event-relay: \(startError)")
            throw ExitCode(startError.exitCode)
        }
        try await relay.run()
    }
}

struct RulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules", abstract: "Check and try the rules folder offline.", subcommands: [Check.self, Test.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a rules folder exactly as serve does (exit 2 on any problem).")

        @Argument(help: "The rules folder.") var directory = "./rules"
        @Flag(help: "Check environment variable names only, not that they are set (for CI).") var skipEnv = false

        func run() throws {
            let result = RulesTool.check(
                directory: directory, environment: ProcessInfo.processInfo.environment, resolveEnvironment: !skipEnv)
            if result.ok {
                print(result.report)
            } else {
                printError(result.report)
                throw ExitCode(2)
            }
        }
    }

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show which rules and subscriptions an event (a JSON file) would reach, and what each would be sent.")

        @Option(help: "A JSON file: a normalized event, or a raw event of any platform the relay reads.") var event: String
        @Argument(help: "The rules folder.") var directory = "./rules"

        func run() async throws {
            let result = await RulesTool.test(eventFile: event, directory: directory)
            if result.ok {
                print(result.report)
            } else {
                printError(result.report)
                throw ExitCode(2)
            }
        }
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
