import EventModel
import Foundation
import Testing

@Suite("Identifiers sort in the order they were made")
struct IdentifierTests {
    @Test func idsMadeWithinOneMillisecondStillSortInOrder() {
        let now = Date(timeIntervalSince1970: 1_000_000_000)  // in the past: other suites in this process make ids at the real time
        let ids = (0..<10_000).map { _ in Identifier.make(prefix: "dlv", now: now) }
        #expect(ids == ids.sorted())
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy { $0.hasPrefix("dlv_") && $0.count == 4 + 28 })
        // A clock that steps back does not break the order either.
        let earlier = Identifier.make(prefix: "dlv", now: now.addingTimeInterval(-5))
        #expect(earlier > ids[ids.count - 1])
    }
}
