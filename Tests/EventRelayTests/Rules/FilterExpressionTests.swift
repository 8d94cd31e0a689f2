import EventModel
import Foundation
import Rules
import Testing
import YAMLSupport

/// The filter language: one tree, read from YAML and JSON by one reader, compiled once.
@Suite("Filter language: keys, exclusion, groups, predicates, the flat shorthand")
struct FilterExpressionTests {
    static func yaml(_ text: String) throws -> FilterExpression {
        try FilterReader.read(try YAMLValue.parse(text, file: "test.yaml"))
    }

    static func compiled(_ text: String) throws -> CompiledExpression { CompiledExpression(try yaml(text)) }

    static let failedProdDeploy = Event(
        source: "scalingo", feed: "s", id: "1", type: "deployment", category: .deployFailed, time: Date(timeIntervalSince1970: 0),
        actor: Actor(id: "us-1", name: "Ann", email: "Ann@Example.com"), app: "shop-prod", project: "shop", environment: "production",
        summary: "deploy failed",
        raw: .object([
            "type_data": .object(["status": .string("build-error"), "duration": .integer(412), "tags": .array([.string("a"), .string("b")])]),
            "command": .string("rails console --sandbox"),
        ]))
    static let reviewApp: Event = {
        var event = failedProdDeploy
        event.app = "shop-review-42"
        event.environment = "review"
        return event
    }()
    static let loginLock = Event(
        source: "scalingo", feed: "s", id: "2", type: "login_lock", category: .authLocked, time: Date(timeIntervalSince1970: 0),
        actor: Actor(name: "bob", email: "bob@example.com"), summary: "locked", raw: .object([:]))

    /// (filter, event, expected)
    static let table: [(String, Event, Bool)] = [
        ("{}", failedProdDeploy, true),
        ("{types: [deployment]}", failedProdDeploy, true),
        ("{type: deployment}", failedProdDeploy, true),
        ("{types: [restart]}", failedProdDeploy, false),
        ("{apps: ['*-prod']}", failedProdDeploy, true),
        ("{apps: ['*-prod']}", loginLock, false),
        // Exclusion wins over inclusion.
        ("{project: shop, not: {app: '*-review-*'}}", failedProdDeploy, true),
        ("{project: shop, not: {app: '*-review-*'}}", reviewApp, false),
        ("{not: [{app: '*-review-*'}, {type: login_lock}]}", loginLock, false),
        ("{not: [{app: '*-review-*'}, {type: login_lock}]}", failedProdDeploy, true),
        // Groups.
        ("{any: [{category: deploy.failed}, {type: login_lock}]}", loginLock, true),
        ("{any: [{category: deploy.failed}, {type: login_lock}]}", failedProdDeploy, true),
        ("{any: [{category: 'auth.*'}, {app: nope}]}", failedProdDeploy, false),
        ("{all: [{source: scalingo}, {environment: production}]}", failedProdDeploy, true),
        ("{all: [{source: scalingo}, {environment: production}]}", reviewApp, false),
        // Actors: name, e-mail (ignoring case) or id.
        ("{actor: ann@example.com}", failedProdDeploy, true),
        ("{actor: Ann}", failedProdDeploy, true),
        ("{actor: us-1}", failedProdDeploy, true),
        ("{actor.email: '*@EXAMPLE.com'}", loginLock, true),
        ("{actor.name: ann}", failedProdDeploy, false),
        ("{actor.id: us-1}", loginLock, false),
        // The raw payload: the flat shorthand and predicates.
        ("{fields: {type_data.status: ['*-error']}}", failedProdDeploy, true),
        ("{fields: {type_data.tags: [b]}}", failedProdDeploy, true),
        ("{where: [{path: raw.type_data.status, in: [build-error, timeout]}]}", failedProdDeploy, true),
        ("{where: [{path: raw.type_data.status, equals: success}]}", failedProdDeploy, false),
        ("{where: [{path: raw.type_data.duration, gt: 300}]}", failedProdDeploy, true),
        ("{where: [{path: raw.type_data.duration, lte: 300}]}", failedProdDeploy, false),
        ("{where: [{path: raw.type_data.duration, equals: 412.0}]}", failedProdDeploy, true),
        // Platforms send numbers as text now and then: text that reads as the same number is equal.
        ("{where: [{path: raw.type_data.duration, equals: '412'}]}", failedProdDeploy, true),
        ("{where: [{path: raw.type_data.duration, equals: '412x'}]}", failedProdDeploy, false),
        ("{where: [{path: raw.command, regex: '^rails c'}]}", failedProdDeploy, true),
        ("{where: [{path: raw.command, regex: '^bash'}]}", failedProdDeploy, false),
        ("{where: [{path: raw.command, glob: 'rails *'}]}", failedProdDeploy, true),
        ("{where: [{path: raw.missing, exists: false}]}", failedProdDeploy, true),
        ("{where: [{path: raw.command, exists: true}]}", failedProdDeploy, true),
        ("{where: [{path: app, glob: 'shop-*'}, {path: environment, equals: production}]}", failedProdDeploy, true),
        ("{where: [{path: raw.type_data.duration, gt: 300}]}", loginLock, false),
    ]

