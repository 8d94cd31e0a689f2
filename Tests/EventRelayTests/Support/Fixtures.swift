import EventModel
import Foundation

enum Fixtures {
    static var directory: URL {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures")
    }

    static func url(_ path: String) -> URL { directory.appendingPathComponent(path) }

    static func json(_ path: String) throws -> JSONValue {
        try JSONValue.parse(Array(try Data(contentsOf: url(path))))
    }

    /// The `json_body` of a recorded Scalingo exchange.
    static func recordedBody(_ name: String) throws -> JSONValue {
        try json("scalingo/\(name)")["response"]!["json_body"]!
    }

    static func event(
        type: String, app: String? = nil, project: String? = nil, environment: String? = nil, source: String = "scalingo",
        raw: JSONValue = .object([:]), id: String = UUID().uuidString, time: Date = Date(timeIntervalSince1970: 1_600_000_000)
    ) -> Event {
        Event(source: source, feed: "test", id: id, type: type, time: time, app: app, project: project, environment: environment, raw: raw)
    }
}

/// A fresh temporary directory, removed by `cleanup()`.
struct TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("event-relay-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    var path: String { url.path }

    func write(_ name: String, _ text: String) throws {
        let file = url.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: file, atomically: true, encoding: .utf8)
    }

    func cleanup() { try? FileManager.default.removeItem(at: url) }
}
