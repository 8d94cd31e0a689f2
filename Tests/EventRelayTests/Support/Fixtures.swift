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

extension Fixtures {
    /// A "billion laughs" file: `l0` is a list of ten scalars and each `lN` a list of ten aliases
    /// to `l(N-1)`, so `*lN` stands for 10^(N+1) scalars; the last line uses it as a mapping key
    /// (composing hashes each key, visiting every copy). The first alias is at line 2, column 10.
    static func aliasBomb(levels: Int) -> String {
        var lines = ["l0: &l0 [" + Array(repeating: "lol", count: 10).joined(separator: ", ") + "]"]
        for level in 1..<max(levels, 2) {
            lines.append("l\(level): &l\(level) [" + Array(repeating: "*l\(level - 1)", count: 10).joined(separator: ", ") + "]")
        }
        lines.append("bomb: {*l\(max(levels, 2) - 1): 1}")
        return lines.joined(separator: "\n") + "\n"
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

/// Counts by status with every status present (0 when not given), as the store answers them.
func allStatuses(_ given: [DeliveryStatus: Int]) -> [DeliveryStatus: Int] {
    var counts = Dictionary(uniqueKeysWithValues: DeliveryStatus.allCases.map { ($0, 0) })
    for (status, count) in given { counts[status] = count }
    return counts
}