    @Test(arguments: table.indices)
    func eachFilterMatchesWhatItSays(index: Int) throws {
        let (text, event, expected) = Self.table[index]
        #expect(try Self.compiled(text).matches(event) == expected, "\(text) on \(event.type)/\(event.app ?? "-")")
    }

    /// The same document in JSON reads to the same tree (one reader), and the tree's JSON form
    /// reads back to it.
    @Test(arguments: table.indices)
    func yamlAndJSONReadTheSameTreeAndItsJSONFormReadsBack(index: Int) throws {
        let text = Self.table[index].0
        let expression = try Self.yaml(text)
        let fromJSON = try FilterReader.read(JSONFilterNode(expression.json))
        #expect(CompiledExpression(fromJSON).matches(Self.table[index].1) == Self.table[index].2, "\(text) → \(expression.json)")
        #expect(try FilterReader.read(JSONFilterNode(fromJSON.json)) == fromJSON, "stable: \(fromJSON.json)")
    }

    /// Today's flat filters keep their meaning: the same verdict as the flat matcher on every
    /// event, for seeded random filters and events.
    @Test(arguments: 0..<200)
    func theFlatShorthandMeansWhatItAlwaysMeant(seed: Int) {
        var random = SeededRandom(seed: UInt64(seed) &+ 7)
        let values = ["web", "web-prod", "api", "shop", "production", "deployment", "restart", "scalingo", "qovery", "build-error"]
        func pick() -> String {
            let value = values[random.next(values.count)]
            switch random.next(4) {
            case 0: return "*" + value.suffix(3)
            case 1: return value.prefix(2) + "*"
            default: return value
            }
        }
        func list() -> [String] { random.next(3) == 0 ? [] : (0..<(1 + random.next(3))).map { _ in pick() } }
        let filter = EventFilter(
            types: list(), apps: list(), projects: list(), environments: list(), sources: list(),
            fields: random.next(2) == 0 ? [:] : ["type_data.status": [pick()]])
        let old = CompiledFilter(filter)
        let new = CompiledExpression(flat: filter)
        for _ in 0..<50 {
            func maybe() -> String? { random.next(4) == 0 ? nil : values[random.next(values.count)] }
            let event = Event(
                source: values[random.next(values.count)], feed: "f", id: "x", type: values[random.next(values.count)],
                time: Date(timeIntervalSince1970: 0), app: maybe(), project: maybe(), environment: maybe(), summary: "",
                raw: .object(["type_data": .object(["status": .string(values[random.next(values.count)])])]))
            #expect(old.matches(event) == new.matches(event), "\(filter) on \(event.source)/\(event.type)/\(event.app ?? "-")")
        }
    }

    @Test func onlyRulesThatCanMatchATypeAreIndexedByIt() throws {
        #expect(try Self.yaml("{types: [deployment, restart], app: web}").exactTypes == ["deployment", "restart"])
        #expect(try Self.yaml("{any: [{type: a}, {type: b}]}").exactTypes == ["a", "b"])
        #expect(try Self.yaml("{any: [{type: a}, {app: b}]}").exactTypes == nil)
        #expect(try Self.yaml("{not: {type: a}}").exactTypes == nil)
        #expect(try Self.yaml("{type: 'deploy*'}").exactTypes == nil)
    }

    /// (filter text, line, column, message part)
    static let bad: [(String, Int, Int, String)] = [
        ("{typs: [deployment]}", 1, 2, "did you mean type"),
        ("{where: [{path: raw.command, regex: '(unclosed'}]}", 1, 37, "not a valid regular expression"),
        ("{where: [{path: raw.command}]}", 1, 10, "exactly one test"),
        ("{where: [{path: raw.command, equals: a, in: [b]}]}", 1, 10, "found equals and in"),
        ("{where: [{path: raw.command, contains: a}]}", 1, 30, "unknown test"),
        ("{where: [{path: command, equals: a}]}", 1, 17, "unknown path \"command\""),
        ("{where: [{path: raw.x, gt: lots}]}", 1, 28, "must be a number"),
        ("{where: [{path: raw.x, exists: maybe}]}", 1, 32, "true or false"),
        ("{category: 'deploy.faled'}", 1, 12, "matches no category"),
        ("{any: []}", 1, 7, "at least one filter"),
        ("{apps: []}", 1, 8, "at least one value"),
        ("{app: web, apps: [api]}", 1, 12, "the same key as app"),
        ("{not: 3}", 1, 7, "must be a mapping"),
        ("{fields: {'a..b': [x]}}", 1, 11, "dot-separated"),
    ]

    @Test(arguments: bad.indices)
    func badFiltersNameLineColumnAndProblem(index: Int) throws {
        let (text, line, column, message) = Self.bad[index]
        do {
            _ = try Self.yaml(text)
            Issue.record("\(text) was accepted")
        } catch let error as YAMLError {
            #expect(error.line == line && error.column == column && error.message.contains(message), "\(text): \(error)")
        }
    }

    @Test func deepNestingIsRefusedNotRecursedForever() throws {
        var text = "{type: a}"
        for _ in 0..<40 { text = "{not: \(text)}" }
        #expect(throws: YAMLError.self) { _ = try Self.yaml(text) }
        var json: JSONValue = .object(["type": .string("a")])
        for _ in 0..<40 { json = .object(["any": .array([json])]) }
        #expect(throws: FieldError.self) { _ = try FilterReader.read(JSONFilterNode(json)) }
    }
}
