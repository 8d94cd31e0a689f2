import EventModel
import Rules

/// The matcher of the flat `EventFilter` that routing used before the filter language
/// (`CompiledExpression`): kept here as the reference that proves the flat shorthand still means
/// what it meant (FilterExpressionTests), and for the flat filter's own tests.
struct CompiledFilter: Sendable {
    let filter: EventFilter
    private let types: [Glob]
    private let apps: [Glob]
    private let projects: [Glob]
    private let environments: [Glob]
    private let sources: [Glob]
    private let categories: [Glob]
    private let fields: [(path: [String], globs: [Glob])]

    init(_ filter: EventFilter) {
        self.filter = filter
        types = filter.types.map(Glob.init)
        apps = filter.apps.map(Glob.init)
        projects = filter.projects.map(Glob.init)
        environments = filter.environments.map(Glob.init)
        sources = filter.sources.map(Glob.init)
        categories = filter.categories.map(Glob.init)
        fields = filter.fields.sorted(by: { $0.key < $1.key }).map {
            ($0.key.split(separator: ".", omittingEmptySubsequences: false).map(String.init), $0.value.map(Glob.init))
        }
    }

    func matches(_ event: Event) -> Bool {
        CompiledFilter.accepts(types, event.type)
            && CompiledFilter.accepts(sources, event.source)
            && CompiledFilter.accepts(categories, event.category?.rawValue)
            && CompiledFilter.accepts(apps, event.app)
            && CompiledFilter.accepts(projects, event.project)
            && CompiledFilter.accepts(environments, event.environment)
            && fields.allSatisfy { CompiledFilter.accepts($0.globs, event.raw.value(atPath: $0.path)) }
    }

    /// The exact event types this filter can match, or nil when any type may (empty list or a glob).
    /// Lets the router skip filters by a dictionary lookup.
    var exactTypes: Set<String>? {
        guard !filter.types.isEmpty, !filter.types.contains(where: { $0.contains("*") }) else { return nil }
        return Set(filter.types)
    }

    /// An empty list accepts anything, a missing value included; otherwise some glob must match the value.
    private static func accepts(_ globs: [Glob], _ value: String?) -> Bool {
        if globs.isEmpty { return true }
        guard let value else { return false }
        return globs.contains { $0.matches(value) }
    }

    /// Field values: a scalar is matched as text; a list matches when any of its scalars does.
    private static func accepts(_ globs: [Glob], _ value: JSONValue?) -> Bool {
        if globs.isEmpty { return true }
        guard let value else { return false }
        if case .array(let elements) = value {
            return elements.contains { element in element.scalarText.map { text in globs.contains { $0.matches(text) } } ?? false }
        }
        return accepts(globs, value.scalarText)
    }
}
