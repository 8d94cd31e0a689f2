import Foundation

/// The built `event-relay` binary, run as a child process (for signals, exit codes and kill -9).
final class RelayProcess: @unchecked Sendable {
    static var binary: URL {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("event-relay")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/event-relay")
    }

    let process = Process()
    let logURL: URL

    init(arguments: [String], environment: [String: String], workingDirectory: URL, logName: String = "relay.log") throws {
        logURL = workingDirectory.appendingPathComponent(logName)
        guard FileManager.default.createFile(atPath: logURL.path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown)
        }
        let log = try FileHandle(forWritingTo: logURL)
        process.executableURL = Self.binary
        process.arguments = arguments
        process.environment = ["PATH": "/usr/bin:/bin"].merging(environment) { $1 }
        process.currentDirectoryURL = workingDirectory
        process.standardOutput = log
        process.standardError = log
        try process.run()
    }

    /// A test that stops early (a failed `#require`) must not leave a relay running behind it.
    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    /// The admin port, read from the "event-relay ready" log line.
    func waitForAdminPort(timeout: Duration = .seconds(60)) async throws -> UInt16? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline && process.isRunning {
            if let range = log.range(of: "admin=http://127.0.0.1:") {
                let digits = log[range.upperBound...].prefix(while: \.isNumber)
                if let port = UInt16(digits) { return port }
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits for the process to exit and returns its status.
    func wait(timeout: Duration = .seconds(20)) async throws -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(25)) }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// Runs to completion (for short commands). One still running after `timeout` is killed (a
    /// hung child must not outlive the test) and reported with status -1.
    static func run(
        _ arguments: [String], environment: [String: String] = [:], in directory: URL, timeout: Duration = .seconds(20)
    ) async throws -> (status: Int32, output: String) {
        let child = try RelayProcess(arguments: arguments, environment: environment, workingDirectory: directory, logName: "cmd-\(UUID().uuidString).log")
        guard let status = try await child.wait(timeout: timeout) else {
            child.signal(SIGKILL)
            _ = try await child.wait()
            return (-1, child.log + "\n(still running after \(timeout): killed)")
        }
        return (status, child.log)
    }
}
